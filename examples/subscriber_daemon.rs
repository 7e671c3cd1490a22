//! A daemon that subscribes to a hub and prints every update it receives,
//! surviving hub restarts (it reconnects with backoff and asks the hub to
//! replay what it missed).
//!
//! Start a hub, then the daemon, then publish; stop and restart the hub
//! and watch the daemon reconnect:
//!
//! ```sh
//! MERCURE_JWT_KEY='!ChangeThisMercureHubJWTSecretKey!' cargo run -p mercure-hub
//! cargo run -p mercure-examples --example subscriber-daemon -- 'https://example.com/books/{id}'
//! cargo run -p mercure-examples --example publish -- https://example.com/books/1 '{"status":"sold"}'
//! ```
//!
//! Arguments: topic selectors (default: every topic); a selector with
//! `{...}` is a URI template in 0.x, and one starting with `~` is a pattern
//! in either dialect (`~https://example.com/books/:id` in 1.0). Environment:
//! `MERCURE_URL` (default `http://127.0.0.1:3000/.well-known/mercure`),
//! `MERCURE_JWT_SECRET` (default: the demo secret; empty subscribes
//! anonymously), `MERCURE_PROTOCOL` (`0` or `1`, default `0`).

use std::time::Duration;

use mercure_client::{ProtocolVersion, TopicSelector};
use mercure_examples::board::DEMO_SECRET;
use mercure_examples::subscriber_daemon::{self, DaemonConfig, subscriber};

#[tokio::main]
async fn main() {
    if let Err(error) = run().await {
        eprintln!("error: {error}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let hub_url = match std::env::var("MERCURE_URL") {
        Ok(url) => url,
        Err(_) => {
            eprintln!(
                "MERCURE_URL is not set: using the standalone hub's default address \
                 (start one with: MERCURE_JWT_KEY='{DEMO_SECRET}' cargo run -p mercure-hub)"
            );
            "http://127.0.0.1:3000/.well-known/mercure".to_owned()
        }
    };
    let secret = std::env::var("MERCURE_JWT_SECRET").unwrap_or_else(|_| DEMO_SECRET.to_owned());
    let protocol: ProtocolVersion = std::env::var("MERCURE_PROTOCOL")
        .unwrap_or_else(|_| "0".to_owned())
        .parse()?;
    let mut topics: Vec<TopicSelector> = std::env::args()
        .skip(1)
        .map(|selector| match selector.strip_prefix('~') {
            Some(pattern) => TopicSelector::pattern(pattern),
            None if protocol == ProtocolVersion::V0 && selector.contains('{') => {
                TopicSelector::pattern(selector)
            }
            None => TopicSelector::exact(selector),
        })
        .collect();
    if topics.is_empty() {
        topics.push(TopicSelector::all());
    }
    let config = DaemonConfig {
        hub_url,
        topics,
        secret: (!secret.is_empty()).then(|| secret.into_bytes()),
        protocol,
        initial_delay: Duration::from_millis(500),
        max_delay: Duration::from_secs(30),
    };
    let subscriber = subscriber(&config)?;
    println!("subscribing to {}", subscriber.url());
    tokio::select! {
        result = subscriber_daemon::run(subscriber, |line| println!("{line}")) => result?,
        _ = tokio::signal::ctrl_c() => println!("stopped"),
    }
    Ok(())
}
