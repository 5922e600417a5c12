//! The mailbox's HTTP API, served by `ank serve` beside the log.
//!
//! | route | what |
//! |---|---|
//! | `POST /v1/messages` | an [`crate::Envelope`]; 201 stored, 200 for an identical retry |
//! | `GET /v1/messages` | the signed-request headers of [`crate::fetch_auth`]; `{"messages": [envelope…]}` |
//! | `POST /v1/messages/ack` | `{"ids": [base64…]}`, signed likewise; deletes them |
//!
//! A message is accepted only if its envelope parses and its signature
//! verifies; the recipient is of this domain and its log proves `to_key` is
//! a current key of the recipient; the sender's log proves `from_key` is a
//! current key of the sender (senders whose domain has no trusted log are
//! refused unless [`MailSettings::allow_unauthenticated`]); the id is
//! new (or the message identical); and the rate limits and quota allow it.
//! Refusals are 4xx (429 for limits) with `{"error", "message"}`. Codes:
//! `bad_json`, `body_too_large`, `bad_envelope`, `bad_signature`,
//! `wrong_domain`, `unknown_recipient`, `stale_key`, `unknown_sender`,
//! `sender_key_not_current`, `sender_log_unavailable`, `id_conflict`,
//! `bad_recipient_proof`, `split_view` (evidence kept), `rate_limited`, `quota_exceeded`, `bad_request_signature`, `stale_request`,
//! `replayed_request`, `not_current_key`, `internal`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ank_proofs::api::ErrorResponse;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::directory::{DirectoryError, Resolver};
use crate::fetch_auth::{FetchAuth, FetchAuthError, MAX_SKEW_MS, VerifiedFetch};
use crate::store::{MailStore, MailStoreError, Put, Quota};
use crate::{Envelope, MailError};

/// Largest request body: a full envelope of a maximal message in base64, with room.
pub const MAX_REQUEST: usize = 160 * 1024;

/// Mailbox settings.
#[derive(Debug, Clone, Copy)]
pub struct MailSettings {
    /// How long unread messages are kept.
    pub ttl: Duration,
    pub quota: Quota,
    /// Messages a minute per sender address and per client IP; 0 for no limit.
    pub rate_per_minute: u32,
    /// Accept mail from senders whose domain has no trusted log (their
    /// envelope signature still has to verify). Default: refused.
    pub allow_unauthenticated: bool,
}

