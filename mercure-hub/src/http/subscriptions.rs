//! The subscriptions API: `GET {hub}/subscriptions[/...]`.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Uri, header};
use axum::response::{IntoResponse, Response};
use mercure_core::{EventId, ProtocolVersion, TopicSelector};
use percent_encoding::percent_decode_str;
use serde_json::{Map, Value, json};

use super::client::{self, Client, Limit};
use super::errors::respond;
use super::publish::cookie_dialects;
use super::token;
use crate::documents::{collection_path, subscription_document};
use crate::{DialectSupport, EmbeddedHub, Error};

/// Set (`true`) when the listing was cut at its bound: more subscriptions
/// are held across the cluster than one response lists.
const TRUNCATED: header::HeaderName = header::HeaderName::from_static("mercure-truncated");

pub(super) async fn subscriptions(
    State(hub): State<EmbeddedHub>,
    mut client: Client,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let span = tracing::debug_span!("mercure.subscriptions", otel.kind = "server");
    #[cfg(feature = "otlp")]
    crate::otlp::set_parent(&span, &headers);
    let handled =
        tracing::Instrument::instrument(handle(&hub, uri.path(), &headers, &mut client), span);
    match handled.await {
        Ok(response) => response,
        Err(error) => respond(&hub, &error),
    }
}

/// What the path names.
enum Target {
    All,
    Selector(TopicSelector),
    One(TopicSelector, String),
}

fn decode(segment: &str) -> Result<String, Error> {
    percent_decode_str(segment)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| Error::NotFound)
}

fn parse_target(rest: &[&str], dialect: ProtocolVersion) -> Result<Target, Error> {
    match (dialect, rest) {
        (_, []) => Ok(Target::All),
        (ProtocolVersion::V0, [topic]) => {
            Ok(Target::Selector(TopicSelector::exact(decode(topic)?)))
        }
        (ProtocolVersion::V0, [topic, subscriber]) => Ok(Target::One(
            TopicSelector::exact(decode(topic)?),
            decode(subscriber)?,
        )),
        (ProtocolVersion::V1, [kind, expression, tail @ ..]) if tail.len() <= 1 => {
            let expression = decode(expression)?;
            let selector = match *kind {
                "exact" => TopicSelector::exact(expression),
                "urlpattern" => TopicSelector::pattern(expression),
                _ => return Err(Error::NotFound),
            };
            match tail {
                [] => Ok(Target::Selector(selector)),
                [subscriber] => Ok(Target::One(selector, decode(subscriber)?)),
                _ => Err(Error::NotFound),
            }
        }
        _ => Err(Error::NotFound),
    }
}

