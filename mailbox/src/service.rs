//! The mailbox's rules, apart from HTTP: what is accepted ([`MailState::accept`]),
//! who may read a mailbox ([`MailState::authenticate`]), and why not
//! ([`Refusal`], with a [`RefusalKind`] that callers branch on and that
//! names the stable error code and HTTP status of the API).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use ank_common::directory::LogView;
use ank_common::now_ms;

use crate::directory::{DirectoryError, Resolved, Resolver};
use crate::fetch_auth::{FetchAuth, FetchAuthError, MAX_SKEW_MS, Target, VerifiedFetch};
use crate::store::{MailStore, MailStoreError, Put, Quota};
use crate::{Envelope, MailError};

/// Why the mailbox refused, as a stable code and HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalKind {
    BadJson,
    BodyTooLarge,
    BadEnvelope,
    BadSignature,
    WrongDomain,
    UnknownRecipient,
    StaleKey,
    UnknownSender,
    SenderKeyNotCurrent,
    SenderLogUnavailable,
    IdConflict,
    BadRecipientProof,
    SplitView,
    RateLimited,
    QuotaExceeded,
    SenderQuotaExceeded,
    MailboxFull,
    AlreadyDelivered,
    BadRequestSignature,
    WrongMailbox,
    StaleRequest,
    ReplayedRequest,
    NotCurrentKey,
    BadQuery,
    Internal,
}

impl RefusalKind {
    /// The `error` code of the JSON answer.
    pub fn code(self) -> &'static str {
        use RefusalKind as K;
        match self {
            K::BadJson => "bad_json",
            K::BodyTooLarge => "body_too_large",
            K::BadEnvelope => "bad_envelope",
            K::BadSignature => "bad_signature",
            K::WrongDomain => "wrong_domain",
            K::UnknownRecipient => "unknown_recipient",
            K::StaleKey => "stale_key",
            K::UnknownSender => "unknown_sender",
            K::SenderKeyNotCurrent => "sender_key_not_current",
            K::SenderLogUnavailable => "sender_log_unavailable",
            K::IdConflict => "id_conflict",
            K::BadRecipientProof => "bad_recipient_proof",
            K::SplitView => "split_view",
            K::RateLimited => "rate_limited",
            K::QuotaExceeded => "quota_exceeded",
            K::SenderQuotaExceeded => "sender_quota_exceeded",
            K::MailboxFull => "mailbox_full",
            K::AlreadyDelivered => "already_delivered",
            K::BadRequestSignature => "bad_request_signature",
            K::WrongMailbox => "wrong_mailbox",
            K::StaleRequest => "stale_request",
            K::ReplayedRequest => "replayed_request",
            K::NotCurrentKey => "not_current_key",
            K::BadQuery => "bad_query",
            K::Internal => "internal",
        }
    }

    /// The HTTP status of the answer.
    pub fn status(self) -> u16 {
        use RefusalKind as K;
        match self {
            K::BadJson | K::BadEnvelope | K::WrongDomain | K::BadRecipientProof | K::BadQuery => {
                400
            }
            K::BadRequestSignature | K::StaleRequest | K::ReplayedRequest => 401,
            K::BadSignature | K::UnknownSender | K::SenderKeyNotCurrent | K::NotCurrentKey => 403,
            K::UnknownRecipient => 404,
            K::StaleKey | K::IdConflict | K::SplitView | K::AlreadyDelivered => 409,
            K::BodyTooLarge => 413,
            K::WrongMailbox => 421,
            K::RateLimited | K::QuotaExceeded | K::SenderQuotaExceeded => 429,
            K::Internal => 500,
            K::SenderLogUnavailable => 503,
            K::MailboxFull => 507,
        }
    }
}

/// A refusal: its kind and a message for people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} ({}): {message}", .kind.code(), .kind.status())]
pub struct Refusal {
    pub kind: RefusalKind,
    pub message: String,
}

pub(crate) fn refuse(kind: RefusalKind, message: impl Into<String>) -> Refusal {
    Refusal {
        kind,
        message: message.into(),
    }
}

pub(crate) fn internal(x: impl std::fmt::Display) -> Refusal {
    refuse(RefusalKind::Internal, x.to_string())
}

