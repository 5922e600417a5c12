//! Talking to a log server: publish and lookup, each answer verified before
//! it is returned.

use ank_proofs::api::{
    LookupResponse, PublishRequest, PublishResponse, VerifiedLookup, verify_lookup,
};
use ank_proofs::{Address, Entry, TlogProof, VerifiedCheckpoint, VerifierKey};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::{ClientError, Mismatch};

/// A log at `url` whose answers must verify with `vkey`.
#[derive(Debug, Clone)]
pub struct LogClient {
    base: String,
    http: reqwest::Client,
    vkey: VerifierKey,
    /// Witnesses whose cosignatures every checkpoint must carry.
    witnesses: Option<WitnessPolicy>,
    /// Where the checkpoints this client verified are remembered, if anywhere.
    state: Option<crate::state::LogState>,
    /// What the last checkpoint check found.
    last: std::sync::Arc<std::sync::Mutex<Option<crate::state::Advanced>>>,
}

/// A publish that the log proved: the entry and the checkpoint covering it.
#[derive(Debug, Clone)]
pub struct Published {
    pub index: u64,
    pub entry: Entry,
    pub checkpoint: VerifiedCheckpoint,
}

/// What settling a pending key change found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// There was none.
    Nothing,
    /// The log already held it (its answer had been lost).
    Applied { version: u64 },
    /// It was sent again and the log took it.
    Retried { version: u64 },
    /// The log moved past it without taking it; its keys were kept aside.
    Superseded { version: u64 },
}

impl LogClient {
    /// Settles the key change recorded for `address` in `home`, if any: the
    /// log's current binding says whether it was applied; if the log has not
    /// reached its version, the very same request is sent again (the log
    /// answers a retry of a success with the original answer). Superseded
    /// secrets are kept for `keep_ms`.
    ///
    /// # Errors
    /// Lookup or publish failures, which leave the change recorded.
    pub async fn settle_pending(
        &self,
        home: &std::path::Path,
        address: &Address,
        keep_ms: u64,
    ) -> Result<Settled, ClientError> {
        let Some(p) = crate::home::PendingChange::load(home, address)? else {
            return Ok(Settled::Nothing);
        };
        let want = ank_proofs::api::key_set_from_json(&p.request.devices)?.hash();
        let version = p.request.version;
        let l = self.lookup(address).await?;
        let current = l.binding().map(|(_, e)| (e.version, e.keys_hash()));
        let now = ank_common::now_ms();
        match current {
            Some((v, h)) if v >= version => {
                let applied = v == version && h == want;
                p.finish(home, address, applied, now, keep_ms)?;
                Ok(if applied {
                    Settled::Applied { version }
                } else {
                    Settled::Superseded { version: v }
                })
            }
            _ => {
                let request = p.request.clone();
                match self.publish(&request).await {
                    Ok(_) => {
                        p.finish(home, address, true, now, keep_ms)?;
                        Ok(Settled::Retried { version })
                    }
                    // A definitive refusal: the change can never apply.
                    Err(e) if e.is_refusal() => {
                        p.finish(home, address, false, now, keep_ms)?;
                        Ok(Settled::Superseded { version })
                    }
                    Err(e) => Err(e),
                }
            }
        }
    }

    /// A client for the log at `url`.
    ///
    /// # Errors
    /// [`ClientError::Transport`] when no HTTP client can be built.
    pub fn new(url: &str, vkey: VerifierKey) -> Result<LogClient, ClientError> {
        Self::new_pinned(url, vkey, None)
    }

    /// As [`LogClient::new`], trusting over TLS only the key pinned when
    /// `pin` is given (see [`crate::tls`]).
    ///
    /// # Errors
    /// As [`LogClient::new`].
    pub fn new_pinned(
        url: &str,
        vkey: VerifierKey,
        pin: Option<[u8; 32]>,
    ) -> Result<LogClient, ClientError> {
        let http = crate::http_client(url, pin)?;
        Ok(LogClient {
            base: url.trim_end_matches('/').to_owned(),
            http,
            vkey,
            witnesses: None,
            state: None,
            last: std::sync::Arc::default(),
        })
    }