impl Default for MailSettings {
    fn default() -> Self {
        MailSettings {
            ttl: Duration::from_secs(7 * 24 * 3600),
            quota: Quota::default(),
            rate_per_minute: 600,
            allow_unauthenticated: false,
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

/// The mailbox's view of its own domain's log, to check the lookup proofs
/// senders attach.
pub trait LogView: Send + Sync + 'static {
    /// The log's verifier key.
    fn vkey(&self) -> &ank_proofs::VerifierKey;
    /// The log's root at `size`, if the log has that many entries.
    fn root_at(&self, size: u64) -> Option<ank_proofs::Hash>;
}

/// What the handlers share.
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
/// it is kept as evidence and the message is refused.
fn check_recipient_proof(
    s: &MailState,
    env: &Envelope,
    to: &ank_proofs::Address,
) -> Result<(), MailApiError> {
    let (Some(log), Some(proof)) = (&s.log, &env.recipient_proof) else {
        return Ok(());
    };
    let verified = ank_proofs::api::verify_lookup(proof, to, log.vkey()).map_err(|err| {
        e(
            StatusCode::BAD_REQUEST,
            "bad_recipient_proof",
            format!("the attached lookup proof does not verify under this log: {err}"),
        )
    })?;
    let cp = verified.checkpoint();
    if log.root_at(cp.size()) != Some(*cp.root()) {
        s.store.add_evidence(&proof.checkpoint).map_err(internal)?;
        return Err(e(
            StatusCode::CONFLICT,
            "split_view",
            format!(
                "the attached checkpoint of size {} is signed by this log but is not this log's tree; it is kept as evidence",
                cp.size()
            ),
        ));
    }
    Ok(())
}

/// An error answer.
#[derive(Debug)]
pub struct MailApiError(StatusCode, &'static str, String);

impl IntoResponse for MailApiError {
    fn into_response(self) -> Response {
        (
            self.0,
            Json(ErrorResponse {
                error: self.1.to_owned(),
                message: self.2,
            }),
        )
            .into_response()
    }
}

fn e(status: StatusCode, code: &'static str, msg: impl Into<String>) -> MailApiError {
    MailApiError(status, code, msg.into())
}

fn internal(x: impl std::fmt::Display) -> MailApiError {
    e(StatusCode::INTERNAL_SERVER_ERROR, "internal", x.to_string())
}

/// The mailbox routes.
pub fn router(state: MailState) -> Router {
    Router::new()
        .route("/v1/messages", post(submit).get(fetch))
        .route("/v1/messages/ack", post(ack))
        .layer(DefaultBodyLimit::max(MAX_REQUEST))
        .with_state(state)
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn dir_error(who: &str, err: DirectoryError) -> MailApiError {
    match err {
        DirectoryError::UnknownDomain(d) => e(
            StatusCode::FORBIDDEN,
            "unknown_sender",
            format!("no log is trusted for the {who}'s domain {d}"),
        ),
        DirectoryError::Unverified { .. } => e(
            StatusCode::SERVICE_UNAVAILABLE,
            "sender_log_unavailable",
            err.to_string(),
        ),
    }
}

async fn submit(
    State(s): State<MailState>,
    ext: axum::http::Extensions,
    body: Result<Json<Envelope>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, MailApiError> {
    let Json(env) = body.map_err(|r| match r {
        axum::extract::rejection::JsonRejection::BytesRejection(b)
            if b.status() == StatusCode::PAYLOAD_TOO_LARGE =>
        {
            e(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!("requests are limited to {MAX_REQUEST} bytes"),
            )
        }
        other => e(StatusCode::BAD_REQUEST, "bad_json", other.body_text()),
    })?;
    if let Some(ConnectInfo(peer)) = ext.get::<ConnectInfo<SocketAddr>>()
        && !s
            .limiter
            .allow(&format!("ip {}", peer.ip()), s.settings.rate_per_minute)
    {
        return Err(e(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many messages from this address; retry in a minute",
        ));
    }
    let checked = env.check().map_err(|err| match err {
        MailError::BadSignature => e(StatusCode::FORBIDDEN, "bad_signature", err.to_string()),
        MailError::BodyTooLong { .. } => e(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            err.to_string(),
        ),
        _ => e(StatusCode::BAD_REQUEST, "bad_envelope", err.to_string()),
    })?;
    if checked.to.domain() != s.resolver.domain {
        return Err(e(
            StatusCode::BAD_REQUEST,
            "wrong_domain",
            format!(
                "this mailbox serves {}, not {}",
                s.resolver.domain,
                checked.to.domain()
            ),
        ));
    }
    check_recipient_proof(&s, &env, &checked.to)?;
    if !s.limiter.allow(
        &format!("from {}", checked.from),
        s.settings.rate_per_minute,
    ) {
        return Err(e(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("too many messages from {}; retry in a minute", checked.from),
        ));
    }
    let recipient = s.resolver.current(&checked.to).await.map_err(internal)?;
    let Some(recipient) = recipient else {
        return Err(e(
            StatusCode::NOT_FOUND,
            "unknown_recipient",
            format!("{} has no keys in this domain's log", checked.to),
        ));
    };
    if !recipient
        .devices()
        .iter()
        .any(|d| d.encryption_key == checked.to_key)
    {
        return Err(e(
            StatusCode::CONFLICT,
            "stale_key",
            format!(
                "the message is sealed to a key that is not a current key of {}; look the recipient up again",
                checked.to
            ),
        ));
    }
    match s.resolver.current(&checked.from).await {
        Ok(Some(sender)) => {
            if !sender
                .devices()
                .iter()
                .any(|d| d.signing_key == checked.from_key)
            {
                return Err(e(
                    StatusCode::FORBIDDEN,
                    "sender_key_not_current",
                    format!(
                        "the envelope is signed by a key that is not a current key of {}",
                        checked.from
                    ),
                ));
            }
        }
        Ok(None) => {
            return Err(e(
                StatusCode::FORBIDDEN,
                "unknown_sender",
                format!("{}'s log proves it has no keys", checked.from),
            ));
        }
        // A sender no trusted log speaks for: refused unless the policy allows it.
        Err(DirectoryError::UnknownDomain(_)) if s.settings.allow_unauthenticated => {}
        Err(err) => return Err(dir_error("sender", err)),
    }
    let json = serde_json::to_vec(&Envelope {
        recipient_proof: None,
        ..env
    })
    .map_err(internal)?;
    let put = s
        .store
        .put(
            &checked,
            &json,
            now_ms(),
            s.settings.ttl.as_millis() as u64,
            s.settings.quota,
        )
        .await
        .map_err(|err| match err {
            MailStoreError::IdConflict => e(
                StatusCode::CONFLICT,
                "id_conflict",
                "this message id was used for another message",
            ),
            MailStoreError::QuotaMessages { .. } | MailStoreError::QuotaBytes { .. } => e(
                StatusCode::TOO_MANY_REQUESTS,
                "quota_exceeded",
                err.to_string(),
            ),
            other => internal(other),
        })?;
    let status = if put == Put::Stored {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(serde_json::json!({"id": STANDARD.encode(checked.id), "stored": put == Put::Stored})),
    )
        .into_response())
}

fn header<'a>(h: &'a HeaderMap, name: &'static str) -> Result<&'a str, MailApiError> {
    h.get(name).and_then(|v| v.to_str().ok()).ok_or_else(|| {
        e(
            StatusCode::UNAUTHORIZED,
            "bad_request_signature",
            format!("header {name} is missing"),
        )
    })
}

/// Verifies a signed request and that its key is a current key of its address.
async fn authenticate(
    s: &MailState,
    h: &HeaderMap,
    method: &str,
    path: &str,
    body: &[u8],
) -> Result<VerifiedFetch, MailApiError> {
    let auth = FetchAuth {
        address: header(h, "ank-address")?.to_owned(),
        timestamp_ms: header(h, "ank-timestamp")?.parse().map_err(|_| {
            e(
                StatusCode::UNAUTHORIZED,
                "bad_request_signature",
                "Ank-Timestamp is not a number",
            )
        })?,
        nonce: header(h, "ank-nonce")?.to_owned(),
        key: header(h, "ank-key")?.to_owned(),
        signature: header(h, "ank-signature")?.to_owned(),
    };
    let now = now_ms();
    let v = auth
        .verify(method, path, body, now)
        .map_err(|err| match err {
            FetchAuthError::Skew => e(StatusCode::UNAUTHORIZED, "stale_request", err.to_string()),
            _ => e(
                StatusCode::UNAUTHORIZED,
                "bad_request_signature",
                err.to_string(),
            ),
        })?;
    if v.address.domain() != s.resolver.domain {
        return Err(e(
            StatusCode::BAD_REQUEST,
            "wrong_domain",
            format!("this mailbox serves {}", s.resolver.domain),
        ));
    }
    let keys = s.resolver.current(&v.address).await.map_err(internal)?;
    if !keys.is_some_and(|k| k.devices().iter().any(|d| d.signing_key == v.key)) {
        return Err(e(
            StatusCode::FORBIDDEN,
            "not_current_key",
            format!(
                "the request is not signed by a current key of {}",
                v.address
            ),
        ));
    }
    // The nonce is used up only by a request that is otherwise valid.
    if !s
        .store
        .use_nonce(&v.nonce, now, now + 2 * MAX_SKEW_MS)
        .map_err(internal)?
    {
        return Err(e(
            StatusCode::UNAUTHORIZED,
            "replayed_request",
            "this request was already made; sign a new one",
        ));
    }
    Ok(v)
}

async fn fetch(State(s): State<MailState>, h: HeaderMap) -> Result<Response, MailApiError> {
    let v = authenticate(&s, &h, "GET", "/v1/messages", b"").await?;
    let list = s
        .store
        .list(&v.address.to_string(), now_ms())
        .map_err(internal)?;
    let mut messages = Vec::with_capacity(list.len());
    for (_, json) in list {
        messages.push(serde_json::from_slice::<serde_json::Value>(&json).map_err(internal)?);
    }
    Ok(Json(serde_json::json!({"messages": messages})).into_response())
}

async fn ack(
    State(s): State<MailState>,
    h: HeaderMap,
    body: Bytes,
) -> Result<Response, MailApiError> {
    let v = authenticate(&s, &h, "POST", "/v1/messages/ack", &body).await?;
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Ack {
        ids: Vec<String>,
    }
    let a: Ack = serde_json::from_slice(&body)
        .map_err(|err| e(StatusCode::BAD_REQUEST, "bad_json", err.to_string()))?;
    let ids = a
        .ids
        .iter()
        .map(|i| {
            STANDARD
                .decode(i)
                .ok()
                .and_then(|b| <[u8; 16]>::try_from(b).ok())
        })
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| {
            e(
                StatusCode::BAD_REQUEST,
                "bad_json",
                "ids must be base64 of 16 bytes",
            )
        })?;
    let deleted = s
        .store
        .ack(&v.address.to_string(), &ids)
        .map_err(internal)?;
    Ok(Json(serde_json::json!({"deleted": deleted})).into_response())
}