/// Mailbox settings.
#[derive(Debug, Clone)]
pub struct MailSettings {
    /// The `host[:port]` names this mailbox is reached by; a signed fetch
    /// must name one of them (and be sent to it).
    pub authorities: Vec<String>,
    /// How long unread messages are kept.
    pub ttl: Duration,
    pub quota: Quota,
    /// Messages a minute per sender address and per client IP; 0 for no limit.
    pub rate_per_minute: u32,
    /// Accept mail from senders whose domain has no trusted log (their
    /// envelope signature still has to verify). Default: refused.
    pub allow_unauthenticated: bool,
    /// Auditors (their URLs) that get every piece of split-view evidence
    /// this mailbox finds, at `POST <url>/v1/evidence`.
    pub auditors: Vec<String>,
}

impl Default for MailSettings {
    fn default() -> Self {
        MailSettings {
            authorities: Vec::new(),
            ttl: Duration::from_secs(7 * 24 * 3600),
            quota: Quota::default(),
            rate_per_minute: 600,
            allow_unauthenticated: false,
            auditors: Vec::new(),
        }
    }
}

/// Fixed one-minute windows per key.
#[derive(Debug, Default)]
struct Limiter(Mutex<HashMap<String, (Instant, u32)>>);

impl Limiter {
    fn allow(&self, key: &str, limit: u32) -> bool {
        if limit == 0 {
            return true;
        }
        let Ok(mut m) = self.0.lock() else {
            return true;
        };
        if m.len() > 100_000 {
            m.retain(|_, (t, _)| t.elapsed() < Duration::from_secs(60));
        }
        let e = m.entry(key.to_owned()).or_insert((Instant::now(), 0));
        if e.0.elapsed() >= Duration::from_secs(60) {
            *e = (Instant::now(), 0);
        }
        e.1 += 1;
        e.1 <= limit
    }
}

/// The mailbox: its store, directory, settings and limits.
#[derive(Clone)]
pub struct MailState {
    pub store: Arc<MailStore>,
    pub resolver: Arc<Resolver>,
    pub settings: MailSettings,
    pub log: Option<Arc<dyn LogView>>,
    limiter: Arc<Limiter>,
}

impl std::fmt::Debug for MailState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailState")
            .field("resolver", &self.resolver)
            .finish()
    }
}

impl MailState {
    pub fn new(
        store: Arc<MailStore>,
        resolver: Arc<Resolver>,
        settings: MailSettings,
    ) -> MailState {
        MailState {
            store,
            resolver,
            settings,
            log: None,
            limiter: Arc::new(Limiter::default()),
        }
    }

    /// Checks attached recipient proofs against `log`.
    pub fn with_log(mut self, log: Arc<dyn LogView>) -> MailState {
        self.log = Some(log);
        self
    }
}

/// Checks the lookup answer a sender attached: it must verify under this
/// domain's log key, and its checkpoint must agree with this log's own tree
/// at that size. A validly signed checkpoint that disagrees is a split view:
/// the message is refused, and evidence (`ank-evidence/v1`) is kept when the
/// log can show it (see [`LogView::evidence_against`]).
async fn check_recipient_proof(
    s: &MailState,
    env: &Envelope,
    to: &ank_proofs::Address,
) -> Result<(), Refusal> {
    let (Some(log), Some(proof)) = (&s.log, &env.recipient_proof) else {
        return Ok(());
    };
    let verified = ank_proofs::api::verify_lookup(proof, to, log.vkey()).map_err(|err| {
        refuse(
            RefusalKind::BadRecipientProof,
            format!("the attached lookup proof does not verify under this log: {err}"),
        )
    })?;
    let (size, root) = (verified.checkpoint().size(), *verified.checkpoint().root());
    // The common case, the log's latest checkpoint, needs no storage read.
    if log.head() == (size, root) {
        return Ok(());
    }
    let (log, store, cp) = (
        Arc::clone(log),
        Arc::clone(&s.store),
        verified.checkpoint().clone(),
    );
    // Reading the log's hashes and keeping evidence touch sqlite: off the async workers.
    let split = blocking(move || {
        if log.root_at(size) == Some(root) {
            return Ok(None);
        }
        let evidence = log.evidence_against(&cp).map(|e| e.to_text());
        if let Some(text) = &evidence {
            store.add_evidence(text)?;
        }
        Ok(Some(evidence))
    })
    .await?;
    if let Some(Some(text)) = &split {
        push_evidence(&s.settings.auditors, text);
    }
    match split.map(|e| e.is_some()) {
        None => Ok(()),
        Some(kept) => Err(refuse(
            RefusalKind::SplitView,
            format!(
                "the attached checkpoint of size {size} is signed by this log but is not this log's tree{}",
                if kept {
                    "; the evidence is kept and served at /v1/evidence"
                } else {
                    ""
                }
            ),
        )),
    }
}