    /// This client, accepting only checkpoints that `policy`'s witnesses
    /// cosigned (a quorum of them, fresh enough).
    pub fn requiring(mut self, policy: Option<WitnessPolicy>) -> LogClient {
        self.witnesses = policy;
        self
    }

    /// Checks a checkpoint's cosignatures against the witness policy:
    /// `fresh` also applies the policy's maximum age.
    ///
    /// # Errors
    /// [`ClientError::Witnesses`].
    pub fn check_witnesses(&self, cp: &VerifiedCheckpoint, fresh: bool) -> Result<(), ClientError> {
        match &self.witnesses {
            Some(p) => p.check(cp, &self.vkey, fresh, ank_common::now_ms() / 1000),
            None => Ok(()),
        }
    }

    /// This client, remembering the checkpoints it verifies in `state`:
    /// every answer's checkpoint is then proven consistent with the one
    /// remembered before it is used (see [`crate::state`]).
    #[must_use]
    pub fn remembering(mut self, state: crate::state::LogState) -> LogClient {
        self.state = Some(state);
        self
    }

    /// What the last check against the remembered checkpoint found.
    pub fn last_checked(&self) -> Option<crate::state::Advanced> {
        self.last.lock().ok().and_then(|g| *g)
    }

    /// The consistency proof between two sizes of the log.
    ///
    /// # Errors
    /// Transport, HTTP and format errors.
    pub async fn consistency(
        &self,
        from: u64,
        to: u64,
    ) -> Result<Vec<ank_proofs::Hash>, ClientError> {
        let url = format!("{}/v1/proof/consistency?from={from}&to={to}", self.base);
        let p: ank_proofs::api::ProofResponse = crate::exchange(&url, self.http.get(&url)).await?;
        if p.from != from || p.size != to {
            return Err(ClientError::Mismatch(crate::Mismatch::ProofIndex));
        }
        p.proof
            .iter()
            .map(|h| ank_proofs::Hash::from_base64(h).map_err(ClientError::from))
            .collect()
    }

    /// The remembered checkpoint, read off the async workers.
    async fn load_state(
        &self,
        state: &crate::state::LogState,
    ) -> Result<Option<VerifiedCheckpoint>, ClientError> {
        let (st, vkey) = (state.clone(), self.vkey.clone());
        Ok(tokio::task::spawn_blocking(move || st.load(&vkey))
            .await
            .map_err(|e| state_io(e.to_string()))??)
    }

    /// A larger checkpoint whose consistency proof from the remembered one
    /// failed: evidence is made from the larger tree's own tiles. If those
    /// hashes show that the larger tree does extend the remembered one, the
    /// proof was merely bad and this is an ordinary error, not a fork.
    async fn larger_fork(
        &self,
        state: &crate::state::LogState,
        larger: &VerifiedCheckpoint,
        seen: u64,
        got: u64,
        seen_note: String,
        got_note: String,
    ) -> ClientError {
        let fork = |evidence| {
            ClientError::State(crate::state::StateError::Fork {
                seen,
                got,
                seen_note: seen_note.clone(),
                got_note: got_note.clone(),
                evidence,
            })
        };
        let Ok(Some(smaller)) = self.load_state(state).await else {
            return fork(None);
        };
        let Ok(source) = crate::Source::parse(&format!("{}/", self.base)) else {
            return fork(None);
        };
        let larger = larger.clone();
        let handle = tokio::runtime::Handle::current();
        let built = tokio::task::spawn_blocking(move || {
            let reader =
                ank_proofs::tile::TileHashReader::new(larger.size(), |t: &ank_proofs::Tile| {
                    handle
                        .block_on(source.get(&t.path()))
                        .map_err(|_| ank_proofs::Error::MissingHash { index: t.index })
                });
            ank_proofs::evidence::Evidence::from_larger_tree(&smaller, &larger, &reader)
        })
        .await;
        match built {
            Ok(Ok(e)) => fork(state.keep_evidence(&e)),
            Ok(Err(ank_proofs::Error::Evidence(ank_proofs::evidence::EvidenceError::NotAFork))) => {
                ClientError::Mismatch(crate::Mismatch::ConsistencyProof)
            }
            _ => fork(None),
        }
    }

