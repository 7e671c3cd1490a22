//! Helpers shared by the Mercure 1.0 checks (`v1_peer_tokens`,
//! `spec_examples`, `wire_bytes`, `v1_gaps`, and `mercure-actix`'s
//! `v1_embedded` through `#[path]`): the PyJWT peer, raw HTTP/1.1 over
//! loopback, and parsers small enough to read at a glance.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::Command;

/// How long any single wait of these tests may take.
pub(crate) const PATIENCE: Duration = Duration::from_secs(15);

/// The directory of the integration-test crate.
pub(crate) fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A file of `tests/keys/`, its path as text.
pub(crate) fn key_path(name: &str) -> String {
    crate_dir().join("keys").join(name).display().to_string()
}

/// A file of `tests/keys/`, its content.
pub(crate) fn key_file(name: &str) -> Vec<u8> {
    let path = key_path(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Seconds since the Unix epoch, now.
pub(crate) fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}

/// Runs `tests/peers/pyjwt_tokens.py` on `jobs` and returns its results,
/// in order; the peer has [`PATIENCE`] to answer.
pub(crate) async fn pyjwt(jobs: Vec<Value>) -> Vec<Value> {
    let python = crate_dir().join("../.tools/venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/setup (scripts/test does)",
        python.display()
    );
    let count = jobs.len();
    let mut child = Command::new(python)
        .arg(crate_dir().join("peers/pyjwt_tokens.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start the PyJWT peer");
    let input = serde_json::to_vec(&json!({ "jobs": jobs })).expect("JSON");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(&input).await.expect("write the jobs");
    drop(stdin);
    let output = tokio::time::timeout(PATIENCE, child.wait_with_output())
        .await
        .expect("the PyJWT peer answers in time")
        .expect("the PyJWT peer runs");
    assert!(
        output.status.success(),
        "the PyJWT peer failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let answer: Value = serde_json::from_slice(&output.stdout).expect("the peer prints JSON");
    let results = answer["results"].as_array().expect("results").clone();
    assert_eq!(results.len(), count);
    results
}

/// A PyJWT key description: an HMAC secret.
pub(crate) fn secret_key(secret: &str) -> Value {
    json!({ "secret": secret })
}

/// A PyJWT key description: a PEM file of `tests/keys/`.
pub(crate) fn pem_key(name: &str) -> Value {
    json!({ "pem_file": key_path(name) })
}

/// A response read off a raw HTTP/1.1 connection.
#[derive(Debug)]
pub(crate) struct RawResponse {
    /// The status line, e.g. `HTTP/1.1 200 OK`.
    pub(crate) status_line: String,
    /// Headers in wire order, names lower-cased, values as sent.
    pub(crate) headers: Vec<(String, String)>,
    /// The body bytes received so far, de-chunked when chunked.
    pub(crate) body: Vec<u8>,
}

impl RawResponse {
    /// The status code.
    pub(crate) fn status(&self) -> u16 {
        self.status_line
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .expect("a status code")
    }

    /// Every value of the header `name`.
    pub(crate) fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The only value of the header `name`, if any (panics on repeats).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        let all = self.all(name);
        assert!(all.len() <= 1, "{name} repeated: {all:?}");
        all.first().copied()
    }

    /// The body as UTF-8 text.
    pub(crate) fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("a UTF-8 body")
    }
}

/// One HTTP/1.1 exchange on a raw TCP connection.
#[derive(Debug)]
pub(crate) struct RawConnection {
    stream: TcpStream,
    buffer: Vec<u8>,
    chunked: bool,
    /// The de-chunked body bytes not handed out yet.
    pending: Vec<u8>,
    finished: bool,
}

/// `host:port` of an `http://host:port/...` URL.
pub(crate) fn authority(url: &str) -> &str {
    url.trim_start_matches("http://")
        .split('/')
        .next()
        .expect("an authority")
}

/// The path (and query) of an `http://host:port/...` URL.
pub(crate) fn path_of(url: &str) -> String {
    let rest = url.trim_start_matches("http://");
    rest.find('/')
        .map_or_else(|| "/".to_owned(), |i| rest[i..].to_owned())
}

impl RawConnection {
    /// Sends `method target` with `headers` (and `Host`, `Connection:
    /// close`, and `Content-Length` when there is a body) to the authority
    /// of `url`, and reads the response head.
    pub(crate) async fn send(
        url: &str,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> (Self, RawResponse) {
        let stream = tokio::time::timeout(PATIENCE, TcpStream::connect(authority(url)))
            .await
            .expect("connect in time")
            .expect("connect to the hub");
        let mut request = format!("{method} {target} HTTP/1.1\r\nHost: {}\r\n", authority(url));
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        if !body.is_empty() || method == "POST" || method == "QUERY" {
            request.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        request.push_str("Connection: close\r\n\r\n");
        let mut bytes = request.into_bytes();
        bytes.extend_from_slice(body);
        let mut connection = Self {
            stream,
            buffer: Vec::new(),
            chunked: false,
            pending: Vec::new(),
            finished: false,
        };
        connection.stream.write_all(&bytes).await.expect("send");
        let head = connection.read_head().await;
        (connection, head)
    }

    async fn fill(&mut self) -> bool {
        let mut chunk = [0_u8; 8192];
        let read = tokio::time::timeout(PATIENCE, self.stream.read(&mut chunk))
            .await
            .expect("the hub answers in time")
            .expect("read");
        self.buffer.extend_from_slice(&chunk[..read]);
        read > 0
    }

    async fn read_head(&mut self) -> RawResponse {
        let end = loop {
            if let Some(end) = self.buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                break end;
            }
            assert!(self.fill().await, "the connection closed before the head");
        };
        let head = String::from_utf8(self.buffer[..end].to_vec()).expect("an ASCII head");
        self.buffer.drain(..end + 4);
        let mut lines = head.split("\r\n");
        let status_line = lines.next().expect("a status line").to_owned();
        let headers: Vec<(String, String)> = lines
            .map(|line| {
                let (name, value) = line.split_once(':').expect("name: value");
                (name.to_ascii_lowercase(), value.trim().to_owned())
            })
            .collect();
        self.chunked = headers
            .iter()
            .any(|(n, v)| n == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
        RawResponse {
            status_line,
            headers,
            body: Vec::new(),
        }
    }

    /// Moves every complete chunk of the buffer to `pending`.
    fn dechunk(&mut self) {
        if !self.chunked {
            self.pending.append(&mut self.buffer);
            return;
        }
        while let Some(line_end) = self.buffer.windows(2).position(|w| w == b"\r\n") {
            let size_text = String::from_utf8_lossy(&self.buffer[..line_end]).into_owned();
            let size_text = size_text.split(';').next().unwrap_or("").trim().to_owned();
            let size = usize::from_str_radix(&size_text, 16).expect("a chunk size");
            if self.buffer.len() < line_end + 2 + size + 2 {
                return;
            }
            let start = line_end + 2;
            self.pending
                .extend_from_slice(&self.buffer[start..start + size]);
            assert_eq!(&self.buffer[start + size..start + size + 2], b"\r\n");
            self.buffer.drain(..start + size + 2);
            if size == 0 {
                self.finished = true;
                return;
            }
        }
    }

    /// Body bytes until `needle` has been received (returned with what
    /// came before it), within [`PATIENCE`]; the rest stays pending.
    pub(crate) async fn read_until(&mut self, needle: &[u8]) -> Vec<u8> {
        loop {
            self.dechunk();
            if let Some(at) = self.pending.windows(needle.len()).position(|w| w == needle) {
                return self.pending.drain(..at + needle.len()).collect();
            }
            assert!(
                !self.finished && self.fill().await,
                "the stream ended before {:?}; received {:?}",
                String::from_utf8_lossy(needle),
                String::from_utf8_lossy(&self.pending)
            );
        }
    }

    /// The whole rest of the body, until the server ends it (the last
    /// chunk, or the connection closing), within `limit`.
    pub(crate) async fn read_to_end(&mut self, limit: Duration) -> Vec<u8> {
        tokio::time::timeout(limit, async {
            loop {
                self.dechunk();
                if self.finished {
                    break;
                }
                let mut chunk = [0_u8; 8192];
                let read = self.stream.read(&mut chunk).await.unwrap_or(0);
                if read == 0 {
                    break;
                }
                self.buffer.extend_from_slice(&chunk[..read]);
            }
        })
        .await
        .expect("the body ends in time");
        self.dechunk();
        std::mem::take(&mut self.pending)
    }
}

/// A complete exchange: the response with its whole body.
pub(crate) async fn exchange(
    url: &str,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> RawResponse {
    let (mut connection, mut response) =
        RawConnection::send(url, method, target, headers, body).await;
    response.body = connection.read_to_end(PATIENCE).await;
    response
}

/// The parameters of a `WWW-Authenticate: Bearer ...` challenge (RFC 7235
/// §2.1 auth-params; quoted strings unescaped), in order.
pub(crate) fn bearer_params(challenge: &str) -> Vec<(String, String)> {
    let rest = challenge
        .strip_prefix("Bearer")
        .unwrap_or_else(|| panic!("not a Bearer challenge: {challenge}"));
    let mut params = Vec::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ' ' || *c == ',') {
            chars.next();
        }
        let name: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if name.is_empty() {
            break;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            while let Some(c) = chars.peek().copied() {
                if c == ',' || c == ' ' {
                    break;
                }
                value.push(c);
                chars.next();
            }
        }
        params.push((name.trim().to_owned(), value));
    }
    params
}

/// Replaces every `urn:uuid:` UUID of `text` (also percent-encoded,
/// `urn%3Auuid%3A`) by `<uuid>`, for comparisons with examples whose ids
/// differ by nature.
pub(crate) fn mask_ids(text: &str) -> String {
    let mut out = text.to_owned();
    for prefix in ["urn:uuid:", "urn%3Auuid%3A"] {
        let mut masked = String::with_capacity(out.len());
        let mut rest = out.as_str();
        while let Some(at) = rest.find(prefix) {
            masked.push_str(&rest[..at + prefix.len()]);
            let after = &rest[at + prefix.len()..];
            if after.get(..36).is_some_and(is_uuid) {
                masked.push_str("<uuid>");
                rest = &after[36..];
            } else {
                rest = after;
            }
        }
        masked.push_str(rest);
        out = masked;
    }
    out
}

/// Whether `text` is a UUID in its 8-4-4-4-12 hexadecimal form.
pub(crate) fn is_uuid(text: &str) -> bool {
    text.len() == 36
        && text.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// `value` with every string passed through [`mask_ids`].
pub(crate) fn mask_json(value: &Value) -> Value {
    match value {
        Value::String(s) => Value::String(mask_ids(s)),
        Value::Array(items) => Value::Array(items.iter().map(mask_json).collect()),
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), mask_json(v))).collect())
        }
        other => other.clone(),
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters (for
/// crates that do not depend on the integration-test crate's own helper).
pub(crate) fn percent_encode(value: &str) -> String {
    value
        .bytes()
        .map(|byte| {
            if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
                char::from(byte).to_string()
            } else {
                format!("%{byte:02X}")
            }
        })
        .collect()
}
