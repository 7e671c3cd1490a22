//! The hub's spans through OpenTelemetry (feature `otlp`), over real
//! loopback HTTP, collected by the SDK's in-memory exporter: a publish
//! joins the trace of its `traceparent`, a subscription and its replay
//! have spans of their own, and no span carries a token.

mod support;

use mercure_core::ProtocolVersion;
use mercure_core::token::Grants;
use opentelemetry::trace::SpanKind;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use support::{PATIENCE, config, start};
use tracing_subscriber::layer::SubscriberExt;

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_ID: &str = "00f067aa0ba902b7";

fn attribute(span: &SpanData, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.to_string())
}

fn named<'a>(spans: &'a [SpanData], name: &str) -> Vec<&'a SpanData> {
    spans.iter().filter(|s| s.name == name).collect()
}

// A current-thread runtime: the hub's tasks run on the thread whose
// default subscriber is set here.
#[tokio::test]
async fn publish_subscribe_and_replay_spans_are_exported() {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let subscriber = tracing_subscriber::registry().with(mercure_hub::otlp::layer(&provider));
    let _default = tracing::subscriber::set_default(subscriber);

    let hub = start(config().anonymous(true).subscriptions(true)).await;
    let token = hub.token(ProtocolVersion::V1, &Grants::publish_all());
    let response = hub
        .client
        .post(&hub.url)
        .bearer_auth(&token)
        .header("traceparent", format!("00-{TRACE_ID}-{PARENT_ID}-01"))
        .form(&[
            ("topic", "https://example.com/a"),
            ("topic", "https://example.com/b"),
            ("id", "urn:uuid:7f8c1a52-0b0e-4a0e-9d3e-6f1f0e0d0c0b"),
            ("data", "x"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let id = response.text().await.unwrap();

    // A subscription replaying the history (lean path).
    let mut stream = hub
        .stream("match=https://example.com/a&lastEventID=earliest", None)
        .await;
    let event = tokio::time::timeout(PATIENCE, stream.next_event())
        .await
        .expect("no event")
        .expect("stream ended");
    assert_eq!(event.id.as_deref(), Some(id.as_str()));
    drop(stream);
    // The subscriptions API.
    let reader = hub.token(ProtocolVersion::V1, &Grants::subscribe_all());
    let status = hub
        .client
        .get(format!("{}/subscriptions", hub.url))
        .bearer_auth(&reader)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);

    provider.force_flush().unwrap();
    let spans = exporter.get_finished_spans().unwrap();
    let names: Vec<_> = spans.iter().map(|s| s.name.to_string()).collect();

    let publish = named(&spans, "mercure.publish");
    assert_eq!(publish.len(), 1, "{names:?}");
    let publish = publish[0];
    assert_eq!(publish.span_context.trace_id().to_string(), TRACE_ID);
    assert_eq!(publish.parent_span_id.to_string(), PARENT_ID);
    assert!(publish.parent_span_is_remote);
    assert_eq!(publish.span_kind, SpanKind::Server);
    assert_eq!(attribute(publish, "topics").as_deref(), Some("2"));
    assert_eq!(attribute(publish, "update_id"), Some(id.clone()));
    assert_eq!(attribute(publish, "dialect").as_deref(), Some("1.0"));
    assert_eq!(attribute(publish, "status").as_deref(), Some("200"));

    let subscribe = named(&spans, "mercure.subscribe");
    assert_eq!(subscribe.len(), 1, "{names:?}");
    let subscribe = subscribe[0];
    assert_ne!(subscribe.span_context.trace_id().to_string(), TRACE_ID);
    assert_eq!(attribute(subscribe, "selectors").as_deref(), Some("1"));
    assert_eq!(attribute(subscribe, "dialect").as_deref(), Some("1.0"));
    let subscriber_id = attribute(subscribe, "subscriber_id").expect("subscriber id");

    let history = named(&spans, "mercure.transport.history");
    assert!(!history.is_empty(), "{names:?}");
    assert_eq!(attribute(history[0], "subscriber_id"), Some(subscriber_id));
    assert_eq!(attribute(history[0], "events").as_deref(), Some("1"));

    assert_eq!(named(&spans, "mercure.subscriptions").len(), 1, "{names:?}");

    // Only the hub's spans, and never a token.
    for span in &spans {
        assert!(span.name.starts_with("mercure."), "{}", span.name);
        for kv in &span.attributes {
            let value = kv.value.to_string();
            assert!(
                !value.contains(&token) && !value.contains(&reader),
                "{}",
                span.name
            );
        }
    }
}
