//! # ank-monitor
//!
//! Watches addresses in their logs. For each log it continues from the last
//! size it monitored: it fetches the new entry bundles and level-0 hash
//! tiles, recomputes every leaf and the tree from the remembered subtree
//! roots, and requires the checkpoint's root (which proves the new
//! checkpoint consistent with the last monitored one, and the entries the
//! tree's). Every binding entry of a watched address is reported: version,
//! the keys bound, and who authorised it.
//!
//! # Alerts
//!
//! A binding is the user's own when a key this user holds (or held, or
//! added in an earlier change of their own) made it: a key holder's change
//! signed by such a key, or an enrollment binding such a key. Everything
//! else is an **alert**: an operator recovery, a change signed by a key
//! the user never had, an enrollment of someone else's keys. The keys of
//! an own change's key set become the user's own from then on, so a user's
//! other devices do not raise alerts once added.
//!
//! # State (`$ANK_HOME/monitor/<origin>.json`, replaced atomically)
//!
//! `{"origin", "size", "roots": [base64 subtree roots, largest first],
//! "addresses": {"<address>": {"version", "own": [base64 Ed25519 keys]}}}`
//!
//! # Errors
//!
//! [`MonitorError`]: the checkpoint or the tiles do not verify (`Proof`), a
//! fork (`Fork`, with evidence), transport and I/O errors, a state file that
//! does not parse.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ank_client::{ClientError, Source};
use ank_proofs::{Address, Authorization, Hash, LogEntry, TreeBuilder, VerifiedCheckpoint};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

/// Why a monitoring run failed.
#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("{0}")]
    Proof(#[from] ank_proofs::Error),
    #[error("{path}: {what}")]
    State { path: String, what: String },
}

