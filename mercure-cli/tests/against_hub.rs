//! `mercure subscribe`, `subscriptions` and `discover` against our own hub,
//! served on 127.0.0.1.

use std::process::Stdio;
use std::time::Duration;

use mercure_client::token::{Grants, SigningKey, TokenFactory};
use mercure_client::{ProtocolVersion, Update};
use mercure_hub::{EmbeddedHub, HubConfig, VerificationKey};
use mercure_integration_tests::served_hub::serve_hub;
use mercure_integration_tests::{Scripted, TestServer};
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{ChildStdout, Command};

const SECRET: &str = "cli-hub-secret";
const PATIENCE: Duration = Duration::from_secs(10);

async fn start_hub() -> (EmbeddedHub, String) {
    let served = serve_hub(
        HubConfig::builder()
            .key(VerificationKey::hs256(SECRET).expect("key"))
            .subscriptions(true)
            .anonymous(true),
    )
    .await;
    (served.hub, served.url)
}

fn mercure() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mercure"));
    command
        .env("MERCURE_JWT_SECRET", SECRET)
        .env_remove("MERCURE_SUBSCRIBER_JWT")
        .env_remove("MERCURE_PUBLISHER_JWT")
        .env_remove("MERCURE_PROTOCOL")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    command
}

async fn next_json(lines: &mut Lines<BufReader<ChildStdout>>) -> serde_json::Value {
    let line = tokio::time::timeout(PATIENCE, lines.next_line())
        .await
        .expect("output in time")
        .expect("read")
        .expect("a line");
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line}: {e}"))
}

#[tokio::test]
async fn subscribe_prints_updates_as_json_in_both_dialects() {
    let (hub, url) = start_hub().await;
    for (protocol, version) in [("0", ProtocolVersion::V0), ("1", ProtocolVersion::V1)] {
        let topic = format!("https://example.com/cli/{protocol}");
        let mut child = mercure()
            .args([
                "subscribe",
                "--hub",
                &url,
                "--protocol",
                protocol,
                "--topic",
                &topic,
            ])
            .args(["--json", "--count", "2"])
            .args(["--issuer", "https://app.example.com", "--audience", &url])
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn subscribe");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let connected = next_json(&mut lines).await;
        assert_eq!(connected["kind"], "connected", "{version}");

        let private = Update::builder(&topic)
            .data("first\nsecond line")
            .private(true)
            .id(format!("cli-{protocol}-1"))
            .event_type("note")
            .build()
            .expect("update");
        hub.publish(&private).await.expect("publish");
        hub.publish(&Update::new(&topic, "public").expect("update"))
            .await
            .expect("publish");

        let first = next_json(&mut lines).await;
        assert_eq!(first["kind"], "update");
        assert_eq!(first["id"], format!("cli-{protocol}-1"));
        assert_eq!(first["type"], "note");
        assert_eq!(first["data"], "first\nsecond line");
        let second = next_json(&mut lines).await;
        assert_eq!(second["data"], "public");
        let status = tokio::time::timeout(PATIENCE, child.wait())
            .await
            .expect("exits after --count updates")
            .expect("wait");
        assert!(status.success());
    }
}

#[tokio::test]
async fn anonymous_subscribers_miss_private_updates() {
    let (hub, url) = start_hub().await;
    let topic = "https://example.com/cli/private";
    let mut child = mercure()
        .args(["subscribe", "--hub", &url, "--topic", topic, "--anonymous"])
        .args(["--json", "--count", "1"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn subscribe");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    assert_eq!(next_json(&mut lines).await["kind"], "connected");
    let private = Update::builder(topic)
        .data("secret")
        .private(true)
        .build()
        .expect("update");
    hub.publish(&private).await.expect("publish");
    hub.publish(&Update::new(topic, "public").expect("update"))
        .await
        .expect("publish");
    assert_eq!(next_json(&mut lines).await["data"], "public");
}

#[tokio::test]
async fn subscriptions_lists_connected_subscribers() {
    let (hub, url) = start_hub().await;
    let topic = "https://example.com/cli/presence";
    let subscriber_token = TokenFactory::builder(SigningKey::hs256(SECRET).expect("key"))
        .build()
        .expect("factory")
        .mint(
            &Grants::new()
                .subscribe([topic])
                .with_payload(serde_json::json!({"user": "alice"})),
        )
        .expect("token");
    let mut child = mercure()
        .args(["subscribe", "--hub", &url, "--topic", topic, "--json"])
        .env("MERCURE_SUBSCRIBER_JWT", subscriber_token.expose())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn subscribe");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    assert_eq!(next_json(&mut lines).await["kind"], "connected");
    assert_eq!(hub.subscriptions().len(), 1);

    let output = mercure()
        .args(["subscriptions", "--hub", &url, "--topic", topic])
        .output()
        .await
        .expect("run subscriptions");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let listed: serde_json::Value = serde_json::from_slice(&output.stdout).expect("one JSON line");
    assert_eq!(listed["selector"], topic);
    assert_eq!(listed["active"], true);
    assert_eq!(listed["payload"], serde_json::json!({"user": "alice"}));
    child.kill().await.expect("kill");
}

#[tokio::test]
async fn discover_reads_link_headers_and_tells_the_dialect() {
    let (_hub, url) = start_hub().await;
    let link =
        format!(r#"<{url}>; rel="mercure"; last-event-id="urn:uuid:7", </books/1>; rel="self""#);
    let resource =
        TestServer::start(move |_, _| Scripted::new(200, "{}").header("link", link.clone())).await;
    let output = mercure()
        .args(["discover", &resource.url("/books/1"), "--json"])
        .output()
        .await
        .expect("run discover");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let found: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(found["hubs"][0]["url"], url.as_str());
    assert_eq!(found["hubs"][0]["last_event_id"], "urn:uuid:7");
    assert_eq!(
        found["hubs"][0]["protocol"], "1.0",
        "our hub publishes RFC 9728 metadata"
    );
    assert_eq!(found["self"], resource.url("/books/1"));

    let bare = TestServer::start(|_, _| Scripted::new(200, "no links")).await;
    let output = mercure()
        .args(["discover", &bare.url("/")])
        .output()
        .await
        .expect("run discover");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("advertises no Mercure hub"));
}
