//! # ank-auditor
//!
//! The watchers that hold logs to one history:
//!
//! * [`witness`]: a C2SP tlog-witness (`POST /add-checkpoint`), cosigning
//!   with Ed25519 (cosignature/v1) and ML-DSA-44 ([`mldsa`]), served by
//!   [`witness_router`];
//! * [`audit`]: the auditor, which follows logs into a durable copy, replays
//!   them, cosigns only what its replay verified, and exchanges checkpoints
//!   and evidence with its peers ([`audit_router`]: `GET`/`POST
//!   /v1/gossip`, `GET`/`POST /v1/evidence`, answered with JSON; refusals
//!   are `{"error", "message"}` with `unknown_log` 404, `unverified` 422,
//!   `not_followed` 409, `bad_checkpoint` / `bad_evidence` / `not_evidence`
//!   400).
//!
//! Errors are [`witness::WitnessError`] and [`audit::AuditError`]; the
//! module docs give each one's meaning, HTTP status and byte formats.

pub mod mldsa;
pub mod witness;

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;

use crate::witness::{MAX_BODY, Witness, WitnessError};

/// `POST /add-checkpoint` for `witness`.
pub fn witness_router(witness: Arc<Witness>) -> Router {
    Router::new()
        .route("/add-checkpoint", post(add_checkpoint))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(witness)
}

async fn add_checkpoint(State(w): State<Arc<Witness>>, body: Bytes) -> Response {
    let now = ank_common::now_ms() / 1000;
    let verdict = tokio::task::spawn_blocking(move || w.add_checkpoint(&body, now))
        .await
        .unwrap_or_else(|e| Err(WitnessError::Internal(e.to_string())));
    match verdict {
        Ok(lines) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            lines,
        )
            .into_response(),
        Err(e) => {
            let status =
                StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            match e {
                WitnessError::OldSize { size, .. } => (
                    status,
                    [(header::CONTENT_TYPE, "text/x.tlog.size")],
                    format!("{size}\n"),
                )
                    .into_response(),
                e => (
                    status,
                    [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                    format!("{e}\n"),
                )
                    .into_response(),
            }
        }
    }
}

pub mod audit;

/// The routes of an auditing witness: `POST /add-checkpoint` (cosigning
/// only what `auditor` verified), `GET`/`POST /v1/gossip` and
/// `GET`/`POST /v1/evidence`. New evidence is pushed to `peers`.
pub fn audit_router(
    auditor: Arc<audit::Auditor>,
    witness: Arc<Witness>,
    peers: Arc<Vec<String>>,
) -> Router {
    let state = AuditState {
        auditor,
        peers,
        http: reqwest::Client::new(),
    };
    let gossip = Router::new()
        .route(
            "/v1/gossip",
            axum::routing::get(gossip_list).post(gossip_in),
        )
        .route(
            "/v1/evidence",
            axum::routing::get(evidence_list).post(evidence_in),
        )
        .layer(DefaultBodyLimit::max(16 * 1024 * 1024))
        .with_state(state);
    witness_router(witness).merge(gossip)
}

/// What the gossip routes share.
#[derive(Clone, Debug)]
pub struct AuditState {
    pub auditor: Arc<audit::Auditor>,
    pub peers: Arc<Vec<String>>,
    pub http: reqwest::Client,
}

impl AuditState {
    /// Sends each piece of evidence to every peer (best effort).
    pub async fn push_evidence(&self, found: &[ank_proofs::evidence::Evidence]) {
        for e in found {
            let text = e.to_text();
            for p in self.peers.iter() {
                let url = format!("{}/v1/evidence", p.trim_end_matches('/'));
                if let Err(err) = self.http.post(&url).body(text.clone()).send().await {
                    eprintln!("pushing evidence to {p}: {err}");
                }
            }
        }
    }

    /// One round: follow every log, push new evidence, and send the latest
    /// checkpoints to every peer.
    pub async fn round(&self) {
        for origin in self.auditor.origins() {
            match self.auditor.follow(&origin).await {
                Ok(found) => self.push_evidence(&found).await,
                Err(e) => eprintln!("{origin}: {e}"),
            }
        }
        let Ok(latest) = self.auditor.latest() else {
            return;
        };
        for p in self.peers.iter() {
            let url = format!("{}/v1/gossip", p.trim_end_matches('/'));
            for note in &latest {
                if let Err(err) = self.http.post(&url).body(note.clone()).send().await {
                    eprintln!("gossip to {p}: {err}");
                }
            }
        }
    }
}

fn json_list(key: &str, items: Result<Vec<String>, audit::AuditError>) -> Response {
    match items {
        Ok(v) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            serde_json::json!({ key: v }).to_string(),
        )
            .into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

async fn gossip_list(State(s): State<AuditState>) -> Response {
    json_list("checkpoints", s.auditor.latest())
}

async fn evidence_list(State(s): State<AuditState>) -> Response {
    json_list("evidence", s.auditor.evidence())
}

fn refused(status: StatusCode, code: &str, message: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::json!({"error": code, "message": message}).to_string(),
    )
        .into_response()
}

async fn gossip_in(State(s): State<AuditState>, body: Bytes) -> Response {
    let Ok(note) = std::str::from_utf8(&body) else {
        return refused(
            StatusCode::BAD_REQUEST,
            "bad_checkpoint",
            "not UTF-8".into(),
        );
    };
    match s.auditor.consider(note).await {
        Ok(found) => {
            let n = found.len();
            s.push_evidence(&found).await;
            json_ok(serde_json::json!({"evidence": n}))
        }
        Err(audit::AuditError::UnknownLog(o)) => refused(
            StatusCode::NOT_FOUND,
            "unknown_log",
            format!("unknown log {o:?}"),
        ),
        Err(e @ (audit::AuditError::Proof(_) | audit::AuditError::Client(_))) => refused(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unverified",
            e.to_string(),
        ),
        Err(e) => refused(StatusCode::CONFLICT, "not_followed", e.to_string()),
    }
}

async fn evidence_in(State(s): State<AuditState>, body: Bytes) -> Response {
    let Ok(text) = std::str::from_utf8(&body) else {
        return refused(StatusCode::BAD_REQUEST, "bad_evidence", "not UTF-8".into());
    };
    match s.auditor.add_evidence(text).await {
        Ok(new) => {
            if new && let Ok(e) = ank_proofs::evidence::Evidence::parse(text) {
                s.push_evidence(std::slice::from_ref(&e)).await;
            }
            json_ok(serde_json::json!({"new": new}))
        }
        Err(audit::AuditError::UnknownLog(o)) => refused(
            StatusCode::NOT_FOUND,
            "unknown_log",
            format!("unknown log {o:?}"),
        ),
        Err(e) => refused(StatusCode::BAD_REQUEST, "not_evidence", e.to_string()),
    }
}

fn json_ok(v: serde_json::Value) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        v.to_string(),
    )
        .into_response()
}
