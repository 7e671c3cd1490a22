//! Publishing against scripted hubs that redirect and answer with things
//! that are not event ids.

mod support;

use mercure_client::token::Token;
use mercure_client::{Error, Hub, Update};
use support::{ScriptedHub, Step};

fn update() -> Update {
    Update::new("https://example.com/books/1", "{\"sold\": true}").unwrap()
}

fn hub(url: &str) -> Hub {
    Hub::builder(url)
        .token(Token::new("publisher.secret.token"))
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_301_is_not_followed_into_a_get() {
    // reqwest turns a POST into a GET on 301, 302 and 303: the HTML page
    // that follows must not be taken for an event id.
    for status in [301u16, 302, 303] {
        let server = ScriptedHub::start(
            Vec::new(),
            vec![
                Step::status_with(status, &[("Location", "/welcome")], ""),
                Step::status_with(
                    200,
                    &[("Content-Type", "text/html")],
                    "<html><body>Welcome</body></html>",
                ),
            ],
            "Last-Event-ID",
        )
        .await;
        let error = hub(&server.url()).publish(&update()).await.unwrap_err();
        assert_eq!(error.status(), Some(status), "{error:?}");
        assert!(!error.is_retryable());
        assert!(error.to_string().contains("/welcome"), "{error}");
        assert_eq!(server.seen().len(), 1, "{status}: followed");
    }
}

#[tokio::test]
async fn a_307_to_another_origin_is_not_followed() {
    for status in [307u16, 308] {
        let elsewhere = ScriptedHub::start(
            Vec::new(),
            vec![Step::status_with(200, &[], "urn:uuid:stolen")],
            "Last-Event-ID",
        )
        .await;
        let location = elsewhere.url();
        let server = ScriptedHub::start(
            Vec::new(),
            vec![Step::status_with(
                status,
                &[("Location", location.as_str())],
                "",
            )],
            "Last-Event-ID",
        )
        .await;
        let error = hub(&server.url()).publish(&update()).await.unwrap_err();
        assert_eq!(error.status(), Some(status), "{error:?}");
        assert!(
            elsewhere.seen().is_empty(),
            "the update went to another origin"
        );
        assert!(!error.to_string().contains("publisher.secret.token"));
    }
}

#[tokio::test]
async fn a_307_within_the_origin_is_followed_with_the_body() {
    let server = ScriptedHub::start(
        Vec::new(),
        vec![
            Step::status_with(307, &[("Location", "/moved")], ""),
            Step::status_with(200, &[], "urn:uuid:1"),
        ],
        "Last-Event-ID",
    )
    .await;
    let id = hub(&server.url()).publish(&update()).await.unwrap();
    assert_eq!(id, "urn:uuid:1");
    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[1].method, "POST");
    assert_eq!(seen[1].target, "/moved");
    assert_eq!(seen[0].body, seen[1].body);
    assert!(!seen[1].body.is_empty());
    assert_eq!(
        seen[1].header("authorization"),
        Some("Bearer publisher.secret.token")
    );
    assert_eq!(seen[1].header("referer"), None);
}

#[tokio::test]
async fn answers_that_are_not_event_ids_are_errors() {
    let long_id = "a".repeat(5000);
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, String);
    let cases: Vec<Case<'_>> = vec![
        (
            "html",
            vec![("Content-Type", "text/html; charset=utf-8")],
            "<html>".into(),
        ),
        ("spaces inside", vec![], "<html> <body>hi</body>".into()),
        (
            "a line break inside",
            vec![],
            "urn:uuid:1\nurn:uuid:2".into(),
        ),
        ("a control character", vec![], "urn:\u{1b}[31m".into()),
        ("too long", vec![], long_id),
    ];
    for (what, headers, body) in cases {
        let server = ScriptedHub::start(
            Vec::new(),
            vec![Step::status_with(200, &headers, &body)],
            "Last-Event-ID",
        )
        .await;
        let error = hub(&server.url()).publish(&update()).await.expect_err(what);
        assert!(
            matches!(error, Error::InvalidEventId { status: 200, .. }),
            "{what}: {error:?}"
        );
        assert!(!error.to_string().chars().any(char::is_control), "{what}");
        assert!(error.to_string().len() < 512, "{what}");
    }
    // The body is judged, not the content type: flask-mercure-sse answers
    // its ids as text/html.
    let server = ScriptedHub::start(
        Vec::new(),
        vec![Step::status_with(
            200,
            &[("Content-Type", "text/html; charset=utf-8")],
            "urn:uuid:9",
        )],
        "Last-Event-ID",
    )
    .await;
    assert_eq!(
        hub(&server.url()).publish(&update()).await.unwrap(),
        "urn:uuid:9"
    );
    // Blank is still "empty"; surrounding whitespace is not part of the id.
    for (body, expected) in [(" \n", None), ("  urn:uuid:7\r\n", Some("urn:uuid:7"))] {
        let server = ScriptedHub::start(
            Vec::new(),
            vec![Step::status_with(201, &[], body)],
            "Last-Event-ID",
        )
        .await;
        let result = hub(&server.url()).publish(&update()).await;
        match expected {
            None => assert!(
                matches!(result, Err(Error::EmptyEventId { status: 201 })),
                "{result:?}"
            ),
            Some(id) => assert_eq!(result.unwrap(), id),
        }
    }
}

#[tokio::test]
async fn an_answer_over_64_kib_is_refused_not_truncated() {
    let server = ScriptedHub::start(
        Vec::new(),
        vec![Step::status_with(200, &[], &"i".repeat(70 * 1024))],
        "Last-Event-ID",
    )
    .await;
    let error = hub(&server.url()).publish(&update()).await.unwrap_err();
    assert!(
        matches!(error, Error::ResponseTooLarge { limit: 65536, .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn an_encoded_answer_is_refused() {
    let server = ScriptedHub::start(
        Vec::new(),
        vec![Step::status_with(
            200,
            &[("Content-Encoding", "gzip")],
            "urn:uuid:1",
        )],
        "Last-Event-ID",
    )
    .await;
    let error = hub(&server.url()).publish(&update()).await.unwrap_err();
    assert!(
        matches!(&error, Error::InvalidResponse(m) if m.contains("gzip")),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_client_of_your_own_is_checked_after_the_fact() {
    // reqwest's default policy follows the 302 into a GET to another
    // origin; the answer there is not taken for the publish's.
    let elsewhere = ScriptedHub::start(
        Vec::new(),
        vec![Step::status_with(200, &[], "urn:uuid:elsewhere")],
        "Last-Event-ID",
    )
    .await;
    let location = elsewhere.url();
    let server = ScriptedHub::start(
        Vec::new(),
        vec![Step::status_with(
            302,
            &[("Location", location.as_str())],
            "",
        )],
        "Last-Event-ID",
    )
    .await;
    let hub = Hub::builder(server.url())
        .http_client(reqwest::Client::new())
        .build()
        .unwrap();
    let error = hub.publish(&update()).await.unwrap_err();
    assert!(matches!(error, Error::Redirect { .. }), "{error:?}");
    assert!(error.to_string().contains("another origin"), "{error}");
}
