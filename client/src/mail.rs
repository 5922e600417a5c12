//! Talking to a mailbox: submitting envelopes, and the recipient's signed
//! fetches and acknowledgements (see `ank_mail_format::fetch_auth`).

use ank_mail_format::Envelope;
use ank_mail_format::fetch_auth::{FetchAuth, Target};

use crate::ClientError;
use crate::home::DeviceKeys;

/// The mailbox at `base` (`http(s)://host[:port]`).
#[derive(Debug, Clone)]
pub struct MailClient {
    base: String,
    authority: String,
    http: reqwest::Client,
}

/// One page of a mailbox.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct MailPage {
    pub messages: Vec<Envelope>,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<String>,
    /// How long the mailbox keeps unread mail, if it says.
    #[serde(default)]
    pub ttl_ms: Option<u64>,
}

/// The mailbox's answer to a submission.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Submitted {
    pub id: String,
    /// False for an identical retry of a message already stored.
    pub stored: bool,
}

impl MailClient {
    /// A client for the mailbox at `url`.
    ///
    /// # Errors
    /// [`ClientError::Source`] for a URL without a host; [`ClientError::Transport`]
    /// when no HTTP client can be built.
    pub fn new(url: &str) -> Result<MailClient, ClientError> {
        Self::new_pinned(url, None)
    }

    /// As [`MailClient::new`], trusting over TLS only the key pinned when
    /// `pin` is given (see [`crate::tls`]).
    ///
    /// # Errors
    /// As [`MailClient::new`].
    pub fn new_pinned(url: &str, pin: Option<[u8; 32]>) -> Result<MailClient, ClientError> {
        let u = reqwest::Url::parse(url).map_err(|_| ClientError::Source(url.to_owned()))?;
        let host = u
            .host_str()
            .ok_or_else(|| ClientError::Source(url.to_owned()))?;
        // What an HTTP client sends as Host, and what the signature names.
        let authority = match u.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_owned(),
        }
        .to_ascii_lowercase();
        let http = crate::http_client(url, pin)?;
        Ok(MailClient {
            base: url.trim_end_matches('/').to_owned(),
            authority,
            http,
        })
    }

    /// `host[:port]` of the mailbox, as requests name it.
    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// Submits an envelope.
    ///
    /// # Errors
    /// [`ClientError::Api`] for a refusal (its code names why), transport errors.
    pub async fn submit(&self, env: &Envelope) -> Result<Submitted, ClientError> {
        let url = format!("{}/v1/messages", self.base);
        crate::exchange(&url, self.http.post(&url).json(env)).await
    }

    fn signed(
        &self,
        method: reqwest::Method,
        path: &str,
        keys: &DeviceKeys,
        body: Vec<u8>,
    ) -> Result<reqwest::RequestBuilder, ClientError> {
        let nonce: [u8; 16] = ank_common::random().map_err(|source| ClientError::Io {
            path: "OS random source".into(),
            source,
        })?;
        let target = Target {
            method: method.as_str(),
            domain: keys.address.domain(),
            authority: &self.authority,
            path,
        };
        let auth = FetchAuth::sign(
            &keys.signing,
            &target,
            &keys.address,
            ank_common::now_ms(),
            nonce,
            &body,
        );
        Ok(self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("ank-address", auth.address)
            .header("ank-timestamp", auth.timestamp_ms.to_string())
            .header("ank-nonce", auth.nonce)
            .header("ank-key", auth.key)
            .header("ank-signature", auth.signature)
            .header("content-type", "application/json")
            .body(body))
    }

    /// One page of `keys.address`'s mailbox (at most `limit` messages),
    /// starting after the cursor `after`; signed by `keys`.
    ///
    /// # Errors
    /// [`ClientError::Api`] for a refusal, transport errors.
    pub async fn fetch_page(
        &self,
        keys: &DeviceKeys,
        after: Option<&str>,
        limit: usize,
    ) -> Result<MailPage, ClientError> {
        let path = match after {
            Some(c) => format!("/v1/messages?limit={limit}&after={c}"),
            None => format!("/v1/messages?limit={limit}"),
        };
        let req = self.signed(reqwest::Method::GET, &path, keys, Vec::new())?;
        crate::exchange(&format!("{}{path}", self.base), req).await
    }

    /// Acknowledges (deletes) messages by id; returns how many were deleted.
    ///
    /// # Errors
    /// [`ClientError::Api`] for a refusal, transport errors.
    pub async fn ack(&self, keys: &DeviceKeys, ids: &[String]) -> Result<u64, ClientError> {
        #[derive(serde::Deserialize)]
        struct Acked {
            deleted: u64,
        }
        let body = serde_json::to_vec(&serde_json::json!({ "ids": ids })).map_err(|e| {
            ClientError::Transport {
                url: self.base.clone(),
                message: e.to_string(),
            }
        })?;
        let path = "/v1/messages/ack";
        let req = self.signed(reqwest::Method::POST, path, keys, body)?;
        let a: Acked = crate::exchange(&format!("{}{path}", self.base), req).await?;
        Ok(a.deleted)
    }
}
