//! The HTTP API of a log.
//!
//! | route | answer |
//! |---|---|
//! | `GET /checkpoint` | the latest signed checkpoint (text) |
//! | `GET /tile/<L>/<N>[.p/<W>]`, `GET /tile/entries/<N>[.p/<W>]` | C2SP tiles and entry bundles |
//! | `POST /v1/publish` | [`ank_proofs::api::PublishRequest`] → [`ank_proofs::api::PublishResponse`] once the entry is in a signed checkpoint |
//! | `GET /v1/lookup/{address}` | [`ank_proofs::api::LookupResponse`]: the current binding with map and inclusion proofs, or `found: false` with a map proof of absence |
//! | `GET /v1/proof/inclusion?index=&size=` | [`ank_proofs::api::ProofResponse`] (`size` defaults to the latest) |
//! | `GET /v1/proof/consistency?from=&to=` | [`ank_proofs::api::ProofResponse`] |
//! | `GET /healthz`, `GET /metrics` | liveness; Prometheus text |
//!
//! Every error is a 4xx or 5xx with [`ank_proofs::api::ErrorResponse`]
//! `{"error": code, "message": …}`. Codes: `bad_json`, `body_too_large`,
//! `unsupported_media_type`, `bad_address`, `bad_version`, `bad_keys`,
//! `stale_version`, `missing_token`, `unknown_token`, `used_token`,
//! `expired_token`, `missing_signature`, `bad_signature`, `unknown_key`,
//! `revoked`, `not_found`, `bad_tile_path`, `tile_not_found`, `bad_query`,
//! `queue_full` and `busy` (503, with Retry-After), `internal` (500). A refused request
//! stores nothing.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use ank_proofs::api::{
    ErrorResponse, LookupResponse, ProofResponse, PublishRequest, PublishResponse,
};
use ank_proofs::tile::{TileKind, encode_entry_bundle, hash_tile_data};
use ank_proofs::{Address, Hash, Tile, TlogProof, prove_consistency, prove_inclusion};
use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::Log;
use crate::publish::{Decision, PublishError};
use crate::sequencer::{Job, Queue, Rejected};
use crate::store::{StoreError, StoreHashReader, StoredCheckpoint};

/// Largest accepted request body.
pub const MAX_BODY: usize = 64 * 1024;

/// What the handlers share.
#[derive(Debug, Clone)]
pub struct AppState {
    pub log: Arc<Log>,
    pub queue: Queue,
    verify: Arc<VerifyGate>,
    /// Threads for sqlite reads and signature checks (never the async workers).
    pool: crate::pool::Pool,
}

/// How many publish authorisations (signature checks, the costly part of a
/// publish) run at once: one per core while no lookup is in flight, one
/// while lookups are: a flood of publishes then leaves lookups the other
/// cores.
#[derive(Debug)]
struct VerifyGate {
    any: Arc<tokio::sync::Semaphore>,
    beside_reads: Arc<tokio::sync::Semaphore>,
    reads: std::sync::atomic::AtomicUsize,
}

/// Counts a lookup in flight while it lives.
struct Reading<'a>(&'a VerifyGate);

impl Drop for Reading<'_> {
    fn drop(&mut self) {
        self.0.reads.fetch_sub(1, Ordering::Relaxed);
    }
}

impl VerifyGate {
    fn reading(&self) -> Reading<'_> {
        self.reads.fetch_add(1, Ordering::Relaxed);
        Reading(self)
    }

    async fn permit(&self) -> Result<Vec<tokio::sync::OwnedSemaphorePermit>, ApiError> {
        let mut permits = vec![
            Arc::clone(&self.any)
                .acquire_owned()
                .await
                .map_err(internal)?,
        ];
        if self.reads.load(Ordering::Relaxed) > 0 {
            permits.push(
                Arc::clone(&self.beside_reads)
                    .acquire_owned()
                    .await
                    .map_err(internal)?,
            );
        }
        Ok(permits)
    }
}

