//! The standalone binary, configured through `MERCURE_*` variables and flags.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use mercure_core::ProtocolVersion;
use mercure_core::token::Grants;

struct Hub {
    child: Child,
    url: String,
}

impl Drop for Hub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the binary on a free port and waits for its "listening" log line.
fn spawn(args: &[&str], env: &[(&str, &str)]) -> Hub {
    spawn_reading(args, env, 0).0
}

/// As [`spawn`], also collecting the first `curl` lines it prints.
fn spawn_reading(args: &[&str], env: &[(&str, &str)], curl_lines: usize) -> (Hub, Vec<String>) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mercure-hub"));
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
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let addr = loop {
        let line = lines.next().expect("the hub exited").unwrap();
        if line.contains("Mercure hub listening") {
            let start = line.find("addr=").unwrap() + 5;
            break line[start..].split_whitespace().next().unwrap().to_owned();
        }
    };
    let mut curls = Vec::new();
    while curls.len() < curl_lines {
        let line = lines.next().expect("the hub exited").unwrap();
        if line.starts_with("curl ") {
            curls.push(line);
        }
    }
    std::thread::spawn(move || for _ in lines {});
    let hub = Hub {
        child,
        url: format!("http://{addr}/.well-known/mercure"),
    };
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
    let output = Command::new(env!("CARGO_BIN_EXE_mercure-hub"))
        .args(["--addr", "127.0.0.1:0", "--protocol", "2.0"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("unknown Mercure protocol version"),
        "{stderr}"
    );
    let output = Command::new(env!("CARGO_BIN_EXE_mercure-hub"))
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
    use std::io::{BufRead, BufReader};
    let mut child = Command::new(env!("CARGO_BIN_EXE_mercure-hub"))
        .args(["--addr", "127.0.0.1:0", "--log-format", "json"])
        .env("MERCURE_JWT_KEY", "k")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let line = BufReader::new(stdout)
        .lines()
        .map(Result::unwrap)
        .find(|line| line.contains("listening"))
        .expect("a listening line");
    let _ = child.kill();
    let _ = child.wait();
    let record: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(record["level"], "INFO");
    assert_eq!(record["fields"]["message"], "Mercure hub listening");
    let addr = record["fields"]["addr"].as_str().unwrap();
    assert!(addr.starts_with("127.0.0.1:"), "{addr}");
    assert!(!line.contains("\"k\""), "no key material in logs: {line}");
}
