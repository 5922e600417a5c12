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
        let current = l.binding().map(|(_, e, _)| (e.version, e.keys_hash));
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
        let http = crate::http_client(url)?;
        Ok(LogClient {
            base: url.trim_end_matches('/').to_owned(),
            http,
            vkey,
        })
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
        if entry.label != address.label()
            || entry.version != req.version
            || entry.keys_hash != key_set.hash()
        {
            return Err(ClientError::Mismatch(Mismatch::Entry));
        }
        let bundle = TlogProof::parse(&ans.tlog_proof)?;
        if bundle.index != ans.index {
            return Err(ClientError::Mismatch(Mismatch::ProofIndex));
        }
        let checkpoint = bundle.verify(&entry.leaf_hash(), &self.vkey, &[])?;
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
            message: e.to_string(),
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
        let ans: LookupResponse = crate::exchange(&url, self.http.get(&url)).await?;
        let verified = verify_lookup(&ans, address, &self.vkey)?;
        Ok((ans, verified))
    }
}
