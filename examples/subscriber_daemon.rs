//! A daemon that subscribes to a hub and prints every update it receives,
//! surviving hub restarts (it reconnects with backoff and asks the hub to
//! replay what it missed).
//!
//! Without `MERCURE_URL` it runs against a demo hub of its own that
//! publishes a tick every second and restarts every five (losing its
//! history, as a hub without persistent storage does):
//!
//! ```sh
//! cargo run -p mercure-examples --example subscriber-daemon
//! ```
//!
//! Against a real hub: start one, then the daemon, then publish; stop and
//! restart the hub and watch the daemon reconnect:
//!
//! ```sh
//! MERCURE_JWT_KEY='!ChangeThisMercureHubJWTSecretKey!' cargo run -p mercure-hub
//! MERCURE_URL=http://127.0.0.1:3000/.well-known/mercure \
//!   cargo run -p mercure-examples --example subscriber-daemon -- 'https://example.com/books/{id}'
//! cargo run -p mercure-examples --example publish -- https://example.com/books/1 '{"status":"sold"}'
//! ```
//!
//! Arguments: topic selectors (default: every topic); a selector with
//! `{...}` is a URI template in 0.x, and one starting with `~` is a pattern
//! in either dialect (`~https://example.com/books/:id` in 1.0). Environment:
//! `MERCURE_URL` (default: the demo hub),
//! `MERCURE_JWT_SECRET` (default: the demo secret; empty subscribes
//! anonymously), `MERCURE_PROTOCOL` (`0` or `1`, default `0`).

use std::net::Ipv4Addr;
use std::time::Duration;

use mercure_client::{ProtocolVersion, TopicSelector, Update};
use mercure_examples::board::DEMO_SECRET;
use mercure_examples::subscriber_daemon::{self, DaemonConfig, subscriber};
use mercure_hub::{EmbeddedHub, HubConfig, VerificationKey};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

#[tokio::main]
async fn main() {
    if let Err(error) = run().await {
        eprintln!("error: {error}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let secret = std::env::var("MERCURE_JWT_SECRET").unwrap_or_else(|_| DEMO_SECRET.to_owned());
    let hub_url = match std::env::var("MERCURE_URL") {
        Ok(url) => url,
        Err(_) => {
            let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
            let url = format!("http://{}/.well-known/mercure", listener.local_addr()?);
            println!("no MERCURE_URL: running a demo hub at {url} that restarts every 5 s");
            tokio::spawn(restarting_hub(listener, url.clone(), secret.clone()));
            url
        }
    };
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

/// A hub on `listener` that publishes a tick a second (every other one
/// private) and restarts every five, a second down each time.
async fn restarting_hub(
    mut listener: TcpListener,
    url: String,
    secret: String,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let addr = listener.local_addr()?;
    let mut tick = 0u64;
    loop {
        let hub = EmbeddedHub::new(
            HubConfig::builder()
                .url(&url)
                .key(VerificationKey::hs256(secret.as_bytes())?)
                .anonymous(true)
                .build()?,
        );
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(mercure_hub::serve_with_shutdown(
            listener,
            hub.router(),
            async {
                let _ = stopped.await;
            },
        ));
        for _ in 0..5 {
            tokio::time::sleep(Duration::from_secs(1)).await;
            tick += 1;
            let update = Update::builder("https://example.com/clock")
                .event_type("tick")
                .data(format!("tick {tick}"))
                .private(tick.is_multiple_of(2))
                .build()?;
            hub.publish(&update).await?;
        }
        // Let the last tick reach the subscribers: closing a subscriber
        // ends its stream at once.
        tokio::time::sleep(Duration::from_millis(200)).await;
        println!("[demo hub] restarting");
        let _ = stop.send(());
        hub.close_subscribers(|_| true);
        server.await??;
        tokio::time::sleep(Duration::from_secs(1)).await;
        listener = TcpListener::bind(addr).await?;
    }
}
