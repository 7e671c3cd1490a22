//! The standalone binary, configured through `MERCURE_*` variables and flags.

mod support;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use mercure_core::ProtocolVersion;
use mercure_core::token::Grants;

struct Hub {
    child: Child,
    url: String,
    /// Its working directory, where its history file is.
    dir: Option<WorkDir>,
}

impl Drop for Hub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fresh working directory for one hub (its default history file is
/// created there), removed when dropped.
struct WorkDir(PathBuf);

impl WorkDir {
    fn new() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "mercure-hub-binary-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The binary, to run in `dir`.
fn hub_command(dir: &WorkDir) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mercure-hub"));
    command.current_dir(&dir.0);
    command
}

/// How long the binary has to print a line we wait for.
const STARTUP: Duration = Duration::from_secs(30);

/// The lines of `stdout`, read by a thread of their own so that waiting for
/// one is bounded ([`next_line`]).
fn lines_of(stdout: ChildStdout) -> Receiver<String> {
    let (sender, receiver) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if sender.send(line).is_err() {
                return;
            }
        }
    });
    receiver
}

/// The next line of the binary's output, waiting at most until `deadline`.
fn next_line(lines: &Receiver<String>, deadline: Instant) -> String {
    let left = deadline.saturating_duration_since(Instant::now());
    match lines.recv_timeout(left) {
        Ok(line) => line,
        Err(RecvTimeoutError::Timeout) => panic!("the hub printed nothing in time"),
        Err(RecvTimeoutError::Disconnected) => panic!("the hub exited"),
    }
}

/// Starts the binary on a free port and waits for its "listening" log line.
fn spawn(args: &[&str], env: &[(&str, &str)]) -> Hub {
    spawn_reading(args, env, 0).0
}

/// As [`spawn`], also collecting the first `curl` lines it prints.
fn spawn_reading(args: &[&str], env: &[(&str, &str)], curl_lines: usize) -> (Hub, Vec<String>) {
    spawn_in(WorkDir::new(), args, env, curl_lines)
}

/// As [`spawn_reading`], in `dir`.
fn spawn_in(
    dir: WorkDir,
    args: &[&str],
    env: &[(&str, &str)],
    curl_lines: usize,
) -> (Hub, Vec<String>) {
    let mut command = hub_command(&dir);
    command
        .args([
            "--addr",
            "127.0.0.1:0",
            "--url",
            "http://127.0.0.1/.well-known/mercure",
        ])
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("MERCURE_JWT_KEY")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command.spawn().unwrap();
    let lines = lines_of(child.stdout.take().unwrap());
    // Owned before waiting, so that a hub that never gets ready is killed.
    let mut hub = Hub {
        child,
        url: String::new(),
        dir: Some(dir),
    };
    let deadline = Instant::now() + STARTUP;
    let addr = loop {
        let line = next_line(&lines, deadline);
        if line.contains("Mercure hub listening") {
            let start = line.find("addr=").unwrap() + 5;
            break line[start..].split_whitespace().next().unwrap().to_owned();
        }
    };
    let mut curls = Vec::new();
    while curls.len() < curl_lines {
        let line = next_line(&lines, deadline);
        if line.starts_with("curl ") {
            curls.push(line);
        }
    }
    // The reading thread drains the rest into the channel until the hub
    // exits (the receiver is dropped: it stops at the next line).
    drop(lines);
    hub.url = format!("http://{addr}/.well-known/mercure");
    (hub, curls)
}

/// The token of a `-H 'Authorization: Bearer ...'` curl line.
fn bearer(line: &str) -> &str {
    let start = line.find("Bearer ").unwrap() + 7;
    line[start..].split('\'').next().unwrap()
}

#[tokio::test]
async fn the_demo_prints_working_curl_lines_for_both_dialects() {
    let (hub, curls) = spawn_reading(&["--demo"], &[("MERCURE_JWT_KEY", "demo-secret")], 4);
    assert!(
        curls[0].contains("?topic=") && curls[2].contains("?match="),
        "{curls:?}"
    );
    let client = reqwest::Client::new();
    for pair in curls.chunks(2) {
        let query = pair[0]
            .split('?')
            .nth(1)
            .unwrap()
            .split('\'')
            .next()
            .unwrap();
        let response = client
            .get(format!("{}?{query}", hub.url))
            .bearer_auth(bearer(&pair[0]))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{}", pair[0]);
        let mut reader = support::SseReader::new(response).await;
        let status = client
            .post(&hub.url)
            .bearer_auth(bearer(&pair[1]))
            .form(&[("topic", "https://example.com/books/1"), ("data", "demo")])
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 200, "{}", pair[1]);
        assert_eq!(reader.next_event().await.unwrap().data(), "demo");
    }
}

