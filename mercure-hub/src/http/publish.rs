//! `POST` on the hub: publishing.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use mercure_core::{ProtocolVersion, Update};
use tracing::Instrument;
use tracing::field::Empty;

use super::client::{self, Client, Limit};
use super::errors::respond;
use super::token::{self, Source};
use crate::auth::Authorization;
use crate::form;
use crate::matcher::TopicSet;
use crate::metrics::Counters;
use crate::{DialectSupport, EmbeddedHub, Error};

/// Publishing: whatever can be decided before the body is (the token,
/// found and verified, the right to publish at all, the content type), so
/// that a client without a publisher's token never has its body read; then
/// the body is read, within the hub's size and time limits, and the update
/// checked against the token's topics. In a `mercure.publish` span (the
/// request's W3C trace context its parent, with the `otlp` feature).
pub(super) async fn publish(
    State(hub): State<EmbeddedHub>,
    client: Client,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let span = tracing::debug_span!(
        "mercure.publish",
        otel.kind = "server",
        dialect = Empty,
        topics = Empty,
        update_id = Empty,
        status = Empty,
    );
    #[cfg(feature = "otlp")]
    crate::otlp::set_parent(&span, &headers);
    let response = publish_in_span(hub, client, query, headers, body)
        .instrument(span.clone())
        .await;
    span.record("status", response.status().as_u16());
    response
}

async fn publish_in_span(
    hub: EmbeddedHub,
    mut client: Client,
    query: Option<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let config = hub.config();
    let authorization = match admit(&hub, query.as_deref(), &headers).await {
        Ok(authorization) => authorization,
        Err(error) => {
            let error = client::charge_refusal(&hub, Limit::Publish, &mut client, error);
            return refuse(&hub, &error);
        }
    };
    // After the token (whose subject is the client), before the body.
    if let Err(error) = client::check(
        &hub,
        Limit::Publish,
        authorization.rate_subject(),
        &mut client,
    ) {
        return refuse(&hub, &error);
    }
    let body = match super::body::read(&headers, body, config.max_body, config.body_timeout).await {
        Ok(body) => body,
        Err(error) => {
            Counters::add(&hub.inner.counters.updates_rejected);
            tracing::debug!(?error, "publish body refused");
            return error.into_response();
        }
    };
    match handle(&hub, &authorization, &body).await {
        Ok(id) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            id,
        )
            .into_response(),
        Err(error) => refuse(&hub, &error),
    }
}

/// The answer to a refused publish, counted.
fn refuse(hub: &EmbeddedHub, error: &Error) -> Response {
    Counters::add(&hub.inner.counters.updates_rejected);
    tracing::debug!(%error, "publish refused");
    respond(hub, error)
}

/// What can be decided of a publish request from its head alone: the
/// token (`Authorization` header, 0.x `authorization` query parameter or
/// cookie) verified, with some right to publish, and the content type.
async fn admit(
    hub: &EmbeddedHub,
    query: Option<&str>,
    headers: &HeaderMap,
) -> Result<Arc<Authorization>, Error> {
    let config = hub.config();
    let inner = &hub.inner;
    let query_token = match query {
        Some(query) if config.support.accepts(ProtocolVersion::V0) => {
            query_parameter(query, "authorization")?
        }
        _ => None,
    };
    let (token, source) = token::find(
        headers,
        query_token.as_deref(),
        &cookie_dialects(config.support),
    )
    .ok_or(Error::MissingToken)?;
    if source == Source::Cookie {
        check_origin(headers, &config.publish_origins)?;
    }
    let authorization = inner.publishers.verify(&token, &inner.matchers).await?;
    if source == Source::Query && authorization.dialect == ProtocolVersion::V1 {
        return Err(Error::InvalidToken(QUERY_TOKEN_IS_V0.into()));
    }
    tracing::Span::current().record("dialect", tracing::field::display(authorization.dialect));
    if authorization.publish.is_empty() {
        return Err(Error::Forbidden(
            "the token does not allow publishing".into(),
        ));
    }
    if let Some(content_type) = headers.get(header::CONTENT_TYPE) {
        let essence = content_type
            .to_str()
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .trim();
        if !essence.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
            return Err(Error::InvalidPublish(
                "the body must be application/x-www-form-urlencoded".into(),
            ));
        }
    }
    Ok(authorization)
}

/// Publishes the update of `body`, if `authorization` allows every topic.
async fn handle(
    hub: &EmbeddedHub,
    authorization: &Authorization,
    body: &[u8],
) -> Result<String, Error> {
    let config = hub.config();
    let inner = &hub.inner;
    let update = parse_form(body, config.max_topics)?;
    let span = tracing::Span::current();
    span.record("topics", update.topics().len());
    inner.validate(&update)?;
    let topics = TopicSet::new(Arc::from(update.topics()));
    if !authorization.may_publish_all(&topics, &config.url) {
        return Err(Error::Forbidden(
            "the token does not allow publishing to every topic of this update".into(),
        ));
    }
    let id = inner.dispatch(&update).await?.into_string();
    span.record("update_id", id.as_str());
    Ok(id)
}

