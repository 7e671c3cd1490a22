//! Pattern selectors (0.x URI templates, 1.0 URL patterns) are
//! cost-limited: the shapes of the selector-compilation attack get 400 at
//! once (401 inside a token), and realistic patterns keep matching.
//!
//! No timing is asserted: the figures are in the hub's README and the
//! cache's byte bound is asserted by the crate's unit tests.

mod support;

use mercure_core::token::Grants;
use mercure_core::{ProtocolVersion, TopicSelector};
use support::{TestHub, config, start, start_router};

const V0: ProtocolVersion = ProtocolVersion::V0;
const V1: ProtocolVersion = ProtocolVersion::V1;

/// A query string of `name=value` pairs, values percent-encoded.
fn query<'a>(pairs: impl IntoIterator<Item = (&'a str, String)>) -> String {
    let mut serializer = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in pairs {
        serializer.append_pair(name, &value);
    }
    serializer.finish()
}

/// Asserts that `query` is refused with 400 and a body saying `why`.
async fn refused(hub: &TestHub, query: &str, why: &str) {
    let response = hub.subscribe(query, None).await;
    // A stream accepted by mistake would never end: no body then.
    let status = response.status();
    assert_eq!(status, 400, "{}", &query[..query.len().min(200)]);
    let body = response.text().await.unwrap();
    assert!(body.contains(why), "{body}");
}

/// The attack: one anonymous GET of 256 URL patterns of 16 bytes whose
/// custom groups compiled to 24 MB and 100 ms each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_url_patterns_get_400() {
    for hub in [
        start(config().anonymous(true)).await,
        start_router(config().anonymous(true)).await,
    ] {
        let attack = query((0..256).map(|i| ("match_urlpattern", format!("/p{i}/:a(\\w{{200}})"))));
        refused(&hub, &attack, "at most 32 pattern selectors").await;
        // Within the count, each is refused for what it would compile to.
        let attack = query((0..32).map(|i| ("match_urlpattern", format!("/p{i}/:a(\\w{{200}})"))));
        refused(&hub, &attack, "compiles to more than").await;
        let shapes = [
            "/p/:a(\\w{100})+/:b(\\w{100})+",
            "/p/((?:(?:a{100}){100}){100})",
            "/p/(.{2000})",
            "(\\w{30})://example.com/",
        ];
        for shape in shapes {
            let attack = query([("match_urlpattern", shape.to_owned())]);
            refused(&hub, &attack, "").await;
        }
        // Translating case-insensitive Unicode classes is the costly part.
        let attack = query([(
            "match_urlpattern",
            format!("/p/({})", "(?i)[\\w\\W]".repeat(8)),
        )]);
        refused(&hub, &attack, "case-insensitive Unicode classes").await;
        let attack = query([("match_urlpattern", format!("/p/({})", "\\pL".repeat(17)))]);
        refused(&hub, &attack, "at most 16 Unicode classes").await;
        let attack = query([("match_urlpattern", format!("/{}", "a".repeat(1024)))]);
        refused(&hub, &attack, "limited to 1024 bytes").await;
        // The hub still serves.
        let ok = query([("match_urlpattern", "/books/:id".to_owned())]);
        assert_eq!(hub.subscribe(&ok, None).await.status(), 200);
    }
}

/// The 0.x variant: long templates of many expressions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_templates_get_400() {
    for hub in [
        start(config().anonymous(true)).await,
        start_router(config().anonymous(true)).await,
    ] {
        // 4002 bytes: within the selector limit, past the pattern one.
        let attack = query((0..2).map(|i| ("topic", format!("/{i}{}", "{+a}".repeat(1000)))));
        refused(&hub, &attack, "limited to 1024 bytes").await;
        let attack = query((0..32).map(|i| ("topic", format!("/{i}{}", "{+a}".repeat(100)))));
        refused(&hub, &attack, "compiles to more than").await;
        let attack = query([("topic", format!("/p{{{}}}", vec!["a"; 200].join(",")))]);
        refused(&hub, &attack, "compiles to more than").await;
        let ok = query([("topic", "/books/{id}".to_owned())]);
        assert_eq!(hub.subscribe(&ok, None).await.status(), 200);
    }
}

/// A token granting a hostile pattern is refused (401) without compiling
/// it past the limits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_granting_a_hostile_pattern_is_refused() {
    let hub = start(config()).await;
    let grants = Grants::new().subscribe([TopicSelector::pattern("/p/:a(\\w{200})")]);
    let token = hub.token(V1, &grants);
    let response = hub.subscribe("match=/books/1", Some(&token)).await;
    assert_eq!(response.status(), 401);
}

