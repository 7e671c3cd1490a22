//! The subscriber against a scripted hub that cuts streams, refuses
//! tokens, fails and ends; time is a `ManualTimer`, moved by the test.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use mercure_client::subscriber::{
    AuthorizationMethod, ExponentialBackoff, ManualTimer, ReconnectReason, Timer,
};
use mercure_client::token::{Token, TokenFuture, TokenProvider};
use mercure_client::{Error, EventId, ProtocolVersion, Subscriber, SubscriberEvent, TopicSelector};
use support::{ScriptedHub, Step};

/// Hands out `token-<n>`; `refresh` moves to the next n.
#[derive(Debug, Default)]
struct Rotating {
    generation: AtomicU32,
    asked: AtomicU32,
    refreshed: AtomicU32,
}

impl TokenProvider for Rotating {
    fn token(&self) -> TokenFuture<'_> {
        self.asked.fetch_add(1, Ordering::SeqCst);
        let token = Token::new(format!("token-{}", self.generation.load(Ordering::SeqCst)));
        // Answers after yielding, as a provider fetching over the network would.
        TokenFuture::new(async move {
            tokio::task::yield_now().await;
            Ok(token)
        })
    }

    fn refresh(&self) -> TokenFuture<'_> {
        self.refreshed.fetch_add(1, Ordering::SeqCst);
        let next = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
        TokenFuture::ready(Ok(Token::new(format!("token-{next}"))))
    }
}

fn history(n: usize) -> Vec<(String, String)> {
    (1..=n)
        .map(|i| {
            (
                format!("urn:uuid:{i:04}"),
                format!("{{\"n\": {i}, \"text\": \"é\\u00e9 line\"}}"),
            )
        })
        .collect()
}

fn backoff() -> ExponentialBackoff {
    ExponentialBackoff::new()
        .initial(Duration::from_millis(100))
        .max(Duration::from_secs(10))
        .jitter(0.0)
}