/// Why a 1.0 token is refused in the `authorization` query parameter: that
/// parameter is a 0.x way of presenting a token (URLs end up in logs), and
/// 1.0 defines none.
pub(super) const QUERY_TOKEN_IS_V0: &str = "the authorization query parameter carries Mercure 0.x tokens only: \
     present a 1.0 access token in the Authorization header or the cookie";

/// The last value of the query parameter `name`.
///
/// # Errors
/// [`Error::InvalidPublish`] when the query string is not UTF-8 once decoded.
fn query_parameter(query: &str, name: &str) -> Result<Option<String>, Error> {
    let mut found = None;
    for pair in form::pairs(query.as_bytes()) {
        let (key, value) = pair.map_err(|_| {
            Error::InvalidPublish("the query string is not UTF-8 once percent-decoded".into())
        })?;
        if key == name {
            found = Some(value.into_owned());
        }
    }
    Ok(found)
}

/// Cookies looked at: those of the dialects spoken.
pub(super) fn cookie_dialects(support: DialectSupport) -> Vec<ProtocolVersion> {
    ProtocolVersion::ALL
        .into_iter()
        .filter(|v| support.accepts(*v))
        .collect()
}

/// A cookie is sent by browsers along with cross-site requests, so a
/// cookie-authenticated publish must come from an allowed origin.
fn check_origin(headers: &HeaderMap, allowed: &[String]) -> Result<(), Error> {
    if allowed.iter().any(|o| o == "*") {
        return Ok(());
    }
    let origin = headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| {
            headers
                .get(header::REFERER)
                .and_then(|v| v.to_str().ok())
                .and_then(|r| url::Url::parse(r).ok())
                .map(|u| u.origin().ascii_serialization())
        });
    match origin {
        Some(origin) if allowed.iter().any(|a| a.trim_end_matches('/') == origin) => Ok(()),
        _ => Err(Error::Forbidden(
            "publishing with a cookie requires an allowed Origin".into(),
        )),
    }
}

/// Reads the publish form into an [`Update`]: strictly UTF-8, at most
/// `max_topics` topics (counted while reading).
pub(crate) fn parse_form(body: &[u8], max_topics: usize) -> Result<Update, Error> {
    let mut topics = Vec::new();
    let mut data = None;
    let mut private = false;
    let mut id = None;
    let mut kind = None;
    let mut retry = None;
    for pair in form::pairs(body) {
        let (name, value) = pair.map_err(|_| {
            Error::InvalidPublish("the body is not UTF-8 once percent-decoded".into())
        })?;
        match &*name {
            "topic" => {
                if topics.len() == max_topics {
                    return Err(Error::InvalidPublish(format!(
                        "an update may have at most {max_topics} topics"
                    )));
                }
                topics.push(value.into_owned());
            }
            "data" if data.is_none() => data = Some(value.into_owned()),
            "private" => private = true,
            "id" => id = Some(value.into_owned()),
            "type" => kind = Some(value.into_owned()),
            "retry" => {
                if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(Error::InvalidPublish(format!(
                        "retry must be a number of milliseconds, not {:?}",
                        value.chars().take(32).collect::<String>()
                    )));
                }
                let millis = value
                    .parse::<u64>()
                    .map_err(|_| Error::InvalidPublish("retry is out of range".into()))?;
                retry = Some(millis);
            }
            _ => {}
        }
    }
    let mut topics = topics.into_iter();
    let first = topics
        .next()
        .ok_or_else(|| Error::InvalidPublish("the topic field is required".into()))?;
    let mut builder = Update::builder(first)
        .alternates(topics)
        .data(data.unwrap_or_default())
        .private(private);
    if let Some(id) = id {
        builder = builder.id(id);
    }
    if let Some(kind) = kind {
        builder = builder.event_type(kind);
    }
    if let Some(retry) = retry {
        builder = builder.retry(Duration::from_millis(retry));
    }
    Ok(builder.build()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_form() {
        let update = parse_form(
            b"topic=a&topic=b&data=x%0Ay&private=on&id=i&type=t&retry=2500&unknown=1",
            100,
        )
        .unwrap();
        assert_eq!(update.topics(), ["a", "b"]);
        assert_eq!(update.data(), "x\ny");
        assert!(update.is_private());
        assert_eq!(update.id(), Some("i"));
        assert_eq!(update.event_type(), Some("t"));
        assert_eq!(update.retry(), Some(2500));
        assert!(parse_form(b"topic=a&private=", 100).unwrap().is_private());
        assert!(!parse_form(b"topic=a", 100).unwrap().is_private());
    }

    #[test]
    fn rejects_bad_forms() {
        for body in [
            &b"data=x"[..],
            b"topic=a&retry=1s",
            b"topic=a&retry=-1",
            b"topic=a&retry=",
            b"topic=a&retry=99999999999999999999999",
            b"topic=a&id=%23x",
            b"topic=a&id=earliest",
            b"topic=a&type=x%0Adata:%20y",
            b"topic=",
            b"topic=a&id=",
            b"topic=%FF",
            b"topic=a&data=%C3%28",
            b"topic=a&data=\xff",
            b"topic=a&topic=b&topic=c",
        ] {
            assert!(
                parse_form(body, 2).is_err(),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }
}
