//! `mercure publish` against our own hub served on 127.0.0.1, in both
//! dialects: what a subscriber receives, what the command prints, and how
//! the hub's refusals are reported.

use std::process::Stdio;
use std::time::Duration;

use mercure_client::ProtocolVersion;
use mercure_client::token::{Grants, SigningKey, TokenFactory};
use mercure_hub::{HubConfig, VerificationKey};
use mercure_integration_tests::raw_sse::RawStream;
use mercure_integration_tests::served_hub::{ServedHub, encode_component, serve_hub};
use tokio::process::Command;

const SECRET: &str = "cli-publish-secret-of-at-least-32-bytes!";
const ISSUER: &str = "https://app.example.com";
const PATIENCE: Duration = Duration::from_secs(15);

async fn start_hub() -> ServedHub {
    serve_hub(
        HubConfig::builder()
            .key(VerificationKey::hs256(SECRET).expect("key"))
            .heartbeat(None),
    )
    .await
}

fn mercure() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mercure"));
    command
        .env("MERCURE_JWT_SECRET", SECRET)
        .env_remove("MERCURE_PUBLISHER_JWT")
        .env_remove("MERCURE_PROTOCOL")
        .env_remove("MERCURE_URL")
        .env_remove("MERCURE_JWT_ISSUER")
        .env_remove("MERCURE_JWT_AUDIENCE")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    command
}

struct Output {
    success: bool,
    stdout: String,
    stderr: String,
}

async fn run(command: &mut Command) -> Output {
    let output = tokio::time::timeout(PATIENCE, command.output())
        .await
        .expect("mercure exits in time")
        .expect("run mercure");
    Output {
        success: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn subscriber_token(version: ProtocolVersion, audience: &str, topic: &str) -> String {
    let builder = TokenFactory::builder(SigningKey::hs256(SECRET).expect("key")).protocol(version);
    let builder = match version {
        ProtocolVersion::V0 => builder,
        ProtocolVersion::V1 => builder.issuer(ISSUER).audience(audience),
    };
    builder
        .build()
        .expect("factory")
        .mint(&Grants::new().subscribe([topic]))
        .expect("token")
        .expose()
        .to_owned()
}

#[tokio::test]
async fn publish_reaches_a_real_hub_in_both_dialects() {
    let served = start_hub().await;
    for (protocol, version) in [("0", ProtocolVersion::V0), ("1", ProtocolVersion::V1)] {
        let topic = format!("https://example.com/cli-publish/{protocol}");
        let alternate = format!("https://example.com/users/42/cli-publish/{protocol}");
        // The subscriber may read the alternate topic only: the private
        // update reaches it through its alternate.
        let token = subscriber_token(version, &served.url, &alternate);
        let selector = version.dialect().exact_selector_param;
        let url = format!("{}?{selector}={}", served.url, encode_component(&topic));
        let mut stream = RawStream::open(&url, Some(&token), None)
            .await
            .unwrap_or_else(|e| panic!("{protocol}: {e}"));

        let id = format!("cli-{protocol}-1");
        let mut command = mercure();
        command
            .args(["publish", "--hub", &served.url, "--protocol", protocol])
            .args(["--topic", &topic, "--topic", &alternate])
            .args(["--data", "line one\nline two", "--private"])
            .args(["--id", &id, "--type", "note", "--retry", "2500"]);
        if version == ProtocolVersion::V1 {
            command.args(["--issuer", ISSUER, "--audience", &served.url]);
        }
        let output = run(&mut command).await;
        assert!(output.success, "{protocol}: {}", output.stderr);
        assert_eq!(output.stdout, format!("{id}\n"), "the hub's id, alone");

        let event = stream
            .next_event(PATIENCE)
            .await
            .unwrap_or_else(|| panic!("{protocol}: the update arrives"));
        assert_eq!(event.id.as_deref(), Some(id.as_str()));
        assert_eq!(event.event.as_deref(), Some("note"));
        assert_eq!(event.data, "line one\nline two");
    }
}

#[tokio::test]
async fn publish_with_data_from_standard_input_and_a_generated_id() {
    let served = start_hub().await;
    let topic = "https://example.com/cli-publish/stdin";
    let url = format!("{}?match={}", served.url, encode_component(topic));
    let mut stream = RawStream::open(
        &url,
        Some(&subscriber_token(ProtocolVersion::V1, &served.url, topic)),
        None,
    )
    .await
    .expect("subscribe");
    let mut child = mercure()
        .args([
            "publish",
            "--hub",
            &served.url,
            "--protocol",
            "1",
            "--topic",
            topic,
        ])
        .args(["--data", "-", "--issuer", ISSUER, "--audience", &served.url])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    tokio::io::AsyncWriteExt::write_all(&mut stdin, "{\"status\": \"sold\"}".as_bytes())
        .await
        .expect("write");
    drop(stdin);
    let output = tokio::time::timeout(PATIENCE, child.wait_with_output())
        .await
        .expect("exits in time")
        .expect("run");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let id = String::from_utf8(output.stdout).expect("UTF-8");
    let id = id.strip_suffix('\n').expect("one line");
    let uuid = id
        .strip_prefix("urn:uuid:")
        .expect("a urn:uuid: the hub made");
    assert_eq!(uuid.len(), 36, "{id}");
    let event = stream.next_event(PATIENCE).await.expect("the update");
    assert_eq!(event.id.as_deref(), Some(id));
    assert_eq!(event.data, "{\"status\": \"sold\"}");
}

#[tokio::test]
async fn publish_reports_the_real_hubs_refusals() {
    let served = start_hub().await;
    let topic = "https://example.com/cli-publish/refused";
    // A 1.0 token for another hub: 401 invalid_token.
    let output = run(mercure()
        .args([
            "publish",
            "--hub",
            &served.url,
            "--protocol",
            "1",
            "--topic",
            topic,
            "--data",
            "x",
        ])
        .args([
            "--issuer",
            ISSUER,
            "--audience",
            "https://other.example.com/.well-known/mercure",
        ]))
    .await;
    assert!(!output.success);
    assert_eq!(output.stdout, "", "no id printed");
    assert!(output.stderr.contains("401"), "{}", output.stderr);
    assert!(output.stderr.contains("invalid_token"), "{}", output.stderr);

    // A 0.x token signed with another secret: 401.
    let output = run(mercure()
        .env(
            "MERCURE_JWT_SECRET",
            "another-secret-of-at-least-32-bytes!!!",
        )
        .args([
            "publish",
            "--hub",
            &served.url,
            "--protocol",
            "0",
            "--topic",
            topic,
            "--data",
            "x",
        ]))
    .await;
    assert!(!output.success);
    assert!(output.stderr.contains("401"), "{}", output.stderr);

    // A ready-made token granting another topic: 403 insufficient_scope.
    let narrow = TokenFactory::builder(SigningKey::hs256(SECRET).expect("key"))
        .protocol(ProtocolVersion::V1)
        .issuer(ISSUER)
        .audience(&served.url)
        .build()
        .expect("factory")
        .mint(&Grants::new().publish(["https://example.com/elsewhere"]))
        .expect("token");
    let output = run(mercure()
        .env("MERCURE_PUBLISHER_JWT", narrow.expose())
        .args([
            "publish",
            "--hub",
            &served.url,
            "--protocol",
            "1",
            "--topic",
            topic,
            "--data",
            "x",
        ]))
    .await;
    assert!(!output.success);
    assert!(output.stderr.contains("403"), "{}", output.stderr);
    assert!(
        output.stderr.contains("insufficient_scope"),
        "{}",
        output.stderr
    );
}
