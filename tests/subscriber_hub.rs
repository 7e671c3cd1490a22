//! The mercure-client subscriber, discovery and subscriptions API against
//! a real mercure-hub on 127.0.0.1, in both dialects.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures_util::StreamExt;
use mercure_client::clock::ManualClock;
use mercure_client::discovery::{detect_protocol, fetch_resource_metadata};
use mercure_client::subscriber::ExponentialBackoff;
use mercure_client::subscriber::ReconnectReason;
use mercure_client::subscriptions::SubscriptionsApi;
use mercure_client::token::{
    CachedTokenProvider, Grants, SigningKey, Token, TokenFactory, TokenFuture, TokenProvider,
};
use mercure_client::{
    EventId, Hub, ProtocolVersion, Subscriber, SubscriberEvent, TopicSelector, Update,
};
use mercure_core::token::{VerificationKey as TokenKey, Verifier};
use mercure_hub::{DialectSupport, EmbeddedHub, HubConfig, HubConfigBuilder, VerificationKey};

const SECRET: &[u8] = b"!ChangeThisMercureHubJWTSecretKey!";
const ISSUER: &str = "https://app.example.com";
/// How long a test waits for something that should happen at once.
const PATIENCE: Duration = Duration::from_secs(10);

struct Running {
    hub: EmbeddedHub,
    url: String,
}

async fn start(builder: HubConfigBuilder) -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/.well-known/mercure",
        listener.local_addr().unwrap()
    );
    let hub = EmbeddedHub::new(builder.url(&url).build().unwrap());
    tokio::spawn(mercure_hub::serve(listener, hub.router()));
    Running { hub, url }
}

fn config() -> HubConfigBuilder {
    HubConfig::builder().key(VerificationKey::hs256(SECRET).unwrap())
}

fn factory(version: ProtocolVersion, audience: &str) -> TokenFactory {
    let builder = TokenFactory::builder(SigningKey::hs256(SECRET).unwrap()).protocol(version);
    match version {
        ProtocolVersion::V0 => builder.build().unwrap(),
        ProtocolVersion::V1 => builder.issuer(ISSUER).audience(audience).build().unwrap(),
    }
}

fn client_hub(running: &Running, version: ProtocolVersion, grants: Grants) -> Hub {
    Hub::builder(&running.url)
        .token_factory(factory(version, &running.url), grants)
        .build()
        .unwrap()
}

fn fast_backoff() -> ExponentialBackoff {
    ExponentialBackoff::new()
        .initial(Duration::from_millis(5))
        .max(Duration::from_millis(50))
}