async fn handle(
    hub: &EmbeddedHub,
    path: &str,
    headers: &HeaderMap,
    client: &mut Client,
) -> Result<Response, Error> {
    let config = hub.config();
    let inner = &hub.inner;
    let (token, _) =
        token::find(headers, None, &cookie_dialects(config.support)).ok_or(Error::MissingToken)?;
    let authorization = inner
        .subscribers
        .verify(&token, &inner.matchers)
        .await
        .map_err(|error| client::charge_refusal(hub, Limit::Subscribe, client, error))?;
    client::check(hub, Limit::Subscribe, authorization.rate_subject(), client)?;
    let base = collection_path(config.path(), ProtocolVersion::V0, None);
    let rest = path
        .strip_prefix(base.as_str())
        .ok_or(Error::NotFound)?
        .trim_start_matches('/');
    let segments: Vec<&str> = if rest.is_empty() {
        Vec::new()
    } else {
        rest.split('/').collect()
    };
    let dialect = match config.support {
        DialectSupport::V0Only => ProtocolVersion::V0,
        DialectSupport::V1Only => ProtocolVersion::V1,
        DialectSupport::Both => match segments.as_slice() {
            [] => authorization.dialect,
            [_] => ProtocolVersion::V0,
            [kind, ..] if matches!(*kind, "exact" | "urlpattern") => ProtocolVersion::V1,
            _ => ProtocolVersion::V0,
        },
    };
    super::subscribe::check_token_dialect(hub, dialect, authorization.dialect)?;
    if !authorization
        .subscribe
        .iter()
        .any(|m| m.matches(path, &config.url))
    {
        return Err(Error::Forbidden(
            "the token does not allow reading these subscriptions".into(),
        ));
    }
    let target = parse_target(&segments, dialect)?;
    // Read before the listing: the presence of a subscriber is stored
    // before its subscription event is published, so every event up to
    // this id is reflected in the listing (a client resuming from it
    // misses no change).
    let last_event_id = hub
        .last_event_id()
        .map_or_else(|| "earliest".to_owned(), EventId::into_string);
    // Every instance's subscriptions when the transport is shared.
    let listed = hub.cluster_subscriptions().await?;
    let hub_path = config.path();
    let same = |a: &TopicSelector, b: &TopicSelector| {
        a.expression() == b.expression()
            && (dialect == ProtocolVersion::V0 || a.match_type() == b.match_type())
    };
    let mut docs = Vec::new();
    for info in listed.subscriptions {
        let keep = match &target {
            Target::All => true,
            Target::Selector(selector) => same(&info.selector, selector),
            Target::One(selector, subscriber) => {
                same(&info.selector, selector) && &info.subscriber == subscriber
            }
        };
        if !keep {
            continue;
        }
        let selector = if dialect == ProtocolVersion::V0 {
            TopicSelector::exact(info.selector.expression())
        } else {
            info.selector.clone()
        };
        docs.push(subscription_document(
            hub_path,
            dialect,
            &selector,
            &info.subscriber,
            info.payload.as_ref(),
            true,
        ));
    }
    let body = match target {
        Target::One(..) => {
            let Some(mut doc) = docs.pop() else {
                return Err(Error::NotFound);
            };
            insert_cursor(&mut doc, dialect, &last_event_id);
            contextualize(dialect, doc)
        }
        Target::All | Target::Selector(_) => {
            let mut doc = Map::new();
            doc.insert("id".into(), json!(path));
            doc.insert(
                "type".into(),
                json!(if dialect == ProtocolVersion::V0 {
                    "Subscriptions"
                } else {
                    "subscriptions"
                }),
            );
            insert_cursor(&mut doc, dialect, &last_event_id);
            doc.insert(
                "subscriptions".into(),
                Value::Array(docs.into_iter().map(Value::Object).collect()),
            );
            contextualize(dialect, doc)
        }
    };
    let mut response = (
        [(
            header::CONTENT_TYPE,
            dialect.dialect().subscriptions_content_type,
        )],
        body.to_string(),
    )
        .into_response();
    let headers = response.headers_mut();
    if listed.truncated {
        // More subscriptions were held than the listing's bound.
        headers.insert(TRUNCATED, HeaderValue::from_static("true"));
    }
    let mut link = format!("<{}>; rel=\"mercure\"", config.url);
    if dialect == ProtocolVersion::V1 {
        link.push_str(&format!(
            "; last-event-id=\"{}\"",
            last_event_id.replace(['"', '\\'], "")
        ));
    }
    if let Ok(link) = HeaderValue::from_str(&link) {
        headers.insert(header::LINK, link);
    }
    if let Ok(etag) = HeaderValue::from_str(&format!("\"{}\"", last_event_id.replace('"', ""))) {
        headers.insert(header::ETAG, etag);
    }
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("must-revalidate"),
    );
    Ok(response)
}

fn insert_cursor(doc: &mut Map<String, Value>, dialect: ProtocolVersion, id: &str) {
    let key = if dialect == ProtocolVersion::V0 {
        "lastEventID"
    } else {
        "last_event_id"
    };
    doc.insert(key.into(), json!(id));
}

fn contextualize(dialect: ProtocolVersion, doc: Map<String, Value>) -> Value {
    crate::documents::with_context(dialect, doc)
}
