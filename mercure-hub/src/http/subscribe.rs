//! `GET` on the hub: subscribing.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use mercure_core::{ProtocolVersion, TopicSelector};
use tracing::Instrument;
use tracing::field::Empty;

use super::client::{self, Client, Limit};
use super::errors::respond;
use super::publish::{QUERY_TOKEN_IS_V0, cookie_dialects};
use super::token::{self, Source};
use crate::auth::Authorization;
use crate::form;
use crate::subscriber::Access;
use crate::{EmbeddedHub, Error, SubscribeRequest, Subscription};

pub(super) async fn subscribe(
    State(hub): State<EmbeddedHub>,
    mut client: Client,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let query = query.as_deref().unwrap_or("").as_bytes();
    match handle(&hub, query, &headers, &mut client).await {
        Ok(subscription) => subscription.into_response(),
        Err(error) => {
            tracing::debug!(%error, "subscription refused");
            respond(&hub, &error)
        }
    }
}

/// Largest body of a `QUERY` request (or the hub's
/// [`max_body`](crate::HubConfigBuilder::max_body), if smaller): it carries
/// selectors and a cursor only; larger is answered 413.
pub(super) const MAX_QUERY_BODY: usize = 64 * 1024;

/// Subscribing with the `QUERY` method (1.0): the selectors and cursor
/// travel in a form-encoded body as well as in the query string; the
/// selectors are the union of both (the query string's first), and for the
/// cursor the body's value wins. The token is verified before the body,
/// of at most [`MAX_QUERY_BODY`] bytes, is read. Other methods get 405.
pub(super) async fn query_method(
    State(hub): State<EmbeddedHub>,
    client: Client,
    method: axum::http::Method,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Response {
    if method.as_str() != "QUERY" || !hub.config().support.accepts(ProtocolVersion::V1) {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            [(axum::http::header::ALLOW, "GET, POST")],
            "method not allowed\n",
        )
            .into_response();
    }
    let span = subscribe_span(&headers);
    query_in_span(hub, client, query, headers, body)
        .instrument(span)
        .await
}

/// The `mercure.subscribe` span of a request (the request's W3C trace
/// context its parent, with the `otlp` feature).
fn subscribe_span(headers: &HeaderMap) -> tracing::Span {
    let span = tracing::debug_span!(
        "mercure.subscribe",
        otel.kind = "server",
        dialect = Empty,
        selectors = Empty,
        subscriber_id = Empty,
    );
    #[cfg(feature = "otlp")]
    crate::otlp::set_parent(&span, headers);
    #[cfg(not(feature = "otlp"))]
    let _ = headers;
    span
}

/// Records what a subscription request gave in its span.
fn record(result: &Result<Subscription, Error>) {
    if let Ok(subscription) = result {
        tracing::Span::current().record("subscriber_id", subscription.subscriber_id());
    }
}

async fn query_in_span(
    hub: EmbeddedHub,
    mut client: Client,
    query: Option<String>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Response {
    // The token is found and verified before the body is read: a client
    // that may not subscribe never has its body read.
    let authorization = match authorize(&hub, ProtocolVersion::V1, None, &headers)
        .await
        .map_err(|error| client::charge_refusal(&hub, Limit::Subscribe, &mut client, error))
        .and_then(|authorization| {
            let subject = authorization.as_ref().and_then(|a| a.rate_subject());
            client::check(&hub, Limit::Subscribe, subject, &mut client)?;
            Ok(authorization)
        }) {
        Ok(authorization) => authorization,
        Err(error) => {
            tracing::debug!(%error, "subscription refused");
            return respond(&hub, &error);
        }
    };
    let config = hub.config();
    let limit = config.max_body.min(MAX_QUERY_BODY);
    let body = match super::body::read(&headers, body, limit, config.body_timeout).await {
        Ok(body) => body,
        Err(error) => return error.into_response(),
    };
    let mut union = Vec::with_capacity(query.as_ref().map_or(0, String::len) + 1 + body.len());
    union.extend_from_slice(query.as_deref().unwrap_or("").as_bytes());
    union.push(b'&');
    union.extend_from_slice(&body);
    let result = match parse_query(&hub, &union) {
        Ok(query) if query.dialect == ProtocolVersion::V1 => {
            subscribe_with(&hub, query, authorization, &headers).await
        }
        Ok(_) => Err(Error::InvalidSubscribe(
            "the QUERY method is a Mercure 1.0 feature: use match= parameters".into(),
        )),
        Err(error) => Err(error),
    };
    record(&result);
    match result {
        Ok(subscription) => subscription.into_response(),
        Err(error) => {
            tracing::debug!(%error, "subscription refused");
            respond(&hub, &error)
        }
    }
}

/// What the query string asks for.
struct Query {
    dialect: ProtocolVersion,
    selectors: Vec<TopicSelector>,
    last_event_id: Option<String>,
    token: Option<String>,
}

/// Reads a subscribe query (or `QUERY` form): strictly UTF-8, selectors
/// of one dialect, within the hub's limits, with the characters of
/// published topics only.
fn parse_query(hub: &EmbeddedHub, query: &[u8]) -> Result<Query, Error> {
    let config = hub.config();
    let mut legacy = Vec::new();
    let mut matchers = Vec::new();
    let mut last_event_id = None;
    let mut token = None;
    for pair in form::pairs(query) {
        let (name, value) = pair.map_err(|_| {
            Error::InvalidSubscribe("the query is not UTF-8 once percent-decoded".into())
        })?;
        let selector = match &*name {
            "topic" => {
                legacy.push(TopicSelector::exact(value));
                if legacy.len() > config.max_selectors {
                    return Err(too_many_selectors(config.max_selectors));
                }
                continue;
            }
            // The 1.0 names of the dialect table; any other in the `match`
            // namespace (`matchExact`, `matchURLPattern`, `MATCH`, ...) is
            // refused below.
            "match" | "match_exact" => TopicSelector::exact(value),
            "match_urlpattern" => TopicSelector::pattern(value),
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
                    "unknown topic matcher parameter {:?}",
                    other.chars().take(64).collect::<String>()
                )));
            }
            _ => continue,
        };
        matchers.push(selector);
        if matchers.len() > config.max_selectors {
            return Err(too_many_selectors(config.max_selectors));
        }
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
        if let Some(c) = selector.first_forbidden_char() {
            return Err(Error::InvalidSubscribe(format!(
                "a topic selector contains the forbidden character U+{:04X}",
                u32::from(c)
            )));
        }
    }
    Ok(Query {
        dialect,
        selectors,
        last_event_id,
        token,
    })
}