    /// Checks a checkpoint that proved something in the past (a sender's key
    /// when its mail was accepted): an older one must be consistent with the
    /// remembered checkpoint; a newer one is checked as by
    /// [`LogClient::check_checkpoint`].
    ///
    /// # Errors
    /// [`ClientError::State`] for a fork or an unusable state file.
    pub async fn check_historical(&self, cp: &VerifiedCheckpoint) -> Result<(), ClientError> {
        self.check_witnesses(cp, false)?;
        let Some(state) = &self.state else {
            return Ok(());
        };
        let mut attempts = 0;
        let seen = loop {
            if let Some(seen) = self.load_state(state).await?
                && cp.size() < seen.size()
            {
                break seen;
            }
            match self.check_checkpoint(cp).await {
                // Another process remembered a larger one meanwhile: now
                // `cp` is older, and held to consistency with it.
                Err(ClientError::State(crate::state::StateError::Rollback { .. }))
                    if attempts < 10 =>
                {
                    attempts += 1;
                }
                r => return r,
            }
        };
        if cp.size() == 0 {
            return Ok(());
        }
        let proof = self.consistency(cp.size(), seen.size()).await?;
        ank_proofs::verify_consistency(cp.size(), seen.size(), &proof, cp.root(), seen.root())
            .map_err(|_| {
                ClientError::State(crate::state::StateError::Fork {
                    seen: seen.size(),
                    got: cp.size(),
                    seen_note: seen.note().to_text(),
                    got_note: cp.note().to_text(),
                    evidence: None,
                })
            })
    }

    /// Proves `cp` consistent with the remembered checkpoint and remembers
    /// it (when this client remembers; see [`LogClient::remembering`]).
    ///
    /// # Errors
    /// [`ClientError::State`]: a rollback, a fork, or an unusable state file.
    pub async fn check_checkpoint(&self, cp: &VerifiedCheckpoint) -> Result<(), ClientError> {
        self.check_witnesses(cp, true)?;
        let Some(state) = &self.state else {
            return Ok(());
        };
        // The proof is fetched before the state file is locked; if another
        // process moved the state meanwhile, fetch again.
        for _ in 0..10 {
            let seen = self.load_state(state).await?.map_or(0, |c| c.size());
            let proof = if seen > 0 && seen < cp.size() {
                Some((seen, self.consistency(seen, cp.size()).await?))
            } else {
                None
            };
            // The state file's lock and fsync stay off the async workers.
            let (st, vkey, new) = (state.clone(), self.vkey.clone(), cp.clone());
            let (r, moved) = tokio::task::spawn_blocking(move || {
                let moved = std::cell::Cell::new(false);
                let r = st.advance(&vkey, &new, |from, to| match &proof {
                    Some((f, p)) if *f == from && to == new.size() => Ok(p.clone()),
                    _ => {
                        moved.set(true);
                        Ok(Vec::new())
                    }
                });
                (r, moved.get())
            })
            .await
            .map_err(|e| state_io(e.to_string()))?;
            if moved {
                continue;
            }
            let advanced = match r {
                Ok(a) => a,
                Err(crate::state::StateError::Fork {
                    seen,
                    got,
                    seen_note,
                    got_note,
                    evidence: None,
                }) if got > seen => {
                    return Err(self
                        .larger_fork(state, cp, seen, got, seen_note, got_note)
                        .await);
                }
                Err(e) => return Err(e.into()),
            };
            if let Ok(mut g) = self.last.lock() {
                *g = Some(advanced);
            }
            return Ok(());
        }
        Err(state_io("the remembered checkpoint kept moving".into()))
    }

    /// The log's verifier key.
    pub fn vkey(&self) -> &VerifierKey {
        &self.vkey
    }

