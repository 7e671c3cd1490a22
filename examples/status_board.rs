//! The live status board on axum with the Mercure hub embedded: open the
//! printed URL in two browser windows (one of them private), log in as two
//! users, change statuses and send private notes.
//!
//! `MERCURE_PROTOCOL=1` speaks the 1.0 dialect (default `0`).
//!
//! ```sh
//! cargo run -p mercure-examples --example status-board          # a free port
//! cargo run -p mercure-examples --example status-board -- 3000  # port 3000
//! ```

use std::net::{Ipv4Addr, SocketAddr};

use mercure_client::ProtocolVersion;
use mercure_client::token::Grants;
use mercure_examples::board::BoardSettings;
use mercure_examples::status_board;

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
    let listener = tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
        .await
        .map_err(|error| format!("cannot listen on 127.0.0.1:{port}: {error}"))?;
    let settings = BoardSettings::local(listener.local_addr()?).protocol(protocol()?);
    let app = status_board::app(&settings)?;
    let topics = app.board.topics();

    // A short-lived token allowed to publish Alice's notes only, for the
    // curl line below (the demo's secret is public anyway).
    let token = app
        .board
        .hub()
        .token_factory()
        .ok_or("the board's hub has no token factory")?
        .mint_for(
            &Grants::new().publish([topics.notifications("alice")]),
            std::time::Duration::from_secs(3600),
        )?;

    let base = settings.base_url();
    println!("Status board with an embedded Mercure hub");
    println!();
    println!("  Open       {base}  (log in as Alice; as Bob in a private window)");
    println!("  Hub        {}", settings.hub_url());
    println!();
    println!("Set a status through the app (every page updates):");
    println!("  curl -d status=busy {base}api/users/alice/status");
    println!();
    println!("Publish a private note straight to the hub (only Alice's pages show it):");
    println!(
        "  curl -H 'Authorization: Bearer {}' -d topic={} -d private=on \\\n       --data-urlencode 'data={{\"from\":\"curl\",\"message\":\"hello Alice\"}}' -d type=note {}",
        token.expose(),
        topics.notifications("alice"),
        settings.hub_url()
    );
    println!();
    println!("Ctrl-C stops.");

    mercure_hub::serve_with_shutdown(listener, app.router, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}

/// The dialect asked for with `MERCURE_PROTOCOL` (default 0.x).
fn protocol() -> Result<ProtocolVersion, Box<dyn std::error::Error>> {
    match std::env::var("MERCURE_PROTOCOL") {
        Ok(version) => Ok(version.parse()?),
        Err(_) => Ok(ProtocolVersion::V0),
    }
}
