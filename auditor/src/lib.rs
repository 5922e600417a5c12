//! # ank-auditor
//!
//! The watchers that hold logs to one history. So far: [`witness`], a C2SP
//! tlog-witness (`POST /add-checkpoint`, cosignature/v1) with its HTTP
//! front ([`witness_router`]).
//!
//! Errors are [`witness::WitnessError`]; the module docs give each one's
//! HTTP status and the byte formats.

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
