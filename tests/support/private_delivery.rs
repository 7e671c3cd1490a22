//! The end-to-end check every adapter test ends with: a client holding the
//! authorization cookie receives a private update, an anonymous one does
//! not, and both receive the public update published after it.

use std::time::Duration;

use futures_util::{Stream, StreamExt as _};
use mercure_client::{Hub, Update};
use mercure_web::HubUrl;

/// How long the hub may stay silent while something is awaited.
const PATIENCE: Duration = Duration::from_secs(10);

/// Reads `stream` until `needle` has been seen; returns all that was read.
///
/// # Panics
/// When nothing arrives for 10 seconds, the stream fails, or it ends
/// first; the message names the needle and what was read.
pub async fn read_until(
    stream: &mut (impl Stream<Item = reqwest::Result<bytes::Bytes>> + Unpin),
    needle: &str,
) -> String {
    let mut seen = String::new();
    while !seen.contains(needle) {
        let chunk = tokio::time::timeout(PATIENCE, stream.next())
            .await
            .unwrap_or_else(|_| {
                panic!("{needle:?} did not arrive within {PATIENCE:?}; read so far: {seen:?}")
            })
            .unwrap_or_else(|| panic!("the stream ended before {needle:?}; read: {seen:?}"))
            .unwrap_or_else(|e| panic!("the stream failed before {needle:?}: {e}; read: {seen:?}"));
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    seen
}

/// Sends a subscription request; its response head must arrive within
/// [`PATIENCE`].
async fn subscribe(request: reqwest::RequestBuilder, who: &str) -> reqwest::Response {
    let response = tokio::time::timeout(PATIENCE, request.send())
        .await
        .unwrap_or_else(|_| {
            panic!("the hub did not answer the {who} subscription within {PATIENCE:?}")
        })
        .unwrap_or_else(|e| panic!("the {who} subscription failed: {e}"));
    assert_eq!(response.status(), 200, "the {who} subscription");
    response
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
    let authorized = subscribe(authorize(client.get(url.clone())), "authorized").await;
    let anonymous = subscribe(crate::stream_client().get(url), "anonymous").await;
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

    // Updates arrive in the order they were published: the private one,
    // when delivered, comes before the public one.
    let seen = read_until(&mut authorized, "data: for everyone").await;
    let private_at = seen.find("data: for ada only");
    let public_at = seen.find("data: for everyone");
    assert!(
        matches!((private_at, public_at), (Some(p), Some(q)) if p < q),
        "the authorized subscriber receives the private update, then the public one: {seen:?}"
    );
    let seen = read_until(&mut anonymous, "data: for everyone").await;
    assert!(
        !seen.contains("for ada only"),
        "the anonymous subscriber receives the public update only: {seen:?}"
    );
}
