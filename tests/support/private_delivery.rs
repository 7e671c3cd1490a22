//! The end-to-end check every adapter test ends with: a client holding the
//! authorization cookie receives a private update, an anonymous one does
//! not, and both receive the public update published after it.

use std::time::Duration;

use futures_util::{Stream, StreamExt as _};
use mercure_client::{Hub, Update};
use mercure_web::HubUrl;

/// Reads `stream` until `needle` has been seen; returns all that was read.
///
/// # Panics
/// When nothing arrives for 10 seconds or the stream ends first.
pub async fn read_until(
    stream: &mut (impl Stream<Item = reqwest::Result<bytes::Bytes>> + Unpin),
    needle: &str,
) -> String {
    let mut seen = String::new();
    while !seen.contains(needle) {
        let chunk = tokio::time::timeout(Duration::from_secs(10), stream.next())
            .await
            .expect("the hub answers within 10 s")
            .expect("the stream goes on")
            .expect("a chunk");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    seen
}

/// Subscribes to `topic` on `hub` twice: with `client`, its request shaped
/// by `authorize` (which adds the cookie, unless the client keeps cookies
/// itself), and anonymously; publishes a private then a public update
/// through `hub`, and checks who received what.
///
/// # Panics
/// When a subscription is refused or the deliveries are not as expected.
pub async fn assert_private_delivery(
    client: &reqwest::Client,
    authorize: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
    hub: &Hub,
    topic: &str,
) {
    let url = HubUrl::new(hub.info()).topic(topic).build().expect("url");
    let authorized = authorize(client.get(url.clone()))
        .send()
        .await
        .expect("subscribe");
    assert_eq!(authorized.status(), 200);
    let anonymous = reqwest::get(url).await.expect("subscribe");
    assert_eq!(anonymous.status(), 200);
    let mut authorized = authorized.bytes_stream();
    let mut anonymous = anonymous.bytes_stream();
    // Both streams are open once their first chunk arrives.
    read_until(&mut authorized, ":").await;
    read_until(&mut anonymous, ":").await;

    let private = Update::builder(topic)
        .data("for ada only")
        .private(true)
        .build()
        .expect("update");
    hub.publish(&private).await.expect("publish private");
    let public = Update::builder(topic)
        .data("for everyone")
        .build()
        .expect("update");
    hub.publish(&public).await.expect("publish public");

    let seen = read_until(&mut authorized, "data: for everyone").await;
    assert!(seen.contains("data: for ada only"), "{seen}");
    let seen = read_until(&mut anonymous, "data: for everyone").await;
    assert!(!seen.contains("for ada only"), "{seen}");
}
