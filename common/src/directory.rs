//! Where a mailbox learns addresses' current keys, as a trait that both the
//! log (in-process, its own domain) and the HTTP client (other domains)
//! implement, so that neither depends on the mailbox.

use std::future::Future;
use std::pin::Pin;

use ank_proofs::api::LookupResponse;
use ank_proofs::{Address, Hash, KeySet, VerifierKey};

/// Why an address's keys could not be learnt.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DirectoryError {
    #[error("no log is trusted for {0}")]
    UnknownDomain(String),
    #[error("the log of {domain} did not give a verified answer: {message}")]
    Unverified { domain: String, message: String },
}

/// An address's current keys, as its log proves them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The current key set; `None` when the log proves the address absent.
    pub keys: Option<KeySet>,
    /// The lookup answer the keys come from (verifiable offline under the
    /// log's key), when the directory has one.
    pub proof: Option<LookupResponse>,
}

/// Most answers a directory caches. Each holds a whole lookup answer (a few
/// KB); anyone can make a mailbox resolve addresses of their choosing, so the
/// cache is bounded well below the server's memory budget (about 30 MB).
pub const CACHE_ENTRIES: usize = 10_000;

/// A boxed future, so directories can be trait objects.
pub type DirFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Resolved, DirectoryError>> + Send + 'a>>;

/// The current key set of an address.
pub trait Directory: Send + Sync + 'static {
    fn current<'a>(&'a self, address: &'a Address) -> DirFuture<'a>;
}

/// A view of one log, enough to check a checkpoint someone else was shown.
pub trait LogView: Send + Sync + 'static {
    /// The log's verifier key.
    fn vkey(&self) -> &VerifierKey;
    /// The size and root of the log's latest checkpoint (no I/O).
    fn head(&self) -> (u64, Hash);
    /// The log's root at `size`, if the log has that many entries (may read storage).
    fn root_at(&self, size: u64) -> Option<Hash>;
    /// Evidence (`ank-evidence/v1`) that `other`, a checkpoint signed by this
    /// log's key, contradicts the log's own history, when the log can show
    /// it: a checkpoint of its own of the same size, or its larger tree's
    /// hashes. `None` for a checkpoint larger than the log (may read storage).
    fn evidence_against(
        &self,
        other: &ank_proofs::VerifiedCheckpoint,
    ) -> Option<ank_proofs::evidence::Evidence>;
}
