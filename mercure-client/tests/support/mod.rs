//! A scripted SSE hub on 127.0.0.1, port 0, speaking raw HTTP/1.1 over
//! TCP so that tests decide every byte: where a stream is cut, which status
//! comes next, which headers are sent.

#![allow(dead_code, unreachable_pub)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

/// A request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    /// The method.
    pub method: String,
    /// Path and query.
    pub target: String,
    /// Header names lowercased.
    pub headers: HashMap<String, String>,
    /// The body (read up to its `Content-Length`).
    pub body: Vec<u8>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }
}

/// What the server does with one connection.
#[derive(Debug, Clone)]
pub enum Step {
    /// 200 `text/event-stream`: the history after the requested
    /// `Last-Event-ID` (all of it for none or an unknown id), cut after
    /// `cut` body bytes (`None`: all), then closed, or held open silent
    /// when `hold`. `chunked` makes a cut a broken body rather than an end.
    Stream {
        cut: Option<usize>,
        chunked: bool,
        hold: bool,
        prefix: String,
    },
    /// Any status with headers and a body.
    Status {
        status: u16,
        headers: Vec<(String, String)>,
        body: String,
    },
}

impl Step {
    pub fn stream() -> Self {
        Step::Stream {
            cut: None,
            chunked: false,
            hold: false,
            prefix: String::new(),
        }
    }

    pub fn cut_at(cut: usize) -> Self {
        Step::Stream {
            cut: Some(cut),
            chunked: false,
            hold: false,
            prefix: String::new(),
        }
    }

    pub fn broken_at(cut: usize) -> Self {
        Step::Stream {
            cut: Some(cut),
            chunked: true,
            hold: false,
            prefix: String::new(),
        }
    }

    pub fn status(status: u16) -> Self {
        Step::Status {
            status,
            headers: Vec::new(),
            body: String::new(),
        }
    }

    pub fn status_with(status: u16, headers: &[(&str, &str)], body: &str) -> Self {
        Step::Status {
            status,
            headers: headers
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
            body: body.to_owned(),
        }
    }
}

/// The history the server replays: `(id, data)` pairs.
#[derive(Debug)]
pub struct ScriptedHub {
    pub addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    release: Arc<Notify>,
}

struct Shared {
    history: Vec<(String, String)>,
    steps: Vec<Step>,
    resume_header: &'static str,
    /// Ids the history no longer holds (answered with `earliest`).
    forgotten: Vec<String>,
}

impl ScriptedHub {
    /// Starts a server replaying `history` along `steps` (one per
    /// connection; connections past the last step get 204).
    pub async fn start(
        history: Vec<(String, String)>,
        steps: Vec<Step>,
        resume_header: &'static str,
    ) -> Self {
        Self::start_with(history, steps, resume_header, Vec::new()).await
    }

    pub async fn start_with(
        history: Vec<(String, String)>,
        steps: Vec<Step>,
        resume_header: &'static str,
        forgotten: Vec<String>,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let release = Arc::new(Notify::new());
        let shared = Arc::new(Shared {
            history,
            steps,
            resume_header,
            forgotten,
        });
        let seen_in = Arc::clone(&seen);
        let release_in = Arc::clone(&release);
        tokio::spawn(async move {
            let mut index = 0;
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    return;
                };
                let step = shared.steps.get(index).cloned();
                index += 1;
                let shared = Arc::clone(&shared);
                let seen = Arc::clone(&seen_in);
                let release = Arc::clone(&release_in);
                tokio::spawn(async move {
                    serve(socket, step, &shared, &seen, &release).await;
                });
            }
        });
        Self {
            addr,
            seen,
            release,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}/.well-known/mercure", self.addr)
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Closes the streams held open.
    pub fn release(&self) {
        self.release.notify_waiters();
    }
}

pub fn event_block(id: &str, data: &str) -> String {
    let mut block = format!("id: {id}\n");
    for line in data.split('\n') {
        block.push_str("data: ");
        block.push_str(line);
        block.push('\n');
    }
    block.push('\n');
    block
}