/// Drains the subscriber, moving the manual timer by each announced delay.
async fn drain(
    subscriber: Subscriber,
    timer: &ManualTimer,
) -> (Vec<SubscriberEvent>, Option<Error>) {
    let mut subscriber = subscriber;
    let mut events = Vec::new();
    let mut error = None;
    let run = async {
        while let Some(item) = subscriber.next().await {
            match item {
                Ok(event) => {
                    if let SubscriberEvent::Reconnecting(r) = &event {
                        timer.advance(r.delay);
                    }
                    events.push(event);
                }
                Err(e) => {
                    error = Some(e);
                    // The stream ends after an error.
                    assert!(subscriber.next().await.is_none());
                    break;
                }
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(20), run)
        .await
        .expect("the subscriber finished");
    (events, error)
}

fn update_ids(events: &[SubscriberEvent]) -> Vec<String> {
    events
        .iter()
        .filter_map(SubscriberEvent::as_update)
        .map(|u| u.id().expect("an id").to_string())
        .collect()
}

fn delays(events: &[SubscriberEvent]) -> Vec<u128> {
    events
        .iter()
        .filter_map(|e| match e {
            SubscriberEvent::Reconnecting(r) => Some(r.delay.as_millis()),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn every_update_arrives_once_and_in_order_across_faults() {
    for version in ProtocolVersion::ALL {
        let resume = version.dialect().resume_header;
        let steps = vec![
            Step::cut_at(100),    // inside the second event
            Step::status(401),    // expired token: refreshed, retried at once
            Step::broken_at(150), // chunked body broken off
            Step::status_with(503, &[("Retry-After", "2")], "overloaded"),
            Step::cut_at(61), // exactly at an event boundary or not: no matter
            Step::status(502),
            Step::stream(),    // the rest, then a clean end
            Step::status(204), // the hub ends the subscription
        ];
        let hub = ScriptedHub::start(history(12), steps, resume).await;
        let timer = ManualTimer::new();
        let provider = Arc::new(Rotating::default());
        let subscriber = Subscriber::builder(hub.url())
            .protocol(version)
            .topic("https://example.com/books/1")
            .topic(TopicSelector::pattern("https://example.com/authors/{id}"))
            .shared_token_provider(provider.clone())
            .retry_strategy(backoff())
            .min_retry(Duration::from_millis(100))
            .timer(timer.clone())
            .build()
            .unwrap();
        let (events, error) = drain(subscriber, &timer).await;
        assert!(error.is_none(), "{version}: {error:?}");

        let expected: Vec<String> = (1..=12).map(|i| format!("urn:uuid:{i:04}")).collect();
        assert_eq!(update_ids(&events), expected, "{version}");
        let first = events.iter().find_map(SubscriberEvent::as_update).unwrap();
        let value: serde_json::Value = first.json().unwrap();
        assert_eq!(value["n"], 1);
        assert_eq!(value["text"], "éé line");

        // Delays: cut after an update (100), 401 (0, refresh), broken
        // after updates (the backoff starts over: 100), 503 (max(200,
        // Retry-After 2 s)), cut after an update (100), 502 (200), end after
        // updates (100).
        assert_eq!(
            delays(&events),
            [100, 0, 100, 2000, 100, 200, 100],
            "{version}"
        );
        let reasons: Vec<&str> = events
            .iter()
            .filter_map(|e| match e {
                SubscriberEvent::Reconnecting(r) => Some(match &r.reason {
                    ReconnectReason::Ended => "ended",
                    ReconnectReason::ReadTimeout => "timeout",
                    ReconnectReason::Refused(_) => "refused",
                    ReconnectReason::Unavailable(_) => "unavailable",
                    ReconnectReason::Network(_) => "network",
                    _ => "other",
                }),
                _ => None,
            })
            .collect();
        assert_eq!(
            reasons,
            [
                "ended",
                "refused",
                "network",
                "unavailable",
                "ended",
                "unavailable",
                "ended"
            ],
            "{version}"
        );

        let seen = hub.seen();
        assert_eq!(seen.len(), 8, "{version}");
        // Selectors in the dialect's spelling.
        let query = seen[0].target.split_once('?').unwrap().1.to_owned();
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        let (exact, pattern) = match version {
            ProtocolVersion::V0 => ("topic", "topic"),
            ProtocolVersion::V1 => ("match", "match_urlpattern"),
        };
        assert_eq!(
            pairs,
            [
                (exact.to_owned(), "https://example.com/books/1".to_owned()),
                (
                    pattern.to_owned(),
                    "https://example.com/authors/{id}".to_owned()
                ),
            ]
        );
        for request in &seen {
            assert_eq!(request.header("accept"), Some("text/event-stream"));
        }
        // The first attempt resumes nothing; each later one resumes after
        // the last complete event.
        assert_eq!(seen[0].header("last-event-id"), None);
        let ids: Vec<Option<&str>> = seen.iter().map(|s| s.header("last-event-id")).collect();
        assert_eq!(ids[1], Some("urn:uuid:0001"));
        assert_eq!(
            ids[1], ids[2],
            "the refused attempt did not move the cursor"
        );
        assert_eq!(ids[7], Some("urn:uuid:0012"));
        // The token: asked before every attempt, refreshed once after 401.
        let auth: Vec<&str> = seen
            .iter()
            .map(|s| s.header("authorization").unwrap())
            .collect();
        assert_eq!(auth[0], "Bearer token-0");
        assert_eq!(auth[1], "Bearer token-0");
        assert_eq!(auth[2], "Bearer token-1");
        assert!(auth[3..].iter().all(|a| *a == "Bearer token-1"));
        assert_eq!(provider.refreshed.load(Ordering::SeqCst), 1);
        assert_eq!(provider.asked.load(Ordering::SeqCst), 7);

        // Connection events: resumed ids reported by the dialect's header.
        let connected: Vec<_> = events
            .iter()
            .filter_map(|e| match e {
                SubscriberEvent::Connected(c) => Some(c.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(connected.len(), 4);
        assert_eq!(connected[0].requested, None);
        assert_eq!(connected[0].resumed_from, None);
        for c in &connected[1..] {
            assert_eq!(c.requested, c.resumed_from, "{version}");
        }
        assert!(
            !events
                .iter()
                .any(|e| matches!(e, SubscriberEvent::EventsLost(_)))
        );
    }
}

#[tokio::test]
async fn server_retry_sets_the_base_delay_with_a_floor() {
    let steps = vec![
        Step::Stream {
            cut: None,
            chunked: false,
            hold: false,
            prefix: "retry: 5000\n\n".into(),
        },
        Step::Stream {
            cut: None,
            chunked: false,
            hold: false,
            prefix: "retry: 1\n\n".into(),
        },
        Step::stream(),
    ];
    let hub = ScriptedHub::start(history(2), steps, "Last-Event-ID").await;
    let timer = ManualTimer::new();
    let subscriber = Subscriber::builder(hub.url())
        .topic("*")
        .retry_strategy(backoff().reset_after(Duration::from_secs(3600)))
        .min_retry(Duration::from_millis(250))
        .timer(timer.clone())
        .build()
        .unwrap();
    let (events, error) = drain(subscriber, &timer).await;
    assert!(error.is_none());
    // 5000 from the stream; then 1 ms floored at 250, doubled once.
    assert_eq!(delays(&events), [5000, 500, 1000]);
    assert_eq!(update_ids(&events), ["urn:uuid:0001", "urn:uuid:0002"]);
}

#[tokio::test]
async fn a_silent_stream_is_reconnected_after_the_read_timeout() {
    let steps = vec![
        Step::Stream {
            cut: None,
            chunked: false,
            hold: true,
            prefix: String::new(),
        },
        Step::stream(),
    ];
    let hub = ScriptedHub::start(history(3), steps, "Last-Event-ID").await;
    let timer = ManualTimer::new();
    let mut subscriber = Subscriber::builder(hub.url())
        .topic("*")
        .retry_strategy(backoff())
        .read_timeout(Some(Duration::from_secs(30)))
        .timer(timer.clone())
        .build()
        .unwrap();
    let mut ids = Vec::new();
    while ids.len() < 3 {
        let next = tokio::time::timeout(Duration::from_secs(10), subscriber.next());
        if let SubscriberEvent::Update(u) = next.await.expect("in time").unwrap().unwrap() {
            ids.push(u.id().unwrap().to_string());
        }
    }
    // The stream is now silent. Wait until the subscriber waits, then let
    // 29 s pass (nothing happens), then the 30th second.
    let mut next = Box::pin(subscriber.next());
    let poll_until_waiting = async {
        loop {
            tokio::select! {
                item = &mut next => panic!("unexpected {item:?}"),
                () = tokio::task::yield_now() => {}
            }
            if timer.waiting() > 0 {
                break;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), poll_until_waiting)
        .await
        .unwrap();
    timer.advance(Duration::from_secs(29));
    for _ in 0..50 {
        tokio::select! {
            item = &mut next => panic!("reconnected too early: {item:?}"),
            () = tokio::task::yield_now() => {}
        }
    }
    timer.advance(Duration::from_secs(1));
    let item = tokio::time::timeout(Duration::from_secs(10), next)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let SubscriberEvent::Reconnecting(r) = item else {
        panic!("{item:?}")
    };
    assert!(matches!(r.reason, ReconnectReason::ReadTimeout));
    timer.advance(r.delay);
    let (rest, error) = drain(subscriber, &timer).await;
    hub.release();
    assert!(error.is_none());
    assert!(update_ids(&rest).is_empty(), "nothing replayed twice");
    assert_eq!(hub.seen()[1].header("last-event-id"), Some("urn:uuid:0003"));
}

#[tokio::test]
async fn lost_events_are_reported() {
    for version in ProtocolVersion::ALL {
        let resume = version.dialect().resume_header;
        let hub = ScriptedHub::start_with(
            history(2),
            vec![Step::stream()],
            resume,
            vec!["urn:uuid:gone".into()],
        )
        .await;
        let timer = ManualTimer::new();
        let subscriber = Subscriber::builder(hub.url())
            .protocol(version)
            .topic("*")
            .last_event_id("urn:uuid:gone")
            .retry_strategy(backoff())
            .timer(timer.clone())
            .build()
            .unwrap();
        let (events, _) = drain(subscriber, &timer).await;
        let lost: Vec<_> = events
            .iter()
            .filter_map(|e| match e {
                SubscriberEvent::EventsLost(lost) => Some(lost.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(lost.len(), 1, "{version}");
        assert_eq!(lost[0].requested, "urn:uuid:gone");
        assert_eq!(lost[0].resumed_from, EventId::earliest());
        assert_eq!(hub.seen()[0].header("last-event-id"), Some("urn:uuid:gone"));
        // Reported before the replayed updates.
        let position = |pred: &dyn Fn(&SubscriberEvent) -> bool| events.iter().position(pred);
        assert!(
            position(&|e| matches!(e, SubscriberEvent::EventsLost(_)))
                < position(&|e| matches!(e, SubscriberEvent::Update(_)))
        );
    }
}

#[tokio::test]
async fn earliest_is_not_a_loss() {
    let hub = ScriptedHub::start_with(
        history(2),
        vec![Step::stream()],
        "Last-Event-ID",
        vec!["earliest".into()],
    )
    .await;
    let timer = ManualTimer::new();
    let subscriber = Subscriber::builder(hub.url())
        .topic("*")
        .last_event_id(EventId::earliest())
        .timer(timer.clone())
        .build()
        .unwrap();
    let (events, _) = drain(subscriber, &timer).await;
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, SubscriberEvent::EventsLost(_)))
    );
    assert_eq!(update_ids(&events).len(), 2);
}

#[tokio::test]
async fn refusals_that_retrying_cannot_fix_end_the_stream() {
    for (status, check) in [
        (
            400u16,
            (|e: &Error| matches!(e, Error::BadRequest(_))) as fn(&Error) -> bool,
        ),
        (
            404,
            |e| matches!(e, Error::UnexpectedStatus(r) if r.status == 404),
        ),
        (405, |e| e.status() == Some(405)),
    ] {
        let hub = ScriptedHub::start(
            Vec::new(),
            vec![Step::status_with(status, &[], "no such thing")],
            "Last-Event-ID",
        )
        .await;
        let timer = ManualTimer::new();
        let subscriber = Subscriber::builder(hub.url())
            .topic("*")
            .timer(timer.clone())
            .build()
            .unwrap();
        let (events, error) = drain(subscriber, &timer).await;
        let error = error.expect("an error");
        assert!(check(&error), "{status}: {error}");
        assert!(error.to_string().contains("no such thing"));
        assert!(events.is_empty());
        assert_eq!(hub.seen().len(), 1);
    }
}

#[tokio::test]
async fn a_second_refusal_after_a_refresh_ends_the_subscription() {
    // 401: the token is refreshed and the hub asked again at once; a
    // second refusal in a row (401 or 403) ends the subscription: another
    // token from the same provider would fare no better.
    for (second, check) in [
        (
            401u16,
            (|e: &Error| matches!(e, Error::Unauthorized(_))) as fn(&Error) -> bool,
        ),
        (403, |e| matches!(e, Error::Forbidden(_))),
    ] {
        let steps = vec![
            Step::status_with(
                401,
                &[("WWW-Authenticate", r#"Bearer error="invalid_token""#)],
                "",
            ),
            Step::status(second),
            Step::status(401),
            Step::status(401),
        ];
        let hub = ScriptedHub::start(Vec::new(), steps, "Mercure-Last-Event-ID").await;
        let timer = ManualTimer::new();
        let provider = Arc::new(Rotating::default());
        let subscriber = Subscriber::builder(hub.url())
            .protocol(ProtocolVersion::V1)
            .topic("*")
            .shared_token_provider(provider.clone())
            .retry_strategy(backoff())
            .timer(timer.clone())
            .build()
            .unwrap();
        let (events, error) = drain(subscriber, &timer).await;
        assert_eq!(delays(&events), [0], "{second}");
        let error = error.expect("gave up");
        assert!(check(&error), "{second}: {error}");
        assert_eq!(provider.refreshed.load(Ordering::SeqCst), 1);
        let SubscriberEvent::Reconnecting(first) = &events[0] else {
            panic!()
        };
        let ReconnectReason::Refused(Error::Unauthorized(rejection)) = &first.reason else {
            panic!("{:?}", first.reason)
        };
        assert_eq!(
            rejection
                .challenge
                .as_ref()
                .and_then(|c| c.error.as_deref()),
            Some("invalid_token")
        );
        let auth: Vec<String> = hub
            .seen()
            .iter()
            .map(|s| s.header("authorization").unwrap().to_owned())
            .collect();
        assert_eq!(auth, ["Bearer token-0", "Bearer token-1"]);
    }
}

#[tokio::test]
async fn a_provider_that_cannot_renew_a_refused_token_ends_the_subscription() {
    // A fixed token (or a provider whose refresh gives the refused token
    // back) is not presented again: the subscription ends at the first
    // refusal instead of looping on 401 with the same token.
    let steps = (0..10).map(|_| Step::status(401)).collect();
    let hub = ScriptedHub::start(Vec::new(), steps, "Last-Event-ID").await;
    let timer = ManualTimer::new();
    let subscriber = Subscriber::builder(hub.url())
        .topic("*")
        .token(Token::new("the.same.token"))
        .retry_strategy(backoff())
        .timer(timer.clone())
        .build()
        .unwrap();
    let (events, error) = drain(subscriber, &timer).await;
    assert!(matches!(error, Some(Error::Unauthorized(_))), "{error:?}");
    assert!(
        hub.seen().len() <= 2,
        "asked {} times with the same token",
        hub.seen().len()
    );
    assert!(delays(&events).len() <= 1);
    let text = format!("{error:?} {events:?}");
    assert!(!text.contains("the.same.token"), "{text}");
}

#[tokio::test]
async fn a_non_event_stream_answer_is_an_error() {
    let hub = ScriptedHub::start(
        Vec::new(),
        vec![Step::status_with(
            200,
            &[("Content-Type", "text/html")],
            "<html>",
        )],
        "Last-Event-ID",
    )
    .await;
    let timer = ManualTimer::new();
    let subscriber = Subscriber::builder(hub.url())
        .topic("*")
        .timer(timer.clone())
        .build()
        .unwrap();
    let (_, error) = drain(subscriber, &timer).await;
    assert!(matches!(error, Some(Error::InvalidResponse(m)) if m.contains("text/html")));
}

#[tokio::test]
async fn oversized_events_end_the_stream() {
    let big = "x".repeat(4096);
    let hub = ScriptedHub::start(
        vec![("1".into(), big)],
        vec![Step::stream()],
        "Last-Event-ID",
    )
    .await;
    let timer = ManualTimer::new();
    let subscriber = Subscriber::builder(hub.url())
        .topic("*")
        .max_event_size(1024)
        .timer(timer.clone())
        .build()
        .unwrap();
    let (_, error) = drain(subscriber, &timer).await;
    assert!(matches!(error, Some(Error::InvalidResponse(m)) if m.contains("1024")));
}

#[tokio::test]
async fn tokens_in_the_query_string_never_reach_errors() {
    // A port nobody listens on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let timer = ManualTimer::new();
    let secret = "eyJhbGciOiJIUzI1NiJ9.c2VjcmV0.c2lnbmF0dXJl";
    let subscriber = Subscriber::builder(format!("http://{addr}/.well-known/mercure"))
        .topic("*")
        .token(Token::new(secret))
        .authorization_method(AuthorizationMethod::QueryParameter)
        .retry_strategy(backoff())
        .max_retries(Some(1))
        .timer(timer.clone())
        .build()
        .unwrap();
    assert!(!format!("{subscriber:?}").contains(secret));
    let (events, error) = drain(subscriber, &timer).await;
    let SubscriberEvent::Reconnecting(first) = &events[0] else {
        panic!()
    };
    let error = error.expect("gave up");
    assert!(matches!(error, Error::Transport(_)), "{error:?}");
    for text in [
        error.to_string(),
        format!("{error:?}"),
        format!("{:?}", first.reason),
        std::error::Error::source(&error)
            .map(ToString::to_string)
            .unwrap_or_default(),
    ] {
        assert!(!text.contains(secret), "{text}");
        assert!(!text.contains("c2VjcmV0"), "{text}");
    }
}

#[tokio::test]
async fn tokens_by_query_parameter_and_cookie() {
    let hub = ScriptedHub::start(
        history(1),
        vec![Step::stream(), Step::stream()],
        "Last-Event-ID",
    )
    .await;
    let timer = ManualTimer::new();
    for method in [
        AuthorizationMethod::QueryParameter,
        AuthorizationMethod::Cookie,
    ] {
        let mut subscriber = Subscriber::builder(hub.url())
            .topic("*")
            .token(Token::new("abc.def.ghi"))
            .authorization_method(method)
            .timer(timer.clone())
            .build()
            .unwrap();
        // Connected, then the update.
        let mut next = async || {
            tokio::time::timeout(Duration::from_secs(10), subscriber.next())
                .await
                .expect("in time")
        };
        assert!(matches!(
            next().await,
            Some(Ok(SubscriberEvent::Connected(_)))
        ));
        assert!(matches!(next().await, Some(Ok(SubscriberEvent::Update(_)))));
    }
    let seen = hub.seen();
    assert!(
        seen[0]
            .target
            .ends_with("topic=*&authorization=abc.def.ghi")
            || seen[0]
                .target
                .ends_with("topic=%2A&authorization=abc.def.ghi"),
        "{}",
        seen[0].target
    );
    assert_eq!(seen[0].header("authorization"), None);
    assert_eq!(
        seen[1].header("cookie"),
        Some("mercureAuthorization=abc.def.ghi")
    );
    assert!(!seen[1].target.contains("authorization"));

    // 1.0 has no query parameter.
    let error = Subscriber::builder(hub.url())
        .protocol(ProtocolVersion::V1)
        .topic("*")
        .authorization_method(AuthorizationMethod::QueryParameter)
        .build()
        .unwrap_err();
    assert!(matches!(error, Error::Config(_)));
    // No topic: nothing to subscribe to.
    assert!(matches!(
        Subscriber::builder(hub.url()).build(),
        Err(Error::Config(_))
    ));
    let _ = timer.now();
}

#[tokio::test]
async fn updates_only_and_subscription_events_skip_connection_events() {
    let history = vec![
        (
            "1".to_owned(),
            r#"{"type": "Subscription", "topic": "https://example.com/a", "subscriber": "urn:uuid:s1", "active": true, "payload": {"user": 1}}"#.to_owned(),
        ),
        ("2".to_owned(), "not a subscription".to_owned()),
        (
            "3".to_owned(),
            r#"{"type": "subscription", "match": "https://example.com/:id", "match_type": "urlpattern", "subscriber": "urn:uuid:s1", "active": false}"#.to_owned(),
        ),
    ];
    let hub = ScriptedHub::start(
        history,
        vec![Step::cut_at(170), Step::stream(), Step::stream()],
        "Last-Event-ID",
    )
    .await;
    let timer = ManualTimer::new();
    // No delay at all, so that the manual timer never needs moving.
    let build = || {
        Subscriber::builder(hub.url())
            .topic("*")
            .retry_strategy(backoff().initial(Duration::ZERO))
            .min_retry(Duration::ZERO)
            .timer(timer.clone())
            .build()
            .unwrap()
    };
    let updates: Vec<_> =
        tokio::time::timeout(Duration::from_secs(20), build().updates().take(3).collect())
            .await
            .expect("in time");
    let data: Vec<String> = updates
        .into_iter()
        .map(|u| u.unwrap().into_data())
        .collect();
    assert_eq!(data[1], "not a subscription");

    let events: Vec<_> = tokio::time::timeout(
        Duration::from_secs(20),
        mercure_client::subscriptions::SubscriptionEvents::new(build())
            .take(3)
            .collect(),
    )
    .await
    .expect("in time");
    let first = events[0].as_ref().unwrap();
    assert!(first.active);
    assert_eq!(first.selector.expression(), "https://example.com/a");
    assert_eq!(first.payload.as_ref().unwrap()["user"], 1);
    // A document that is not a subscription is reported, and the stream goes on.
    assert!(matches!(events[1], Err(Error::InvalidResponse(_))));
    let last = events[2].as_ref().unwrap();
    assert!(!last.active);
    assert_eq!(
        last.selector,
        TopicSelector::pattern("https://example.com/:id")
    );
}

#[tokio::test]
async fn a_refusal_without_credentials_ends_the_stream() {
    let hub = ScriptedHub::start(Vec::new(), vec![Step::status(401)], "Last-Event-ID").await;
    let timer = ManualTimer::new();
    let subscriber = Subscriber::builder(hub.url())
        .topic("*")
        .timer(timer.clone())
        .build()
        .unwrap();
    let (events, error) = drain(subscriber, &timer).await;
    assert!(events.is_empty());
    assert!(matches!(error, Some(Error::Unauthorized(_))), "{error:?}");
    assert_eq!(hub.seen().len(), 1);
    assert_eq!(hub.seen()[0].header("authorization"), None);
}

#[tokio::test]
async fn any_event_id_is_sent_back() {
    // A UTF-8 id travels in the header as UTF-8; one with a control
    // character (which a header cannot carry) in the query string.
    let history = vec![
        ("urn:é:1".to_owned(), "a".to_owned()),
        ("bad\u{1}id".to_owned(), "b".to_owned()),
        ("urn:é:3".to_owned(), "c".to_owned()),
    ];
    let steps = vec![Step::cut_at(30), Step::cut_at(30), Step::stream()];
    let hub = ScriptedHub::start(history, steps, "Last-Event-ID").await;
    let timer = ManualTimer::new();
    let subscriber = Subscriber::builder(hub.url())
        .topic("*")
        .retry_strategy(backoff())
        .timer(timer.clone())
        .build()
        .unwrap();
    let (events, error) = drain(subscriber, &timer).await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!(update_ids(&events), ["urn:é:1", "bad\u{1}id", "urn:é:3"]);
    let seen = hub.seen();
    assert_eq!(seen[1].header("last-event-id"), Some("urn:é:1"));
    assert_eq!(seen[2].header("last-event-id"), None);
    assert!(
        seen[2].target.ends_with("lastEventID=bad%01id"),
        "{}",
        seen[2].target
    );
}

#[tokio::test]
async fn streams_that_end_at_once_count_as_failures() {
    let steps = vec![
        Step::cut_at(0),
        Step::cut_at(0),
        Step::cut_at(0),
        Step::stream(),
    ];
    let hub = ScriptedHub::start(history(1), steps, "Last-Event-ID").await;
    let timer = ManualTimer::new();
    let subscriber = Subscriber::builder(hub.url())
        .topic("*")
        .retry_strategy(backoff())
        .min_retry(Duration::from_millis(100))
        .max_retries(Some(2))
        .timer(timer.clone())
        .build()
        .unwrap();
    let (events, error) = drain(subscriber, &timer).await;
    assert_eq!(delays(&events), [100, 200]);
    let failures: Vec<u32> = events
        .iter()
        .filter_map(|e| match e {
            SubscriberEvent::Reconnecting(r) => Some(r.failures),
            _ => None,
        })
        .collect();
    assert_eq!(failures, [1, 2]);
    assert!(matches!(error, Some(Error::InvalidResponse(m)) if m.contains("ending the stream")));
    assert_eq!(hub.seen().len(), 3);
}

fn reconnect_reasons(events: &[SubscriberEvent]) -> Vec<&'static str> {
    events
        .iter()
        .filter_map(|e| match e {
            SubscriberEvent::Reconnecting(r) => Some(match &r.reason {
                ReconnectReason::Ended => "ended",
                ReconnectReason::ReadTimeout => "timeout",
                ReconnectReason::Refused(_) => "refused",
                ReconnectReason::Unavailable(_) => "unavailable",
                ReconnectReason::Network(_) => "network",
                _ => "other",
            }),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn reconnects_after_408_and_429() {
    let steps = vec![
        Step::status_with(408, &[], "request timeout"),
        Step::status_with(429, &[("Retry-After", "3")], "slow down"),
        Step::stream(),
    ];
    let hub = ScriptedHub::start(history(2), steps, "Last-Event-ID").await;
    let timer = ManualTimer::new();
    let subscriber = Subscriber::builder(hub.url())
        .topic("*")
        .retry_strategy(backoff())
        .timer(timer.clone())
        .build()
        .unwrap();
    let (events, error) = drain(subscriber, &timer).await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!(update_ids(&events), ["urn:uuid:0001", "urn:uuid:0002"]);
    assert_eq!(
        reconnect_reasons(&events),
        ["unavailable", "unavailable", "ended"]
    );
    let SubscriberEvent::Reconnecting(first) = &events[0] else {
        panic!("{:?}", events[0])
    };
    let ReconnectReason::Unavailable(error) = &first.reason else {
        panic!()
    };
    assert_eq!(error.status(), Some(408));
    assert!(error.is_retryable());
    // 408: the backoff (100 ms, raised to the 250 ms floor); 429: its
    // Retry-After.
    assert_eq!(delays(&events)[..2], [250, 3000]);
    assert_eq!(hub.seen().len(), 4);
}

#[tokio::test]
async fn retry_after_as_an_http_date_is_honoured_and_capped() {
    let soon = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(30));
    let tomorrow =
        httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(86_400));
    let steps = vec![
        Step::status_with(503, &[("Retry-After", soon.as_str())], ""),
        Step::status_with(503, &[("Retry-After", tomorrow.as_str())], ""),
        // In the past: no wait beyond the backoff.
        Step::status_with(429, &[("Retry-After", "Wed, 21 Oct 2015 07:28:00 GMT")], ""),
        // Garbage: ignored.
        Step::status_with(503, &[("Retry-After", "soon, promise")], ""),
        Step::status_with(503, &[("Retry-After", "99999999999999999999")], ""),
    ];
    let hub = ScriptedHub::start(Vec::new(), steps, "Last-Event-ID").await;
    let timer = ManualTimer::new();
    let subscriber = Subscriber::builder(hub.url())
        .topic("*")
        .retry_strategy(backoff())
        .timer(timer.clone())
        .build()
        .unwrap();
    let (events, error) = drain(subscriber, &timer).await;
    assert!(error.is_none(), "{error:?}");
    let delays = delays(&events);
    assert_eq!(delays.len(), 5, "{delays:?}");
    // A date 30 s ahead, to the second.
    assert!((28_000..=30_000).contains(&delays[0]), "{delays:?}");
    // A day ahead: capped at 10 minutes.
    assert_eq!(delays[1], 600_000);
    // Past and garbage: the backoff alone; too many seconds: the cap.
    assert_eq!(delays[2..], [400, 800, 600_000]);
}

#[tokio::test]
async fn jittered_delays_never_go_below_the_floor() {
    let steps = (0..12).map(|_| Step::status(503)).collect();
    let hub = ScriptedHub::start(Vec::new(), steps, "Last-Event-ID").await;
    let timer = ManualTimer::new();
    let subscriber = Subscriber::builder(hub.url())
        .topic("*")
        .retry_strategy(
            ExponentialBackoff::new()
                .initial(Duration::from_millis(250))
                .max(Duration::from_millis(400))
                .jitter(1.0)
                .seed(7),
        )
        .timer(timer.clone())
        .build()
        .unwrap();
    let (events, error) = drain(subscriber, &timer).await;
    assert!(error.is_none(), "{error:?}");
    let delays = delays(&events);
    assert_eq!(delays.len(), 12);
    assert!(delays.iter().all(|d| *d >= 250), "{delays:?}");
    assert!(delays.iter().all(|d| *d <= 400), "{delays:?}");
}

#[tokio::test]
async fn the_backoff_starts_over_once_a_connection_delivered_an_update() {
    // A proxy that cuts every stream shortly after it delivered something:
    // the delay stays at its base instead of growing toward the maximum.
    let history: Vec<(String, String)> = (1..=6).map(|i| (i.to_string(), "a".into())).collect();
    // One event is "id: N\ndata: a\n\n" (15 bytes): cut inside the second.
    let steps = (0..6).map(|_| Step::cut_at(20)).collect();
    let hub = ScriptedHub::start(history, steps, "Last-Event-ID").await;
    let timer = ManualTimer::new();
    let subscriber = Subscriber::builder(hub.url())
        .topic("*")
        .retry_strategy(backoff().initial(Duration::from_millis(300)))
        .timer(timer.clone())
        .build()
        .unwrap();
    let (events, error) = drain(subscriber, &timer).await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!(update_ids(&events), ["1", "2", "3", "4", "5", "6"]);
    assert_eq!(delays(&events), [300, 300, 300, 300, 300, 300]);
}

#[tokio::test]
async fn an_unrequested_content_encoding_is_an_error() {
    for encoding in ["gzip", "br", "x-whatever"] {
        let hub = ScriptedHub::start(
            Vec::new(),
            vec![Step::status_with(
                200,
                &[
                    ("Content-Type", "text/event-stream"),
                    ("Content-Encoding", encoding),
                ],
                "id: 1\ndata: looks like an event\n\n",
            )],
            "Last-Event-ID",
        )
        .await;
        let timer = ManualTimer::new();
        let subscriber = Subscriber::builder(hub.url())
            .topic("*")
            .timer(timer.clone())
            .build()
            .unwrap();
        let (events, error) = drain(subscriber, &timer).await;
        assert!(update_ids(&events).is_empty(), "{encoding}");
        let error = error.unwrap_or_else(|| panic!("{encoding}: no error"));
        assert!(
            matches!(&error, Error::InvalidResponse(m) if m.contains(encoding)),
            "{error}"
        );
    }
}

#[tokio::test]
async fn oversized_challenges_are_capped() {
    let description = "y".repeat(100_000);
    let challenge = format!(r#"Bearer error="invalid_token", error_description="{description}""#);
    let hub = ScriptedHub::start(
        Vec::new(),
        vec![Step::status_with(
            401,
            &[("WWW-Authenticate", challenge.as_str())],
            &"z".repeat(100_000),
        )],
        "Last-Event-ID",
    )
    .await;
    let timer = ManualTimer::new();
    let subscriber = Subscriber::builder(hub.url())
        .topic("*")
        .timer(timer.clone())
        .build()
        .unwrap();
    let (_, error) = drain(subscriber, &timer).await;
    let error = error.expect("an error");
    let Error::Unauthorized(rejection) = &error else {
        panic!("{error:?}")
    };
    let kept = rejection.challenge.as_ref().expect("the challenge");
    assert_eq!(kept.error.as_deref(), Some("invalid_token"));
    assert!(
        kept.error_description.as_ref().unwrap().len() <= 1024,
        "{}",
        kept.error_description.as_ref().unwrap().len()
    );
    assert!(
        error.to_string().len() <= 4096,
        "{}",
        error.to_string().len()
    );
    assert!(format!("{error:?}").len() <= 8192);
}

#[tokio::test]
async fn control_characters_from_the_hub_never_reach_error_text() {
    let hub = ScriptedHub::start(
        Vec::new(),
        vec![Step::status_with(
            400,
            &[(
                "WWW-Authenticate",
                "Bearer error=\"invalid_request\", error_description=\"gone\"",
            )],
            "bad \x1b]0;owned\x07 request\r\nSet-Cookie: x",
        )],
        "Last-Event-ID",
    )
    .await;
    let timer = ManualTimer::new();
    let subscriber = Subscriber::builder(hub.url())
        .topic("*")
        .timer(timer.clone())
        .build()
        .unwrap();
    let (_, error) = drain(subscriber, &timer).await;
    let text = error.expect("an error").to_string();
    assert!(!text.chars().any(char::is_control), "{text:?}");
    assert!(text.contains("bad") && text.contains("request"), "{text:?}");
}

#[tokio::test]
async fn an_oversized_event_id_is_not_sent_back() {
    let huge = "x".repeat(100_000);
    let history = vec![
        ("urn:1".to_owned(), "a".to_owned()),
        (huge.clone(), "b".to_owned()),
        ("urn:3".to_owned(), "c".to_owned()),
    ];
    // Cut right after the second event.
    let cut = "id: urn:1\ndata: a\n\n".len() + format!("id: {huge}\ndata: b\n\n").len();
    let hub = ScriptedHub::start(
        history,
        vec![Step::cut_at(cut), Step::stream()],
        "Last-Event-ID",
    )
    .await;
    let timer = ManualTimer::new();
    let subscriber = Subscriber::builder(hub.url())
        .topic("*")
        .retry_strategy(backoff())
        .timer(timer.clone())
        .build()
        .unwrap();
    let (events, error) = drain(subscriber, &timer).await;
    assert!(error.is_none(), "{error:?}");
    // The update itself is delivered, id included.
    assert!(update_ids(&events).contains(&huge));
    let seen = hub.seen();
    assert_eq!(seen.len(), 3);
    // The cursor stayed on the last id that fits.
    assert_eq!(seen[1].header("last-event-id"), Some("urn:1"));
    assert!(seen[1].target.len() < 1024);
    assert_eq!(seen[2].header("last-event-id"), Some("urn:3"));
}

#[tokio::test]
async fn a_token_provider_failing_during_a_reconnect_ends_the_stream() {
    #[derive(Debug, Default)]
    struct FailsSecondTime(AtomicU32);
    impl TokenProvider for FailsSecondTime {
        fn token(&self) -> TokenFuture<'_> {
            let n = self.0.fetch_add(1, Ordering::SeqCst);
            TokenFuture::new(async move {
                tokio::task::yield_now().await;
                if n == 0 {
                    Ok(Token::new("first.token.ok"))
                } else {
                    Err(mercure_client::token::TokenError::Provider(
                        "the vault is unreachable".into(),
                    ))
                }
            })
        }
    }
    let hub = ScriptedHub::start(
        history(2),
        vec![Step::cut_at(80), Step::stream()],
        "Last-Event-ID",
    )
    .await;
    let timer = ManualTimer::new();
    let subscriber = Subscriber::builder(hub.url())
        .topic("*")
        .token_provider(FailsSecondTime::default())
        .retry_strategy(backoff())
        .timer(timer.clone())
        .build()
        .unwrap();
    let (events, error) = drain(subscriber, &timer).await;
    assert_eq!(update_ids(&events), ["urn:uuid:0001"]);
    assert_eq!(reconnect_reasons(&events), ["ended"]);
    let error = error.expect("the provider's failure ends the stream");
    assert!(matches!(&error, Error::Token(_)), "{error:?}");
    assert!(error.to_string().contains("vault is unreachable"));
    // Nothing was sent without a token.
    assert_eq!(hub.seen().len(), 1);
}

/// A subscriber in the query-parameter mode, the token in the URL.
fn query_subscriber(url: String, timer: &ManualTimer, secret: &str) -> Subscriber {
    Subscriber::builder(url)
        .topic("*")
        .token(Token::new(secret))
        .authorization_method(AuthorizationMethod::QueryParameter)
        .retry_strategy(backoff())
        .max_retries(Some(0))
        .timer(timer.clone())
        .build()
        .unwrap()
}

#[tokio::test]
async fn redirects_to_another_origin_are_not_followed_and_leak_nothing() {
    let secret = "eyJhbGciOiJIUzI1NiJ9.cmVkaXJlY3Q.c2lnbmF0dXJl";
    for status in [301u16, 302, 303, 307, 308] {
        let elsewhere = ScriptedHub::start(history(1), vec![Step::stream()], "Last-Event-ID").await;
        let location = format!("{}?stolen=1", elsewhere.url());
        let hub = ScriptedHub::start(
            Vec::new(),
            vec![Step::status_with(
                status,
                &[("Location", location.as_str())],
                "moved",
            )],
            "Last-Event-ID",
        )
        .await;
        let timer = ManualTimer::new();
        let (events, error) = drain(query_subscriber(hub.url(), &timer, secret), &timer).await;
        assert!(
            elsewhere.seen().is_empty(),
            "{status}: followed to another origin: {:?}",
            elsewhere.seen()
        );
        assert!(update_ids(&events).is_empty());
        let error = error.unwrap_or_else(|| panic!("{status}: no error"));
        assert_eq!(error.status(), Some(status), "{error:?}");
        for text in [
            error.to_string(),
            format!("{error:?}"),
            format!("{events:?}"),
        ] {
            assert!(!text.contains("c2lnbmF0dXJl"), "{text}");
            assert!(!text.contains("stolen"), "{text}");
        }
        assert_eq!(hub.seen().len(), 1);
    }
}

#[tokio::test]
async fn a_redirect_within_the_origin_keeps_the_method_and_is_followed() {
    let hub = ScriptedHub::start(
        history(1),
        vec![
            Step::status_with(307, &[("Location", "/moved/mercure?topic=*")], ""),
            Step::stream(),
        ],
        "Last-Event-ID",
    )
    .await;
    let timer = ManualTimer::new();
    let subscriber = Subscriber::builder(hub.url())
        .topic("*")
        .token(Token::new("same.origin.token"))
        .timer(timer.clone())
        .build()
        .unwrap();
    let (events, error) = drain(subscriber, &timer).await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!(update_ids(&events), ["urn:uuid:0001"]);
    let seen = hub.seen();
    assert!(seen[1].target.starts_with("/moved/mercure"));
    assert_eq!(
        seen[1].header("authorization"),
        Some("Bearer same.origin.token")
    );
    assert_eq!(seen[1].header("referer"), None);
}

#[tokio::test]
async fn a_redirect_that_would_change_the_method_is_not_followed_even_within_the_origin() {
    let hub = ScriptedHub::start(
        history(1),
        vec![
            Step::status_with(301, &[("Location", "/elsewhere")], ""),
            Step::stream(),
        ],
        "Last-Event-ID",
    )
    .await;
    let timer = ManualTimer::new();
    let subscriber = Subscriber::builder(hub.url())
        .topic("*")
        .timer(timer.clone())
        .build()
        .unwrap();
    let (_, error) = drain(subscriber, &timer).await;
    let error = error.expect("an error");
    assert_eq!(error.status(), Some(301), "{error:?}");
    assert!(error.to_string().contains("/elsewhere"), "{error}");
    assert_eq!(hub.seen().len(), 1);
}

#[tokio::test]
async fn a_client_of_your_own_that_followed_a_redirect_to_another_origin_is_caught() {
    let elsewhere = ScriptedHub::start(history(1), vec![Step::stream()], "Last-Event-ID").await;
    let location = elsewhere.url();
    let hub = ScriptedHub::start(
        Vec::new(),
        vec![Step::status_with(
            302,
            &[("Location", location.as_str())],
            "",
        )],
        "Last-Event-ID",
    )
    .await;
    let timer = ManualTimer::new();
    // reqwest's default policy follows up to 10 redirects, anywhere.
    let subscriber = Subscriber::builder(hub.url())
        .topic("*")
        .http_client(reqwest::Client::new())
        .timer(timer.clone())
        .build()
        .unwrap();
    let (events, error) = drain(subscriber, &timer).await;
    assert!(
        update_ids(&events).is_empty(),
        "used another origin's stream"
    );
    let error = error.expect("an error");
    assert!(error.to_string().contains("another origin"), "{error}");
}