#[tokio::test]
async fn serves_publish_and_subscribe_configured_from_the_environment() {
    let hub = spawn(
        &["--metrics"],
        &[
            (
                "MERCURE_JWT_KEY",
                std::str::from_utf8(support::SECRET).unwrap(),
            ),
            ("MERCURE_PROTOCOL", "0.x"),
            ("MERCURE_WORKERS", "1"),
            ("MERCURE_ANONYMOUS", "true"),
        ],
    );
    let client = reqwest::Client::new();
    let response = client
        .get(format!("{}?topic=t", hub.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut reader = support::SseReader::new(response).await;
    // 0.x only: match= is refused.
    let refused = client
        .get(format!("{}?match=t", hub.url))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    let token = support::factory(ProtocolVersion::V0, &hub.url)
        .mint(&Grants::publish_all())
        .unwrap();
    let id = client
        .post(&hub.url)
        .bearer_auth(token.expose())
        .form(&[("topic", "t"), ("data", "from the binary")])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let event = reader.next_event().await.unwrap();
    assert_eq!(event.id.as_deref(), Some(id.as_str()));
    assert_eq!(event.data(), "from the binary");
    let origin = hub.url.trim_end_matches("/.well-known/mercure");
    let metrics = client
        .get(format!("{origin}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("mercure_updates_total 1"), "{metrics}");
    let health = client
        .get(format!("{origin}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
}

#[test]
fn refuses_a_bad_configuration_with_a_message() {
    let dir = WorkDir::new();
    let output = hub_command(&dir)
        .args(["--addr", "127.0.0.1:0", "--protocol", "2.0"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("unknown Mercure protocol version"),
        "{stderr}"
    );
    let output = hub_command(&dir)
        .args(["--addr", "127.0.0.1:0", "--jwt-algorithm", "RS256"])
        .env("MERCURE_JWT_KEY", "not a pem")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("invalid verification key"), "{stderr}");
    assert!(
        !stderr.contains("not a pem"),
        "key material must not be echoed: {stderr}"
    );
}

#[test]
fn logs_as_json_lines_on_request() {
    let dir = WorkDir::new();
    let mut child = hub_command(&dir)
        .args(["--addr", "127.0.0.1:0", "--log-format", "json"])
        .env("MERCURE_JWT_KEY", "k")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = lines_of(child.stdout.take().unwrap());
    let hub = Hub {
        child,
        url: String::new(),
        dir: Some(dir),
    };
    let deadline = Instant::now() + STARTUP;
    let line = loop {
        let line = next_line(&lines, deadline);
        if line.contains("listening") {
            break line;
        }
    };
    drop(hub);
    let record: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(record["level"], "INFO");
    assert_eq!(record["fields"]["message"], "Mercure hub listening");
    let addr = record["fields"]["addr"].as_str().unwrap();
    assert!(addr.starts_with("127.0.0.1:"), "{addr}");
    assert!(!line.contains("\"k\""), "no key material in logs: {line}");
}

#[tokio::test]
async fn limits_and_token_rules_come_from_flags_and_the_environment() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let hub = spawn(
        &[
            "--max-topics",
            "2",
            "--max-connections-per-address",
            "3",
            "--accept-short-detail-type",
        ],
        &[
            (
                "MERCURE_JWT_KEY",
                std::str::from_utf8(support::SECRET).unwrap(),
            ),
            ("MERCURE_HEAD_TIMEOUT", "1"),
            ("MERCURE_BODY_TIMEOUT", "1"),
            ("MERCURE_ALLOW_MISSING_ISSUER", "true"),
            ("MERCURE_ACCEPT_V0_TOKENS_FOR_V1", "true"),
        ],
    );
    let client = reqwest::Client::new();
    let token = support::factory(ProtocolVersion::V0, &hub.url)
        .mint(&Grants::publish_all())
        .unwrap();
    let publish = |topics: &'static [(&'static str, &'static str)]| {
        client
            .post(&hub.url)
            .bearer_auth(token.expose())
            .form(topics)
            .send()
    };
    assert_eq!(
        publish(&[("topic", "a"), ("topic", "b")])
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        publish(&[("topic", "a"), ("topic", "b"), ("topic", "c")])
            .await
            .unwrap()
            .status(),
        400
    );
    // MERCURE_ACCEPT_V0_TOKENS_FOR_V1: a 0.x token opens a match= stream.
    let v0 = support::factory(ProtocolVersion::V0, &hub.url)
        .mint(&Grants::subscribe_all())
        .unwrap();
    let response = client
        .get(format!("{}?match=t", hub.url))
        .bearer_auth(v0.expose())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    drop(response);
    // MERCURE_HEAD_TIMEOUT: a silent connection is answered 408 and closed.
    let addr = hub
        .url
        .trim_start_matches("http://")
        .trim_end_matches("/.well-known/mercure")
        .to_owned();
    let started = Instant::now();
    let mut silent = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), silent.read_to_end(&mut answer))
        .await
        .expect("the silent connection was never closed")
        .unwrap();
    assert!(
        answer.starts_with(b"HTTP/1.1 408"),
        "{:?}",
        String::from_utf8_lossy(&answer)
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    // --max-connections-per-address: the fourth connection at once gets 429.
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(tokio::net::TcpStream::connect(&addr).await.unwrap());
    }
    let mut fourth = tokio::net::TcpStream::connect(&addr).await.unwrap();
    fourth
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), fourth.read_to_end(&mut answer))
        .await
        .expect("no answer")
        .unwrap();
    assert!(
        answer.starts_with(b"HTTP/1.1 429"),
        "{:?}",
        String::from_utf8_lossy(&answer)
    );
}

