//! The mailbox's HTTP API, served by `ank serve` beside the log.
//!
//! | route | what |
//! |---|---|
//! | `POST /v1/messages` | an [`crate::Envelope`]; 201 stored, 200 for an identical retry |
//! | `GET /v1/messages[?limit=N&after=CURSOR]` | the signed-request headers of [`crate::fetch_auth`]; `{"messages": [envelope…], "next": CURSOR or null}`, at most `limit` (default 100, at most 1000) messages and about 8 MiB |
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
//! `bad_recipient_proof`, `split_view` (evidence kept), `rate_limited`,
//! `quota_exceeded`, `sender_quota_exceeded`, `mailbox_full` (507: the
//! server's byte cap), `already_delivered` (an acknowledged id, replayed),
//! `bad_request_signature`, `wrong_mailbox` (signed for another mailbox),
//! `stale_request`, `replayed_request`, `not_current_key`, `bad_query`, `internal`.
//!
//! Rate limits: unverified submissions and fetches count against the client
//! IP; a sender is counted only once its signature and key have verified
//! (a forger cannot use up someone else's allowance), and fetches per address
//! once their signature and key have verified.

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

use crate::directory::{DirectoryError, Resolved, Resolver};
use crate::fetch_auth::{FetchAuth, FetchAuthError, MAX_SKEW_MS, Target, VerifiedFetch};
use crate::store::{MailStore, MailStoreError, Put, Quota};
use crate::{Envelope, MailError};
pub use ank_common::directory::LogView;

/// Largest request body: a full envelope of a maximal message in base64, with room.
pub const MAX_REQUEST: usize = 160 * 1024;

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
}

