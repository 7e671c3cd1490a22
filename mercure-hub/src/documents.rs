//! The resources describing subscriptions: their topics (IRIs) and their
//! JSON documents, 0.x JSON-LD or 1.0 JSON.

use mercure_core::{MatchType, ProtocolVersion, TopicSelector};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Map, Value, json};

/// Everything but RFC 3986 unreserved characters is percent-encoded.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes a path segment.
pub(crate) fn encode(value: &str) -> String {
    utf8_percent_encode(value, COMPONENT).to_string()
}

/// The `match_type` segment of 1.0 subscription topics.
pub(crate) fn match_type_name(selector: &TopicSelector) -> &'static str {
    match selector.match_type() {
        MatchType::Exact => "exact",
        MatchType::Pattern => "urlpattern",
    }
}

/// The topic of the subscription of `subscriber` to `selector`:
/// `{hub}/subscriptions/{topic}/{subscriber}` in 0.x,
/// `{hub}/subscriptions/{match_type}/{match}/{subscriber}` in 1.0.
pub(crate) fn subscription_topic(
    hub_path: &str,
    dialect: ProtocolVersion,
    selector: &TopicSelector,
    subscriber: &str,
) -> String {
    let mut topic = collection_path(hub_path, dialect, Some(selector));
    topic.push('/');
    topic.push_str(&encode(subscriber));
    topic
}

/// `{hub}/subscriptions`, or the collection of one selector.
pub(crate) fn collection_path(
    hub_path: &str,
    dialect: ProtocolVersion,
    selector: Option<&TopicSelector>,
) -> String {
    let mut path = String::with_capacity(hub_path.len() + 64);
    path.push_str(hub_path.trim_end_matches('/'));
    path.push_str("/subscriptions");
    if let Some(selector) = selector {
        if dialect == ProtocolVersion::V1 {
            path.push('/');
            path.push_str(match_type_name(selector));
        }
        path.push('/');
        path.push_str(&encode(selector.expression()));
    }
    path
}

/// The document of one subscription.
pub(crate) fn subscription_document(
    hub_path: &str,
    dialect: ProtocolVersion,
    selector: &TopicSelector,
    subscriber: &str,
    payload: Option<&Value>,
    active: bool,
) -> Map<String, Value> {
    let id = subscription_topic(hub_path, dialect, selector, subscriber);
    let mut doc = Map::new();
    match dialect {
        ProtocolVersion::V0 => {
            doc.insert("id".into(), json!(id));
            doc.insert("type".into(), json!("Subscription"));
            doc.insert("topic".into(), json!(selector.expression()));
        }
        ProtocolVersion::V1 => {
            doc.insert("id".into(), json!(id));
            doc.insert("type".into(), json!("subscription"));
            doc.insert("match".into(), json!(selector.expression()));
            doc.insert("match_type".into(), json!(match_type_name(selector)));
        }
    }
    doc.insert("subscriber".into(), json!(subscriber));
    doc.insert("active".into(), json!(active));
    if let Some(payload) = payload {
        doc.insert("payload".into(), payload.clone());
    }
    doc
}

/// Adds the JSON-LD `@context` of 0.x documents, first.
pub(crate) fn with_context(dialect: ProtocolVersion, doc: Map<String, Value>) -> Value {
    if dialect == ProtocolVersion::V1 {
        return Value::Object(doc);
    }
    let mut out = Map::with_capacity(doc.len() + 1);
    out.insert("@context".into(), json!("https://mercure.rocks/"));
    out.extend(doc);
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_encode_each_value_once() {
        assert_eq!(
            subscription_topic(
                "/.well-known/mercure",
                ProtocolVersion::V0,
                &TopicSelector::exact("https://example.com/a b%20"),
                "urn:uuid:1"
            ),
            "/.well-known/mercure/subscriptions/https%3A%2F%2Fexample.com%2Fa%20b%2520/urn%3Auuid%3A1"
        );
        assert_eq!(
            subscription_topic(
                "/.well-known/mercure",
                ProtocolVersion::V1,
                &TopicSelector::pattern("https://example.com/:id"),
                "urn:uuid:1"
            ),
            "/.well-known/mercure/subscriptions/urlpattern/https%3A%2F%2Fexample.com%2F%3Aid/urn%3Auuid%3A1"
        );
    }

    #[test]
    fn documents_per_dialect() {
        let selector = TopicSelector::exact("https://example.com/a");
        let v0 = with_context(
            ProtocolVersion::V0,
            subscription_document(
                "/.well-known/mercure",
                ProtocolVersion::V0,
                &selector,
                "s",
                Some(&json!({"u": 1})),
                true,
            ),
        );
        assert_eq!(
            v0,
            json!({
                "@context": "https://mercure.rocks/",
                "id": "/.well-known/mercure/subscriptions/https%3A%2F%2Fexample.com%2Fa/s",
                "type": "Subscription",
                "topic": "https://example.com/a",
                "subscriber": "s",
                "active": true,
                "payload": {"u": 1}
            })
        );
        let v1 = with_context(
            ProtocolVersion::V1,
            subscription_document(
                "/.well-known/mercure",
                ProtocolVersion::V1,
                &selector,
                "s",
                None,
                false,
            ),
        );
        assert_eq!(
            v1,
            json!({
                "id": "/.well-known/mercure/subscriptions/exact/https%3A%2F%2Fexample.com%2Fa/s",
                "type": "subscription",
                "match": "https://example.com/a",
                "match_type": "exact",
                "subscriber": "s",
                "active": false
            })
        );
    }
}
