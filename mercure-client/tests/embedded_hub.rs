//! The embedded hub of `mercure-hub` behind the [`Publisher`] seam.

use std::time::Duration;

use futures_util::StreamExt;
use mercure_client::{Publisher, Update};
use mercure_hub::{EmbeddedHub, HubConfig, SubscribeRequest, Subscription};

async fn next_text(subscription: &mut Subscription) -> Option<String> {
    let chunk = tokio::time::timeout(Duration::from_secs(10), subscription.next())
        .await
        .expect("an event within 10 s")?
        .unwrap();
    Some(String::from_utf8(chunk.to_vec()).unwrap())
}

#[tokio::test]
async fn the_hub_is_a_publisher_for_application_code() {
    let embedded = EmbeddedHub::new(HubConfig::builder().build().unwrap());
    let mut stream = embedded
        .subscribe(SubscribeRequest::new(["t"]))
        .await
        .unwrap();
    assert!(next_text(&mut stream).await.is_some());
    let publisher: std::sync::Arc<dyn Publisher> = std::sync::Arc::new(embedded.clone());
    let id = publisher
        .publish(&Update::new("t", "through the trait").unwrap())
        .await
        .unwrap();
    let text = next_text(&mut stream).await.unwrap();
    assert!(text.starts_with(&format!("id: {id}\n")), "{text}");
    assert!(text.contains("data: through the trait"));
    // Refusals look like a remote hub's.
    let wildcard = publisher
        .publish(&Update::new("*", "").unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(wildcard, mercure_client::Error::InvalidUpdate(_)),
        "{wildcard:?}"
    );
    let reserved = publisher
        .publish(&Update::new("/.well-known/mercure/subscriptions/x", "").unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(&reserved, mercure_client::Error::BadRequest(rejection) if rejection.status == 400),
        "{reserved:?}"
    );
}