#[tokio::test]
async fn rate_limits_come_from_flags_and_the_environment() {
    let hub = spawn(
        &[
            "--publish-rate",
            "0.01",
            "--publish-burst",
            "2",
            "--anonymous",
        ],
        &[
            (
                "MERCURE_JWT_KEY",
                std::str::from_utf8(support::SECRET).unwrap(),
            ),
            ("MERCURE_SUBSCRIBE_RATE", "0.01"),
            ("MERCURE_SUBSCRIBE_BURST", "1"),
        ],
    );
    let client = reqwest::Client::new();
    let token = support::factory(ProtocolVersion::V0, &hub.url)
        .mint(&Grants::publish_all())
        .unwrap();
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let response = client
            .post(&hub.url)
            .bearer_auth(token.expose())
            .form(&[("topic", "https://example.com/t")])
            .send()
            .await
            .unwrap();
        statuses.push(response.status().as_u16());
        if response.status() == 429 {
            assert_eq!(response.headers()["retry-after"], "100");
        }
    }
    assert_eq!(statuses, [200, 200, 429]);
    let subscribe = || client.get(format!("{}?topic=t", hub.url)).send();
    let open = subscribe().await.unwrap();
    assert_eq!(open.status(), 200);
    assert_eq!(subscribe().await.unwrap().status(), 429);
}

/// Stops `hub` (SIGKILL: nothing is flushed on the way out) and returns its
/// working directory.
fn kill(mut hub: Hub) -> WorkDir {
    let _ = hub.child.kill();
    let _ = hub.child.wait();
    hub.dir.take().unwrap()
}

const HISTORY_ENV: [(&str, &str); 1] = [("MERCURE_JWT_KEY", "history-secret")];

fn history_factory() -> mercure_core::token::TokenFactory {
    mercure_core::token::TokenFactory::builder(
        mercure_core::token::SigningKey::hmac(
            mercure_core::token::Algorithm::HS256,
            b"history-secret",
        )
        .unwrap(),
    )
    .build()
    .unwrap()
}

