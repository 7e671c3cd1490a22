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
            "--decode",
        ],
        &[("MERCURE_JWT_SECRET", SECRET)],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let decoded: serde_json::Value = serde_json::from_str(&stdout(&output)).expect("JSON");
    assert_eq!(decoded["header"]["typ"], "at+jwt");
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