    /// Publishes and verifies that the answer proves exactly this binding.
    ///
    /// # Errors
    /// [`ClientError::Api`] for a refusal; [`ClientError::Proof`] or
    /// [`ClientError::Mismatch`] when the answer does not prove the request.
    pub async fn publish(&self, req: &PublishRequest) -> Result<Published, ClientError> {
        let url = format!("{}/v1/publish", self.base);
        let ans: PublishResponse = crate::exchange(&url, self.http.post(&url).json(req)).await?;
        let address = Address::parse(&req.address)?;
        let key_set = ank_proofs::api::key_set_from_json(&req.devices)?;
        let raw = STANDARD
            .decode(&ans.entry)
            .map_err(|_| ank_proofs::Error::Base64 { what: "entry" })?;
        let entry = Entry::decode(&raw)?;
        // The entry must record this request's authorisation: a log that
        // logged a key holder's change as the operator's (or the reverse)
        // would hide who made it from auditors.
        let authorised_as_asked = match (&entry.authorization, &req.signature, &req.token) {
            (ank_proofs::Authorization::Enrollment, None, Some(_)) => true,
            (ank_proofs::Authorization::KeyHolder { signer, signature }, Some(s), None) => {
                ank_common::b64_array::<32>(&s.public_key) == Some(*signer)
                    && ank_common::b64_array::<64>(&s.signature) == Some(*signature)
            }
            _ => false,
        };
        if entry.label != address.label()
            || entry.version != req.version
            || entry.key_set != key_set
            || !authorised_as_asked
        {
            return Err(ClientError::Mismatch(Mismatch::Entry));
        }
        let bundle = TlogProof::parse(&ans.tlog_proof)?;
        if bundle.index != ans.index {
            return Err(ClientError::Mismatch(Mismatch::ProofIndex));
        }
        let checkpoint = bundle.verify(&ank_proofs::leaf_hash(&raw), &self.vkey, &[])?;
        // The checkpoint of the batch that took this entry: another process
        // sharing this client's state may have verified a later one since,
        // so an older one is held to consistency with it, not refused (the
        // entry's inclusion, not the log's freshness, is what it proves).
        self.check_historical(&checkpoint).await?;
        Ok(Published {
            index: ans.index,
            entry,
            checkpoint,
        })
    }

    /// The log's latest checkpoint, its signature verified.
    ///
    /// # Errors
    /// Transport and HTTP errors; [`ClientError::Proof`] for a bad signature.
    pub async fn checkpoint(&self) -> Result<VerifiedCheckpoint, ClientError> {
        let url = format!("{}/checkpoint", self.base);
        let transport = |e: reqwest::Error| ClientError::Transport {
            url: url.clone(),
            message: crate::error_chain(&e),
        };
        let resp = self.http.get(&url).send().await.map_err(transport)?;
        if !resp.status().is_success() {
            return Err(ClientError::Http {
                url,
                status: resp.status().as_u16(),
            });
        }
        let body = resp.bytes().await.map_err(transport)?;
        if body.len() > crate::MAX_RESOURCE {
            return Err(ClientError::TooLarge {
                url,
                limit: crate::MAX_RESOURCE,
            });
        }
        Ok(ank_proofs::verify_checkpoint(&body, &self.vkey, &[])?)
    }

    /// The log's latest checkpoint, proved consistent with the remembered
    /// one and remembered ([`LogClient::check_checkpoint`]). One that another
    /// process sharing the state overtook while it was asked for is asked
    /// for again; one older than what was remembered when asking is a
    /// rollback.
    ///
    /// # Errors
    /// As [`LogClient::checkpoint`] and [`LogClient::check_checkpoint`].
    pub async fn latest_checkpoint(&self) -> Result<VerifiedCheckpoint, ClientError> {
        self.fresh(|| self.checkpoint(), |cp| cp).await
    }