impl AppState {
    /// The state of a log's routes.
    ///
    /// # Errors
    /// When the OS cannot start the worker threads.
    pub fn new(log: Arc<Log>, queue: Queue) -> std::io::Result<AppState> {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        Ok(AppState {
            pool: crate::pool::Pool::new("ank-read", cores, 65_536)?,
            log,
            queue,
            verify: Arc::new(VerifyGate {
                any: Arc::new(tokio::sync::Semaphore::new(cores)),
                beside_reads: Arc::new(tokio::sync::Semaphore::new(1)),
                reads: std::sync::atomic::AtomicUsize::new(0),
            }),
        })
    }

    /// Runs sqlite or CPU work on the log's threads, off the async workers.
    async fn blocking<T: Send + 'static, E: Into<ApiError> + Send + 'static>(
        &self,
        f: impl FnOnce() -> Result<T, E> + Send + 'static,
    ) -> Result<T, ApiError> {
        match self.pool.run("read", f).await {
            Ok(r) => r.map_err(Into::into),
            Err(busy) => Err(err(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                format!("{busy}; retry shortly"),
            )),
        }
    }
}

/// An error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

fn err(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError {
        status,
        code,
        message: message.into(),
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (
            self.status,
            Json(ErrorResponse {
                error: self.code.to_owned(),
                message: self.message,
            }),
        )
            .into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        r
    }
}

impl From<PublishError> for ApiError {
    fn from(e: PublishError) -> Self {
        let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        err(status, e.code(), e.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        err(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string())
    }
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    err(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string())
}

/// The router of a log.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/checkpoint", get(checkpoint))
        .route("/tile/{*path}", get(tile))
        .route("/v1/publish", post(publish))
        .route("/v1/lookup/{address}", get(lookup))
        .route("/v1/proof/inclusion", get(inclusion))
        .route("/v1/proof/consistency", get(consistency))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/metrics", get(metrics))
        .fallback(|| async { err(StatusCode::NOT_FOUND, "not_found", "no such route") })
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

fn cached(body: Vec<u8>, content_type: &'static str, immutable: bool) -> Response {
    let cache = if immutable {
        "public, max-age=31536000, immutable"
    } else {
        "public, max-age=1"
    };
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, cache),
        ],
        body,
    )
        .into_response()
}

async fn checkpoint(State(s): State<AppState>) -> Response {
    cached(
        s.log.latest().note.clone().into_bytes(),
        "text/plain; charset=utf-8",
        false,
    )
}

async fn tile(State(s): State<AppState>, Path(path): Path<String>) -> Result<Response, ApiError> {
    let t = Tile::parse_path(&format!("tile/{path}"))
        .map_err(|e| err(StatusCode::BAD_REQUEST, "bad_tile_path", e.to_string()))?;
    let size = s.log.latest().size;
    let start = t
        .index
        .checked_mul(256)
        .ok_or_else(|| err(StatusCode::NOT_FOUND, "tile_not_found", "beyond the tree"))?;
    let end = start
        .checked_add(u64::from(t.width))
        .ok_or_else(|| err(StatusCode::NOT_FOUND, "tile_not_found", "beyond the tree"))?;
    let not_found = || {
        err(
            StatusCode::NOT_FOUND,
            "tile_not_found",
            format!("{} is beyond the tree of size {size}", t.path()),
        )
    };
    let beyond = match t.kind {
        TileKind::Entries => end > size,
        TileKind::Hashes { level } => {
            let shift = 8 * u32::from(level);
            shift >= 64 || end > size >> shift
        }
    };
    if beyond {
        return Err(not_found());
    }
    let log = Arc::clone(&s.log);
    let data = s
        .blocking(move || match t.kind {
            TileKind::Entries => {
                let entries = log.store.entries(start, end)?;
                encode_entry_bundle(&entries).map_err(internal)
            }
            TileKind::Hashes { level } => {
                hash_tile_data(level, t.index, t.width, &StoreHashReader(&*log.store))
                    .map_err(internal)
            }
        })
        .await?;
    Ok(cached(data, "application/octet-stream", t.is_full()))
}

