//! The live status board on actix-web, with the Mercure hub embedded in
//! the process and served alongside on its own 127.0.0.1 port.
//!
//! `MERCURE_PROTOCOL=1` speaks the 1.0 dialect (default `0`).
//!
//! ```sh
//! cargo run -p mercure-examples --example status-board-actix          # free ports
//! cargo run -p mercure-examples --example status-board-actix -- 3000  # the board on port 3000
//! ```

use std::net::{Ipv4Addr, SocketAddr};

use mercure_client::ProtocolVersion;
use mercure_examples::board::BoardSettings;
use mercure_examples::status_board_actix;
use url::Url;

#[actix_web::main]
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
    let app_listener = std::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
        .map_err(|error| format!("cannot listen on 127.0.0.1:{port}: {error}"))?;
    let hub_listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
    let settings = BoardSettings::new(
        Url::parse(&format!("http://{}/", app_listener.local_addr()?))?,
        Url::parse(&format!(
            "http://{}/.well-known/mercure",
            hub_listener.local_addr()?
        ))?,
    )?
    .protocol(protocol()?);
    let app = status_board_actix::app(&settings)?;
    let hub = tokio::spawn(mercure_hub::serve(hub_listener, app.hub.router()));
    let server = app.server(app_listener)?;
    let handle = server.handle();
    let running = actix_web::rt::spawn(server);

    let base = settings.base_url();
    println!("Status board on actix-web, its Mercure hub served alongside");
    println!();
    println!("  Open       {base}  (log in as Alice; as Bob in a private window)");
    println!("  Hub        {}", settings.hub_url());
    println!();
    println!("Set a status through the app (every page updates):");
    println!("  curl -d status=busy {base}api/users/alice/status");
    println!();
    println!("Ctrl-C stops.");

    tokio::signal::ctrl_c().await?;
    handle.stop(true).await;
    running.await??;
    hub.abort();
    Ok(())
}

/// The dialect asked for with `MERCURE_PROTOCOL` (default 0.x).
fn protocol() -> Result<ProtocolVersion, Box<dyn std::error::Error>> {
    match std::env::var("MERCURE_PROTOCOL") {
        Ok(version) => Ok(version.parse()?),
        Err(_) => Ok(ProtocolVersion::V0),
    }
}
