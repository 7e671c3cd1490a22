//! SSE clients nobody on this project wrote (Node's `eventsource` 4.x and
//! Python's `httpx-sse`) subscribe to our hub and receive what our client
//! publishes, in both dialects.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use mercure_client::token::{Grants, SigningKey, TokenFactory};
use mercure_client::{Hub, ProtocolVersion, Update};
use mercure_hub::{HubConfig, VerificationKey};
use mercure_integration_tests::served_hub::{ServedHub, encode_component as urlencode, serve_hub};
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{ChildStdout, Command};

const SECRET: &str = "peer-clients-secret";
const ISSUER: &str = "https://app.example.com";
const PATIENCE: Duration = Duration::from_secs(20);

async fn start_hub() -> ServedHub {
    serve_hub(
        HubConfig::builder()
            .key(VerificationKey::hs256(SECRET).expect("key"))
            .anonymous(true),
    )
    .await
}

fn factory(version: ProtocolVersion, audience: &str) -> TokenFactory {
    TokenFactory::builder(SigningKey::hs256(SECRET).expect("key"))
        .protocol(version)
        .issuer(ISSUER)
        .audience(audience)
        .build()
        .expect("factory")
}

fn peers_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("peers")
}

#[derive(Clone, Copy, Debug)]
enum Peer {
    Node,
    Python,
}

impl Peer {
    fn command(self, url: &str, count: usize, token: Option<&str>) -> Command {
        let token = token.unwrap_or("");
        match self {
            Peer::Node => {
                let modules = peers_dir().join("node_modules/eventsource");
                assert!(
                    modules.exists(),
                    "{} is missing: run scripts/setup (scripts/test does)",
                    modules.display()
                );
                let mut command = Command::new("node");
                command.arg(peers_dir().join("node_subscribe.mjs")).args([
                    url,
                    &count.to_string(),
                    token,
                    "book.updated",
                ]);
                command
            }
            Peer::Python => {
                let python = peers_dir().join("../../.tools/venv/bin/python");
                assert!(
                    python.exists(),
                    "{} is missing: run scripts/setup (scripts/test does)",
                    python.display()
                );
                let mut command = Command::new(python);
                command.arg(peers_dir().join("python_subscribe.py")).args([
                    url,
                    &count.to_string(),
                    token,
                ]);
                command
            }
        }
    }
}

/// The next JSON line the peer prints: `what` it should report.
async fn next_line(lines: &mut Lines<BufReader<ChildStdout>>, what: &str) -> serde_json::Value {
    let line = tokio::time::timeout(PATIENCE, lines.next_line())
        .await
        .unwrap_or_else(|_| panic!("the peer did not print {what} within {PATIENCE:?}"))
        .unwrap_or_else(|e| panic!("reading the peer's output ({what}): {e}"))
        .unwrap_or_else(|| panic!("the peer exited before printing {what}"));
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("{what}: {line}: {e}"))
}

async fn peer_receives_what_we_publish(peer: Peer, version: ProtocolVersion) {
    let served = start_hub().await;
    let factory = factory(version, &served.url);
    let topic = format!(
        "https://example.com/books/{peer:?}/{}",
        version.dialect().name
    );
    let selector = version.dialect().exact_selector_param;
    let url = format!("{}?{selector}={}", served.url, urlencode(&topic));
    let subscriber_token = factory
        .mint(&Grants::new().subscribe([topic.as_str()]))
        .expect("token");

    let mut child = peer
        .command(&url, 3, Some(subscriber_token.expose()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("start the peer");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    assert_eq!(
        next_line(&mut lines, "that it is open").await["kind"],
        "open",
        "{peer:?}"
    );

    let hub = Hub::builder(&served.url)
        .token_factory(factory, Grants::publish_all())
        .build()
        .expect("hub");
    let updates = [
        Update::builder(&topic)
            .data("{\"title\": \"Dune\"}\nline two\r\nline three")
            .id("book-1")
            .build()
            .expect("update"),
        Update::builder(&topic)
            .data("private ☃")
            .private(true)
            .id("book-2")
            .event_type("book.updated")
            .build()
            .expect("update"),
        Update::builder(&topic)
            .data("")
            .id("book-3")
            .build()
            .expect("update"),
    ];
    for update in &updates {
        hub.publish(update).await.expect("publish");
    }

    let first = next_line(&mut lines, "the first update").await;
    assert_eq!(first["kind"], "message", "{peer:?} {version}: {first}");
    assert_eq!(first["id"], "book-1");
    assert_eq!(first["data"], "{\"title\": \"Dune\"}\nline two\nline three");
    assert_eq!(first["type"], "message");

    let second = next_line(&mut lines, "the second update").await;
    assert_eq!(second["id"], "book-2", "{peer:?} {version}: {second}");
    assert_eq!(second["type"], "book.updated");
    assert_eq!(second["data"], "private ☃");

    // An update with an empty payload is still delivered (one `data:` line).
    let third = next_line(&mut lines, "the third update").await;
    assert_eq!(third["id"], "book-3", "{peer:?} {version}: {third}");
    assert_eq!(third["data"], "");

    let status = tokio::time::timeout(PATIENCE, child.wait())
        .await
        .unwrap_or_else(|_| panic!("{peer:?} did not exit within {PATIENCE:?} after its count"))
        .expect("the peer's exit status");
    assert!(status.success(), "{peer:?} exited with {status}");
}

#[tokio::test]
async fn node_eventsource_receives_updates_0x() {
    peer_receives_what_we_publish(Peer::Node, ProtocolVersion::V0).await;
}

#[tokio::test]
async fn node_eventsource_receives_updates_1_0() {
    peer_receives_what_we_publish(Peer::Node, ProtocolVersion::V1).await;
}

#[tokio::test]
async fn python_httpx_sse_receives_updates_0x() {
    peer_receives_what_we_publish(Peer::Python, ProtocolVersion::V0).await;
}

#[tokio::test]
async fn python_httpx_sse_receives_updates_1_0() {
    peer_receives_what_we_publish(Peer::Python, ProtocolVersion::V1).await;
}