fn json_rejection(r: JsonRejection) -> ApiError {
    match r {
        JsonRejection::MissingJsonContentType(_) => err(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the body as Content-Type: application/json",
        ),
        JsonRejection::BytesRejection(b) if b.status() == StatusCode::PAYLOAD_TOO_LARGE => err(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("request bodies are limited to {MAX_BODY} bytes"),
        ),
        other => err(StatusCode::BAD_REQUEST, "bad_json", other.body_text()),
    }
}

fn tlog_proof(log: &Log, index: u64, cp: &StoredCheckpoint) -> Result<String, ApiError> {
    let proof = prove_inclusion(index, cp.size, &StoreHashReader(&*log.store)).map_err(internal)?;
    Ok(TlogProof {
        extra: None,
        index,
        proof,
        checkpoint: cp.note.clone(),
    }
    .to_text())
}

/// A checkpoint that covers `index` (the latest, or the stored one if the
/// in-memory copy has not caught up with a commit yet).
fn checkpoint_covering(log: &Log, index: u64) -> Result<Arc<StoredCheckpoint>, ApiError> {
    let cp = log.latest();
    if cp.size > index {
        return Ok(cp);
    }
    let stored = log
        .store
        .checkpoint()?
        .ok_or_else(|| internal("no checkpoint"))?;
    if stored.size > index {
        return Ok(Arc::new(stored));
    }
    Err(internal(format!(
        "entry {index} is not covered by any checkpoint"
    )))
}

async fn publish(
    State(s): State<AppState>,
    body: Result<Json<PublishRequest>, JsonRejection>,
) -> Result<Json<PublishResponse>, ApiError> {
    let result = publish_inner(&s, body).await;
    if result.is_err() {
        s.log
            .metrics
            .publish_rejected
            .fetch_add(1, Ordering::Relaxed);
    }
    result
}

async fn publish_inner(
    s: &AppState,
    body: Result<Json<PublishRequest>, JsonRejection>,
) -> Result<Json<PublishResponse>, ApiError> {
    let Json(req) = body.map_err(json_rejection)?;
    let log = Arc::clone(&s.log);
    let permit = s.verify.permit().await?;
    let decision = s
        .blocking(move || {
            let d = log.authorize_publish(&req, crate::now_ms());
            drop(permit);
            d
        })
        .await?;
    let (label, version, key_set, authorization, token) = match decision {
        Decision::Retry { index } => {
            let log = Arc::clone(&s.log);
            return s
                .blocking(move || {
                    let (_, raw) = log.stored_entry(index)?;
                    let cp = checkpoint_covering(&log, index)?;
                    Ok::<_, ApiError>(Json(PublishResponse {
                        index,
                        entry: STANDARD.encode(raw),
                        tlog_proof: tlog_proof(&log, index, &cp)?,
                    }))
                })
                .await;
        }
        Decision::Append {
            label,
            version,
            key_set,
            authorization,
            token,
        } => (label, version, key_set, authorization, token),
    };
    let (tx, rx) = tokio::sync::oneshot::channel();
    let job = Job {
        label,
        version,
        key_set,
        authorization,
        token,
        reply: tx,
    };
    if s.queue.submit(job).is_err() {
        return Err(err(
            StatusCode::SERVICE_UNAVAILABLE,
            "queue_full",
            "the log is busy; retry shortly",
        ));
    }
    let committed = rx
        .await
        .map_err(|_| {
            err(
                StatusCode::SERVICE_UNAVAILABLE,
                "queue_full",
                "the sequencer stopped; retry shortly",
            )
        })?
        .map_err(|r| match r {
            Rejected::StaleVersion { .. } => {
                err(StatusCode::CONFLICT, "stale_version", r.to_string())
            }
            Rejected::TokenUsed => err(StatusCode::FORBIDDEN, "used_token", r.to_string()),
            Rejected::TokenExpired => err(StatusCode::FORBIDDEN, "expired_token", r.to_string()),
            Rejected::TokenUnknown => err(StatusCode::FORBIDDEN, "unknown_token", r.to_string()),
            Rejected::Internal(_) => internal(r),
        })?;
    // From memory: a few hashes, no storage read.
    let tlog_proof = committed
        .proofs
        .tlog_proof(committed.index)
        .map_err(internal)?;
    Ok(Json(PublishResponse {
        index: committed.index,
        entry: STANDARD.encode(&committed.entry),
        tlog_proof,
    }))
}

