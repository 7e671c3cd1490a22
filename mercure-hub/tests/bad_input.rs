//! Bad input, as one table: every refusal the Mercure spec names and every
//! defect this hub once had with hostile input, one row each, sent as raw
//! bytes over loopback HTTP to a hub served by `serve_hub` (the lean
//! subscription path and the router behind it). Each row names the
//! request, the exact status and what else the answer must carry (a
//! `WWW-Authenticate` error code, a message of the body, a header, or the
//! updates a subscription it opens receives). After every row the hub must
//! still serve a subscription and a publish, promptly.
//!
//! Many rows repeat a regression test kept elsewhere (`publish.rs`,
//! `subscribe.rs`, `tokens.rs`, `limits.rs`, ...): this is the one place
//! listing them all. `cargo test -p mercure-hub --test bad_input --
//! --nocapture` prints the table (case, status); `BAD_INPUT_ROWS=text`
//! runs only the rows whose case contains `text`.

mod support;

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mercure_core::ProtocolVersion;
use mercure_core::token::Grants;
use serde_json::{Value, json};
use support::{ISSUER, TestHub, config, factory, start};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

const V0: ProtocolVersion = ProtocolVersion::V0;
const V1: ProtocolVersion = ProtocolVersion::V1;

/// The longest any exchange of a row may take.
const BOUND: Duration = Duration::from_secs(10);
/// The head and body timeouts of the main hub (the 408 rows wait for them).
const TIMEOUT: Duration = Duration::from_millis(800);
/// The origin the main hub's CORS allowlist holds.
const APP_ORIGIN: &str = "https://app.example.com";
/// The largest `QUERY` body (`MAX_QUERY_BODY` of the hub).
const MAX_QUERY_BODY: usize = 64 * 1024;
/// The largest request head the lean path reads.
const MAX_HEAD: usize = 64 * 1024;

// ---------------------------------------------------------------- answers

/// A response as read off the socket.
#[derive(Debug, Default)]
struct Answer {
    status: u16,
    /// Names lowercased.
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A connection a row's request went over, with what was read past the
/// response head (for a stream, the start of its body).
struct Connection {
    stream: TcpStream,
    rest: Vec<u8>,
}

impl Connection {
    /// Reads the stream until `needle` appears; all that was read.
    async fn read_until(&mut self, needle: &str) -> Result<String, String> {
        let deadline = Instant::now() + BOUND;
        loop {
            let text = String::from_utf8_lossy(&self.rest).into_owned();
            if text.contains(needle) {
                return Ok(text);
            }
            let mut buffer = [0u8; 8192];
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.stream.read(&mut buffer)).await {
                Err(_) => return Err(format!("{needle:?} never came; read {text:?}")),
                Ok(Ok(0) | Err(_)) => {
                    return Err(format!("the stream ended before {needle:?}; read {text:?}"));
                }
                Ok(Ok(n)) => self.rest.extend_from_slice(&buffer[..n]),
            }
        }
    }
}

/// A connection to `addr` from `127.0.0.{from}`.
async fn connect(addr: SocketAddr, from: u8) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket
        .bind(SocketAddr::new(Ipv4Addr::new(127, 0, 0, from).into(), 0))
        .unwrap();
    tokio::time::timeout(BOUND, socket.connect(addr))
        .await
        .expect("connect in time")
        .unwrap()
}