/// Sends evidence to each auditor in the background (best effort: the
/// evidence is also kept here and served at `/v1/evidence`).
fn push_evidence(auditors: &[String], text: &str) {
    if auditors.is_empty() {
        return;
    }
    let (auditors, text) = (auditors.to_vec(), text.to_owned());
    tokio::spawn(async move {
        let http = reqwest::Client::new();
        for a in auditors {
            let url = format!("{}/v1/evidence", a.trim_end_matches('/'));
            if let Err(e) = http.post(&url).body(text.clone()).send().await {
                eprintln!("pushing evidence to the auditor {a}: {e}");
            }
        }
    });
}

fn dir_error(who: &str, err: DirectoryError) -> Refusal {
    match err {
        DirectoryError::UnknownDomain(d) => refuse(
            RefusalKind::UnknownSender,
            format!("no log is trusted for the {who}'s domain {d}"),
        ),
        DirectoryError::Unverified { .. } => {
            refuse(RefusalKind::SenderLogUnavailable, err.to_string())
        }
    }
}

/// Runs sqlite work off the async workers.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, MailStoreError> + Send + 'static,
) -> Result<T, Refusal> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r.map_err(internal),
        Err(err) => Err(internal(err)),
    }
}

impl MailState {
    /// Accepts a message if every rule holds (see the `api` module docs);
    /// `peer` is the client's address, for its rate limit. Returns what the
    /// store did and the message id.
    ///
    /// # Errors
    /// A [`Refusal`] naming the rule that failed.
    pub async fn accept(
        &self,
        env: Envelope,
        peer: Option<IpAddr>,
    ) -> Result<(Put, [u8; 16]), Refusal> {
        let s = self;
        if let Some(ip) = peer
            && !s
                .limiter
                .allow(&format!("ip {ip}"), s.settings.rate_per_minute)
        {
            return Err(refuse(
                RefusalKind::RateLimited,
                "too many messages from this address; retry in a minute",
            ));
        }
        let checked = env.check().map_err(|err| match err {
            MailError::BadSignature => refuse(RefusalKind::BadSignature, err.to_string()),
            MailError::BodyTooLong { .. } => refuse(RefusalKind::BodyTooLarge, err.to_string()),
            _ => refuse(RefusalKind::BadEnvelope, err.to_string()),
        })?;
        if checked.to.domain() != s.resolver.domain {
            return Err(refuse(
                RefusalKind::WrongDomain,
                format!(
                    "this mailbox serves {}, not {}",
                    s.resolver.domain,
                    checked.to.domain()
                ),
            ));
        }
        check_recipient_proof(s, &env, &checked.to).await?;
        let recipient = s.resolver.current(&checked.to).await.map_err(internal)?;
        let Some(recipient) = recipient.keys else {
            return Err(refuse(
                RefusalKind::UnknownRecipient,
                format!("{} has no keys in this domain's log", checked.to),
            ));
        };
        if !recipient
            .devices()
            .iter()
            .any(|d| d.encryption_key == checked.to_key)
        {
            return Err(refuse(
                RefusalKind::StaleKey,
                format!(
                    "the message is sealed to a key that is not a current key of {}; look the recipient up again",
                    checked.to
                ),
            ));
        }
        let sender_proof = match s.resolver.current(&checked.from).await {
            Ok(Resolved {
                keys: Some(sender),
                proof,
            }) => {
                if !sender
                    .devices()
                    .iter()
                    .any(|d| d.signing_key == checked.from_key)
                {
                    return Err(refuse(
                        RefusalKind::SenderKeyNotCurrent,
                        format!(
                            "the envelope is signed by a key that is not a current key of {}",
                            checked.from
                        ),
                    ));
                }
                proof
            }
            Ok(Resolved { keys: None, .. }) => {
                return Err(refuse(
                    RefusalKind::UnknownSender,
                    format!("{}'s log proves it has no keys", checked.from),
                ));
            }
            // A sender no trusted log speaks for: refused unless the policy allows it.
            Err(DirectoryError::UnknownDomain(_)) if s.settings.allow_unauthenticated => None,
            Err(err) => return Err(dir_error("sender", err)),
        };
        // Counted only now that the sender's signature and key are verified.
        if !s.limiter.allow(
            &format!("from {}", checked.from),
            s.settings.rate_per_minute,
        ) {
            return Err(refuse(
                RefusalKind::RateLimited,
                format!("too many messages from {}; retry in a minute", checked.from),
            ));
        }
        // The proof that the sender's key was current when the mail was accepted
        // travels with it: a sender who rotates later does not make it unverifiable.
        // (stored once per distinct proof, joined back in when listed).
        let json = serde_json::to_vec(&Envelope {
            recipient_proof: None,
            sender_proof: None,
            ..env
        })
        .map_err(internal)?;
        let proof = sender_proof
            .map(|p| serde_json::to_vec(&p))
            .transpose()
            .map_err(internal)?;
        let put = s
            .store
            .put_with_proof(
                &checked,
                &json,
                proof.as_deref(),
                now_ms(),
                s.settings.ttl.as_millis() as u64,
                s.settings.quota,
            )
            .await
            .map_err(|err| match err {
                MailStoreError::IdConflict => refuse(
                    RefusalKind::IdConflict,
                    "this message id was used for another message",
                ),
                MailStoreError::QuotaMessages { .. } | MailStoreError::QuotaBytes { .. } => {
                    refuse(RefusalKind::QuotaExceeded, err.to_string())
                }
                MailStoreError::SenderQuota { .. } => {
                    refuse(RefusalKind::SenderQuotaExceeded, err.to_string())
                }
                MailStoreError::StoreFull { .. } => {
                    refuse(RefusalKind::MailboxFull, err.to_string())
                }
                MailStoreError::Delivered => refuse(RefusalKind::AlreadyDelivered, err.to_string()),
                other => internal(other),
            })?;
        Ok((put, checked.id))
    }

