//! Our own hub, served on 127.0.0.1 port 0 for one test.

use mercure_hub::{EmbeddedHub, HubConfigBuilder};

/// A hub served in this process; the server task stops with the runtime.
#[derive(Debug, Clone)]
pub struct ServedHub {
    /// The in-process handle (publish, subscriptions, metrics...).
    pub hub: EmbeddedHub,
    /// `http://127.0.0.1:PORT/.well-known/mercure`.
    pub url: String,
}

/// Serves a hub configured by `builder` (its URL is set to the bound
/// address), with the operations routes (health, metrics) merged in.
///
/// # Panics
/// When the port cannot be bound or the configuration is invalid.
pub async fn serve_hub(builder: HubConfigBuilder) -> ServedHub {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let url = format!(
        "http://{}/.well-known/mercure",
        listener.local_addr().expect("local address")
    );
    let hub = EmbeddedHub::new(builder.url(&url).build().expect("hub configuration"));
    let app = hub.router().merge(hub.operations_router());
    tokio::spawn(mercure_hub::serve(listener, app));
    ServedHub { hub, url }
}

/// As [`serve_hub`], but served as the `mercure-hub` binary serves:
/// [`mercure_hub::serve_hub`], whose lean HTTP/1.1 path answers plain
/// subscriptions (and which applies the hub's own connection limits).
///
/// # Panics
/// When the port cannot be bound or the configuration is invalid.
pub async fn serve_hub_lean(builder: HubConfigBuilder) -> ServedHub {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let url = format!(
        "http://{}/.well-known/mercure",
        listener.local_addr().expect("local address")
    );
    let hub = EmbeddedHub::new(builder.url(&url).build().expect("hub configuration"));
    let app = hub.router().merge(hub.operations_router());
    tokio::spawn(mercure_hub::serve_hub(
        listener,
        hub.clone(),
        app,
        std::future::pending(),
    ));
    ServedHub { hub, url }
}

/// Percent-encodes everything but RFC 3986's unreserved characters, for a
/// query value or a path segment.
pub fn encode_component(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}
