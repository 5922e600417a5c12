//! Getting each checkpoint cosigned by witnesses (C2SP tlog-witness).
//!
//! For every new checkpoint the sequencer asks each configured witness, in
//! parallel and within a time limit, to cosign it: `POST <url>/add-checkpoint`
//! with `old` set to the size the witness last cosigned (as far as this log
//! knows; 0 at first) and the consistency proof from there. A 409 with a
//! `text/x.tlog.size` body says the witness's size; the request is made
//! again from it. The answer's cosignature lines are checked under the
//! witness's key before they are added to the note that `/checkpoint`,
//! lookups and publish answers serve. A witness that is down or slow costs
//! its cosignature, never the checkpoint: the log goes on, with fewer
//! cosignatures. The latest checkpoint is also sent again every interval
//! even when nothing changed, so its cosignatures stay fresh.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ank_proofs::{Note, VerifierKey};

use crate::store::{LogStore, StoreError, StoreHashReader};

/// One witness: its key and where its `add-checkpoint` lives.
#[derive(Debug)]
pub struct WitnessPeer {
    pub vkey: VerifierKey,
    /// The submission prefix, without the trailing `/add-checkpoint`.
    pub url: String,
    /// The size this log believes the witness last cosigned.
    known: Mutex<u64>,
}

impl WitnessPeer {
    /// A witness at `url` (its submission prefix) with key `vkey` (type 0x04).
    pub fn new(vkey: VerifierKey, url: &str) -> WitnessPeer {
        WitnessPeer {
            vkey,
            url: url.trim_end_matches('/').to_owned(),
            known: Mutex::new(0),
        }
    }
}

/// The witnesses of a log and how long each may take to answer.
#[derive(Debug)]
pub struct Witnessing {
    pub peers: Vec<WitnessPeer>,
    pub timeout: Duration,
    pub interval: Duration,
    http: reqwest::Client,
}

