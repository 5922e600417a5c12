//! The mailbox's HTTP API, served by `ank serve` beside the log.
//!
//! | route | what |
//! |---|---|
//! | `POST /v1/messages` | an [`crate::Envelope`]; 201 stored, 200 for an identical retry |
//! | `GET /v1/messages[?limit=N&after=CURSOR]` | the signed-request headers of [`crate::fetch_auth`]; `{"messages": [envelope…], "next": CURSOR or null, "ttl_ms": how long unread mail is kept}`, at most `limit` (default 100, at most 1000) messages and about 8 MiB |
//! | `GET /v1/evidence` | `{"evidence": [text…]}`: the `ank-evidence/v1` texts this mailbox kept of its own log's key signing another history (public, newest 100) |
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

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use ank_proofs::api::ErrorResponse;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::Envelope;
use crate::fetch_auth::{FetchAuth, VerifiedFetch};
pub use crate::service::{LogView, MailSettings, MailState, Refusal, RefusalKind};
use crate::service::{blocking, refuse};
use crate::store::Put;
use ank_common::now_ms;

/// Largest request body: a full envelope of a maximal message in base64, with room.
pub const MAX_REQUEST: usize = 160 * 1024;

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.kind.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (
            status,
            Json(ErrorResponse {
                error: self.kind.code().to_owned(),
                message: self.message,
            }),
        )
            .into_response()
    }
}

/// The mailbox routes.
pub fn router(state: MailState) -> Router {
    Router::new()
        .route("/v1/messages", post(submit).get(fetch))
        .route("/v1/messages/ack", post(ack))
        .route("/v1/evidence", axum::routing::get(evidence))
        .layer(DefaultBodyLimit::max(MAX_REQUEST))
        .with_state(state)
}

fn peer(ext: &axum::http::Extensions) -> Option<IpAddr> {
    ext.get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(p)| p.ip())
}

async fn evidence(State(s): State<MailState>) -> Result<Response, Refusal> {
    let store = Arc::clone(&s.store);
    let mut all = blocking(move || store.evidence()).await?;
    let keep = all.len().saturating_sub(100);
    all.drain(..keep);
    Ok(Json(serde_json::json!({ "evidence": all })).into_response())
}

async fn submit(
    State(s): State<MailState>,
    ext: axum::http::Extensions,
    body: Result<Json<Envelope>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, Refusal> {
    let Json(env) = body.map_err(|r| match r {
        axum::extract::rejection::JsonRejection::BytesRejection(b)
            if b.status() == StatusCode::PAYLOAD_TOO_LARGE =>
        {
            refuse(
                RefusalKind::BodyTooLarge,
                format!("requests are limited to {MAX_REQUEST} bytes"),
            )
        }
        other => refuse(RefusalKind::BadJson, other.body_text()),
    })?;
    let (put, id) = s.accept(env, peer(&ext)).await?;
    let status = if put == Put::Stored {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(serde_json::json!({"id": STANDARD.encode(id), "stored": put == Put::Stored})),
    )
        .into_response())
}

/// The signed-request headers, or the name of the first one missing.
fn fetch_headers(h: &HeaderMap) -> Result<FetchAuth, &'static str> {
    let get = |name: &'static str| h.get(name).and_then(|v| v.to_str().ok()).ok_or(name);
    Ok(FetchAuth {
        address: get("ank-address")?.to_owned(),
        timestamp_ms: get("ank-timestamp")?.parse().map_err(|_| "ank-timestamp")?,
        nonce: get("ank-nonce")?.to_owned(),
        key: get("ank-key")?.to_owned(),
        signature: get("ank-signature")?.to_owned(),
    })
}

async fn authenticate(
    s: &MailState,
    h: &HeaderMap,
    uri: &axum::http::Uri,
    ext: &axum::http::Extensions,
    method: &str,
    path: &str,
    body: &[u8],
) -> Result<VerifiedFetch, Refusal> {
    // HTTP/2 names the authority in `:authority` (the URI), HTTP/1.1 in Host.
    let authority = uri
        .authority()
        .map(|a| a.as_str())
        .or_else(|| {
            h.get(axum::http::header::HOST)
                .and_then(|v| v.to_str().ok())
        })
        .unwrap_or_default();
    s.authenticate(fetch_headers(h), authority, method, path, body, peer(ext))
        .await
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
) -> Result<Response, Refusal> {
    let path = uri.path_and_query().map_or("/v1/messages", |p| p.as_str());
    let v = authenticate(&s, &h, &uri, &ext, "GET", path, b"").await?;
    let bad_query = |m: &str| refuse(RefusalKind::BadQuery, m);
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
    // The page is assembled as text (the stored envelopes are JSON already),
    // in a buffer sized once, each envelope freed as it is copied in: one
    // page's worth of memory per request, not three.
    let next = match &page.next {
        Some(c) => format!("\"{}\"", cursor_text(c)),
        None => "null".to_owned(),
    };
    let len: usize = page.messages.iter().map(|(_, j)| j.len() + 1).sum();
    let mut out = Vec::with_capacity(len + next.len() + 32);
    out.extend_from_slice(b"{\"messages\":[");
    for (i, (_, json)) in page.messages.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(&json);
    }
    out.extend_from_slice(b"],\"next\":");
    out.extend_from_slice(next.as_bytes());
    // How long this mailbox keeps unread mail: the client refuses anything
    // older as a replay.
    out.extend_from_slice(format!(",\"ttl_ms\":{}", s.settings.ttl.as_millis()).as_bytes());
    out.push(b'}');
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        out,
    )
        .into_response())
}

async fn ack(
    State(s): State<MailState>,
    uri: axum::http::Uri,
    ext: axum::http::Extensions,
    h: HeaderMap,
    body: Bytes,
) -> Result<Response, Refusal> {
    let v = authenticate(&s, &h, &uri, &ext, "POST", "/v1/messages/ack", &body).await?;
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Ack {
        ids: Vec<String>,
    }
    let a: Ack = serde_json::from_slice(&body)
        .map_err(|err| refuse(RefusalKind::BadJson, err.to_string()))?;
    let ids = a
        .ids
        .iter()
        .map(|i| ank_proofs::hash::b64_array::<16>(i))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| refuse(RefusalKind::BadJson, "ids must be base64 of 16 bytes"))?;
    let store = Arc::clone(&s.store);
    let recipient = v.address.to_string();
    let deleted = blocking(move || store.ack(&recipient, &ids)).await?;
    Ok(Json(serde_json::json!({"deleted": deleted})).into_response())
}