/// Patterns as applications write them keep matching, in both dialects.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn realistic_patterns_still_match() {
    let hub = start(config().anonymous(true)).await;
    let selectors = [
        "/books/:id",
        "/users/:id(\\d+)",
        "https://example.com/authors/:name([a-z-]+)",
        "https://example.com/shelves/:shelf/books{/:book}?",
        "/sentinel",
    ];
    let mut reader = hub
        .stream(
            &query(selectors.map(|s| ("match_urlpattern", s.to_owned()))),
            None,
        )
        .await;
    let topics = [
        ("/books/1", true),
        ("/books/1/reviews", false),
        ("/users/42", true),
        ("/users/x", false),
        ("https://example.com/authors/jane-doe", true),
        ("https://example.com/authors/Jane", false),
        ("https://example.com/shelves/a/books", true),
        ("https://example.com/shelves/a/books/7", true),
        ("https://example.org/books/1", false),
    ];
    let expected: Vec<&str> = topics.iter().filter(|(_, m)| *m).map(|(t, _)| *t).collect();
    for (topic, _) in topics {
        hub.publish_ok(V1, &[("topic", topic), ("data", topic)])
            .await;
    }
    hub.publish_ok(V1, &[("topic", "/sentinel"), ("data", "sentinel")])
        .await;
    let mut got = Vec::new();
    loop {
        let event = reader.next_event().await.expect("stream ended");
        if event.data() == "sentinel" {
            break;
        }
        got.push(event.data());
    }
    assert_eq!(got, expected);

    let templates = [
        "https://example.com/files/{+rest}",
        "https://example.com/books/{id}{?format}",
        "sentinel",
    ];
    let mut reader = hub
        .stream(&query(templates.map(|t| ("topic", t.to_owned()))), None)
        .await;
    let topics = [
        ("https://example.com/files/a/b.txt", true),
        ("https://example.com/books/1", true),
        ("https://example.com/books/1?format=json", true),
        ("https://example.com/books/1/2", false),
        ("https://example.com/other/1", false),
    ];
    let expected: Vec<&str> = topics.iter().filter(|(_, m)| *m).map(|(t, _)| *t).collect();
    for (topic, _) in topics {
        hub.publish_ok(V0, &[("topic", topic), ("data", topic)])
            .await;
    }
    hub.publish_ok(V0, &[("topic", "sentinel"), ("data", "sentinel")])
        .await;
    let mut got = Vec::new();
    loop {
        let event = reader.next_event().await.expect("stream ended");
        if event.data() == "sentinel" {
            break;
        }
        got.push(event.data());
    }
    assert_eq!(got, expected);
}

/// The limits are the operator's to set.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pattern_limits_are_configurable() {
    let hub = start(config().anonymous(true).pattern_limits(32, 16, 32 << 10)).await;
    let long = query([("match_urlpattern", "/books/:id/reviews".to_owned())]);
    refused(&hub, &long, "limited to 16 bytes").await;
    let short = query([("match_urlpattern", "/books/:id".to_owned())]);
    assert_eq!(hub.subscribe(&short, None).await.status(), 200);
    // Exact selectors are not patterns.
    let exact = query([("match", "/books/1/reviews/2".to_owned())]);
    assert_eq!(hub.subscribe(&exact, None).await.status(), 200);

    let hub = start(config().anonymous(true).pattern_limits(32, 1024, 200 << 10)).await;
    let big = query([("match_urlpattern", "/p/:a(\\w{200})".to_owned())]);
    assert_eq!(hub.subscribe(&big, None).await.status(), 200);
}

/// At most 32 pattern selectors per subscription by default.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pattern_selectors_per_subscription_are_limited() {
    let hub = start(config().anonymous(true)).await;
    let many = query((0..33).map(|i| ("match_urlpattern", format!("/books{i}/:id"))));
    refused(&hub, &many, "at most 32 pattern selectors").await;
    let enough = query((0..32).map(|i| ("match_urlpattern", format!("/books{i}/:id"))));
    assert_eq!(hub.subscribe(&enough, None).await.status(), 200);
    // Exact selectors do not count.
    let exact = query((0..200).map(|i| ("match", format!("/books/{i}"))));
    assert_eq!(hub.subscribe(&exact, None).await.status(), 200);
}

/// The shapes that made every publish wait seconds behind one anonymous
/// subscriber are refused; while subscribers hold the costliest patterns
/// the limits accept, each reading from the earliest event, a publish is
/// answered within 10 ms (a generous bound for a debug build: the hub
/// matches with bounded work per subscriber, and publishing never waits on
/// one subscriber's matching).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pathological_selectors_are_refused_and_publishing_stays_prompt() {
    let hub = start(config().anonymous(true).history_size(10_000)).await;
    let stars = query([("match_urlpattern", format!("*://*/{}", "*".repeat(4000)))]);
    refused(&hub, &stars, "").await;
    let stars = query([("match_urlpattern", format!("*://*/{}", "*/".repeat(400)))]);
    refused(&hub, &stars, "").await;
    for i in 0..200 {
        hub.publish_ok(
            V1,
            &[
                ("topic", &format!("https://example.com/h/{i}")),
                ("data", "x"),
            ],
        )
        .await;
    }
    // The costliest accepted: 32 patterns near the size limit each.
    let heavy = query(
        (0..32)
            .map(|i| {
                (
                    "match_urlpattern",
                    format!("*://*/h{i}/:a(\\w{{40}})/*/:b(\\w{{40}})/*"),
                )
            })
            .chain([("lastEventID", "earliest".to_owned())]),
    );
    let mut readers = Vec::new();
    for _ in 0..8 {
        let response = hub.subscribe(&heavy, None).await;
        assert_eq!(response.status(), 200);
        readers.push(response);
    }
    hub.wait_subscribers(8).await;
    let mut slowest = std::time::Duration::ZERO;
    let mut times = Vec::new();
    for i in 0..50 {
        let started = std::time::Instant::now();
        hub.publish_ok(
            V1,
            &[
                ("topic", &format!("https://example.com/h/x/{i}/y")),
                ("data", "x"),
            ],
        )
        .await;
        let took = started.elapsed();
        times.push(took);
        slowest = slowest.max(took);
    }
    times.sort();
    eprintln!(
        "publish with 8 heavy subscribers: median {:?}, slowest {slowest:?}",
        times[times.len() / 2]
    );
    assert!(
        times[times.len() / 2] < std::time::Duration::from_millis(10),
        "median {:?}",
        times[times.len() / 2]
    );
    drop(readers);
}
