//! Our publisher and tokens against flask-mercure-sse's hub (PyPI), a peer
//! nobody on this project wrote.
//!
//! Its known deviations, which these tests work within: no response headers
//! until the first event (or its 15 s ping), a subscriber dropped once 5
//! events queue up, exact topic matching only, only the first topic of an
//! update used, no `Last-Event-ID` response header, `data` required.

use std::time::Duration;

use mercure_client::token::{Grants, SigningKey, Token, TokenFactory};
use mercure_client::{Error, Hub, ProtocolVersion, TopicSelector, Update};
use mercure_integration_tests::flask_hub::{FlaskHub, PUBLISHER_SECRET, SUBSCRIBER_SECRET};
use mercure_integration_tests::raw_sse::{RawEvent, RawStream};
use mercure_integration_tests::served_hub::encode_component as urlencode;
use tokio::task::JoinHandle;

const WAIT: Duration = Duration::from_secs(10);

fn factory(secret: &str) -> TokenFactory {
    TokenFactory::builder(SigningKey::hs256(secret.as_bytes()).expect("key"))
        .protocol(ProtocolVersion::V0)
        .build()
        .expect("factory")
}

fn publisher(flask: &FlaskHub) -> Hub {
    Hub::builder(flask.url())
        .token_factory(factory(PUBLISHER_SECRET), Grants::publish_all())
        .build()
        .expect("hub")
}

fn subscriber_token(topics: &[&str]) -> Token {
    factory(SUBSCRIBER_SECRET)
        .mint(
            &Grants::new()
                .subscribe(topics.iter().map(|t| TopicSelector::exact(*t)))
                .with_payload(serde_json::json!({"user": "peer-test"})),
        )
        .expect("subscriber token")
}

/// Opens a subscription in the background: this hub sends no headers
/// before the first event, so the request only completes once something
/// is published.
fn subscribe(
    flask: &FlaskHub,
    topic: &str,
    token: Option<Token>,
    last_event_id: Option<String>,
    events: usize,
) -> JoinHandle<Vec<RawEvent>> {
    let url = format!("{}?topic={}", flask.url(), urlencode(topic));
    tokio::spawn(async move {
        let mut stream = RawStream::open(
            &url,
            token.as_ref().map(Token::expose),
            last_event_id.as_deref(),
        )
        .await
        .unwrap_or_else(|e| panic!("subscribe to {url}: {e}"));
        let mut received = Vec::new();
        while received.len() < events {
            let what = format!("event {} of {events} on {url}", received.len() + 1);
            received.push(stream.expect_event(WAIT, &what).await);
        }
        received
    })
}

/// What a [`subscribe`] task received. It ends by itself, at the latest
/// when a wait of its own runs out (the response head within
/// `STREAM_READ_TIMEOUT`, then each event within [`WAIT`]); this bounds
/// the join in case it does not.
async fn received(task: JoinHandle<Vec<RawEvent>>, who: &str) -> Vec<RawEvent> {
    let bound = mercure_integration_tests::STREAM_READ_TIMEOUT + 3 * WAIT;
    tokio::time::timeout(bound, task)
        .await
        .unwrap_or_else(|_| panic!("the {who} subscriber did not finish in time"))
        .unwrap_or_else(|e| panic!("the {who} subscriber: {e}"))
}