/// Reads a response off `stream`: the head, then the body (by its
/// length, chunks, or until closed), except a `text/event-stream` body,
/// left on the connection.
async fn read_answer(mut stream: TcpStream) -> Result<(Answer, Connection), String> {
    let deadline = Instant::now() + BOUND;
    let mut read = Vec::new();
    let mut buffer = [0u8; 8192];
    let head_end = loop {
        if let Some(at) = read.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buffer)).await {
            Err(_) => return Err(format!("no complete answer in time: {read:?}")),
            Ok(Ok(0) | Err(_)) => {
                return Err(format!(
                    "closed without a complete answer: {:?}",
                    String::from_utf8_lossy(&read)
                ));
            }
            Ok(Ok(n)) => read.extend_from_slice(&buffer[..n]),
        }
    };
    let head = String::from_utf8_lossy(&read[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("not an HTTP answer: {status_line:?}"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut answer = Answer {
        status,
        headers,
        body: String::new(),
    };
    let mut rest = read[head_end + 4..].to_vec();
    let streaming = answer
        .header("content-type")
        .is_some_and(|t| t.starts_with("text/event-stream"));
    if !streaming {
        let length = answer
            .header("content-length")
            .and_then(|l| l.parse::<usize>().ok());
        let chunked = answer
            .header("transfer-encoding")
            .is_some_and(|t| t.contains("chunked"));
        loop {
            let done = match length {
                Some(length) => rest.len() >= length,
                None if chunked => rest.ends_with(b"0\r\n\r\n"),
                None => false,
            };
            if done {
                break;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, stream.read(&mut buffer)).await {
                Err(_) => return Err("the body did not come in time".into()),
                Ok(Ok(0) | Err(_)) => break,
                Ok(Ok(n)) => rest.extend_from_slice(&buffer[..n]),
            }
        }
        answer.body = String::from_utf8_lossy(&rest).into_owned();
        rest.clear();
    }
    Ok((answer, Connection { stream, rest }))
}

/// Writes `bytes` (a write cut short by the hub is not an error: it may
/// answer before reading everything) and reads the answer.
async fn exchange(
    addr: SocketAddr,
    from: u8,
    bytes: &[u8],
) -> Result<(Answer, Connection), String> {
    let mut stream = connect(addr, from).await;
    let _ = stream.write_all(bytes).await;
    read_answer(stream).await
}

// ---------------------------------------------------------------- requests

/// A request head (and body) as raw bytes; its `content-length` is the
/// body's unless `headers` declare one.
fn request(method: &str, target: &str, headers: &[(&str, String)], body: &[u8]) -> Vec<u8> {
    let mut bytes = format!("{method} {target} HTTP/1.1\r\nhost: 127.0.0.1\r\n").into_bytes();
    for (name, value) in headers {
        bytes.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    let declared = headers.iter().any(|(name, _)| *name == "content-length");
    if !declared && (!body.is_empty() || method == "POST" || method == "QUERY") {
        bytes.extend_from_slice(format!("content-length: {}\r\n", body.len()).as_bytes());
    }
    bytes.extend_from_slice(b"\r\n");
    bytes.extend_from_slice(body);
    bytes
}

fn bearer(token: &str) -> (&'static str, String) {
    ("authorization", format!("Bearer {token}"))
}

fn form_type() -> (&'static str, String) {
    (
        "content-type",
        "application/x-www-form-urlencoded".to_owned(),
    )
}

/// `GET` of the hub with `query`, and `token` as a bearer token.
fn get(query: &str, token: Option<&str>) -> Vec<u8> {
    let headers: Vec<_> = token.map(bearer).into_iter().collect();
    request(
        "GET",
        &format!("/.well-known/mercure?{query}"),
        &headers,
        b"",
    )
}

/// `POST` of the form `body` to the hub with `token`.
fn post(body: &[u8], token: Option<&str>) -> Vec<u8> {
    let mut headers = vec![form_type()];
    headers.extend(token.map(bearer));
    request("POST", "/.well-known/mercure", &headers, body)
}

/// `QUERY` of the hub with `query` and the form `body`.
fn query(query: &str, body: &[u8], token: Option<&str>) -> Vec<u8> {
    let mut headers = vec![form_type()];
    headers.extend(token.map(bearer));
    request(
        "QUERY",
        &format!("/.well-known/mercure?{query}"),
        &headers,
        body,
    )
}

/// Percent-encodes a form value.
fn enc(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

// ---------------------------------------------------------------- rows

/// Which hub a row is sent to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hub {
    /// Both dialects, a trusted issuer, subscription events, a CORS
    /// allowlist, short head and body timeouts.
    Main,
    /// Anonymous subscribers, at most 2 connections per address and 4 in
    /// all (room for a connection of a check not yet released beside a
    /// full address).
    Caps,
}

/// What a row does before its request, kept until the row is over.
enum Setup {
    None,
    /// Connections that send nothing: so many from `127.0.0.{from}`.
    Idle(Vec<(u8, usize)>),
    /// A subscription (its raw request) open during the row.
    Subscribed(Vec<u8>),
}

/// How a row's request is sent.
enum Send {
    /// All at once, from 127.0.0.1.
    Raw(Vec<u8>),
    /// All at once from `127.0.0.{from}`.
    From(u8, Vec<u8>),
    /// These bytes, then nothing more (a head or body that never ends).
    Stall(Vec<u8>),
    /// A connection from `127.0.0.{from}` sending nothing.
    Silent(u8),
}

/// What an answer must carry besides its status.
enum Expect {
    /// The body contains this.
    Body(&'static str),
    /// The body is exactly this.
    BodyIs(&'static str),
    /// The header is present and contains this.
    Header(&'static str, &'static str),
    /// The header is absent.
    NoHeader(&'static str),
    /// The header is present.
    HasHeader(&'static str),
    /// The body, as JSON, passes this check (described).
    Json(&'static str, fn(&Value) -> bool),
    /// Once the stream is open, these updates are published (topic, data,
    /// private) in order: those marked `true` arrive, the others never do.
    /// The last must arrive.
    Delivers(Vec<(&'static str, &'static str, bool, bool)>),
}

struct Row {
    case: &'static str,
    hub: Hub,
    setup: Setup,
    send: Send,
    status: u16,
    expect: Vec<Expect>,
}

fn row(case: &'static str, send: Vec<u8>, status: u16, expect: Vec<Expect>) -> Row {
    Row {
        case,
        hub: Hub::Main,
        setup: Setup::None,
        send: Send::Raw(send),
        status,
        expect,
    }
}

/// `error="invalid_token"` in the challenge; why stays in the log.
fn invalid_token() -> Expect {
    Expect::Header(
        "www-authenticate",
        "error=\"invalid_token\", error_description=\"the token is invalid\"",
    )
}

/// The answer is a stream of events.
fn event_stream() -> Expect {
    Expect::Header("content-type", "text/event-stream")
}

/// A challenge without an error code (no token at all).
fn challenge_only() -> Expect {
    Expect::Header(
        "www-authenticate",
        "Bearer realm=\"mercure\", resource_metadata=",
    )
}

fn insufficient_scope() -> Expect {
    Expect::Header("www-authenticate", "error=\"insufficient_scope\"")
}

/// The tokens the rows present to the main hub.
struct Tokens {
    v0_publish: String,
    v1_publish: String,
    v0_subscribe: String,
    v1_subscribe: String,
    /// 1.0, may publish `https://example.com/a` only.
    v1_publish_a: String,
    /// 1.0, may subscribe only.
    v1_subscribe_only: String,
    v0_expired: String,
    v1_expired: String,
    v1_no_iss: String,
    v1_untrusted_iss: String,
    v1_other_audience: String,
    /// `authorization_details` under `typ: JWT`.
    v1_plain_typ: String,
    /// Details typed `mercure` only.
    v1_short_type: String,
    /// Three subscribe details, each with its payload.
    v1_three_details: String,
    /// `exp` far in the future, in every spelling.
    exp_1e19: String,
    exp_2_63: String,
    exp_2_63_float: String,
    exp_u64_max: String,
    v0_exp_u64_max: String,
    /// Unsigned (`alg: none`), granting everything.
    alg_none: String,
    /// Not valid before 2096.
    not_yet_valid: String,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

impl Tokens {
    fn new(hub: &TestHub) -> Self {
        let sign = |version, claims: Value| {
            factory(version, &hub.url)
                .sign(&claims)
                .unwrap()
                .expose()
                .to_owned()
        };
        let all = Grants::subscribe_all().publish(["*"]);
        let v1 = |exp: Value| {
            sign(
                V1,
                json!({"iss": ISSUER, "aud": hub.url, "exp": exp,
                       "authorization_details": all.to_claim(V1)}),
            )
        };
        let detail = |topics: Value, payload: Value| {
            json!({"type": "https://mercure.rocks/authorization-detail",
                   "actions": ["subscribe"], "topics": topics, "payload": payload})
        };
        let expired = now() - 3600;
        Self {
            v0_publish: hub.token(V0, &Grants::publish_all()),
            v1_publish: hub.token(V1, &Grants::publish_all()),
            v0_subscribe: hub.token(V0, &Grants::subscribe_all()),
            v1_subscribe: hub.token(V1, &Grants::subscribe_all()),
            v1_publish_a: hub.token(V1, &Grants::new().publish(["https://example.com/a"])),
            v1_subscribe_only: hub.token(V1, &Grants::subscribe_all()),
            v0_expired: sign(V0, json!({"exp": expired, "mercure": all.to_claim(V0)})),
            v1_expired: v1(json!(expired)),
            v1_no_iss: sign(
                V1,
                json!({"aud": hub.url, "exp": now() + 3600,
                       "authorization_details": all.to_claim(V1)}),
            ),
            v1_untrusted_iss: sign(
                V1,
                json!({"iss": "https://untrusted.example.net", "aud": hub.url,
                       "exp": now() + 3600, "authorization_details": all.to_claim(V1)}),
            ),
            v1_other_audience: sign(
                V1,
                json!({"iss": ISSUER, "aud": "https://other-hub.example.net/.well-known/mercure",
                       "exp": now() + 3600, "authorization_details": all.to_claim(V1)}),
            ),
            v1_plain_typ: sign(
                V0,
                json!({"iss": ISSUER, "aud": hub.url, "exp": now() + 3600,
                       "authorization_details": all.to_claim(V1)}),
            ),
            v1_short_type: sign(
                V1,
                json!({"iss": ISSUER, "aud": hub.url, "exp": now() + 3600,
                       "authorization_details": [{"type": "mercure",
                           "actions": ["publish", "subscribe"], "topics": [{"match": "*"}]}]}),
            ),
            v1_three_details: sign(
                V1,
                json!({"iss": ISSUER, "aud": hub.url, "exp": now() + 3600,
                "authorization_details": [
                    detail(json!([{"match": "https://example.com/first"}]), json!({"n": "first"})),
                    detail(json!([{"match": "https://example.com/:x", "match_type": "urlpattern"}]),
                           json!({"n": "pattern"})),
                    detail(json!([{"match": "*"}]), json!({"n": "default"})),
                ]}),
            ),
            exp_1e19: v1(json!(1e19)),
            exp_2_63: v1(json!(1_u64 << 63)),
            exp_2_63_float: v1(json!(2_f64.powi(63))),
            exp_u64_max: v1(json!(u64::MAX)),
            v0_exp_u64_max: sign(V0, json!({"exp": u64::MAX, "mercure": all.to_claim(V0)})),
            alg_none: {
                use base64::Engine as _;
                let encode = |value: Value| {
                    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string())
                };
                format!(
                    "{}.{}.",
                    encode(json!({"alg": "none", "typ": "JWT"})),
                    encode(json!({"mercure": all.to_claim(V0)}))
                )
            },
            not_yet_valid: sign(
                V0,
                json!({"nbf": 4_000_000_000_u64, "mercure": all.to_claim(V0)}),
            ),
        }
    }
}

/// Every row.
#[allow(clippy::too_many_lines)]
fn rows(t: &Tokens) -> Vec<Row> {
    let v1p = Some(t.v1_publish.as_str());
    let v0p = Some(t.v0_publish.as_str());
    let v1s = Some(t.v1_subscribe.as_str());
    let v0s = Some(t.v0_subscribe.as_str());
    let many_topics: String = (0..=100)
        .map(|i| format!("topic=https%3A%2F%2Fexample.com%2F{i}"))
        .collect::<Vec<_>>()
        .join("&");
    let many_selectors: String = (0..=256)
        .map(|i| format!("match=s{i}"))
        .collect::<Vec<_>>()
        .join("&");
    let many_patterns: String = (0..=32)
        .map(|i| format!("match_urlpattern=%2Fp{i}%2F%3Aid"))
        .collect::<Vec<_>>()
        .join("&");
    let mut long_head = b"GET /.well-known/mercure?match=t HTTP/1.1\r\nx-pad: ".to_vec();
    long_head.resize(MAX_HEAD + 10, b'a');
    vec![
        // ------------------------------------------------ tokens, publishing
        row(
            "publish: no token",
            post(b"topic=t", None),
            401,
            vec![challenge_only(), Expect::Body("a token is required")],
        ),
        row(
            "publish: token not a JWT",
            post(b"topic=t", Some("not-a-token")),
            401,
            vec![invalid_token(), Expect::Body("the token is invalid")],
        ),
        row(
            "publish: token signed with another key",
            post(b"topic=t", Some(&forged(&t.v1_publish))),
            401,
            vec![invalid_token()],
        ),
        row(
            "publish: unsigned token (alg none)",
            post(b"topic=t", Some(&t.alg_none)),
            401,
            vec![invalid_token()],
        ),
        row(
            "publish: token not valid yet (nbf)",
            post(b"topic=t", Some(&t.not_yet_valid)),
            401,
            vec![invalid_token()],
        ),
        row(
            "publish: expired 0.x token",
            post(b"topic=t", Some(&t.v0_expired)),
            401,
            vec![invalid_token()],
        ),
        row(
            "publish: expired 1.0 token",
            post(b"topic=t", Some(&t.v1_expired)),
            401,
            vec![invalid_token()],
        ),
        row(
            "publish: token without publish rights",
            post(b"topic=t", Some(&t.v1_subscribe_only)),
            403,
            vec![
                insufficient_scope(),
                Expect::Body("the token does not allow publishing"),
            ],
        ),
        row(
            "publish: topic outside the token's rights",
            post(b"topic=https%3A%2F%2Fexample.com%2Fb", Some(&t.v1_publish_a)),
            403,
            vec![
                insufficient_scope(),
                Expect::Body("does not allow publishing to every topic"),
            ],
        ),
        row(
            "publish: private, one alternate outside the rights",
            post(
                b"topic=https%3A%2F%2Fexample.com%2Fa&topic=https%3A%2F%2Fexample.com%2Fb&private=on",
                Some(&t.v1_publish_a),
            ),
            403,
            vec![insufficient_scope()],
        ),
        row(
            "publish: 1.0 token without iss",
            post(b"topic=t", Some(&t.v1_no_iss)),
            401,
            vec![invalid_token()],
        ),
        row(
            "publish: 1.0 token of an untrusted issuer",
            post(b"topic=t", Some(&t.v1_untrusted_iss)),
            401,
            vec![invalid_token()],
        ),
        row(
            "publish: 1.0 token for another audience",
            post(b"topic=t", Some(&t.v1_other_audience)),
            401,
            vec![invalid_token()],
        ),
        row(
            "publish: authorization_details under typ JWT",
            post(b"topic=t", Some(&t.v1_plain_typ)),
            401,
            vec![invalid_token()],
        ),
        row(
            "publish: short detail type `mercure` grants nothing",
            post(b"topic=t", Some(&t.v1_short_type)),
            403,
            vec![insufficient_scope()],
        ),
        row(
            "publish: 1.0 token in the authorization= query",
            request(
                "POST",
                &format!("/.well-known/mercure?authorization={}", t.v1_publish),
                &[form_type()],
                b"topic=t",
            ),
            401,
            vec![invalid_token()],
        ),
        row(
            "publish: 0.x token in the authorization= query",
            request(
                "POST",
                &format!("/.well-known/mercure?authorization={}", t.v0_publish),
                &[form_type()],
                b"topic=t",
            ),
            200,
            vec![Expect::Body("urn:uuid:")],
        ),
        row(
            "publish: cookie without an allowed Origin",
            request(
                "POST",
                "/.well-known/mercure",
                &[
                    form_type(),
                    ("cookie", format!("__Secure-mercure_access_token={}", t.v1_publish)),
                    ("origin", "https://evil.example.net".into()),
                ],
                b"topic=t",
            ),
            403,
            vec![Expect::Body("requires an allowed Origin")],
        ),
        row(
            "publish: exp = u64::MAX (0.x)",
            post(b"topic=t&data=far", Some(&t.v0_exp_u64_max)),
            200,
            vec![Expect::Body("urn:uuid:")],
        ),
        row(
            "publish: exp = u64::MAX (1.0)",
            post(b"topic=t&data=far", Some(&t.exp_u64_max)),
            200,
            vec![Expect::Body("urn:uuid:")],
        ),
        // ------------------------------------------------ the update
        row(
            "publish: topic missing",
            post(b"data=x", v1p),
            400,
            vec![Expect::Body("the topic field is required")],
        ),
        row("publish: empty topic", post(b"topic=", v1p), 400, vec![Expect::Body("invalid update: topic #0 is empty")]),
        row(
            "publish: topic `*` (1.0 rules)",
            post(b"topic=*", v0p),
            400,
            vec![Expect::Body("which protocol 1.0 reserves as the wildcard")],
        ),
        row(
            "publish: reserved namespace",
            post(b"topic=%2F.well-known%2Fmercure%2Fsubscriptions%2Fx", v1p),
            400,
            vec![Expect::Body("reserved namespace")],
        ),
        row(
            "publish: reserved namespace, /.well-known/%6Dercure",
            post(b"topic=%2F.well-known%2F%256Dercure%2Fsubscriptions%2Fx", v1p),
            400,
            vec![Expect::Body("reserved namespace")],
        ),
        row(
            "publish: reserved namespace, absolute, as an alternate",
            post(
                b"topic=https%3A%2F%2Fexample.com%2Fa&topic=https%3A%2F%2Fother.example.org%2F.well-known%2Fm%2565rcure%2Fx",
                v0p,
            ),
            400,
            vec![Expect::Body("reserved namespace")],
        ),
        row(
            "publish: /.well-known/%6Dercure/... raw in the target",
            request(
                "POST",
                "/.well-known/%6Dercure",
                &[form_type(), bearer(&t.v1_publish)],
                b"topic=t",
            ),
            404,
            vec![Expect::BodyIs("")],
        ),
        row(
            "publish: type=mercure",
            post(b"topic=t&type=mercure", v1p),
            400,
            vec![Expect::Body("the event type \"mercure\" is reserved by protocol 1.0")],
        ),
        row(
            "publish: 0.x token forging a 1.0 subscription event",
            post(
                b"topic=%2F.well-known%2Fmercure%2Fsubscriptions%2Fexact%2Fhttps%253A%252F%252Fexample.com%252Fa%2Fforged\
                  &type=mercure&private=on&data=%7B%22type%22%3A%22subscription%22%7D",
                v0p,
            ),
            400,
            vec![Expect::Body("the event type \"mercure\" is reserved by protocol 1.0")],
        ),
        row(
            "publish: 0.x token, type=mercure on an ordinary topic",
            post(b"topic=t&type=mercure&data=x", v0p),
            400,
            vec![Expect::Body("the event type \"mercure\" is reserved by protocol 1.0")],
        ),
        row(
            "publish: id= empty",
            post(b"topic=t&id=", v1p),
            400,
            vec![Expect::Body("the id is empty")],
        ),
        row(
            "publish: id=earliest",
            post(b"topic=t&id=earliest", v1p),
            400,
            vec![Expect::Body("the id \"earliest\" is reserved")],
        ),
        row(
            "publish: id starting with #",
            post(b"topic=t&id=%23x", v1p),
            400,
            vec![Expect::Body("the id \"#x\" is reserved")],
        ),
        row(
            "publish: invalid UTF-8 in the body",
            post(b"topic=t&data=\xff\xfe", v1p),
            400,
            vec![Expect::Body("not UTF-8")],
        ),
        row(
            "publish: %FF in a topic",
            post(b"topic=%FF", v1p),
            400,
            vec![Expect::Body("not UTF-8")],
        ),
        row(
            "publish: lone surrogate %ED%A0%80 in id",
            post(b"topic=t&id=%ED%A0%80", v1p),
            400,
            vec![Expect::Body("not UTF-8 once percent-decoded")],
        ),
        row(
            "publish: U+200B in a topic",
            post(b"topic=t%E2%80%8B", v1p),
            400,
            vec![Expect::Body("the topic field contains the forbidden character U+200B")],
        ),
        row(
            "publish: U+202E in a topic",
            post(b"topic=a%E2%80%AEb", v0p),
            400,
            vec![Expect::Body("the topic field contains the forbidden character U+202E")],
        ),
        row(
            "publish: line break in type",
            post(b"topic=t&type=a%0Adata%3A%20x", v1p),
            400,
            vec![Expect::Body("the type field contains the forbidden character U+000A")],
        ),
        row(
            "publish: retry not digits",
            post(b"topic=t&retry=10s", v1p),
            400,
            vec![Expect::Body("retry must be a number")],
        ),
        row(
            "publish: 101 topics",
            post(many_topics.as_bytes(), v1p),
            400,
            vec![Expect::Body("at most 100 topics")],
        ),
        row(
            "publish: content type not a form",
            request(
                "POST",
                "/.well-known/mercure",
                &[
                    ("content-type", "application/json".into()),
                    bearer(&t.v1_publish),
                ],
                b"{}",
            ),
            400,
            vec![Expect::Body("application/x-www-form-urlencoded")],
        ),
        row(
            "publish: body over 1 MiB, declared",
            request(
                "POST",
                "/.well-known/mercure",
                &[
                    form_type(),
                    bearer(&t.v1_publish),
                    ("content-length", "1048577".into()),
                ],
                b"",
            ),
            413,
            vec![Expect::Body("the request body is too large")],
        ),
        Row {
            case: "publish: body stalls (body timeout)",
            hub: Hub::Main,
            setup: Setup::None,
            send: Send::Stall(
                format!(
                    "POST /.well-known/mercure HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {}\r\n\
                     content-type: application/x-www-form-urlencoded\r\ncontent-length: 100\r\n\r\ntopic=t",
                    t.v1_publish
                )
                .into_bytes(),
            ),
            status: 408,
            expect: vec![Expect::Body("the request body was not received in time")],
        },
        // ------------------------------------------------ subscribing: tokens
        row(
            "subscribe: no token (anonymous off)",
            get("match=t", None),
            401,
            vec![challenge_only()],
        ),
        row(
            "subscribe: token not a JWT",
            get("match=t", Some("not-a-token")),
            401,
            vec![invalid_token()],
        ),
        row(
            "subscribe: unsigned token (alg none)",
            get("topic=t", Some(&t.alg_none)),
            401,
            vec![invalid_token()],
        ),
        row(
            "subscribe: expired 0.x token",
            get("topic=t", Some(&t.v0_expired)),
            401,
            vec![invalid_token()],
        ),
        row(
            "subscribe: expired 1.0 token",
            get("match=t", Some(&t.v1_expired)),
            401,
            vec![invalid_token()],
        ),
        row(
            "subscribe: 0.x token on a 1.0 request",
            get("match=t", v0s),
            401,
            vec![invalid_token()],
        ),
        row(
            "subscribe: 0.x token on a 0.x request",
            get("topic=t", v0s),
            200,
            vec![event_stream()],
        ),
        row(
            "subscribe: 1.0 token without iss",
            get("match=t", Some(&t.v1_no_iss)),
            401,
            vec![invalid_token()],
        ),
        row(
            "subscribe: 1.0 token of an untrusted issuer",
            get("match=t", Some(&t.v1_untrusted_iss)),
            401,
            vec![invalid_token()],
        ),
        row(
            "subscribe: 1.0 token for another audience",
            get("match=t", Some(&t.v1_other_audience)),
            401,
            vec![invalid_token()],
        ),
        row(
            "subscribe: 1.0 token in the authorization= query",
            get(&format!("topic=t&authorization={}", t.v1_subscribe), None),
            401,
            vec![invalid_token()],
        ),
        row(
            "subscribe: authorization= query ignored by a 1.0 request",
            get(&format!("match=t&authorization={}", t.v0_subscribe), None),
            401,
            vec![challenge_only()],
        ),
        row(
            "subscribe: short detail type grants no private update",
            get(
                "match=https%3A%2F%2Fexample.com%2Fshort",
                Some(&t.v1_short_type),
            ),
            200,
            vec![Expect::Delivers(vec![
                ("https://example.com/short", "short-private", true, false),
                ("https://example.com/short", "short-public", false, true),
            ])],
        ),
        row(
            "subscribe: anonymous-like token gets no private update",
            get("match=https%3A%2F%2Fexample.com%2Fpriv", Some(&t.v1_publish_a)),
            200,
            vec![Expect::Delivers(vec![
                ("https://example.com/priv", "priv-private", true, false),
                ("https://example.com/priv", "priv-public", false, true),
            ])],
        ),
        row(
            "subscribe: exp = 1e19",
            get("match=t", Some(&t.exp_1e19)),
            200,
            vec![event_stream()],
        ),
        row(
            "subscribe: exp = 2^63",
            get("match=t", Some(&t.exp_2_63)),
            200,
            vec![event_stream()],
        ),
        row(
            "subscribe: exp = 2^63 as a float",
            get("match=t", Some(&t.exp_2_63_float)),
            200,
            vec![event_stream()],
        ),
        row(
            "subscribe: exp = u64::MAX",
            get("match=t", Some(&t.exp_u64_max)),
            200,
            vec![event_stream()],
        ),
        row(
            "subscribe: exp = u64::MAX (0.x)",
            get("topic=t", Some(&t.v0_exp_u64_max)),
            200,
            vec![event_stream()],
        ),
        // ------------------------------------------------ subscribing: selectors
        row(
            "subscribe: no selector",
            get("", v1s),
            400,
            vec![Expect::Body("at least one match parameter is required")],
        ),
        row(
            "subscribe: topic= and match= mixed",
            get("topic=a&match=b", v1s),
            400,
            vec![Expect::Body("cannot be mixed")],
        ),
        row(
            "subscribe: matchExact= (unknown match* in 1.0)",
            get("matchExact=t", v1s),
            400,
            vec![Expect::Body("unknown topic matcher parameter")],
        ),
        row(
            "subscribe: matchURLPattern=",
            get("matchURLPattern=t", v1s),
            400,
            vec![Expect::Body("unknown topic matcher parameter")],
        ),
        row(
            "subscribe: MATCH=",
            get("MATCH=t", v1s),
            400,
            vec![Expect::Body("unknown topic matcher parameter")],
        ),
        row(
            "subscribe: empty selector",
            get("topic=", v0s),
            400,
            vec![Expect::Body("a topic selector is empty")],
        ),
        row(
            "subscribe: %FF in a 1.0 selector",
            get("match=%FF", v1s),
            400,
            vec![Expect::Body("not UTF-8")],
        ),
        row(
            "subscribe: %FF in a 0.x selector",
            get("topic=%FF", v0s),
            400,
            vec![Expect::Body("not UTF-8")],
        ),
        row(
            "subscribe: %FF in lastEventID",
            get("match=t&last_event_id=%FF", v1s),
            400,
            vec![Expect::Body("not UTF-8")],
        ),
        row(
            "subscribe: U+200B in a selector",
            get("match=a%E2%80%8Bb", v1s),
            400,
            vec![Expect::Body("U+200B")],
        ),
        row(
            "subscribe: U+202E in a URL pattern",
            get("match_urlpattern=%2Fa%2F%E2%80%AE%3Aid", v1s),
            400,
            vec![Expect::Body("U+202E")],
        ),
        row(
            "subscribe: U+202E in a 0.x template",
            get("topic=https%3A%2F%2Fexample.com%2F%E2%80%AE%7Bid%7D", v0s),
            400,
            vec![Expect::Body("U+202E")],
        ),
        row(
            "subscribe: NUL in a selector",
            get("match=a%00b", v1s),
            400,
            vec![Expect::Body("U+0000")],
        ),
        row(
            "subscribe: 257 selectors",
            get(&many_selectors, v1s),
            400,
            vec![Expect::Body("at most 256 topic selectors")],
        ),
        row(
            "subscribe: selector of 4097 bytes",
            get(&format!("match={}", "x".repeat(4097)), v1s),
            400,
            vec![Expect::Body("limited to 4096 bytes")],
        ),
        row(
            "subscribe: 33 pattern selectors",
            get(&many_patterns, v1s),
            400,
            vec![Expect::Body("at most 32 pattern selectors")],
        ),
        row(
            "subscribe: unterminated URI template",
            get("topic=https%3A%2F%2Fexample.com%2F%7Bunterminated", v0s),
            400,
            vec![Expect::Body("invalid topic selector")],
        ),
        row(
            "subscribe: bad URL pattern",
            get("match_urlpattern=https%3A%2F%2Fexample.com%2F((", v1s),
            400,
            vec![Expect::Body("invalid topic selector")],
        ),
        // ------------------------------------------------ Last-Event-ID
        row(
            "subscribe: Last-Event-ID empty",
            request(
                "GET",
                "/.well-known/mercure?match=t",
                &[bearer(&t.v1_subscribe), ("last-event-id", String::new())],
                b"",
            ),
            200,
            vec![Expect::Header("mercure-last-event-id", "earliest")],
        ),
        row(
            "subscribe: Last-Event-ID unknown",
            request(
                "GET",
                "/.well-known/mercure?match=t",
                &[bearer(&t.v1_subscribe), ("last-event-id", "no-such-id".into())],
                b"",
            ),
            200,
            vec![Expect::Header("mercure-last-event-id", "earliest")],
        ),
        row(
            "subscribe: Last-Event-ID of 8 KiB",
            request(
                "GET",
                "/.well-known/mercure?topic=t",
                &[bearer(&t.v0_subscribe), ("last-event-id", "i".repeat(8192))],
                b"",
            ),
            200,
            vec![Expect::Header("last-event-id", "earliest")],
        ),
        row(
            "subscribe: Last-Event-ID with bytes past ASCII",
            [
                &b"GET /.well-known/mercure?match=t HTTP/1.1\r\nhost: x\r\nlast-event-id: \xff\xfe\r\n"[..],
                format!("authorization: Bearer {}\r\n\r\n", t.v1_subscribe).as_bytes(),
            ]
            .concat(),
            200,
            vec![Expect::HasHeader("mercure-last-event-id")],
        ),
        row(
            "subscribe: Last-Event-ID header wins over the query",
            request(
                "GET",
                "/.well-known/mercure?match=t&last_event_id=earliest",
                &[bearer(&t.v1_subscribe), ("last-event-id", "no-such-id".into())],
                b"",
            ),
            200,
            vec![Expect::Header("mercure-last-event-id", "earliest")],
        ),
        // ------------------------------------------------ QUERY
        row(
            "QUERY: no token",
            query("", b"match=t", None),
            401,
            vec![challenge_only()],
        ),
        row(
            "QUERY: 0.x token",
            query("", b"match=t", v0s),
            401,
            vec![invalid_token()],
        ),
        row(
            "QUERY: 0.x selectors",
            query("", b"topic=t", v1s),
            400,
            vec![Expect::Body("QUERY method is a Mercure 1.0 feature")],
        ),
        row(
            "QUERY: unknown match* in the body",
            query("match=t", b"matchFoo=x", v1s),
            400,
            vec![Expect::Body("unknown topic matcher parameter")],
        ),
        row(
            "QUERY: body over 64 KiB, declared",
            format!(
                "QUERY /.well-known/mercure HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {}\r\n\
                 content-type: application/x-www-form-urlencoded\r\ncontent-length: {}\r\n\r\n",
                t.v1_subscribe,
                MAX_QUERY_BODY + 1
            )
            .into_bytes(),
            413,
            vec![Expect::Body("the request body is too large")],
        ),
        row(
            "QUERY: the union of query string and body",
            query(
                "match=https%3A%2F%2Fexample.com%2Fq1",
                b"match=https%3A%2F%2Fexample.com%2Fq2",
                v1s,
            ),
            200,
            vec![Expect::Delivers(vec![
                ("https://example.com/q1", "from-query", false, true),
                ("https://example.com/q2", "from-body", false, true),
            ])],
        ),
        row(
            "QUERY: on a path that is not the hub",
            request("QUERY", "/elsewhere", &[form_type()], b"match=t"),
            404,
            vec![Expect::BodyIs("")],
        ),
        row(
            "PUT: not a method of the hub",
            request("PUT", "/.well-known/mercure", &[form_type()], b"topic=t"),
            405,
            vec![
                Expect::Header("allow", "GET, POST"),
                Expect::Body("method not allowed"),
            ],
        ),
        // ------------------------------------------------ subscriptions API
        row(
            "subscriptions API: no token",
            request("GET", "/.well-known/mercure/subscriptions", &[], b""),
            401,
            vec![challenge_only(), Expect::Body("a token is required")],
        ),
        row(
            "subscriptions API (1.0): 0.x token",
            request(
                "GET",
                "/.well-known/mercure/subscriptions/exact/t",
                &[bearer(&t.v0_subscribe)],
                b"",
            ),
            401,
            vec![invalid_token()],
        ),
        row(
            "subscriptions API: no grant for it",
            request(
                "GET",
                "/.well-known/mercure/subscriptions",
                &[bearer(&t.v1_publish_a)],
                b"",
            ),
            403,
            vec![insufficient_scope()],
        ),
        Row {
            case: "subscriptions API: the first matching detail gives the payload",
            hub: Hub::Main,
            setup: Setup::Subscribed(get(
                "match=https%3A%2F%2Fexample.com%2Ffirst&match=https%3A%2F%2Fexample.com%2Fsecond&match=urn%3Athird",
                Some(&t.v1_three_details),
            )),
            send: Send::Raw(request(
                "GET",
                "/.well-known/mercure/subscriptions",
                &[bearer(&t.v1_subscribe)],
                b"",
            )),
            status: 200,
            expect: vec![Expect::Json(
                "first -> first, second -> pattern, urn:third -> default",
                |body| {
                    let payload = |selector: &str| {
                        body["subscriptions"]
                            .as_array()
                            .and_then(|all| all.iter().find(|s| s["match"] == selector))
                            .map(|s| s["payload"]["n"].clone())
                    };
                    payload("https://example.com/first") == Some(json!("first"))
                        && payload("https://example.com/second") == Some(json!("pattern"))
                        && payload("urn:third") == Some(json!("default"))
                },
            )],
        },
        // ------------------------------------------------ CORS
        row(
            "CORS preflight from an origin not allowed",
            request(
                "OPTIONS",
                "/.well-known/mercure",
                &[
                    ("origin", "https://evil.example.net".into()),
                    ("access-control-request-method", "POST".into()),
                ],
                b"",
            ),
            204,
            vec![
                Expect::NoHeader("access-control-allow-origin"),
                Expect::NoHeader("access-control-allow-credentials"),
                Expect::Header("vary", "origin"),
            ],
        ),
        row(
            "CORS preflight from an allowed origin's look-alike",
            request(
                "OPTIONS",
                "/.well-known/mercure",
                &[
                    ("origin", format!("{APP_ORIGIN}.evil.net")),
                    ("access-control-request-method", "GET".into()),
                ],
                b"",
            ),
            204,
            vec![Expect::NoHeader("access-control-allow-origin")],
        ),
        row(
            "CORS preflight from the null origin",
            request(
                "OPTIONS",
                "/.well-known/mercure",
                &[
                    ("origin", "null".into()),
                    ("access-control-request-method", "QUERY".into()),
                ],
                b"",
            ),
            204,
            vec![Expect::NoHeader("access-control-allow-origin")],
        ),
        row(
            "CORS preflight from the allowed origin (control)",
            request(
                "OPTIONS",
                "/.well-known/mercure",
                &[
                    ("origin", APP_ORIGIN.into()),
                    ("access-control-request-method", "QUERY".into()),
                ],
                b"",
            ),
            204,
            vec![
                Expect::Header("access-control-allow-origin", APP_ORIGIN),
                Expect::Header("access-control-allow-methods", "QUERY"),
            ],
        ),
        // ------------------------------------------------ heads and connections
        row(
            "request head over 64 KiB",
            long_head,
            431,
            vec![Expect::Body("the request head is too long")],
        ),
        Row {
            case: "request head that never ends (head timeout)",
            hub: Hub::Main,
            setup: Setup::None,
            send: Send::Stall(b"GET /.well-known/mercure?match=t HTTP/1.1\r\nhost: x\r\n".to_vec()),
            status: 408,
            expect: vec![Expect::Body("not received in time")],
        },
        Row {
            case: "connections from one address past its cap",
            hub: Hub::Caps,
            setup: Setup::Idle(vec![(2, 2)]),
            send: Send::Silent(2),
            status: 429,
            expect: vec![Expect::HasHeader("retry-after")],
        },
        Row {
            case: "connections past the hub's cap",
            hub: Hub::Caps,
            setup: Setup::Idle(vec![(3, 2), (4, 2)]),
            send: Send::Silent(5),
            status: 503,
            expect: vec![Expect::HasHeader("retry-after")],
        },
        Row {
            case: "a request from an address past its cap",
            hub: Hub::Caps,
            setup: Setup::Idle(vec![(6, 2)]),
            send: Send::From(6, get("match=t", None)),
            status: 429,
            expect: vec![Expect::HasHeader("retry-after")],
        },
    ]
}

/// A copy of `token` whose signature is another key's.
fn forged(token: &str) -> String {
    let (unsigned, _) = token.rsplit_once('.').unwrap();
    let other = factory(V1, "x");
    let signature = other
        .sign(&json!({"x": 1}))
        .unwrap()
        .expose()
        .rsplit_once('.')
        .unwrap()
        .1
        .to_owned();
    format!("{unsigned}.{signature}")
}

// ---------------------------------------------------------------- checks

/// Runs the row's setup; what it returns is kept open for the row.
async fn setup(row: &Row, addr: SocketAddr) -> Result<Vec<TcpStream>, String> {
    match &row.setup {
        Setup::None => Ok(Vec::new()),
        Setup::Idle(connections) => {
            // Connections of the previous checks are released in the
            // background: until then, one of these may be refused (answered
            // or closed at once): start over.
            let deadline = Instant::now() + BOUND;
            loop {
                let mut held = Vec::new();
                for (from, count) in connections {
                    for _ in 0..*count {
                        held.push(connect(addr, *from).await);
                    }
                }
                // Accepted and counted before the row's own connection.
                tokio::time::sleep(Duration::from_millis(50)).await;
                let refused = held.iter().any(|stream| {
                    let mut probe = [0u8; 1];
                    !matches!(
                        stream.try_read(&mut probe),
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock
                    )
                });
                if !refused {
                    return Ok(held);
                }
                if Instant::now() > deadline {
                    return Err("held connections kept being refused".into());
                }
                drop(held);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        Setup::Subscribed(bytes) => {
            let (answer, connection) = exchange(addr, 1, bytes).await?;
            if answer.status != 200 {
                return Err(format!("the setup subscription got {}", answer.status));
            }
            Ok(vec![connection.stream])
        }
    }
}

/// Sends the row's request; its answer and the connection.
async fn send(row: &Row, addr: SocketAddr) -> Result<(Answer, Connection), String> {
    match &row.send {
        Send::Raw(bytes) => exchange(addr, 1, bytes).await,
        Send::From(from, bytes) => exchange(addr, *from, bytes).await,
        Send::Silent(from) => read_answer(connect(addr, *from).await).await,
        Send::Stall(bytes) => {
            let mut stream = connect(addr, 1).await;
            stream.write_all(bytes).await.map_err(|e| e.to_string())?;
            let started = Instant::now();
            let answer = read_answer(stream).await?;
            let waited = started.elapsed();
            if waited + Duration::from_millis(100) < TIMEOUT {
                return Err(format!("answered after {waited:?}, before the timeout"));
            }
            Ok(answer)
        }
    }
}

/// Checks the answer against the row; the failures, described.
async fn check(
    row: &Row,
    hub: &TestHub,
    answer: &Answer,
    connection: &mut Connection,
) -> Vec<String> {
    let mut failures = Vec::new();
    if answer.status != row.status {
        failures.push(format!(
            "status {} (expected {}): {:?} {:?}",
            answer.status, row.status, answer.headers, answer.body
        ));
        return failures;
    }
    for expect in &row.expect {
        match expect {
            Expect::Body(text) => {
                if !answer.body.contains(text) {
                    failures.push(format!("body {:?} lacks {text:?}", answer.body));
                }
            }
            Expect::BodyIs(text) => {
                if answer.body != *text {
                    failures.push(format!("body {:?}, expected {text:?}", answer.body));
                }
            }
            Expect::Header(name, text) => match answer.header(name) {
                Some(value) if value.contains(text) => {}
                other => failures.push(format!("header {name}: {other:?}, expected {text:?}")),
            },
            Expect::NoHeader(name) => {
                if let Some(value) = answer.header(name) {
                    failures.push(format!("header {name}: {value:?}, expected none"));
                }
            }
            Expect::HasHeader(name) => {
                if answer.header(name).is_none() {
                    failures.push(format!("no header {name}"));
                }
            }
            Expect::Json(what, check) => {
                let body: Value = serde_json::from_str(&answer.body).unwrap_or(Value::Null);
                if !check(&body) {
                    failures.push(format!("{what}: {body}"));
                }
            }
            Expect::Delivers(updates) => {
                let token = hub.token(V1, &Grants::publish_all());
                for (topic, data, private, _) in updates {
                    let mut form = vec![("topic", *topic), ("data", *data)];
                    if *private {
                        form.push(("private", "on"));
                    }
                    let (status, body) = hub.publish(&token, &form).await;
                    if status != 200 {
                        failures.push(format!("publishing {topic}: {status} {body}"));
                    }
                }
                let last = updates.last().expect("an update to wait for").1;
                match connection.read_until(&format!("data: {last}\n")).await {
                    Ok(seen) => {
                        for (_, data, _, arrives) in updates {
                            if seen.contains(&format!("data: {data}\n")) != *arrives {
                                failures.push(format!(
                                    "{data} {} arrive: {seen:?}",
                                    if *arrives { "did not" } else { "did" }
                                ));
                            }
                        }
                    }
                    Err(error) => failures.push(error),
                }
            }
        }
    }
    failures
}

/// The hub serves a new subscription and a publish to it, promptly
/// (connections of a row past a cap are released in the background: a
/// refusal for a cap is retried within the bound, and so is a connection
/// closed under the request when `retry_refusals`).
async fn still_serves(
    hub: &TestHub,
    token: Option<&str>,
    n: usize,
    retry_refusals: bool,
) -> Result<(), String> {
    let deadline = Instant::now() + BOUND;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let topic = format!("urn:example:alive-{n}");
    let subscription = loop {
        let mut request = client.get(format!("{}?match={}", hub.url, enc(&topic)));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = tokio::time::timeout(BOUND, request.send())
            .await
            .map_err(|_| "the subscription was not answered in time".to_owned())?;
        match response.as_ref().map(reqwest::Response::status) {
            Ok(status) if status == 200 => break response.unwrap(),
            // Refused for a cap (answered, or closed under the request).
            Ok(status) if (status == 429 || status == 503) && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(_) if retry_refusals && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Ok(status) => return Err(format!("the subscription got {status}")),
            Err(e) => return Err(format!("the subscription failed: {e}")),
        }
    };
    let mut reader = support::SseReader::new(subscription).await;
    let publisher = hub.token(V1, &Grants::publish_all());
    loop {
        let response = tokio::time::timeout(
            BOUND,
            client
                .post(&hub.url)
                .bearer_auth(&publisher)
                .form(&[("topic", topic.as_str()), ("data", "alive")])
                .send(),
        )
        .await
        .map_err(|_| "the publish was not answered in time".to_owned())?;
        match response.as_ref().map(reqwest::Response::status) {
            Ok(status) if status == 200 => break,
            Ok(status) if (status == 429 || status == 503) && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(_) if retry_refusals && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Ok(status) => return Err(format!("the publish got {status}")),
            Err(e) => return Err(format!("the publish failed: {e}")),
        }
    }
    match tokio::time::timeout(BOUND, reader.next_event()).await {
        Ok(Some(event)) if event.data() == "alive" => Ok(()),
        Ok(other) => Err(format!("the subscription received {other:?}")),
        Err(_) => Err("the update did not arrive in time".into()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_input_gets_its_exact_answer_and_the_hub_keeps_serving() {
    let main = start(
        config()
            .issuer(ISSUER)
            .subscriptions(true)
            .cors_origin(APP_ORIGIN)
            .head_timeout(TIMEOUT)
            .body_timeout(TIMEOUT),
    )
    .await;
    let caps = start(
        config()
            .anonymous(true)
            .max_connections_per_address(2)
            .max_connections(4),
    )
    .await;
    let tokens = Tokens::new(&main);
    let main_subscriber = main.token(V1, &Grants::subscribe_all());
    let rows = rows(&tokens);
    // `BAD_INPUT_ROWS=text` runs the rows whose case contains it.
    let only = std::env::var("BAD_INPUT_ROWS").unwrap_or_default();
    let mut failures = Vec::new();
    println!("{:<3} {:<64} {:>6}  result", "#", "case", "status");
    for (n, row) in rows.iter().enumerate() {
        if !row.case.contains(only.as_str()) {
            continue;
        }
        let (hub, subscriber) = match row.hub {
            Hub::Main => (&main, Some(main_subscriber.as_str())),
            Hub::Caps => (&caps, None),
        };
        let addr: SocketAddr = hub.origin.trim_start_matches("http://").parse().unwrap();
        let mut problems = Vec::new();
        let mut status = String::from("-");
        match setup(row, addr).await {
            Err(error) => problems.push(format!("setup: {error}")),
            Ok(held) => {
                match send(row, addr).await {
                    Err(error) => problems.push(error),
                    Ok((answer, mut connection)) => {
                        status = answer.status.to_string();
                        problems.extend(check(row, hub, &answer, &mut connection).await);
                    }
                }
                drop(held);
            }
        }
        if let Err(error) = still_serves(hub, subscriber, n, row.hub == Hub::Caps).await {
            problems.push(format!("afterwards: {error}"));
        }
        // The next row starts from a hub without the check's subscription.
        hub.wait_subscribers(0).await;
        println!(
            "{n:<3} {:<64} {status:>6}  {}",
            row.case,
            if problems.is_empty() { "ok" } else { "FAILED" }
        );
        for problem in &problems {
            failures.push(format!("{n} {}: {problem}", row.case));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
