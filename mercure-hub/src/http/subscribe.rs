//! `GET` on the hub: subscribing.

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use mercure_core::{ProtocolVersion, TopicSelector};

use super::errors::respond;
use super::publish::cookie_dialects;
use super::token;
use crate::subscriber::Access;
use crate::{EmbeddedHub, Error, SubscribeRequest, Subscription};

pub(super) async fn subscribe(
    State(hub): State<EmbeddedHub>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    match handle(&hub, query.as_deref().unwrap_or(""), &headers) {
        Ok(subscription) => subscription.into_response(),
        Err(error) => {
            tracing::debug!(%error, "subscription refused");
            respond(&hub, &error)
        }
    }
}

/// Subscribing with the `QUERY` method (1.0): the selectors and cursor
/// travel in a form-encoded body instead of the query string. Other
/// methods get 405.
pub(super) async fn query_method(
    State(hub): State<EmbeddedHub>,
    method: axum::http::Method,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if method.as_str() != "QUERY" || !hub.config().support.accepts(ProtocolVersion::V1) {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            [(axum::http::header::ALLOW, "GET, POST")],
            "method not allowed\n",
        )
            .into_response();
    }
    let Ok(form) = std::str::from_utf8(&body) else {
        return respond(
            &hub,
            &Error::InvalidSubscribe("the body is not UTF-8".into()),
        );
    };
    let result = parse_query(&hub, form).and_then(|query| {
        if query.dialect == ProtocolVersion::V1 {
            handle(&hub, form, &headers)
        } else {
            Err(Error::InvalidSubscribe(
                "the QUERY method is a Mercure 1.0 feature: use match= parameters".into(),
            ))
        }
    });
    match result {
        Ok(subscription) => subscription.into_response(),
        Err(error) => respond(&hub, &error),
    }
}

/// What the query string asks for.
struct Query {
    dialect: ProtocolVersion,
    selectors: Vec<TopicSelector>,
    last_event_id: Option<String>,
    token: Option<String>,
}

fn parse_query(hub: &EmbeddedHub, query: &str) -> Result<Query, Error> {
    let config = hub.config();
    let mut legacy = Vec::new();
    let mut matchers = Vec::new();
    let mut last_event_id = None;
    let mut token = None;
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        let selector = match &*name {
            "topic" => {
                legacy.push(TopicSelector::exact(value.as_ref()));
                continue;
            }
            "match" | "match_exact" | "matchExact" => TopicSelector::exact(value.as_ref()),
            "match_urlpattern" | "matchURLPattern" => TopicSelector::pattern(value.as_ref()),
            "lastEventID" | "last_event_id" => {
                last_event_id = Some(value.into_owned());
                continue;
            }
            "authorization" => {
                token = Some(value.into_owned());
                continue;
            }
            other if other.len() >= 5 && other.as_bytes()[..5].eq_ignore_ascii_case(b"match") => {
                return Err(Error::InvalidSubscribe(format!(
                    "unknown topic matcher parameter {other:?}"
                )));
            }
            _ => continue,
        };
        matchers.push(selector);
    }
    let (dialect, selectors) = match (legacy.is_empty(), matchers.is_empty()) {
        (false, true) => (ProtocolVersion::V0, legacy),
        (true, false) => (ProtocolVersion::V1, matchers),
        (false, false) => {
            return Err(Error::InvalidSubscribe(
                "topic= (0.x) and match= (1.0) parameters cannot be mixed".into(),
            ));
        }
        (true, true) => {
            let hint = if config.support.accepts(ProtocolVersion::V1) {
                "match"
            } else {
                "topic"
            };
            return Err(Error::InvalidSubscribe(format!(
                "at least one {hint} parameter is required"
            )));
        }
    };
    if !config.support.accepts(dialect) {
        return Err(Error::InvalidSubscribe(format!(
            "this hub does not speak Mercure {dialect}"
        )));
    }
    if selectors.len() > config.max_selectors {
        return Err(Error::InvalidSubscribe(format!(
            "at most {} topic selectors are allowed",
            config.max_selectors
        )));
    }
    for selector in &selectors {
        let expression = selector.expression();
        if expression.len() > config.max_selector_length {
            return Err(Error::InvalidSubscribe(format!(
                "a topic selector is limited to {} bytes",
                config.max_selector_length
            )));
        }
        if expression.is_empty() {
            return Err(Error::InvalidSubscribe("a topic selector is empty".into()));
        }
        if expression
            .chars()
            .any(|c| matches!(c, '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}'))
        {
            return Err(Error::InvalidSubscribe(
                "a topic selector contains a control character".into(),
            ));
        }
    }
    let token = if dialect == ProtocolVersion::V0 {
        token
    } else {
        None
    };
    Ok(Query {
        dialect,
        selectors,
        last_event_id,
        token,
    })
}

pub(super) fn handle(
    hub: &EmbeddedHub,
    query: &str,
    headers: &HeaderMap,
) -> Result<Subscription, Error> {
    let config = hub.config();
    let inner = &hub.inner;
    let query = parse_query(hub, query)?;
    let mut dialects = cookie_dialects(config.support);
    if query.dialect == ProtocolVersion::V1 {
        dialects.reverse();
    }
    let mut request = SubscribeRequest::new(query.selectors).dialect(query.dialect);
    let last_event_id = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or(query.last_event_id);
    if let Some(id) = last_event_id {
        request = request.last_event_id(id);
    }
    let access = match token::find(headers, query.token.as_deref(), &dialects) {
        Some((token, _)) => {
            let authorization = inner.subscribers.verify(&token, &inner.matchers)?;
            if let Some(exp) = authorization.expires_at {
                request =
                    request.expires_at(std::time::UNIX_EPOCH + std::time::Duration::from_secs(exp));
            }
            if let Some(payload) = &authorization.payload {
                request = request.payload(payload.clone());
            }
            if let Some(subject) = &authorization.subject {
                request = request.subject(subject.clone());
            }
            Access::Matchers(authorization.subscribe.clone())
        }
        None if config.anonymous => Access::None,
        None => return Err(Error::MissingToken),
    };
    inner.subscribe(request, access)
}

impl IntoResponse for Subscription {
    /// A `200` `text/event-stream` response streaming the subscription,
    /// with the headers of [`Subscription::response_headers`].
    fn into_response(self) -> Response {
        let headers = self.response_headers();
        let mut response = Response::new(Body::from_stream(self));
        *response.status_mut() = StatusCode::OK;
        let map = response.headers_mut();
        for (name, value) in headers {
            if let Ok(value) = HeaderValue::from_str(&value) {
                map.insert(HeaderName::from_static(name), value);
            }
        }
        response
    }
}
