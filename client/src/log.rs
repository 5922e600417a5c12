//! Talking to a log server: publish and lookup, each answer verified before
//! it is returned.

use ank_proofs::api::{
    ErrorResponse, LookupResponse, PublishRequest, PublishResponse, RequestSignature,
    VerifiedLookup, publish_message, verify_lookup,
};
use ank_proofs::{Address, Entry, KeySet, TlogProof, VerifiedCheckpoint, VerifierKey};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::Signer as _;

use crate::ClientError;
use crate::home::DeviceKeys;

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

/// Signs the publish message of `address`/`version`/`key_set` with `keys`.
pub fn sign_publish(
    keys: &DeviceKeys,
    address: &Address,
    version: u64,
    key_set: &KeySet,
) -> RequestSignature {
    let msg = publish_message(address, version, &key_set.hash());
    RequestSignature {
        public_key: STANDARD.encode(keys.signing.verifying_key().to_bytes()),
        signature: STANDARD.encode(keys.signing.sign(&msg).to_bytes()),
    }
}

impl LogClient {
    /// A client for the log at `url`.
    ///
    /// # Errors
    /// [`ClientError::Transport`] when no HTTP client can be built.
    pub fn new(url: &str, vkey: VerifierKey) -> Result<LogClient, ClientError> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("ank/", env!("CARGO_PKG_VERSION")))
            .timeout(std::time::Duration::from_secs(60))
            .build()
            .map_err(|e| ClientError::Transport {
                url: url.to_owned(),
                message: e.to_string(),
            })?;
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

    /// Sends a request and decodes a JSON answer, or the log's JSON refusal.
    async fn exchange<T: serde::de::DeserializeOwned>(
        url: &str,
        req: reqwest::RequestBuilder,
    ) -> Result<T, ClientError> {
        let transport = |e: reqwest::Error| ClientError::Transport {
            url: url.to_owned(),
            message: e.to_string(),
        };
        let resp = req.send().await.map_err(transport)?;
        let status = resp.status();
        let body = resp.bytes().await.map_err(transport)?;
        if !status.is_success() {
            return Err(match serde_json::from_slice::<ErrorResponse>(&body) {
                Ok(e) => ClientError::Api {
                    status: status.as_u16(),
                    code: e.error,
                    message: e.message,
                },
                Err(_) => ClientError::Http {
                    url: url.to_owned(),
                    status: status.as_u16(),
                },
            });
        }
        serde_json::from_slice(&body).map_err(|e| ClientError::Transport {
            url: url.to_owned(),
            message: format!("bad answer: {e}"),
        })
    }

    /// Publishes and verifies that the answer proves exactly this binding.
    ///
    /// # Errors
    /// [`ClientError::Api`] for a refusal; [`ClientError::Proof`] or
    /// [`ClientError::Mismatch`] when the answer does not prove the request.
    pub async fn publish(&self, req: &PublishRequest) -> Result<Published, ClientError> {
        let url = format!("{}/v1/publish", self.base);
        let ans: PublishResponse = Self::exchange(&url, self.http.post(&url).json(req)).await?;
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
            return Err(ClientError::Mismatch(
                "the logged entry is not the one published".into(),
            ));
        }
        let bundle = TlogProof::parse(&ans.tlog_proof)?;
        if bundle.index != ans.index {
            return Err(ClientError::Mismatch(
                "the proof is for another index".into(),
            ));
        }
        let checkpoint = bundle.verify(&entry.leaf_hash(), &self.vkey, &[])?;
        Ok(Published {
            index: ans.index,
            entry,
            checkpoint,
        })
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
        let ans: LookupResponse = Self::exchange(&url, self.http.get(&url)).await?;
        let verified = verify_lookup(&ans, address, &self.vkey)?;
        Ok((ans, verified))
    }
}