/// Waits until the hub lists `count` subscriptions to `topic` (through its
/// subscriptions API, with a subscriber token allowed on every topic). This
/// hub's collection endpoint fails with a 500 and its router decodes `%2F`
/// before matching, so the topic is percent-encoded twice.
async fn wait_for_subscribers(flask: &FlaskHub, topic: &str, count: usize) {
    let token = subscriber_token(&["*"]);
    let client = mercure_integration_tests::http_client();
    let url = format!(
        "{}/subscriptions/{}",
        flask.url(),
        urlencode(&urlencode(topic))
    );
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let response = client
            .get(&url)
            .bearer_auth(token.expose())
            .send()
            .await
            .expect("subscriptions API");
        if response.status() == 200 {
            let body: serde_json::Value = response.json().await.expect("JSON-LD");
            let listed = body["subscriptions"]
                .as_array()
                .map_or(0, |all| all.iter().filter(|s| s["topic"] == topic).count());
            if listed >= count {
                return;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "subscribers never registered"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn our_publisher_reaches_a_flask_subscriber() {
    let flask = FlaskHub::start().await;
    let topic = "https://example.com/books/1";
    let task = subscribe(&flask, topic, None, None, 1);
    wait_for_subscribers(&flask, topic, 1).await;

    let update = Update::builder(topic)
        .data("{\"title\": \"Dune\"}\nsecond line")
        .event_type("book.updated")
        .id("book-1-v1")
        .build()
        .expect("update");
    let id = publisher(&flask).publish(&update).await.expect("publish");
    assert_eq!(id, "book-1-v1", "the hub honours our id");

    let events = received(task, "flask").await;
    assert_eq!(
        events,
        vec![RawEvent {
            id: Some("book-1-v1".into()),
            event: Some("book.updated".into()),
            data: "{\"title\": \"Dune\"}\nsecond line".into(),
        }]
    );
}

#[tokio::test]
async fn the_hub_assigns_ids_and_refuses_bad_credentials_with_typed_errors() {
    let flask = FlaskHub::start().await;
    let hub = publisher(&flask);
    let id = hub
        .publish(&Update::new("https://example.com/a", "x").expect("update"))
        .await
        .expect("publish");
    // An id of its own: a UUID URN.
    assert!(id.as_str().starts_with("urn:uuid:"), "{id}");
    assert_eq!(id.as_str().len(), "urn:uuid:".len() + 36, "{id}");

    // Signed with the wrong secret: this hub answers 403.
    let forged = Hub::builder(flask.url())
        .token_factory(factory("not-the-secret"), Grants::publish_all())
        .build()
        .expect("hub");
    let error = forged
        .publish(&Update::new("https://example.com/a", "x").expect("update"))
        .await
        .expect_err("forged token");
    assert!(matches!(error, Error::Forbidden(_)), "{error:?}");

    // No token at all: 401.
    let anonymous = Hub::builder(flask.url()).build().expect("hub");
    let error = anonymous
        .publish(&Update::new("https://example.com/a", "x").expect("update"))
        .await
        .expect_err("no token");
    assert!(matches!(error, Error::Unauthorized(_)), "{error:?}");

    // A publisher allowed on one topic only.
    let narrow = Hub::builder(flask.url())
        .token_factory(
            factory(PUBLISHER_SECRET),
            Grants::new().publish(["https://example.com/allowed"]),
        )
        .build()
        .expect("hub");
    narrow
        .publish(&Update::new("https://example.com/allowed", "x").expect("update"))
        .await
        .expect("allowed topic");
    let error = narrow
        .publish(&Update::new("https://example.com/other", "x").expect("update"))
        .await
        .expect_err("other topic");
    assert!(matches!(error, Error::Forbidden(_)), "{error:?}");
}

#[tokio::test]
async fn private_updates_reach_only_authorized_subscribers() {
    let flask = FlaskHub::start().await;
    let topic = "https://example.com/users/42/inbox";
    let authorized = subscribe(&flask, topic, Some(subscriber_token(&[topic])), None, 2);
    let anonymous = subscribe(&flask, topic, None, None, 1);
    let other_user = subscribe(
        &flask,
        topic,
        Some(subscriber_token(&["https://example.com/users/7/inbox"])),
        None,
        1,
    );
    wait_for_subscribers(&flask, topic, 3).await;

    let hub = publisher(&flask);
    let secret = Update::builder(topic)
        .data("secret")
        .private(true)
        .build()
        .expect("update");
    hub.publish(&secret).await.expect("private");
    let public = Update::new(topic, "public").expect("update");
    hub.publish(&public).await.expect("public");

    let data = |events: Vec<RawEvent>| events.into_iter().map(|e| e.data).collect::<Vec<_>>();
    assert_eq!(
        data(received(authorized, "authorized").await),
        ["secret", "public"]
    );
    assert_eq!(data(received(anonymous, "anonymous").await), ["public"]);
    assert_eq!(data(received(other_user, "other user's").await), ["public"]);
}

#[tokio::test]
async fn reconciliation_replays_what_followed_the_last_event_id() {
    let flask = FlaskHub::start().await;
    let topic = "https://example.com/feed";
    let hub = publisher(&flask);
    for n in 1..=3 {
        let update = Update::builder(topic)
            .data(format!("event {n}"))
            .id(format!("feed-{n}"))
            .build()
            .expect("update");
        hub.publish(&update).await.expect("publish");
    }
    let events = received(
        subscribe(&flask, topic, None, Some("feed-1".into()), 2),
        "reconciling",
    )
    .await;
    let ids: Vec<_> = events.iter().filter_map(|e| e.id.clone()).collect();
    assert_eq!(ids, ["feed-2", "feed-3"]);
}

/// Our `Subscriber` against this hub: every way of presenting the token
/// gets the private update.
#[tokio::test]
async fn our_subscriber_authorizes_by_header_cookie_and_query() {
    use futures_util::StreamExt;
    use mercure_client::Subscriber;
    use mercure_client::subscriber::AuthorizationMethod;

    let flask = FlaskHub::start().await;
    let topic = "https://example.com/users/42/notifications";
    let methods = [
        AuthorizationMethod::Header,
        AuthorizationMethod::Cookie,
        AuthorizationMethod::QueryParameter,
    ];
    let mut tasks = Vec::new();
    for method in methods {
        let subscriber = Subscriber::builder(flask.url())
            .protocol(ProtocolVersion::V0)
            .topic(topic)
            .token(subscriber_token(&[topic]))
            .authorization_method(method)
            .build()
            .expect("subscriber");
        tasks.push(tokio::spawn(async move {
            let mut updates = subscriber.updates();
            let update = tokio::time::timeout(WAIT, updates.next())
                .await
                .expect("an update in time")
                .expect("stream open")
                .expect("no error");
            (method, update.data().to_owned())
        }));
    }
    wait_for_subscribers(&flask, topic, methods.len()).await;
    let update = Update::builder(topic)
        .data("for user 42 only")
        .private(true)
        .build()
        .expect("update");
    publisher(&flask).publish(&update).await.expect("publish");
    for task in tasks {
        let (method, data) = tokio::time::timeout(2 * WAIT, task)
            .await
            .expect("each subscriber task ends within its own wait")
            .expect("join");
        assert_eq!(data, "for user 42 only", "{method:?}");
    }
}

/// Our `Subscriber` resumes from a `Last-Event-ID` this hub knows. The hub
/// sends no resume header, so nothing may be reported as lost.
#[tokio::test]
async fn our_subscriber_resumes_from_the_last_event_id() {
    use futures_util::StreamExt;
    use mercure_client::{Subscriber, SubscriberEvent};

    let flask = FlaskHub::start().await;
    let topic = "https://example.com/journal";
    let hub = publisher(&flask);
    for n in 1..=3 {
        let update = Update::builder(topic)
            .data(format!("entry {n}"))
            .id(format!("journal-{n}"))
            .build()
            .expect("update");
        hub.publish(&update).await.expect("publish");
    }
    let mut subscriber = Subscriber::builder(flask.url())
        .topic(topic)
        .anonymous()
        .last_event_id("journal-1")
        .build()
        .expect("subscriber");
    let mut ids = Vec::new();
    while ids.len() < 2 {
        let event = tokio::time::timeout(WAIT, subscriber.next())
            .await
            .expect("events in time")
            .expect("stream open")
            .expect("no error");
        match event {
            SubscriberEvent::Update(update) => {
                ids.push(update.id().map(|id| id.as_str().to_owned()));
            }
            SubscriberEvent::EventsLost(lost) => panic!("nothing was lost: {lost:?}"),
            _ => {}
        }
    }
    assert_eq!(
        ids,
        [Some("journal-2".to_owned()), Some("journal-3".to_owned())]
    );
}