    /// Asks with `ask` and checks the answer's checkpoint (`checkpoint_of`)
    /// against the remembered one. What was remembered when asking decides:
    /// an answer at least that new that another process overtook meanwhile
    /// is asked for again (up to 10 times); an older one is a rollback.
    async fn fresh<T, F>(
        &self,
        ask: impl Fn() -> F,
        checkpoint_of: impl Fn(&T) -> &VerifiedCheckpoint,
    ) -> Result<T, ClientError>
    where
        F: std::future::Future<Output = Result<T, ClientError>>,
    {
        let mut attempts = 0;
        loop {
            let asked_at = match &self.state {
                Some(state) => self.load_state(state).await?.map_or(0, |c| c.size()),
                None => 0,
            };
            let answer = ask().await?;
            match self.check_checkpoint(checkpoint_of(&answer)).await {
                Ok(()) => return Ok(answer),
                Err(ClientError::State(crate::state::StateError::Rollback { got, .. }))
                    if got >= asked_at && attempts < 10 =>
                {
                    attempts += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Looks `address` up and verifies the answer.
    ///
    /// # Errors
    /// [`ClientError::Api`] for a refusal; [`ClientError::Proof`] when the
    /// answer does not verify.
    pub async fn lookup(&self, address: &Address) -> Result<VerifiedLookup, ClientError> {
        Ok(self.lookup_with_answer(address).await?.1)
    }

    /// As [`LogClient::lookup`], also returning the answer as received (to
    /// attach as evidence, or to save and verify again later).
    ///
    /// # Errors
    /// As [`LogClient::lookup`].
    pub async fn lookup_with_answer(
        &self,
        address: &Address,
    ) -> Result<(LookupResponse, VerifiedLookup), ClientError> {
        let url = format!("{}/v1/lookup/{address}", self.base);
        self.fresh(
            || async {
                let ans: LookupResponse = crate::exchange(&url, self.http.get(&url)).await?;
                let verified = verify_lookup(&ans, address, &self.vkey)?;
                Ok((ans, verified))
            },
            |(_, verified)| verified.checkpoint(),
        )
        .await
    }
}

fn state_io(message: String) -> ClientError {
    ClientError::State(crate::state::StateError::Io {
        path: "checkpoint state".into(),
        source: std::io::Error::other(message),
    })
}

/// Which witnesses must cosign a log's checkpoints: `quorum` of `keys`, or
/// a C2SP tlog-policy; and, optionally, how recent that quorum must be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WitnessPolicy {
    rule: Rule,
    max_age: Option<std::time::Duration>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Rule {
    Quorum {
        keys: Vec<VerifierKey>,
        k: usize,
    },
    /// The policy, and the file it was read from (relative to `$ANK_HOME`).
    Policy {
        policy: Box<ank_proofs::Policy>,
        file: String,
    },
}

impl WitnessPolicy {
    /// `quorum` of `keys` (default: every witness).
    ///
    /// # Errors
    /// [`ClientError::Witnesses`] for a key that is not a cosignature/v1
    /// key, a repeated key, or a quorum above the number of witnesses.
    pub fn new(
        keys: Vec<VerifierKey>,
        quorum: Option<usize>,
        max_age: Option<std::time::Duration>,
    ) -> Result<WitnessPolicy, ClientError> {
        let bad = |m: String| ClientError::Witnesses(m);
        for (i, k) in keys.iter().enumerate() {
            if k.alg() != ank_proofs::note::ALG_COSIGNATURE_V1 {
                return Err(bad(format!("{} is not a cosignature/v1 key", k.to_text())));
            }
            if keys[..i]
                .iter()
                .any(|o| o.name() == k.name() && o.id() == k.id())
            {
                return Err(bad(format!("witness {} is listed twice", k.to_text())));
            }
        }
        let k = quorum.unwrap_or(keys.len());
        if k > keys.len() {
            return Err(bad(format!(
                "a quorum of {k} needs that many witnesses, not {}",
                keys.len()
            )));
        }
        Ok(WitnessPolicy {
            rule: Rule::Quorum { keys, k },
            max_age,
        })
    }

    /// The witnesses and quorum of a C2SP tlog-policy (read from `file`,
    /// named relative to `$ANK_HOME` in the trust file), which must list
    /// `log` among its logs.
    ///
    /// # Errors
    /// [`ClientError::Witnesses`] when the policy does not name the log.
    pub fn from_policy(
        policy: ank_proofs::Policy,
        file: &str,
        log: &VerifierKey,
        max_age: Option<std::time::Duration>,
    ) -> Result<WitnessPolicy, ClientError> {
        if !policy.logs().iter().any(|l| l.key == *log) {
            return Err(ClientError::Witnesses(format!(
                "the policy {file} does not list the log {}",
                log.to_text()
            )));
        }
        Ok(WitnessPolicy {
            rule: Rule::Policy {
                policy: Box::new(policy),
                file: file.to_owned(),
            },
            max_age,
        })
    }

    /// The options of a trust line.
    pub fn to_options(&self) -> String {
        let mut s = String::new();
        match &self.rule {
            Rule::Quorum { keys, k } => {
                for key in keys {
                    s.push_str(&format!(" witness={}", key.to_text()));
                }
                s.push_str(&format!(" quorum={k}"));
            }
            Rule::Policy { file, .. } => s.push_str(&format!(" policy={file}")),
        }
        if let Some(a) = self.max_age {
            s.push_str(&format!(" max-age={}s", a.as_secs()));
        }
        s
    }

    fn keys(&self) -> Vec<VerifierKey> {
        match &self.rule {
            Rule::Quorum { keys, .. } => keys.clone(),
            Rule::Policy { policy, .. } => {
                policy.witnesses().iter().map(|w| w.key.clone()).collect()
            }
        }
    }

    fn met_by(&self, cosigners: &[VerifierKey]) -> bool {
        match &self.rule {
            Rule::Quorum { k, .. } => cosigners.len() >= *k,
            Rule::Policy { policy, .. } => policy.check_quorum_of(cosigners).is_ok(),
        }
    }

    fn describe(&self) -> String {
        match &self.rule {
            Rule::Quorum { k, .. } => format!("the quorum is {k}"),
            Rule::Policy { file, .. } => format!("the policy {file} is not met"),
        }
    }

    /// Checks `cp` (already verified under `log`): its valid cosignatures
    /// meet the quorum, and when `fresh`, those no older than the maximum
    /// age (at `now`, seconds) meet it too.
    ///
    /// # Errors
    /// [`ClientError::Witnesses`] saying how many cosigned, or how stale.
    pub fn check(
        &self,
        cp: &VerifiedCheckpoint,
        log: &VerifierKey,
        fresh: bool,
        now: u64,
    ) -> Result<(), ClientError> {
        let v = ank_proofs::verify_checkpoint(cp.note().to_text().as_bytes(), log, &self.keys())?;
        let all: Vec<VerifierKey> = v.cosignatures().iter().map(|c| c.witness.clone()).collect();
        if !self.met_by(&all) {
            return Err(ClientError::Witnesses(format!(
                "the checkpoint of {} at size {} carries {} valid cosignature(s) of the witnesses required; {}",
                cp.origin(),
                cp.size(),
                all.len(),
                self.describe()
            )));
        }
        if fresh && let Some(max) = self.max_age {
            let since = now.saturating_sub(max.as_secs());
            let recent: Vec<VerifierKey> = v
                .cosignatures()
                .iter()
                .filter(|c| c.timestamp >= since)
                .map(|c| c.witness.clone())
                .collect();
            if !self.met_by(&recent) {
                let newest = v
                    .cosignatures()
                    .iter()
                    .map(|c| c.timestamp)
                    .max()
                    .unwrap_or(0);
                return Err(ClientError::Witnesses(format!(
                    "a stale view: the checkpoint of {} at size {} has no quorum of cosignatures from the last {} s (the newest is {} s old)",
                    cp.origin(),
                    cp.size(),
                    max.as_secs(),
                    now.saturating_sub(newest)
                )));
            }
        }
        Ok(())
    }
}
