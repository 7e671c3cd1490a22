//! A publisher service: `POST /orders` answers at once while a backend job
//! publishes the order's progress through a background queue that retries
//! when the hub is down or overloaded.
//!
//! ```sh
//! cargo run -p mercure-examples --example publisher-service
//! ```
//!
//! Without `MERCURE_URL` it starts its own hub on 127.0.0.1; with it, it
//! publishes there, signing with `MERCURE_JWT_SECRET` (default: the demo
//! secret). An optional argument picks the service's port.

use std::net::{Ipv4Addr, SocketAddr};

use mercure_client::Hub;
use mercure_client::token::{Grants, SigningKey, TokenFactory};
use mercure_examples::board::DEMO_SECRET;
use mercure_examples::publisher_service::{OrderService, ServiceSettings};
use mercure_hub::{EmbeddedHub, HubConfig, VerificationKey};
use url::Url;

#[tokio::main]
async fn main() {
    if let Err(error) = run().await {
        eprintln!("error: {error}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = match std::env::args().nth(1) {
        Some(port) => port.parse().map_err(|_| format!("not a port: {port}"))?,
        None => 0,
    };
    let secret = std::env::var("MERCURE_JWT_SECRET").unwrap_or_else(|_| DEMO_SECRET.to_owned());
    let hub_url = match std::env::var("MERCURE_URL") {
        Ok(url) => url,
        Err(_) => {
            // No hub given: run one here, on its own port.
            let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
            let url = format!("http://{}/.well-known/mercure", listener.local_addr()?);
            let hub = EmbeddedHub::new(
                HubConfig::builder()
                    .url(&url)
                    .key(VerificationKey::hs256(secret.as_bytes())?)
                    .anonymous(true)
                    .build()?,
            );
            tokio::spawn(mercure_hub::serve(listener, hub.router()));
            url
        }
    };

    let listener = tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
        .await
        .map_err(|error| format!("cannot listen on 127.0.0.1:{port}: {error}"))?;
    let base = Url::parse(&format!("http://{}/", listener.local_addr()?))?;
    let factory = TokenFactory::builder(SigningKey::hs256(secret.as_bytes())?).build()?;
    let hub = Hub::builder(&hub_url)
        .token_factory(
            factory,
            Grants::new().publish([format!("{base}orders/{{id}}")]),
        )
        .build()?;
    let service = OrderService::start(hub, &ServiceSettings::new(base.clone()));

    println!("Order service publishing to {hub_url}");
    println!();
    println!("Follow every order:");
    println!(
        "  curl -N '{hub_url}?topic={}'",
        url::form_urlencoded::byte_serialize(format!("{base}orders/{{id}}").as_bytes())
            .collect::<String>()
    );
    println!("Place one (answers at once; the updates follow):");
    println!("  curl -d item=book {base}orders");
    println!("Queue counters:");
    println!("  curl {base}stats");
    println!();
    println!("Ctrl-C stops (queued updates are published first).");

    let router = service.router();
    mercure_hub::serve_with_shutdown(listener, router, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    service.shutdown().await;
    Ok(())
}
