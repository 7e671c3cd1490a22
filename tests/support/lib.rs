//! Shared support for the workspace integration tests: a real HTTP server
//! on `127.0.0.1`, port 0, that records every request and answers with a
//! scripted response chosen by path.

pub mod browser;
pub mod fault_proxy;
pub mod flask_hub;
pub mod private_delivery;
pub mod raw_sse;
pub mod served_hub;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;

/// How long connecting to a server on 127.0.0.1 may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one request may take, answer read in full, with
/// [`http_client`].
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest silence between two reads of an event stream, with
/// [`stream_client`] (the hubs under test send heartbeats well within it).
pub const STREAM_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// A client for requests whose answer ends: connecting and the whole
/// exchange are bounded, so that a server that never answers fails the
/// test instead of hanging it.
///
/// # Panics
/// When the client cannot be built.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(REQUEST_TIMEOUT)
        .build()
        .expect("HTTP client")
}

/// A client for event streams, which do not end: connecting and every
/// read (the response head's included) are bounded instead of the whole
/// exchange.
///
/// # Panics
/// When the client cannot be built.
pub fn stream_client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .read_timeout(STREAM_READ_TIMEOUT)
        .build()
        .expect("HTTP client")
}

/// A request as the server saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The method.
    pub method: Method,
    /// Path and query.
    pub uri: String,
    /// All headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
}

impl Recorded {
    /// The body as UTF-8 text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    }
}

/// A scripted answer.
#[derive(Debug, Clone)]
pub struct Scripted {
    /// Status code.
    pub status: u16,
    /// Extra headers.
    pub headers: Vec<(&'static str, String)>,
    /// Body.
    pub body: String,
    /// Delay before answering.
    pub delay: Duration,
}

impl Scripted {
    /// An answer with `status` and `body`.
    pub fn new(status: u16, body: impl Into<String>) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: body.into(),
            delay: Duration::ZERO,
        }
    }

    /// Adds a header.
    #[must_use]
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// Waits before answering.
    #[must_use]
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

type Responder = Arc<dyn Fn(&Recorded, usize) -> Scripted + Send + Sync>;

#[derive(Clone)]
struct AppState {
    log: Arc<Mutex<Vec<Recorded>>>,
    respond: Responder,
}

/// A running recording server; stops when dropped.
#[derive(Debug)]
pub struct TestServer {
    addr: SocketAddr,
    log: Arc<Mutex<Vec<Recorded>>>,
    task: tokio::task::JoinHandle<()>,
}

impl TestServer {
    /// Starts a server whose answer to the n-th request (0-based) is
    /// `respond(request, n)`.
    pub async fn start<F>(respond: F) -> Self
    where
        F: Fn(&Recorded, usize) -> Scripted + Send + Sync + 'static,
    {
        let log = Arc::new(Mutex::new(Vec::new()));
        let state = AppState {
            log: Arc::clone(&log),
            respond: Arc::new(respond),
        };
        let app = Router::new().fallback(handle).with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("serve");
        });
        Self { addr, log, task }
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn handle(State(state): State<AppState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 16 * 1024 * 1024)
        .await
        .unwrap_or_default();
    let recorded = Recorded {
        method: parts.method,
        uri: parts.uri.to_string(),
        headers: parts.headers,
        body,
    };
    let index = {
        let mut log = state.log.lock().unwrap_or_else(PoisonError::into_inner);
        log.push(recorded.clone());
        log.len() - 1
    };
    let scripted = (state.respond)(&recorded, index);
    if !scripted.delay.is_zero() {
        tokio::time::sleep(scripted.delay).await;
    }
    let mut response = Response::builder()
        .status(StatusCode::from_u16(scripted.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR));
    for (name, value) in scripted.headers {
        response = response.header(name, value);
    }
    response
        .body(Body::from(scripted.body))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
