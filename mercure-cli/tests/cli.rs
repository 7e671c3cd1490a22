//! The `mercure` binary, run as a user would.

use std::process::{Command, Output};

use mercure_integration_tests::{Scripted, TestServer};

const SECRET: &str = "cli-test-secret";

fn mercure(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mercure"));
    command.args(args).env_remove("MERCURE_JWT_SECRET");
    command
        .env_remove("MERCURE_PUBLISHER_JWT")
        .env_remove("MERCURE_PROTOCOL");
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().expect("run mercure")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn token_mints_both_dialects() {
    let output = mercure(
        &[
            "token",
            "--publish",
            "*",
            "--subscribe",
            "https://example.com/users/42",
            "--payload",
            r#"{"user":42}"#,
            "--decode",
        ],
        &[("MERCURE_JWT_SECRET", SECRET)],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let decoded: serde_json::Value = serde_json::from_str(&stdout(&output)).expect("JSON");
    assert_eq!(decoded["header"]["alg"], "HS256");
    assert_eq!(
        decoded["claims"]["mercure"]["publish"],
        serde_json::json!(["*"])
    );
    assert_eq!(decoded["claims"]["mercure"]["payload"]["user"], 42);

    let output = mercure(
        &[
            "token",
            "--protocol",
            "1.0",
            "--subscribe-pattern",
            "https://example.com/books/:id",
            "--issuer",
            "https://app.example.com",
            "--audience",
            "https://hub.example.com/.well-known/mercure",
            "--kid",
            "2026-01",
            "--decode",
        ],
        &[("MERCURE_JWT_SECRET", SECRET)],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let decoded: serde_json::Value = serde_json::from_str(&stdout(&output)).expect("JSON");
    assert_eq!(decoded["header"]["typ"], "at+jwt");
    assert_eq!(decoded["header"]["kid"], "2026-01");
    assert_eq!(
        decoded["claims"]["authorization_details"][0]["topics"][0],
        serde_json::json!({"match": "https://example.com/books/:id", "match_type": "urlpattern"})
    );

    let output = mercure(
        &["token", "--publish", "*"],
        &[("MERCURE_JWT_SECRET", SECRET)],
    );
    assert_eq!(stdout(&output).split('.').count(), 3);
}

#[test]
fn token_errors_are_clear() {
    let output = mercure(&["token", "--publish", "*"], &[]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("MERCURE_JWT_SECRET"),
        "{}",
        stderr(&output)
    );

    let output = mercure(&["token"], &[("MERCURE_JWT_SECRET", SECRET)]);
    assert!(
        stderr(&output).contains("would grant nothing"),
        "{}",
        stderr(&output)
    );

    let output = mercure(
        &["token", "--protocol", "1", "--publish", "*"],
        &[("MERCURE_JWT_SECRET", SECRET)],
    );
    assert!(stderr(&output).contains("\"iss\""), "{}", stderr(&output));

    let output = mercure(
        &["token", "--publish", "*", "--payload", "{oops"],
        &[("MERCURE_JWT_SECRET", SECRET)],
    );
    assert!(
        stderr(&output).contains("--payload is not valid JSON"),
        "{}",
        stderr(&output)
    );

    let output = mercure(&["token", "--publish", "*", "--alg", "RS256"], &[]);
    assert!(
        stderr(&output).contains("--key-file"),
        "{}",
        stderr(&output)
    );
}

#[tokio::test]
async fn publish_sends_the_update_and_prints_the_id() {
    let server = TestServer::start(|_, _| Scripted::new(200, "urn:uuid:1")).await;
    let url = server.url("/.well-known/mercure");
    let output = tokio::task::spawn_blocking(move || {
        mercure(
            &[
                "publish",
                "--hub",
                &url,
                "--topic",
                "https://example.com/books/1",
                "--topic",
                "https://example.com/users/1",
                "--data",
                "hello",
                "--private",
                "--type",
                "greeting",
            ],
            &[("MERCURE_JWT_SECRET", SECRET)],
        )
    })
    .await
    .expect("join");
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output), "urn:uuid:1");
    let request = &server.requests()[0];
    assert_eq!(
        request.text(),
        "topic=https%3A%2F%2Fexample.com%2Fbooks%2F1&topic=https%3A%2F%2Fexample.com%2Fusers%2F1&data=hello&private=on&type=greeting"
    );
    let token = request.header("authorization").expect("authorization");
    let token = token.strip_prefix("Bearer ").expect("bearer");
    let claims = jsonwebtoken::dangerous::insecure_decode::<serde_json::Value>(token)
        .expect("JWT")
        .claims;
    assert_eq!(
        claims["mercure"]["publish"],
        serde_json::json!(["https://example.com/books/1", "https://example.com/users/1"])
    );
}

#[tokio::test]
async fn publish_reports_the_hubs_refusal() {
    let server = TestServer::start(|_, _| {
        Scripted::new(403, "not allowed")
            .header("www-authenticate", r#"Bearer error="insufficient_scope""#)
    })
    .await;
    let url = server.url("/hub");
    let output = tokio::task::spawn_blocking(move || {
        mercure(
            &["publish", "--hub", &url, "--topic", "a", "--data", "x"],
            &[("MERCURE_PUBLISHER_JWT", "header.payload.signature")],
        )
    })
    .await
    .expect("join");
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(
        message.contains("403") && message.contains("insufficient_scope"),
        "{message}"
    );
    assert!(!message.contains("header.payload.signature"), "{message}");
    assert_eq!(
        server.requests()[0].header("authorization").as_deref(),
        Some("Bearer header.payload.signature")
    );
}

/// The `mercure-hub` binary of this workspace, built if needed.
fn hub_binary() -> std::path::PathBuf {
    let cli = std::path::PathBuf::from(env!("CARGO_BIN_EXE_mercure"));
    let hub = cli.with_file_name(format!("mercure-hub{}", std::env::consts::EXE_SUFFIX));
    if !hub.is_file() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let status = Command::new(cargo)
            .args(["build", "-p", "mercure-hub", "--bin", "mercure-hub"])
            .status()
            .expect("cargo build");
        assert!(status.success(), "building mercure-hub failed");
    }
    hub
}

#[test]
fn hub_runs_the_standalone_hub_binary() {
    let hub = hub_binary();
    let output = mercure(
        &["hub", "--help"],
        &[("MERCURE_HUB_BIN", hub.to_str().expect("path"))],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let help = stdout(&output);
    assert!(help.contains("MERCURE_JWT_KEY"), "{help}");
    assert!(help.contains("MERCURE_"), "{help}");

    // Without the variable it is found beside `mercure`.
    let output = mercure(&["hub", "--version"], &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).starts_with("mercure-hub "),
        "{}",
        stdout(&output)
    );

    // The hub's own errors come back as a failure.
    let output = mercure(&["hub", "--protocol", "2.0"], &[]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("mercure-hub exited"),
        "{}",
        stderr(&output)
    );

    let output = mercure(&["hub"], &[("MERCURE_HUB_BIN", "/nonexistent/mercure-hub")]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("does not exist"),
        "{}",
        stderr(&output)
    );
}

/// Runs `mercure` asynchronously, killed when dropped, within `patience`.
async fn mercure_within(
    patience: std::time::Duration,
    args: &[&str],
    env: &[(&str, &str)],
) -> Output {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_mercure"));
    command
        .args(args)
        .env_remove("MERCURE_JWT_SECRET")
        .env_remove("MERCURE_PUBLISHER_JWT")
        .env_remove("MERCURE_SUBSCRIBER_JWT")
        .env_remove("MERCURE_PROTOCOL")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    for (name, value) in env {
        command.env(name, value);
    }
    tokio::time::timeout(patience, command.output())
        .await
        .unwrap_or_else(|_| panic!("mercure {args:?} still running after {patience:?}"))
        .expect("run mercure")
}

#[tokio::test]
async fn subscribe_gives_up_when_the_hub_keeps_refusing_the_token() {
    // It used to mint one token and present it forever.
    let server = TestServer::start(|_, _| {
        Scripted::new(401, "token refused")
            .header("www-authenticate", r#"Bearer error="invalid_token""#)
    })
    .await;
    let url = server.url("/.well-known/mercure");
    let output = mercure_within(
        std::time::Duration::from_secs(20),
        &[
            "subscribe",
            "--hub",
            &url,
            "--topic",
            "https://example.com/a",
        ],
        &[("MERCURE_JWT_SECRET", SECRET)],
    )
    .await;
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(
        message.contains("401") && message.contains("invalid_token"),
        "{message}"
    );
    // Asked once, then once more with a re-minted token at most.
    assert!(server.requests().len() <= 2, "{}", server.requests().len());
}

#[tokio::test]
async fn subscribe_reconnects_after_the_read_timeout_it_is_given() {
    // A hub that takes 30 s to answer: with --read-timeout 1 the subscriber
    // reconnects after a second instead of the default 90.
    let server =
        TestServer::start(|_, _| Scripted::new(200, "").delay(std::time::Duration::from_secs(30)))
            .await;
    let url = server.url("/.well-known/mercure");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_mercure"))
        .args([
            "subscribe",
            "--hub",
            &url,
            "--topic",
            "https://example.com/a",
            "--anonymous",
            "--json",
            "--read-timeout",
            "1",
        ])
        .env_remove("MERCURE_PROTOCOL")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn mercure");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(stdout));
    let line = tokio::time::timeout(std::time::Duration::from_secs(15), lines.next_line())
        .await
        .expect("a line in time")
        .expect("read")
        .expect("a line");
    let event: serde_json::Value = serde_json::from_str(&line).expect("JSON");
    assert_eq!(event["kind"], "reconnecting", "{line}");
    assert!(
        event["reason"]
            .as_str()
            .is_some_and(|r| r.contains("read timeout")),
        "{line}"
    );
    child.kill().await.expect("kill");

    let output = mercure(&["subscribe", "--help"], &[]);
    assert!(stdout_text(&output).contains("--read-timeout"));
}

fn stdout_text(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test]
async fn publish_refuses_redirects_and_answers_that_are_not_ids() {
    let server = TestServer::start(|request, _| match request.uri.as_str() {
        "/moved" => Scripted::new(301, "").header("location", "/welcome"),
        "/welcome" => {
            Scripted::new(200, "<html>Welcome</html>").header("content-type", "text/html")
        }
        "/html" => Scripted::new(200, "<!DOCTYPE html>\n<html><body>hub</body></html>")
            .header("content-type", "text/html"),
        "/words" => Scripted::new(200, "published, thanks"),
        _ => Scripted::new(404, "not found"),
    })
    .await;
    for (path, expected) in [
        ("/moved", "301"),
        ("/html", "not an event id"),
        ("/words", "not an event id"),
    ] {
        let url = server.url(path);
        let output = mercure_within(
            std::time::Duration::from_secs(20),
            &["publish", "--hub", &url, "--topic", "a", "--data", "x"],
            &[("MERCURE_PUBLISHER_JWT", "header.payload.signature")],
        )
        .await;
        assert!(!output.status.success(), "{path}: {}", stdout(&output));
        assert!(stdout(&output).is_empty(), "{path}: {}", stdout(&output));
        assert!(
            stderr(&output).contains(expected),
            "{path}: {}",
            stderr(&output)
        );
    }
    // The 301 was not followed into a GET.
    assert!(server.requests().iter().all(|r| r.uri != "/welcome"));
}

#[tokio::test]
async fn discover_gives_up_at_its_deadline() {
    // 50 hubs whose metadata never answers: probed a few at once (16 at
    // most), all within --deadline.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let silent_addr = silent.local_addr().expect("address");
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    let links: Vec<String> = (0..50)
        .map(|i| format!(r#"<http://{silent_addr}/hub{i}>; rel="mercure""#))
        .collect();
    let link = links.join(", ");
    let resource =
        TestServer::start(move |_, _| Scripted::new(200, "{}").header("link", link.clone())).await;
    let url = resource.url("/books/1");
    let started = std::time::Instant::now();
    let output = mercure_within(
        std::time::Duration::from_secs(30),
        &["discover", &url, "--json", "--deadline", "2"],
        &[],
    )
    .await;
    let elapsed = started.elapsed();
    hold.abort();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(elapsed < std::time::Duration::from_secs(10), "{elapsed:?}");
    let found: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let hubs = found["hubs"].as_array().expect("hubs");
    assert_eq!(hubs.len(), 16);
    for hub in hubs {
        assert!(
            hub["protocol"]
                .as_str()
                .is_some_and(|p| p.starts_with("unknown")),
            "{hub}"
        );
    }
}
