//! Discovery over HTTP against a scripted server on 127.0.0.1.

mod support;

use mercure_client::discovery::{
    Discoverer, Discovery, MAX_HUB_LINKS, detect_protocol, discover, fetch_resource_metadata,
    metadata_url,
};
use mercure_client::headers::LinkValue;
use mercure_client::{Error, ProtocolVersion};
use support::{ScriptedHub, Step};
use url::Url;

#[tokio::test]
async fn discovers_hubs_from_several_link_headers() {
    let server = ScriptedHub::start(
        Vec::new(),
        vec![Step::status_with(
            200,
            &[
                ("Link", r#"</books/1>; rel="self", <https://other.example/style.css>; rel=stylesheet"#),
                (
                    "Link",
                    r#"</.well-known/mercure>; rel="mercure"; last-event-id="urn:uuid:7"; content-type="application/ld+json"; key-set="https://example.com/jwks.json""#,
                ),
                ("Link", r#"<https://hub2.example/.well-known/mercure>; rel="mercure"; type="application/json""#),
            ],
            r#"{"@id": "/books/1"}"#,
        )],
        "Last-Event-ID",
    )
    .await;
    let resource = format!("http://{}/books/1?lang=fr", server.addr);
    let discovery = discover(&reqwest::Client::new(), &resource).await.unwrap();
    assert_eq!(discovery.hubs.len(), 2);
    let first = discovery.hub().unwrap();
    assert_eq!(
        first.url.as_str(),
        format!("http://{}/.well-known/mercure", server.addr)
    );
    assert_eq!(first.last_event_id.as_ref().unwrap(), "urn:uuid:7");
    assert_eq!(first.content_type.as_deref(), Some("application/ld+json"));
    assert_eq!(
        first.key_set.as_deref(),
        Some("https://example.com/jwks.json")
    );
    assert_eq!(first.protocol_hint(), Some(ProtocolVersion::V0));
    assert_eq!(
        discovery.hubs[1].link_type.as_deref(),
        Some("application/json")
    );
    assert_eq!(discovery.hubs[1].protocol_hint(), Some(ProtocolVersion::V1));
    let self_url = discovery.self_url.clone().unwrap();
    assert_eq!(self_url.as_str(), format!("http://{}/books/1", server.addr));
    let resource_url = Url::parse(&resource).unwrap();
    assert_eq!(discovery.topic(&resource_url), &self_url);
    // Hints decide without a request.
    let client = reqwest::Client::new();
    assert_eq!(
        first.detect_protocol(&client).await.unwrap(),
        ProtocolVersion::V0
    );
    assert_eq!(
        discovery.hubs[1].detect_protocol(&client).await.unwrap(),
        ProtocolVersion::V1
    );
    assert_eq!(server.seen().len(), 1);
}

#[tokio::test]
async fn refused_resources_are_errors() {
    let server = ScriptedHub::start(
        Vec::new(),
        vec![Step::status_with(404, &[], "no such book")],
        "Last-Event-ID",
    )
    .await;
    let error = discover(
        &reqwest::Client::new(),
        &format!("http://{}/books/9", server.addr),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(error, Error::UnexpectedStatus(ref r) if r.status == 404),
        "{error}"
    );
    assert!(matches!(
        discover(&reqwest::Client::new(), "not a url").await,
        Err(Error::InvalidUrl { .. })
    ));
}

#[tokio::test]
async fn metadata_tells_the_dialect() {
    let server = ScriptedHub::start(
        Vec::new(),
        vec![
            Step::status_with(
                200,
                &[("Content-Type", "application/json")],
                r#"{"resource": "https://example.com/.well-known/mercure", "mercure_matcher_types_supported": ["exact", "urlpattern"]}"#,
            ),
            Step::status(404),
            Step::status_with(200, &[], "<html>not metadata</html>"),
            Step::status(503),
        ],
        "Last-Event-ID",
    )
    .await;
    let hub = Url::parse(&server.url()).unwrap();
    let client = reqwest::Client::new();
    assert_eq!(
        detect_protocol(&client, &hub).await.unwrap(),
        ProtocolVersion::V1
    );
    assert_eq!(
        detect_protocol(&client, &hub).await.unwrap(),
        ProtocolVersion::V0
    );
    assert!(matches!(
        fetch_resource_metadata(&client, &hub).await,
        Err(Error::InvalidResponse(_))
    ));
    assert!(matches!(
        fetch_resource_metadata(&client, &hub).await,
        Err(Error::ServerError(_))
    ));
    let seen = server.seen();
    assert!(seen.iter().all(|s| s.target == metadata_url(&hub).path()));
    assert_eq!(
        seen[0].target,
        "/.well-known/oauth-protected-resource/.well-known/mercure"
    );
}

#[test]
fn link_values_never_panic_on_garbage() {
    let base = Url::parse("https://example.com/a/b").unwrap();
    let alphabet: &[u8] = b"<>;=\", \t\\relmcu:/?#%[]!abc\x7f\xc3\xa9";
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..20_000 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let len = (seed % 40) as usize;
        let bytes: Vec<u8> = (0..len)
            .map(|i| alphabet[((seed >> (i % 56)) as usize + i * 7) % alphabet.len()])
            .collect();
        let text = String::from_utf8_lossy(&bytes);
        let links = LinkValue::parse_all(&text, &base);
        let _ = Discovery::from_link_headers([text.as_ref()], &base);
        for link in links {
            for rel in link.relations() {
                assert!(!rel.is_empty() && !rel.contains(char::is_whitespace));
                assert_eq!(*rel, rel.to_ascii_lowercase());
            }
        }
    }
}

#[test]
fn hub_links_are_deduplicated_and_capped() {
    let base = Url::parse("https://example.com/books/1").unwrap();
    let same = vec![r#"<https://hub.example/.well-known/mercure>; rel="mercure""#; 5000].join(", ");
    let discovery = Discovery::from_link_headers([same.as_str()], &base);
    assert_eq!(discovery.hubs.len(), 1);

    let distinct: Vec<String> = (0..5000)
        .map(|i| format!(r#"<https://hub.example/{i}>; rel="mercure""#))
        .collect();
    let discovery = Discovery::from_link_headers(distinct.iter().map(String::as_str), &base);
    assert_eq!(discovery.hubs.len(), MAX_HUB_LINKS);
    // The first ones, in order.
    assert_eq!(discovery.hubs[0].url.as_str(), "https://hub.example/0");
    assert_eq!(discovery.hubs[1].url.as_str(), "https://hub.example/1");
}

#[tokio::test]
async fn hostile_link_headers_are_read_in_bounded_time() {
    // Many parameters, then many repeated `rel`s: a parser that rescans
    // the parameters for each `rel` is quadratic in this.
    let mut header = String::from("<https://hub.example/>");
    header.push_str(&"; x".repeat(100_000));
    header.push_str(&"; rel=mercure".repeat(30_000));
    let base = Url::parse("https://example.com/books/1").unwrap();
    let parse = tokio::task::spawn_blocking(move || {
        let discovery = Discovery::from_link_headers([header.as_str()], &base);
        discovery.hubs.len()
    });
    let started = std::time::Instant::now();
    let hubs = tokio::time::timeout(std::time::Duration::from_secs(10), parse)
        .await
        .expect("parsed in time")
        .unwrap();
    assert!(hubs <= 1);
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

#[tokio::test]
async fn discovery_probes_concurrently_within_an_overall_deadline() {
    use std::time::{Duration, Instant};

    // 50 hubs whose metadata never answers.
    let (silent, task) = support::black_hole().await;
    let links: Vec<String> = (0..50)
        .map(|i| format!(r#"<http://{silent}/hub{i}>; rel="mercure""#))
        .collect();
    let headers: Vec<(&str, &str)> = links.iter().map(|l| ("Link", l.as_str())).collect();
    let server = ScriptedHub::start(
        Vec::new(),
        vec![Step::status_with(200, &headers, "")],
        "Last-Event-ID",
    )
    .await;
    let discoverer = Discoverer::new(reqwest::Client::new())
        .deadline(Duration::from_secs(1))
        .concurrency(8);
    let started = Instant::now();
    let (discovery, protocols) = tokio::time::timeout(
        Duration::from_secs(20),
        discoverer.discover_hubs(&format!("http://{}/books/1", server.addr)),
    )
    .await
    .expect("bounded")
    .unwrap();
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(4), "{elapsed:?}");
    assert_eq!(discovery.hubs.len(), MAX_HUB_LINKS);
    assert_eq!(protocols.len(), discovery.hubs.len());
    for result in &protocols {
        let error = result.as_ref().unwrap_err();
        assert!(error.is_timeout(), "{error:?}");
        assert!(matches!(error, Error::DeadlineExceeded(_)), "{error:?}");
    }
    task.abort();
}

#[tokio::test]
async fn discovery_of_a_silent_resource_ends_at_the_deadline() {
    use std::time::{Duration, Instant};

    let (silent, task) = support::black_hole().await;
    let started = Instant::now();
    let error = Discoverer::new(reqwest::Client::new())
        .deadline(Duration::from_millis(500))
        .discover(&format!("http://{silent}/books/1"))
        .await
        .unwrap_err();
    assert!(matches!(error, Error::DeadlineExceeded(_)), "{error:?}");
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(
        mercure_client::discovery::DEFAULT_DEADLINE,
        Duration::from_secs(10)
    );
    task.abort();
}

#[tokio::test]
async fn hints_need_no_probe_and_probes_are_shared() {
    let server = ScriptedHub::start(
        Vec::new(),
        vec![Step::status_with(
            200,
            &[("Content-Type", "application/json")],
            r#"{"resource": "x"}"#,
        )],
        "Last-Event-ID",
    )
    .await;
    let hub = server.url();
    let hubs = Discovery::from_link_headers(
        [
            format!(r#"<{hub}>; rel="mercure""#).as_str(),
            r#"<https://hinted.example/hub>; rel="mercure"; type="application/json""#,
            format!(r#"<{hub}>; rel="mercure"; last-event-id="dup""#).as_str(),
        ],
        &Url::parse(&hub).unwrap(),
    )
    .hubs;
    assert_eq!(hubs.len(), 2);
    let protocols = Discoverer::new(reqwest::Client::new())
        .detect_protocols(&hubs)
        .await;
    assert_eq!(protocols[0].as_ref().unwrap(), &ProtocolVersion::V1);
    assert_eq!(protocols[1].as_ref().unwrap(), &ProtocolVersion::V1);
    assert_eq!(server.seen().len(), 1);
}