/// Reads a request head, and its body up to `Content-Length` (so that
/// closing the socket never resets an answer the client has yet to read).
pub async fn read_head(socket: &mut TcpStream) -> Option<Seen> {
    let mut buffer = Vec::new();
    let mut byte = [0u8; 16 * 1024];
    loop {
        let n = socket.read(&mut byte).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&byte[..n]);
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buffer[..end]).into_owned();
            let mut lines = head.split("\r\n");
            let request_line = lines.next()?;
            let mut parts = request_line.split(' ');
            let method = parts.next()?.to_owned();
            let target = parts.next()?.to_owned();
            let headers: HashMap<String, String> = lines
                .filter_map(|line| line.split_once(':'))
                .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
                .collect();
            let length: usize = headers
                .get("content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let mut body = buffer[end + 4..].to_vec();
            while body.len() < length {
                let n = socket.read(&mut byte).await.ok()?;
                if n == 0 {
                    break;
                }
                body.extend_from_slice(&byte[..n]);
            }
            return Some(Seen {
                method,
                target,
                headers,
                body,
            });
        }
    }
}

async fn serve(
    mut socket: TcpStream,
    step: Option<Step>,
    shared: &Shared,
    seen: &Mutex<Vec<Seen>>,
    release: &Notify,
) {
    let Some(request) = read_head(&mut socket).await else {
        return;
    };
    // The header wins over the query parameter.
    let last_event_id = request
        .header("last-event-id")
        .map(str::to_owned)
        .or_else(|| {
            let query = request.target.split_once('?')?.1;
            url::form_urlencoded::parse(query.as_bytes())
                .find(|(name, _)| name == "lastEventID" || name == "last_event_id")
                .map(|(_, value)| value.into_owned())
        });
    seen.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(request);
    let step = step.unwrap_or(Step::status(204));
    match step {
        Step::Status {
            status,
            headers,
            body,
        } => {
            let mut head = format!(
                "HTTP/1.1 {status} Scripted\r\nContent-Length: {}\r\nConnection: close\r\n",
                body.len()
            );
            for (name, value) in headers {
                head.push_str(&format!("{name}: {value}\r\n"));
            }
            head.push_str("\r\n");
            head.push_str(&body);
            let _ = socket.write_all(head.as_bytes()).await;
            let _ = socket.shutdown().await;
        }
        Step::Stream {
            cut,
            chunked,
            hold,
            prefix,
        } => {
            let (start, resumed) = match &last_event_id {
                None => (0, None),
                Some(id) if shared.forgotten.contains(id) => (0, Some("earliest".to_owned())),
                Some(id) => match shared.history.iter().position(|(known, _)| known == id) {
                    Some(at) => (at + 1, Some(id.clone())),
                    None => (0, Some("earliest".to_owned())),
                },
            };
            let mut body = prefix.into_bytes();
            for (id, data) in &shared.history[start..] {
                body.extend_from_slice(event_block(id, data).as_bytes());
            }
            if let Some(cut) = cut {
                body.truncate(cut);
            }
            let mut head = String::from(
                "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n",
            );
            // Like real servers, never echo what a header cannot carry.
            if let Some(resumed) = resumed.filter(|r| !r.chars().any(char::is_control)) {
                head.push_str(&format!("{}: {resumed}\r\n", shared.resume_header));
            }
            if chunked {
                head.push_str("Transfer-Encoding: chunked\r\n\r\n");
            } else {
                head.push_str("Connection: close\r\n\r\n");
            }
            if socket.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            // Small writes so that events straddle chunks.
            for piece in body.chunks(23) {
                let result = if chunked {
                    let mut frame = format!("{:x}\r\n", piece.len()).into_bytes();
                    frame.extend_from_slice(piece);
                    frame.extend_from_slice(b"\r\n");
                    socket.write_all(&frame).await
                } else {
                    socket.write_all(piece).await
                };
                if result.is_err() {
                    return;
                }
                let _ = socket.flush().await;
            }
            if hold {
                release.notified().await;
            } else if chunked && cut.is_none() {
                let _ = socket.write_all(b"0\r\n\r\n").await;
            }
            let _ = socket.shutdown().await;
        }
    }
}

/// A server on 127.0.0.1 that accepts connections and never answers (nor
/// reads): every request to it hangs until the client gives up. Stops
/// when the returned handle is aborted or dropped with the runtime.
pub async fn black_hole() -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    (addr, task)
}