fn too_many_selectors(max: usize) -> Error {
    Error::InvalidSubscribe(format!("at most {max} topic selectors are allowed"))
}

/// Subscribes as the query string `query` asks, for `client` (whose rate
/// limit is checked once the token is verified).
pub(super) async fn handle(
    hub: &EmbeddedHub,
    query: &[u8],
    headers: &HeaderMap,
    client: &mut Client,
) -> Result<Subscription, Error> {
    let span = subscribe_span(headers);
    async {
        let query = parse_query(hub, query)?;
        let result = handle_query(hub, query, headers, client).await;
        record(&result);
        result
    }
    .instrument(span)
    .await
}

async fn handle_query(
    hub: &EmbeddedHub,
    mut query: Query,
    headers: &HeaderMap,
    client: &mut Client,
) -> Result<Subscription, Error> {
    // The `authorization` query parameter is a 0.x feature.
    let query_token = match query.dialect {
        ProtocolVersion::V0 => query.token.take(),
        ProtocolVersion::V1 => None,
    };
    let span = tracing::Span::current();
    span.record("dialect", tracing::field::display(query.dialect));
    span.record("selectors", query.selectors.len());
    let authorization = authorize(hub, query.dialect, query_token.as_deref(), headers)
        .await
        .map_err(|error| client::charge_refusal(hub, Limit::Subscribe, client, error))?;
    let subject = authorization.as_ref().and_then(|a| a.rate_subject());
    client::check(hub, Limit::Subscribe, subject, client)?;
    subscribe_with(hub, query, authorization, headers).await
}

/// The verified token of a subscription request in `dialect` (`None`:
/// anonymous, when the hub allows it), from its head alone: the
/// `Authorization` header, the 0.x `query_token`, or the dialect's cookie.
async fn authorize(
    hub: &EmbeddedHub,
    dialect: ProtocolVersion,
    query_token: Option<&str>,
    headers: &HeaderMap,
) -> Result<Option<Arc<Authorization>>, Error> {
    let config = hub.config();
    let inner = &hub.inner;
    let mut dialects = cookie_dialects(config.support);
    if dialect == ProtocolVersion::V1 {
        dialects.reverse();
    }
    match token::find(headers, query_token, &dialects) {
        Some((token, source)) => {
            let authorization = inner.subscribers.verify(&token, &inner.matchers).await?;
            if source == Source::Query && authorization.dialect == ProtocolVersion::V1 {
                return Err(Error::InvalidToken(QUERY_TOKEN_IS_V0.into()));
            }
            check_token_dialect(hub, dialect, authorization.dialect)?;
            Ok(Some(authorization))
        }
        None if config.anonymous => Ok(None),
        None => Err(Error::MissingToken),
    }
}

/// Subscribes as `query` asks, with the rights of `authorization`.
async fn subscribe_with(
    hub: &EmbeddedHub,
    query: Query,
    authorization: Option<Arc<Authorization>>,
    headers: &HeaderMap,
) -> Result<Subscription, Error> {
    let config = hub.config();
    let inner = &hub.inner;
    let last_event_id = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or(query.last_event_id);
    let mut request = SubscribeRequest::new(query.selectors).dialect(query.dialect);
    if let Some(id) = last_event_id {
        request = request.last_event_id(id);
    }
    let access = match authorization {
        Some(authorization) => {
            if let Some(exp) = authorization.expires_at {
                request = request.expires_at(crate::time::unix_time(exp));
            }
            let payloads = request
                .selectors()
                .iter()
                .map(|selector| authorization.payload_for(selector, &config.url).cloned())
                .collect();
            request = request.selector_payloads(payloads);
            if let Some(subject) = &authorization.subject {
                request = request.subject(subject.clone());
            }
            Access::Matchers(authorization.subscribe.clone())
        }
        None => Access::None,
    };
    inner.subscribe(request, access).await
}

/// A 1.0 request needs a 1.0 access token (held to the RFC 9068 checks a
/// 0.x token escapes), unless the hub accepts 0.x tokens for it.
pub(super) fn check_token_dialect(
    hub: &EmbeddedHub,
    request: ProtocolVersion,
    token: ProtocolVersion,
) -> Result<(), Error> {
    if request == ProtocolVersion::V1
        && token == ProtocolVersion::V0
        && !hub.config().accept_v0_tokens_for_v1
    {
        return Err(Error::InvalidToken(
            "a Mercure 1.0 request needs a Mercure 1.0 access token (authorization_details), \
             not a 0.x token"
                .into(),
        ));
    }
    Ok(())
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