impl Default for MailSettings {
    fn default() -> Self {
        MailSettings {
            authorities: Vec::new(),
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
async fn check_recipient_proof(
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
    let (size, root) = (verified.checkpoint().size(), *verified.checkpoint().root());
    let (log, store, note) = (
        Arc::clone(log),
        Arc::clone(&s.store),
        proof.checkpoint.clone(),
    );
    // Reading the log's hashes and keeping evidence touch sqlite: off the async workers.
    let split = blocking(move || {
        if log.root_at(size) == Some(root) {
            return Ok(false);
        }
        store.add_evidence(&note)?;
        Ok(true)
    })
    .await?;
    if split {
        return Err(e(
            StatusCode::CONFLICT,
            "split_view",
            format!(
                "the attached checkpoint of size {size} is signed by this log but is not this log's tree; it is kept as evidence"
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

use ank_common::now_ms;

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
    check_recipient_proof(&s, &env, &checked.to).await?;
    let recipient = s.resolver.current(&checked.to).await.map_err(internal)?;
    let Some(recipient) = recipient.keys else {
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
                return Err(e(
                    StatusCode::FORBIDDEN,
                    "sender_key_not_current",
                    format!(
                        "the envelope is signed by a key that is not a current key of {}",
                        checked.from
                    ),
                ));
            }
            proof
        }
        Ok(Resolved { keys: None, .. }) => {
            return Err(e(
                StatusCode::FORBIDDEN,
                "unknown_sender",
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
        return Err(e(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("too many messages from {}; retry in a minute", checked.from),
        ));
    }
    // The proof that the sender's key was current when the mail was accepted
    // travels with it: a sender who rotates later does not make it unverifiable.
    let json = serde_json::to_vec(&Envelope {
        recipient_proof: None,
        sender_proof,
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
            MailStoreError::SenderQuota { .. } => e(
                StatusCode::TOO_MANY_REQUESTS,
                "sender_quota_exceeded",
                err.to_string(),
            ),
            MailStoreError::StoreFull { .. } => e(
                StatusCode::INSUFFICIENT_STORAGE,
                "mailbox_full",
                err.to_string(),
            ),
            MailStoreError::Delivered => {
                e(StatusCode::CONFLICT, "already_delivered", err.to_string())
            }
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

/// Runs sqlite work off the async workers.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, MailStoreError> + Send + 'static,
) -> Result<T, MailApiError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r.map_err(internal),
        Err(err) => Err(internal(err)),
    }
}

fn client_ip(ext: &axum::http::Extensions) -> String {
    ext.get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "unknown".to_owned(), |ConnectInfo(p)| p.ip().to_string())
}

/// Verifies a signed request and that its key is a current key of its
/// address; counts it against the address once verified.
async fn authenticate(
    s: &MailState,
    h: &HeaderMap,
    ext: &axum::http::Extensions,
    method: &str,
    path: &str,
    body: &[u8],
) -> Result<VerifiedFetch, MailApiError> {
    let rate = s.settings.rate_per_minute;
    let limited = || {
        e(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many requests; retry in a minute",
        )
    };
    // Until verified, a request counts against its client address only.
    if !s.limiter.allow(
        &format!("fetch ip {}", client_ip(ext)),
        rate.saturating_mul(10),
    ) {
        return Err(limited());
    }
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
    let authority = h
        .get(axum::http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    if !s.settings.authorities.contains(&authority) {
        return Err(e(
            StatusCode::MISDIRECTED_REQUEST,
            "wrong_mailbox",
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
        FetchAuthError::Skew => e(StatusCode::UNAUTHORIZED, "stale_request", err.to_string()),
        FetchAuthError::Signature => e(
            StatusCode::UNAUTHORIZED,
            "bad_request_signature",
            "the request's signature does not verify for this mailbox (its domain, authority, method, path and body)",
        ),
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
    let keys = s.resolver.current(&v.address).await.map_err(internal)?.keys;
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
    if !s.limiter.allow(&format!("fetch {}", v.address), rate) {
        return Err(limited());
    }
    // The nonce is used up only by a request that is otherwise valid.
    let store = Arc::clone(&s.store);
    let nonce = v.nonce;
    if !blocking(move || store.use_nonce(&nonce, now, now + 2 * MAX_SKEW_MS)).await? {
        return Err(e(
            StatusCode::UNAUTHORIZED,
            "replayed_request",
            "this request was already made; sign a new one",
        ));
    }
    Ok(v)
}

/// Default and largest page of `GET /v1/messages`.
pub const PAGE_DEFAULT: usize = 100;
pub const PAGE_MAX: usize = 1000;

/// A listing cursor as text: `<created ms>-<hex id>`.
pub fn cursor_text(c: &crate::store::Cursor) -> String {
    let hex: String = c.1.iter().map(|b| format!("{b:02x}")).collect();
    format!("{}-{hex}", c.0)
}

fn parse_cursor(s: &str) -> Option<crate::store::Cursor> {
    let (ms, hex) = s.split_once('-')?;
    if hex.len() != 32 {
        return None;
    }
    let mut id = [0u8; 16];
    for (i, b) in id.iter_mut().enumerate() {
        *b = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some((ms.parse().ok()?, id))
}

async fn fetch(
    State(s): State<MailState>,
    uri: axum::http::Uri,
    ext: axum::http::Extensions,
    h: HeaderMap,
) -> Result<Response, MailApiError> {
    let path = uri.path_and_query().map_or("/v1/messages", |p| p.as_str());
    let v = authenticate(&s, &h, &ext, "GET", path, b"").await?;
    let bad_query = |m: &str| e(StatusCode::BAD_REQUEST, "bad_query", m.to_owned());
    let (mut limit, mut after) = (PAGE_DEFAULT, None);
    for pair in uri
        .query()
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
    {
        match pair.split_once('=') {
            Some(("limit", n)) => {
                limit = n
                    .parse()
                    .ok()
                    .filter(|n| (1..=PAGE_MAX).contains(n))
                    .ok_or_else(|| bad_query("limit must be 1 to 1000"))?;
            }
            Some(("after", c)) => {
                after = Some(parse_cursor(c).ok_or_else(|| bad_query("after is not a cursor"))?);
            }
            _ => return Err(bad_query("the query takes limit and after only")),
        }
    }
    let store = Arc::clone(&s.store);
    let recipient = v.address.to_string();
    let page = blocking(move || {
        store.list(
            &recipient,
            now_ms(),
            after,
            limit,
            crate::store::MAX_PAGE_BYTES,
        )
    })
    .await?;
    // The page is assembled as text: the stored envelopes are JSON already.
    let mut out = String::from("{\"messages\":[");
    for (i, (_, json)) in page.messages.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(std::str::from_utf8(json).map_err(internal)?);
    }
    out.push_str("],\"next\":");
    match &page.next {
        Some(c) => out.push_str(&format!("\"{}\"", cursor_text(c))),
        None => out.push_str("null"),
    }
    out.push('}');
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        out,
    )
        .into_response())
}

async fn ack(
    State(s): State<MailState>,
    ext: axum::http::Extensions,
    h: HeaderMap,
    body: Bytes,
) -> Result<Response, MailApiError> {
    let v = authenticate(&s, &h, &ext, "POST", "/v1/messages/ack", &body).await?;
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
    let store = Arc::clone(&s.store);
    let recipient = v.address.to_string();
    let deleted = blocking(move || store.ack(&recipient, &ids)).await?;
    Ok(Json(serde_json::json!({"deleted": deleted})).into_response())
}