#[tokio::test]
async fn history_is_kept_in_a_file_by_default_and_survives_a_crash() {
    let factory = history_factory();
    let publisher = factory.mint(&Grants::publish_all()).unwrap();
    let client = reqwest::Client::new();
    let hub = spawn_in(WorkDir::new(), &["--anonymous"], &HISTORY_ENV, 0).0;
    let mut ids = Vec::new();
    for i in 0..3 {
        let response = client
            .post(&hub.url)
            .bearer_auth(publisher.expose())
            .form(&[
                ("topic", "https://example.com/t"),
                ("data", &format!("u{i}")),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        ids.push(response.text().await.unwrap());
    }
    let dir = kill(hub);
    assert!(
        dir.0.join("mercure-history.redb").is_file(),
        "the default history file is in the working directory"
    );
    let hub = spawn_in(dir, &["--anonymous"], &HISTORY_ENV, 0).0;
    // A subscriber that saw the first update gets the two after it.
    let response = client
        .get(format!("{}?topic=https://example.com/t", hub.url))
        .header("Last-Event-ID", &ids[0])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["last-event-id"], ids[0].as_str());
    let mut reader = support::SseReader::new(response).await;
    for (i, id) in ids.iter().enumerate().skip(1) {
        let event = reader.next_event().await.unwrap();
        assert_eq!(event.id.as_deref(), Some(id.as_str()));
        assert_eq!(event.data(), format!("u{i}"));
    }
}

#[test]
fn a_history_file_in_use_or_damaged_stops_the_hub_with_a_message() {
    let hub = spawn_in(WorkDir::new(), &["--anonymous"], &HISTORY_ENV, 0).0;
    let dir = hub.dir.as_ref().unwrap();
    let output = hub_command(dir)
        .args(["--addr", "127.0.0.1:0", "--anonymous"])
        .envs(HISTORY_ENV)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("already in use"), "{stderr}");
    let dir = kill(hub);

    // Not a history: the hub does not start over on its own.
    let path = dir.0.join("mercure-history.redb");
    std::fs::write(&path, vec![0x5a; 64 * 1024]).unwrap();
    let output = hub_command(&dir)
        .args(["--addr", "127.0.0.1:0", "--anonymous"])
        .envs(HISTORY_ENV)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("history file"), "{stderr}");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        vec![0x5a; 64 * 1024],
        "a damaged file is left as it was"
    );

    // `memory` keeps no file.
    let memory = WorkDir::new();
    let hub = spawn_in(
        memory,
        &["--anonymous", "--history", "memory"],
        &HISTORY_ENV,
        0,
    )
    .0;
    assert!(
        std::fs::read_dir(&hub.dir.as_ref().unwrap().0)
            .unwrap()
            .next()
            .is_none()
    );
}

/// SIGTERM drains the hub: no new connection, the publish in flight is
/// answered, and every subscriber's stream ends with a `retry:` field of
/// a random delay within the drain window, so their reconnections spread
/// over it; the hub exits on its own well before its deadline.
#[tokio::test]
async fn sigterm_spreads_reconnections_over_the_drain_window_and_finishes_publishes() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let factory = history_factory();
    let publisher = factory.mint(&Grants::publish_all()).unwrap();
    let mut hub = spawn_in(
        WorkDir::new(),
        &[
            "--anonymous",
            "--history",
            "memory",
            "--drain-window",
            "4",
            "--shutdown-timeout",
            "20",
        ],
        &HISTORY_ENV,
        0,
    )
    .0;
    let client = reqwest::Client::new();
    let subscribers = 40;
    let mut readers = Vec::new();
    for _ in 0..subscribers {
        let response = client
            .get(format!("{}?topic=t", hub.url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        readers.push(support::SseReader::new(response).await);
    }
    // A publish whose body is still on its way when the signal comes.
    let addr = hub
        .url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let mut publish = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let body = "topic=t&data=in-flight";
    let head = format!(
        "POST /.well-known/mercure HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {}\r\n\
         content-type: application/x-www-form-urlencoded\r\ncontent-length: {}\r\n\r\n",
        publisher.expose(),
        body.len()
    );
    publish.write_all(head.as_bytes()).await.unwrap();
    publish.write_all(&body.as_bytes()[..5]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    let signalled = Instant::now();
    let status = Command::new("kill")
        .args(["-TERM", &hub.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    tokio::time::sleep(Duration::from_millis(300)).await;
    publish.write_all(&body.as_bytes()[5..]).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), publish.read_to_end(&mut answer))
        .await
        .expect("the publish in flight is answered")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");

    let mut retries = Vec::new();
    for reader in &mut readers {
        let mut retry = None;
        while let Some(block) = tokio::time::timeout(Duration::from_secs(10), reader.next_block())
            .await
            .expect("the stream ends on drain")
        {
            if let Some(value) = block.lines().find_map(|l| l.strip_prefix("retry: ")) {
                retry = Some(value.parse::<u64>().unwrap());
            }
        }
        retries.push(retry.expect("a retry field before the end"));
    }
    // No new connection is accepted.
    assert!(
        tokio::net::TcpStream::connect(&addr).await.is_err()
            || client
                .get(format!("{}?topic=t", hub.url))
                .send()
                .await
                .is_err()
    );
    let exited = loop {
        if let Some(status) = hub.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            signalled.elapsed() < Duration::from_secs(15),
            "the hub did not exit"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(exited.success(), "{exited:?}");
    // Reconnections spread over the 4 s window: every second of it has some.
    assert!(retries.iter().all(|&r| r <= 4000), "{retries:?}");
    let mut per_second = [0usize; 4];
    for &retry in &retries {
        per_second[usize::try_from(retry / 1000).unwrap().min(3)] += 1;
    }
    eprintln!("reconnections per second of the window: {per_second:?}");
    assert!(per_second.iter().all(|&n| n > 0), "{per_second:?}");
}