/// One binding of a watched address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Event {
    pub address: String,
    pub origin: String,
    pub index: u64,
    pub version: u64,
    pub timestamp_ms: u64,
    /// `enrollment`, `key holder` or `operator`.
    pub authority: String,
    /// For a key holder's change: the signing key, base64.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signer: Option<String>,
    /// The devices bound: (name, Ed25519, X25519), base64.
    pub devices: Vec<ank_proofs::api::DeviceJson>,
    /// Not made by one of the user's own keys.
    pub alert: bool,
    /// Why it is (or is not) an alert.
    pub why: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Watched {
    version: u64,
    own: BTreeSet<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct State {
    origin: String,
    size: u64,
    roots: Vec<String>,
    addresses: BTreeMap<String, Watched>,
}

/// The monitor of one log for some of its addresses.
#[derive(Debug)]
pub struct LogMonitor {
    path: PathBuf,
    state: State,
    /// Labels watched, to their addresses.
    labels: BTreeMap<Hash, String>,
}

impl LogMonitor {
    /// Opens (or starts) the state of `origin` under `dir`, watching
    /// `addresses`, each with the Ed25519 keys this user holds for it.
    ///
    /// # Errors
    /// [`MonitorError::State`] for a state file that does not parse.
    pub fn open(
        dir: &Path,
        origin: &str,
        addresses: &[(Address, Vec<[u8; 32]>)],
    ) -> Result<LogMonitor, MonitorError> {
        let name: String = origin
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let path = dir.join(format!("{name}.json"));
        let bad = |what: String| MonitorError::State {
            path: path.display().to_string(),
            what,
        };
        let mut state: State = match std::fs::read(&path) {
            Ok(b) => serde_json::from_slice(&b).map_err(|e| bad(e.to_string()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => State {
                origin: origin.to_owned(),
                ..State::default()
            },
            Err(e) => return Err(bad(e.to_string())),
        };
        if state.origin != origin {
            return Err(bad(format!("holds the state of {:?}", state.origin)));
        }
        let mut labels = BTreeMap::new();
        for (a, keys) in addresses {
            let w = state.addresses.entry(a.to_string()).or_default();
            for k in keys {
                w.own.insert(STANDARD.encode(k));
            }
            labels.insert(a.label(), a.to_string());
        }
        Ok(LogMonitor {
            path,
            state,
            labels,
        })
    }

    /// The size monitored so far.
    pub fn size(&self) -> u64 {
        self.state.size
    }

    fn tree(&self) -> Result<TreeBuilder, MonitorError> {
        let roots = self
            .state
            .roots
            .iter()
            .map(|r| Hash::from_base64(r))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(TreeBuilder::from_subtree_roots(self.state.size, roots)?)
    }

    /// Reads and checks the entries from the monitored size up to
    /// `checkpoint` (already verified, and consistent with what this user
    /// saw before) from `source`, reports the watched addresses' bindings
    /// through `on_event`, and remembers the new size. `progress(done,
    /// total)` follows the walk.
    ///
    /// # Errors
    /// [`MonitorError`]; nothing is remembered after an error.
    pub async fn catch_up(
        &mut self,
        source: Arc<Source>,
        checkpoint: &VerifiedCheckpoint,
        mut on_event: impl FnMut(Event),
        mut progress: impl FnMut(u64, u64),
    ) -> Result<(), MonitorError> {
        let (from, to) = (self.state.size, checkpoint.size());
        if to < from {
            return Err(ank_proofs::Error::SizeOrder {
                size1: from,
                size2: to,
            }
            .into());
        }
        let mut tree = self.tree()?;
        let mut state = self.state.clone();
        let mut events = Vec::new();
        let labels = &self.labels;
        ank_client::walk_entries(
            source,
            from,
            to,
            true,
            |index, e, leaf| {
                tree.push(leaf);
                // Only a watched label's entry is decoded (and its keys checked).
                if e.len() > 33
                    && e[0] == ank_proofs::binding::BINDING_TYPE
                    && let Some(address) = labels.get(&Hash(e[1..33].try_into().unwrap_or([0; 32])))
                    && let LogEntry::Binding(entry) = LogEntry::decode(e)?
                {
                    events.push(event(
                        &mut state,
                        address,
                        checkpoint.origin(),
                        index,
                        &entry,
                    ));
                }
                Ok(())
            },
            &mut progress,
        )
        .await?;
        if tree.size() != to || tree.root() != *checkpoint.root() {
            return Err(ank_proofs::Error::RootMismatch {
                expected: *checkpoint.root(),
                computed: tree.root(),
            }
            .into());
        }
        state.size = to;
        state.roots = tree.subtree_roots().iter().map(Hash::to_base64).collect();
        self.save(&state)?;
        self.state = state;
        for e in events {
            on_event(e);
        }
        Ok(())
    }

    fn save(&self, state: &State) -> Result<(), MonitorError> {
        let bad = |what: String| MonitorError::State {
            path: self.path.display().to_string(),
            what,
        };
        if let Some(dir) = self.path.parent() {
            ank_common::fs::create_private_dir(dir).map_err(|e| bad(e.to_string()))?;
        }
        let text = serde_json::to_vec_pretty(state).map_err(|e| bad(e.to_string()))?;
        ank_common::fs::replace_private(&self.path, &text).map_err(|e| bad(e.to_string()))
    }
}

/// The event for `entry`, judging it against (and updating) the address's
/// own keys.
fn event(
    state: &mut State,
    address: &str,
    origin: &str,
    index: u64,
    entry: &ank_proofs::Entry,
) -> Event {
    let w = state.addresses.entry(address.to_owned()).or_default();
    let b64 = |k: &[u8; 32]| STANDARD.encode(k);
    let (alert, why, signer) = match &entry.authorization {
        Authorization::Operator => (true, "the operator replaced the keys".to_owned(), None),
        Authorization::KeyHolder { signer, .. } => {
            if w.own.contains(&b64(signer)) {
                (
                    false,
                    "signed by one of your keys".to_owned(),
                    Some(b64(signer)),
                )
            } else {
                (
                    true,
                    "signed by a key you never held".to_owned(),
                    Some(b64(signer)),
                )
            }
        }
        Authorization::Enrollment => {
            if entry
                .key_set
                .devices()
                .iter()
                .any(|d| w.own.contains(&b64(&d.signing_key)))
            {
                (false, "your enrollment".to_owned(), None)
            } else {
                (
                    true,
                    "an enrollment of keys that are not yours".to_owned(),
                    None,
                )
            }
        }
    };
    if !alert {
        for d in entry.key_set.devices() {
            w.own.insert(b64(&d.signing_key));
        }
    }
    w.version = entry.version;
    Event {
        address: address.to_owned(),
        origin: origin.to_owned(),
        index,
        version: entry.version,
        timestamp_ms: entry.timestamp_ms,
        authority: entry.authority().to_string(),
        signer,
        devices: ank_proofs::api::key_set_to_json(&entry.key_set),
        alert,
        why,
    }
}