async fn lookup(
    State(s): State<AppState>,
    Path(address): Path<String>,
) -> Result<Json<LookupResponse>, ApiError> {
    s.log.metrics.lookups.fetch_add(1, Ordering::Relaxed);
    let _reading = s.verify.reading();
    let address = Address::parse(&address)
        .map_err(|e| err(StatusCode::BAD_REQUEST, "bad_address", e.to_string()))?;
    let log = Arc::clone(&s.log);
    s.blocking(move || log.lookup_answer(&address).map(Json))
        .await
}

fn query_u64(q: &HashMap<String, String>, key: &str) -> Result<Option<u64>, ApiError> {
    q.get(key)
        .map(|v| {
            v.parse::<u64>().map_err(|_| {
                err(
                    StatusCode::BAD_REQUEST,
                    "bad_query",
                    format!("{key} must be a non-negative integer"),
                )
            })
        })
        .transpose()
}

fn query(
    q: Result<Query<HashMap<String, String>>, axum::extract::rejection::QueryRejection>,
) -> Result<HashMap<String, String>, ApiError> {
    q.map(|Query(q)| q)
        .map_err(|e| err(StatusCode::BAD_REQUEST, "bad_query", e.body_text()))
}

async fn inclusion(
    State(s): State<AppState>,
    q: Result<Query<HashMap<String, String>>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<ProofResponse>, ApiError> {
    let q = query(q)?;
    let latest = s.log.latest().size;
    let index = query_u64(&q, "index")?
        .ok_or_else(|| err(StatusCode::BAD_REQUEST, "bad_query", "index is required"))?;
    let size = query_u64(&q, "size")?.unwrap_or(latest);
    if size > latest || index >= size {
        return Err(err(
            StatusCode::BAD_REQUEST,
            "bad_query",
            format!("need index < size <= {latest}"),
        ));
    }
    let log = Arc::clone(&s.log);
    let proof = s
        .blocking(move || {
            prove_inclusion(index, size, &StoreHashReader(&*log.store)).map_err(internal)
        })
        .await?;
    Ok(Json(ProofResponse {
        from: index,
        size,
        proof: proof.iter().map(Hash::to_base64).collect(),
    }))
}

async fn consistency(
    State(s): State<AppState>,
    q: Result<Query<HashMap<String, String>>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<ProofResponse>, ApiError> {
    let q = query(q)?;
    let latest = s.log.latest().size;
    let from = query_u64(&q, "from")?
        .ok_or_else(|| err(StatusCode::BAD_REQUEST, "bad_query", "from is required"))?;
    let to = query_u64(&q, "to")?.unwrap_or(latest);
    if from == 0 || from > to || to > latest {
        return Err(err(
            StatusCode::BAD_REQUEST,
            "bad_query",
            format!("need 0 < from <= to <= {latest}"),
        ));
    }
    let log = Arc::clone(&s.log);
    let proof = s
        .blocking(move || {
            prove_consistency(from, to, &StoreHashReader(&*log.store)).map_err(internal)
        })
        .await?;
    Ok(Json(ProofResponse {
        from,
        size: to,
        proof: proof.iter().map(Hash::to_base64).collect(),
    }))
}

async fn metrics(State(s): State<AppState>) -> Response {
    let m = &s.log.metrics;
    let body = format!(
        "# TYPE ank_log_size gauge\nank_log_size {}\n\
         # TYPE ank_publish_total counter\nank_publish_total{{result=\"ok\"}} {}\nank_publish_total{{result=\"rejected\"}} {}\n\
         # TYPE ank_lookup_total counter\nank_lookup_total {}\n\
         # TYPE ank_batches_total counter\nank_batches_total {}\n",
        s.log.latest().size,
        m.published.load(Ordering::Relaxed),
        m.publish_rejected.load(Ordering::Relaxed),
        m.lookups.load(Ordering::Relaxed),
        m.batches.load(Ordering::Relaxed),
    );
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}