async fn wait_subscribers(running: &Running, n: u64) {
    tokio::time::timeout(PATIENCE, async {
        while running.hub.metrics().subscribers_connected != n {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await
    .expect("subscriber count reached");
}

async fn next_event(subscriber: &mut Subscriber) -> SubscriberEvent {
    tokio::time::timeout(PATIENCE, subscriber.next())
        .await
        .unwrap_or_else(|_| panic!("no subscriber event within {PATIENCE:?}"))
        .expect("the subscriber's stream goes on")
        .unwrap_or_else(|e| panic!("the subscriber failed: {e}"))
}

/// The next subscription event of `events`, within [`PATIENCE`].
async fn next_subscription(
    events: &mut mercure_client::subscriptions::SubscriptionEvents,
    what: &str,
) -> mercure_client::subscriptions::ActiveSubscription {
    tokio::time::timeout(PATIENCE, events.next())
        .await
        .unwrap_or_else(|_| panic!("{what}: no subscription event within {PATIENCE:?}"))
        .unwrap_or_else(|| panic!("{what}: the subscription events ended"))
        .unwrap_or_else(|e| panic!("{what}: {e}"))
}

async fn next_update(subscriber: &mut Subscriber) -> mercure_client::sse::ReceivedUpdate {
    loop {
        if let SubscriberEvent::Update(update) = next_event(subscriber).await {
            return update;
        }
    }
}

#[tokio::test]
async fn updates_arrive_once_and_in_order_across_hub_side_disconnections() {
    for version in ProtocolVersion::ALL {
        let running = start(config()).await;
        let publisher = client_hub(&running, version, Grants::publish_all());
        let subscriber_hub = client_hub(
            &running,
            version,
            Grants::new().subscribe([
                TopicSelector::pattern("https://example.com/books/{id}"),
                TopicSelector::pattern("https://example.com/books/:id"),
            ]),
        );
        let selector = match version {
            ProtocolVersion::V0 => TopicSelector::pattern("https://example.com/books/{id}"),
            ProtocolVersion::V1 => TopicSelector::pattern("https://example.com/books/:id"),
        };
        let mut subscriber = Subscriber::for_hub(&subscriber_hub)
            .topic(selector)
            .retry_strategy(fast_backoff())
            .build()
            .unwrap();
        // Polling opens the connection.
        let opened = tokio::spawn(async move {
            let event = next_event(&mut subscriber).await;
            (subscriber, event)
        });
        wait_subscribers(&running, 1).await;
        let (mut subscriber, event) = opened.await.unwrap();
        assert!(
            matches!(event, SubscriberEvent::Connected(_)),
            "{version}: {event:?}"
        );

        let mut published = Vec::new();
        let mut received = Vec::new();
        for round in 0..3 {
            for i in 0..4 {
                let update = Update::builder(format!("https://example.com/books/{round}{i}"))
                    .data(format!("{{\"round\": {round}, \"i\": {i}}}"))
                    .private(true)
                    .build()
                    .unwrap();
                published.push(publisher.publish(&update).await.unwrap());
            }
            // A public update on a topic not selected never arrives.
            publisher
                .publish(&Update::new("https://example.com/authors/1", "{}").unwrap())
                .await
                .unwrap();
            while received.len() < published.len() {
                let update = next_update(&mut subscriber).await;
                received.push(update.id().unwrap().clone());
            }
            // The hub drops the connection; the subscriber comes back
            // with Last-Event-ID and the hub confirms where it resumes.
            assert_eq!(running.hub.close_subscribers(|_| true), 1);
            loop {
                match next_event(&mut subscriber).await {
                    SubscriberEvent::Connected(connected) => {
                        assert_eq!(connected.requested.as_ref(), published.last());
                        assert_eq!(
                            connected.resumed_from.as_ref(),
                            published.last(),
                            "{version}"
                        );
                        break;
                    }
                    SubscriberEvent::Reconnecting(_) => {}
                    other => panic!("{version}: {other:?}"),
                }
            }
            wait_subscribers(&running, 1).await;
        }
        assert_eq!(received, published, "{version}");
    }
}

#[tokio::test]
async fn a_hub_whose_history_was_trimmed_reports_lost_events() {
    for version in ProtocolVersion::ALL {
        let running = start(config().history_size(2)).await;
        let publisher = client_hub(&running, version, Grants::publish_all());
        let mut ids = Vec::new();
        for i in 0..5 {
            let update = Update::new(format!("https://example.com/t/{i}"), "x").unwrap();
            ids.push(publisher.publish(&update).await.unwrap());
        }
        let mut subscriber =
            Subscriber::for_hub(&client_hub(&running, version, Grants::subscribe_all()))
                .topic("*")
                .last_event_id(ids[0].clone())
                .build()
                .unwrap();
        let SubscriberEvent::Connected(connected) = next_event(&mut subscriber).await else {
            panic!("{version}: not connected first")
        };
        assert_eq!(connected.requested.as_ref(), Some(&ids[0]), "{version}");
        // The hub no longer holds ids[0]: it replays all it holds.
        assert_eq!(
            connected.resumed_from,
            Some(EventId::earliest()),
            "{version}"
        );
        let SubscriberEvent::EventsLost(lost) = next_event(&mut subscriber).await else {
            panic!("{version}: no loss reported")
        };
        assert_eq!(lost.requested, ids[0], "{version}");
        assert_eq!(lost.resumed_from, EventId::earliest(), "{version}");
        // What it holds: the last two.
        assert_eq!(next_update(&mut subscriber).await.id(), Some(&ids[3]));
        assert_eq!(next_update(&mut subscriber).await.id(), Some(&ids[4]));
    }
}

#[tokio::test]
async fn the_dialect_is_detected_from_the_metadata() {
    for (support, expected) in [
        (DialectSupport::V0Only, ProtocolVersion::V0),
        (DialectSupport::V1Only, ProtocolVersion::V1),
        (DialectSupport::Both, ProtocolVersion::V1),
    ] {
        let running = start(config().support(support).subscriptions(true)).await;
        let url = url::Url::parse(&running.url).unwrap();
        let client = mercure_integration_tests::http_client();
        assert_eq!(
            detect_protocol(&client, &url).await.unwrap(),
            expected,
            "{support:?}"
        );
        let metadata = fetch_resource_metadata(&client, &url).await.unwrap();
        if expected == ProtocolVersion::V0 {
            // A 0.x-only hub publishes no 1.0 metadata.
            assert!(metadata.is_none(), "{support:?}: {metadata:?}");
            continue;
        }
        let metadata = metadata.unwrap();
        assert_eq!(metadata.resource, running.url);
        assert_eq!(
            metadata.mercure_matcher_types_supported,
            ["exact", "urlpattern"],
            "{support:?}"
        );
        let bearer_methods: &[&str] = match support {
            DialectSupport::V1Only => &["header"],
            _ => &["header", "query"],
        };
        assert_eq!(
            metadata.bearer_methods_supported, bearer_methods,
            "{support:?}"
        );
        assert_eq!(metadata.mercure_subscriptions, Some(true));
    }
}

#[tokio::test]
async fn the_subscriptions_api_and_subscription_events() {
    for version in ProtocolVersion::ALL {
        let running = start(config().subscriptions(true)).await;
        let topic = "https://example.com/chat/7";
        // The observer may read every subscription topic.
        let observer_hub = client_hub(&running, version, Grants::subscribe_all());
        let api = SubscriptionsApi::new(&observer_hub);
        assert!(
            api.all().await.unwrap().subscriptions.is_empty(),
            "{version}"
        );
        assert!(!api.is_connected(topic, None).await.unwrap());

        let mut events = api.events(None).unwrap();
        // The observer's own subscription is announced first.
        let own = next_subscription(&mut events, "the observer's own subscription").await;
        assert!(own.active, "{version}");
        wait_subscribers(&running, 1).await;
        // A second observer, of this topic's subscriptions only.
        let mut filtered = api.events(Some(&TopicSelector::exact(topic))).unwrap();
        let filtered_first = tokio::spawn(async move {
            next_subscription(&mut filtered, "the filtered observer's first event").await
        });
        wait_subscribers(&running, 2).await;

        let user_hub = client_hub(
            &running,
            version,
            Grants::new()
                .subscribe([topic])
                .with_payload(serde_json::json!({"user": {"id": 42, "name": "Ann"}})),
        );
        let mut user = Subscriber::for_hub(&user_hub).topic(topic).build().unwrap();
        let user_task = tokio::spawn(async move {
            let event = next_event(&mut user).await;
            assert!(matches!(event, SubscriberEvent::Connected(_)));
            // Keep the connection open until the task is aborted.
            let _ = user.next().await;
        });
        let connected = loop {
            let event = next_subscription(&mut events, "the user's connection").await;
            // Skip the second observer's own subscription.
            if event.selector.expression() == topic {
                break event;
            }
        };
        assert!(connected.active, "{version}");
        let seen_by_filtered = tokio::time::timeout(PATIENCE, filtered_first)
            .await
            .expect("the filtered observer's task ends")
            .expect("the filtered observer's task");
        assert_eq!(seen_by_filtered, connected, "{version}");
        assert_eq!(connected.selector.expression(), topic);
        assert_eq!(
            connected.payload,
            Some(serde_json::json!({"user": {"id": 42, "name": "Ann"}})),
            "{version}"
        );
        let subscriber_id = connected.subscriber.clone();

        let list = api.for_selector(topic).await.unwrap();
        assert_eq!(list.subscriptions.len(), 1, "{version}");
        assert_eq!(list.subscriptions[0], connected, "{version}");
        // The cursor: the newest event the hub dispatched, the user's
        // connection event (nothing was published since).
        let newest = running.hub.last_event_id().expect("subscription events");
        assert_eq!(list.last_event_id, Some(newest), "{version}");
        assert_eq!(api.all().await.unwrap().subscriptions.len(), 2);
        assert!(api.is_connected(topic, None).await.unwrap());
        assert!(
            api.is_connected(topic, Some(&serde_json::json!({"user": {"id": 42}})))
                .await
                .unwrap()
        );
        assert!(
            !api.is_connected(topic, Some(&serde_json::json!({"user": {"id": 43}})))
                .await
                .unwrap()
        );
        assert!(
            !api.is_connected("https://example.com/chat/8", None)
                .await
                .unwrap()
        );
        let one = api.get(topic, &subscriber_id).await.unwrap().unwrap();
        assert_eq!(one, connected, "{version}");
        assert!(api.get(topic, "urn:uuid:nobody").await.unwrap().is_none());

        // Disconnection.
        assert_eq!(
            running
                .hub
                .close_subscribers(|info| info.selector.expression() == topic),
            1,
            "{version}"
        );
        let gone = loop {
            let event = next_subscription(&mut events, "the user's disconnection").await;
            // Skip the second observer's departure.
            if event.selector.expression() == topic {
                break event;
            }
        };
        // The same subscription, inactive.
        let mut inactive = connected.clone();
        inactive.active = false;
        assert_eq!(gone, inactive, "{version}");
        user_task.abort();
    }
}

/// A token provider that records every token it hands out.
#[derive(Debug)]
struct Recording {
    inner: CachedTokenProvider,
    handed_out: Arc<Mutex<Vec<Token>>>,
}

impl Recording {
    fn record(
        &self,
        token: Result<Token, mercure_client::token::TokenError>,
    ) -> Result<Token, mercure_client::token::TokenError> {
        if let Ok(token) = &token {
            self.handed_out
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(token.clone());
        }
        token
    }
}

impl TokenProvider for Recording {
    fn token(&self) -> TokenFuture<'_> {
        TokenFuture::new(async move { self.record(self.inner.token().await) })
    }

    fn refresh(&self) -> TokenFuture<'_> {
        TokenFuture::new(async move { self.record(self.inner.refresh().await) })
    }
}

/// The hub ends a stream when its token expires, as its clock tells; the
/// subscriber comes back with a fresh token from its provider and misses
/// nothing. Both clocks are injected: the first token is presented one
/// millisecond before its expiry, so the hub's expiry ends that stream
/// right after its replay, whatever the machine's speed; the second token
/// outlives the test by far. Nothing waits on the wall clock.
#[tokio::test]
async fn streams_closed_at_token_expiry_resume_with_a_fresh_token() {
    const START: u64 = 1_800_000_000;
    const LIFETIME: Duration = Duration::from_secs(600);
    for version in ProtocolVersion::ALL {
        let hub_clock = ManualClock::at_unix(START);
        let token_clock = ManualClock::at_unix(START);
        let running = start(config().clock(Arc::new(hub_clock.clone()))).await;
        let mut factory = TokenFactory::builder(SigningKey::hs256(SECRET).unwrap())
            .protocol(version)
            .lifetime(LIFETIME)
            .clock(Arc::new(token_clock.clone()));
        if version == ProtocolVersion::V1 {
            factory = factory.issuer(ISSUER).audience(&running.url);
        }
        let handed_out = Arc::new(Mutex::new(Vec::new()));
        let provider = Recording {
            inner: CachedTokenProvider::new(factory.build().unwrap(), Grants::subscribe_all()),
            handed_out: Arc::clone(&handed_out),
        };
        // An update published before the subscription, replayed from the
        // start of the history.
        let first = running
            .hub
            .publish(&Update::new("https://example.com/r/0", "0").unwrap())
            .await
            .unwrap();
        let mut subscriber = Subscriber::builder(&running.url)
            .protocol(version)
            .token_provider(provider)
            .topic("*")
            .last_event_id(EventId::earliest())
            .retry_strategy(fast_backoff())
            .build()
            .unwrap();

        // The hub's clock: one millisecond before the first token expires.
        hub_clock.advance(LIFETIME - Duration::from_millis(1));
        let SubscriberEvent::Connected(connected) = next_event(&mut subscriber).await else {
            panic!("{version}: not connected first")
        };
        assert_eq!(connected.requested, Some(EventId::earliest()), "{version}");
        assert_eq!(next_update(&mut subscriber).await.id(), Some(&first));
        // Then the stream ends, at the token's expiry.
        let SubscriberEvent::Reconnecting(reconnecting) = next_event(&mut subscriber).await else {
            panic!("{version}: the stream did not end at the token's expiry")
        };
        assert!(
            matches!(reconnecting.reason, ReconnectReason::Ended),
            "{version}: {:?}",
            reconnecting.reason
        );

        // Time passes: the first token has expired, and the provider's
        // clock says so. An update is published while the subscriber is
        // away (it reconnects only when polled).
        hub_clock.advance(Duration::from_millis(1));
        token_clock.advance(LIFETIME);
        let missed = running
            .hub
            .publish(&Update::new("https://example.com/r/1", "1").unwrap())
            .await
            .unwrap();
        let SubscriberEvent::Connected(connected) = next_event(&mut subscriber).await else {
            panic!("{version}: not reconnected at once with a fresh token")
        };
        assert_eq!(connected.requested.as_ref(), Some(&first), "{version}");
        assert_eq!(connected.resumed_from.as_ref(), Some(&first), "{version}");
        assert_eq!(next_update(&mut subscriber).await.id(), Some(&missed));
        // The new stream stays open: a live update arrives on it.
        wait_subscribers(&running, 1).await;
        let live = running
            .hub
            .publish(&Update::new("https://example.com/r/2", "2").unwrap())
            .await
            .unwrap();
        match next_event(&mut subscriber).await {
            SubscriberEvent::Update(update) => assert_eq!(update.id(), Some(&live)),
            other => panic!("{version}: {other:?} instead of the live update"),
        }

        // Two tokens were handed out, each valid for LIFETIME from the
        // provider's clock at the time.
        let handed_out = handed_out
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        assert_eq!(handed_out.len(), 2, "{version}");
        let verifier = Verifier::new([TokenKey::hs256(SECRET).unwrap()])
            .with_clock(Arc::new(ManualClock::at_unix(START)));
        let times: Vec<_> = handed_out
            .iter()
            .map(|token| {
                let claims = verifier.verify(token.expose()).unwrap();
                (claims.issued_at(), claims.expires_at())
            })
            .collect();
        assert_eq!(
            times,
            [
                (Some(START), Some(START + 600)),
                (Some(START + 600), Some(START + 1200))
            ],
            "{version}"
        );
    }
}

/// Private updates reach subscribers presenting their token by header,
/// cookie, or (0.x) query parameter.
#[tokio::test]
async fn every_authorization_method_is_accepted_by_the_hub() {
    use mercure_client::subscriber::AuthorizationMethod;
    for version in ProtocolVersion::ALL {
        let mut methods = vec![AuthorizationMethod::Header, AuthorizationMethod::Cookie];
        if version == ProtocolVersion::V0 {
            methods.push(AuthorizationMethod::QueryParameter);
        }
        for method in methods {
            let running = start(config()).await;
            let publisher = client_hub(&running, version, Grants::publish_all());
            let topic = "https://example.com/secret/1";
            let subscriber_hub = client_hub(&running, version, Grants::new().subscribe([topic]));
            let mut subscriber = Subscriber::for_hub(&subscriber_hub)
                .topic(topic)
                .authorization_method(method)
                .build()
                .unwrap();
            let connected = next_event(&mut subscriber).await;
            assert!(
                matches!(connected, SubscriberEvent::Connected(_)),
                "{version} {method:?}: {connected:?}"
            );
            wait_subscribers(&running, 1).await;
            let update = Update::builder(topic)
                .data("s3cret")
                .private(true)
                .build()
                .unwrap();
            let id = publisher.publish(&update).await.unwrap();
            let received = next_update(&mut subscriber).await;
            assert_eq!(received.id(), Some(&id), "{version} {method:?}");
            assert_eq!(received.data(), "s3cret");
        }
    }
}

/// A socket bound to `addr` (port 0: any) with `SO_REUSEPORT`, so that a
/// second one may hold the same port.
fn reusable_socket(addr: std::net::SocketAddr) -> tokio::net::TcpSocket {
    let socket = tokio::net::TcpSocket::new_v4().expect("a TCP socket");
    socket.set_reuseport(true).expect("SO_REUSEPORT");
    socket.bind(addr).expect("bind on 127.0.0.1");
    socket
}

/// The hub goes away (connections refused) and comes back on the same
/// address with an empty history: the subscriber reconnects by itself and
/// reports that updates may have been lost.
#[tokio::test]
async fn a_restarted_hub_is_rejoined_and_the_gap_reported() {
    for version in ProtocolVersion::ALL {
        let first_socket = reusable_socket("127.0.0.1:0".parse().unwrap());
        let addr = first_socket.local_addr().unwrap();
        // The second hub's socket holds the port from the start: bound but
        // not listening, it refuses connections while the first hub is
        // down, and no other process can take the port meanwhile.
        let second_socket = reusable_socket(addr);
        let listener = first_socket.listen(128).unwrap();
        let url = format!("http://{addr}/.well-known/mercure");
        let first = EmbeddedHub::new(config().url(&url).build().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(mercure_hub::serve_with_shutdown(
            listener,
            first.router(),
            async move {
                let _ = stopped.await;
            },
        ));
        let running = Running {
            hub: first.clone(),
            url: url.clone(),
        };
        let publisher = client_hub(&running, version, Grants::publish_all());
        let mut subscriber =
            Subscriber::for_hub(&client_hub(&running, version, Grants::subscribe_all()))
                .topic("*")
                .retry_strategy(fast_backoff())
                .build()
                .unwrap();
        assert!(matches!(
            next_event(&mut subscriber).await,
            SubscriberEvent::Connected(_)
        ));
        wait_subscribers(&running, 1).await;
        let before = publisher
            .publish(&Update::new("https://example.com/a", "1").unwrap())
            .await
            .unwrap();
        assert_eq!(next_update(&mut subscriber).await.id(), Some(&before));

        // Stop the hub: the stream ends, and attempts are refused.
        let _ = stop.send(());
        first.close_subscribers(|_| true);
        tokio::time::timeout(PATIENCE, server)
            .await
            .expect("the first hub stops")
            .expect("the first hub's task")
            .expect("the first hub's server");
        let mut refused = 0;
        while refused < 2 {
            match next_event(&mut subscriber).await {
                SubscriberEvent::Reconnecting(r) => {
                    if matches!(r.reason, ReconnectReason::Network(_)) {
                        refused += 1;
                    }
                }
                other => panic!("{version}: {other:?}"),
            }
        }

        // A new hub on the same address, knowing nothing of the old ids.
        let listener = second_socket.listen(128).unwrap();
        let second = EmbeddedHub::new(config().url(&url).build().unwrap());
        tokio::spawn(mercure_hub::serve(listener, second.router()));
        let connected = loop {
            match next_event(&mut subscriber).await {
                SubscriberEvent::Connected(c) => break c,
                SubscriberEvent::Reconnecting(_) => {}
                other => panic!("{version}: {other:?}"),
            }
        };
        assert_eq!(connected.requested.as_ref(), Some(&before));
        let SubscriberEvent::EventsLost(lost) = next_event(&mut subscriber).await else {
            panic!("{version}: the gap was not reported")
        };
        assert_eq!(lost.requested, before);
        assert_eq!(lost.resumed_from, EventId::earliest(), "{version}");
        let restarted = Running {
            hub: second,
            url: url.clone(),
        };
        wait_subscribers(&restarted, 1).await;
        let after = publisher
            .publish(&Update::new("https://example.com/a", "2").unwrap())
            .await
            .unwrap();
        assert_eq!(next_update(&mut subscriber).await.id(), Some(&after));
    }
}