    /// Verifies a signed request (`headers`: the parsed `Ank-*` headers, or
    /// the name of the one missing) sent to `authority` for `method` and
    /// `path` with `body`, and that its key is a current key of its address;
    /// counts it against the client and, once verified, the address.
    ///
    /// # Errors
    /// A [`Refusal`]: bad or missing signature, wrong mailbox, stale,
    /// replayed, not a current key, rate limited.
    #[allow(clippy::too_many_arguments)]
    pub async fn authenticate(
        &self,
        headers: Result<FetchAuth, &'static str>,
        authority: &str,
        method: &str,
        path: &str,
        body: &[u8],
        peer: Option<IpAddr>,
    ) -> Result<VerifiedFetch, Refusal> {
        let s = self;
        let rate = s.settings.rate_per_minute;
        let limited = || {
            refuse(
                RefusalKind::RateLimited,
                "too many requests; retry in a minute",
            )
        };
        // Until verified, a request counts against its client address only.
        let ip = peer.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
        if !s
            .limiter
            .allow(&format!("fetch ip {ip}"), rate.saturating_mul(10))
        {
            return Err(limited());
        }
        let auth = match headers {
            Ok(a) => a,
            Err(missing) => {
                return Err(refuse(
                    RefusalKind::BadRequestSignature,
                    format!("header {missing} is missing or malformed"),
                ));
            }
        };
        let authority = authority.to_ascii_lowercase();
        if !s.settings.authorities.contains(&authority) {
            return Err(refuse(
                RefusalKind::WrongMailbox,
                format!("this mailbox is not reached as {authority:?}"),
            ));
        }
        let now = now_ms();
        let target = Target {
            method,
            domain: &s.resolver.domain,
            authority: &authority,
            path,
        };
        let v = auth.verify(&target, body, now).map_err(|err| match err {
        FetchAuthError::Skew => refuse(
 RefusalKind::StaleRequest, err.to_string()),
        FetchAuthError::Signature => refuse(
 RefusalKind::BadRequestSignature,
            "the request's signature does not verify for this mailbox (its domain, authority, method, path and body)",
        ),
        _ => refuse(
 RefusalKind::BadRequestSignature,
            err.to_string(),
        ),
    })?;
        if v.address.domain() != s.resolver.domain {
            return Err(refuse(
                RefusalKind::WrongDomain,
                format!("this mailbox serves {}", s.resolver.domain),
            ));
        }
        let keys = s.resolver.current(&v.address).await.map_err(internal)?.keys;
        if !keys.is_some_and(|k| k.devices().iter().any(|d| d.signing_key == v.key)) {
            return Err(refuse(
                RefusalKind::NotCurrentKey,
                format!(
                    "the request is not signed by a current key of {}",
                    v.address
                ),
            ));
        }
        if !s.limiter.allow(&format!("fetch {}", v.address), rate) {
            return Err(limited());
        }
        // The nonce is used up only by a request that is otherwise valid.
        let store = Arc::clone(&s.store);
        let nonce = v.nonce;
        if !blocking(move || store.use_nonce(&nonce, now, now + 2 * MAX_SKEW_MS)).await? {
            return Err(refuse(
                RefusalKind::ReplayedRequest,
                "this request was already made; sign a new one",
            ));
        }
        Ok(v)
    }
}
