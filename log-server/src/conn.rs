//! Serving connections so that slow or idle clients cannot exhaust the server.
//!
//! * **Connection cap.** At most [`Limits::max_connections`] connections are
//!   served at once; one beyond the cap is answered at once with `503`
//!   `{"error": "too_many_connections"}` (with `Retry-After: 1`) and closed.
//! * **Header-read timeout.** A connection that has not sent a complete
//!   request head within [`Limits::header_timeout`] (for the first request,
//!   and while idle between keep-alive requests) is closed.
//! * **Request timeout.** A request (reading its body included) that has not
//!   been answered within [`Limits::request_timeout`] gets `408`
//!   `{"error": "request_timeout"}` and its connection is closed.
//! * **Open-file limit.** [`raise_nofile_limit`] raises the soft
//!   `RLIMIT_NOFILE` to the hard limit at start.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt as _;

/// Limits on connections and requests.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_connections: usize,
    pub header_timeout: Duration,
    pub request_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 4096,
            header_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
        }
    }
}

/// Raises the soft open-file limit to the hard limit; returns the new soft
/// limit (or the old one if it could not be raised).
pub fn raise_nofile_limit() -> u64 {
    #[cfg(unix)]
    {
        match rlimit::increase_nofile_limit(u64::MAX) {
            Ok(n) => n,
            Err(_) => rlimit::getrlimit(rlimit::Resource::NOFILE).map_or(1024, |(soft, _)| soft),
        }
    }
    #[cfg(not(unix))]
    {
        u64::MAX
    }
}

fn json_error(status: StatusCode, code: &str, message: &str) -> Response {
    let mut r = (
        status,
        axum::Json(ank_proofs::api::ErrorResponse {
            error: code.to_owned(),
            message: message.to_owned(),
        }),
    )
        .into_response();
    if status == StatusCode::SERVICE_UNAVAILABLE {
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    r
}

/// Wraps every request of `app` in the request timeout.
pub fn with_request_timeout(app: Router, timeout: Duration) -> Router {
    app.layer(axum::middleware::from_fn(
        move |req: axum::extract::Request, next: axum::middleware::Next| async move {
            match tokio::time::timeout(timeout, next.run(req)).await {
                Ok(r) => r,
                Err(_) => {
                    let mut r = json_error(
                        StatusCode::REQUEST_TIMEOUT,
                        "request_timeout",
                        "the request was not completed in time",
                    );
                    r.headers_mut()
                        .insert(header::CONNECTION, HeaderValue::from_static("close"));
                    r
                }
            }
        },
    ))
}

/// The answer to a connection beyond the cap, written raw: no request is read.
async fn refuse(mut stream: tokio::net::TcpStream) {
    let body = r#"{"error":"too_many_connections","message":"the server is at its connection limit; retry shortly"}"#;
    let head = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    let write = async {
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(body.as_bytes()).await?;
        stream.shutdown().await
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), write).await;
}

/// Serves `app` on `listener` within `limits` until `shutdown` resolves;
/// then stops accepting and waits for open connections to finish their
/// current requests.
///
/// # Errors
/// Accept errors other than running out of file descriptors (which are
/// waited out).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    serve_tls(listener, app, limits, None, shutdown).await
}

/// As [`serve`], with TLS when `tls` is given: the handshake must finish
/// within the header timeout, and ALPN picks HTTP/2 or HTTP/1.1.
///
/// # Errors
/// As [`serve`].
pub async fn serve_tls(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    let app = with_request_timeout(app, limits.request_timeout);
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors or a reset handshake: wait a little, keep serving.
                    if matches!(e.raw_os_error(), Some(23 | 24)) {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    continue;
                }
            },
        };
        let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
            // Over TLS a plain 503 would not be understood: the connection
            // is just closed.
            if tls.is_none() {
                tokio::spawn(refuse(stream));
            }
            continue;
        };
        let _ = stream.set_nodelay(true);
        let service = hyper::service::service_fn({
            let app = app.clone();
            move |mut req: hyper::Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
                app.clone().oneshot(req.map(axum::body::Body::new))
            }
        });
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_timeout)
            .keep_alive(true);
        let Some(acceptor) = &tls else {
            let conn = graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
            tokio::spawn(async move {
                let _ = conn.await;
                drop(permit);
            });
            continue;
        };
        let (acceptor, watcher) = (acceptor.clone(), graceful.watcher());
        let header_timeout = limits.header_timeout;
        tokio::spawn(async move {
            let Ok(Ok(stream)) =
                tokio::time::timeout(header_timeout, acceptor.accept(stream)).await
            else {
                return;
            };
            if stream.get_ref().1.alpn_protocol() == Some(b"h2") {
                let mut h2 =
                    hyper::server::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new());
                h2.timer(TokioTimer::new())
                    .keep_alive_interval(Some(header_timeout))
                    .keep_alive_timeout(header_timeout);
                let _ = watcher
                    .watch(h2.serve_connection(TokioIo::new(stream), service))
                    .await;
            } else {
                let _ = watcher
                    .watch(builder.serve_connection(TokioIo::new(stream), service))
                    .await;
            }
            drop(permit);
        });
    }
    drop(listener);
    // Open connections finish what they are doing (bounded by the request timeout).
    let _ = tokio::time::timeout(limits.request_timeout, graceful.shutdown()).await;
    Ok(())
}