impl Witnessing {
    /// # Errors
    /// When no HTTP client can be built.
    pub fn new(
        peers: Vec<WitnessPeer>,
        timeout: Duration,
        interval: Duration,
    ) -> Result<Witnessing, reqwest::Error> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("ank-log/", env!("CARGO_PKG_VERSION")))
            .timeout(timeout)
            .build()?;
        Ok(Witnessing {
            peers,
            timeout,
            interval,
            http,
        })
    }

    /// The log's `note` (a checkpoint of `size`) with the cosignatures the
    /// witnesses gave within the time limit. Proofs are read from `store`.
    pub async fn cosign(
        self: &Arc<Self>,
        store: &Arc<dyn LogStore>,
        note: &str,
        size: u64,
    ) -> String {
        self.cosign_over(store, note, note, size).await
    }

    /// As [`Witnessing::cosign`], starting from `served` (the same
    /// checkpoint with the cosignatures it already has): a witness that
    /// answers replaces its cosignature, one that does not keeps it.
    pub async fn cosign_over(
        self: &Arc<Self>,
        store: &Arc<dyn LogStore>,
        note: &str,
        served: &str,
        size: u64,
    ) -> String {
        let Ok(out) = Note::parse(served.as_bytes()) else {
            return note.to_owned();
        };
        let note: Arc<str> = Arc::from(note);
        let mut asks = tokio::task::JoinSet::new();
        for i in 0..self.peers.len() {
            let (w, store, note) = (Arc::clone(self), Arc::clone(store), Arc::clone(&note));
            asks.spawn(async move { w.ask(i, &store, &note, size).await });
        }
        let deadline = tokio::time::Instant::now() + self.timeout + Duration::from_millis(100);
        let mut fresh = Vec::new();
        while let Ok(Some(answer)) = tokio::time::timeout_at(deadline, asks.join_next()).await {
            if let Ok(Some(sig)) = answer {
                fresh.push(sig);
            }
        }
        asks.abort_all();
        if fresh.is_empty() {
            return out.to_text();
        }
        // The log's signature and every cosignature no witness renewed, then the new ones.
        let mut merged = match Note::new(out.text()) {
            Ok(n) => n,
            Err(_) => return out.to_text(),
        };
        for sig in out.signatures() {
            if !fresh.iter().any(|f| f.name == sig.name && f.id == sig.id) {
                merged.add_signature(sig.clone());
            }
        }
        for sig in fresh {
            merged.add_signature(sig);
        }
        merged.to_text()
    }

    /// One witness's cosignature, or `None` (logged) when it gives none.
    async fn ask(
        &self,
        i: usize,
        store: &Arc<dyn LogStore>,
        note: &str,
        size: u64,
    ) -> Option<ank_proofs::note::NoteSignature> {
        let peer = self.peers.get(i)?;
        for _ in 0..3 {
            let old = peer.known.lock().map(|g| *g).unwrap_or(0);
            if old > size {
                eprintln!(
                    "witness {}: it holds size {old}, above this log's {size}",
                    peer.vkey.name()
                );
                return None;
            }
            let proof = if old == 0 || old == size {
                Vec::new()
            } else {
                let store = Arc::clone(store);
                let proof = tokio::task::spawn_blocking(move || {
                    ank_proofs::prove_consistency(old, size, &StoreHashReader(&*store))
                })
                .await;
                match proof {
                    Ok(Ok(p)) => p,
                    Ok(Err(e)) => {
                        eprintln!("witness {}: no proof from {old}: {e}", peer.vkey.name());
                        return None;
                    }
                    Err(_) => return None,
                }
            };
            let mut body = format!("old {old}\n");
            for h in &proof {
                body.push_str(&format!("{h}\n"));
            }
            body.push('\n');
            body.push_str(note);
            let resp = self
                .http
                .post(format!("{}/add-checkpoint", peer.url))
                .body(body)
                .send()
                .await;
            let resp = match resp {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("witness {}: {e}", peer.vkey.name());
                    return None;
                }
            };
            let status = resp.status();
            let tlog_size = resp
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .is_some_and(|v| v.as_bytes() == b"text/x.tlog.size");
            let text = resp.text().await.unwrap_or_default();
            match status.as_u16() {
                200 => {
                    let sig = verified_cosignature(&peer.vkey, note, &text);
                    if sig.is_some() {
                        if let Ok(mut k) = peer.known.lock() {
                            *k = size;
                        }
                    } else {
                        eprintln!(
                            "witness {}: its answer holds no valid cosignature",
                            peer.vkey.name()
                        );
                    }
                    return sig;
                }
                409 if tlog_size => match text.strip_suffix('\n').and_then(|t| t.parse().ok()) {
                    Some(s) => {
                        if let Ok(mut k) = peer.known.lock() {
                            *k = s;
                        }
                    }
                    None => return None,
                },
                _ => {
                    eprintln!(
                        "witness {}: HTTP {status}: {}",
                        peer.vkey.name(),
                        text.trim()
                    );
                    return None;
                }
            }
        }
        None
    }
}

/// The witness's cosignature in an `add-checkpoint` answer, checked under
/// its key over `note`'s text.
fn verified_cosignature(
    vkey: &VerifierKey,
    note: &str,
    answer: &str,
) -> Option<ank_proofs::note::NoteSignature> {
    if answer.len() > 64 * 1024 || !answer.ends_with('\n') {
        return None;
    }
    let n = Note::parse(format!("{note}{answer}").as_bytes()).ok()?;
    let v = n.verify(std::slice::from_ref(vkey)).ok()?;
    v.verified().first()?;
    n.signatures()
        .iter()
        .find(|s| s.name == vkey.name() && s.id == vkey.id())
        .cloned()
}

/// Sends the latest checkpoint to every witness again and makes the
/// cosigned note the served one (if the log has not moved on meanwhile).
///
/// # Errors
/// Store errors.
pub async fn refresh(log: &crate::Log, w: &Arc<Witnessing>) -> Result<(), StoreError> {
    let latest = log.latest();
    let signed = log
        .store
        .checkpoint()?
        .filter(|c| c.size == latest.size && c.root == latest.root)
        .map(|c| c.note);
    // The log moved on meanwhile: the next batch was cosigned with it.
    let Some(signed) = signed else {
        return Ok(());
    };
    let note = w
        .cosign_over(&log.store, &signed, &latest.note, latest.size)
        .await;
    log.set_cosigned(latest.size, latest.root, note);
    Ok(())
}
