//! The subscriptions API (who is connected, to what) and the stream of
//! subscription events, for both dialects (0.x JSON-LD, 1.0 JSON).

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::stream::{BoxStream, Stream, StreamExt};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::header::{ACCEPT, AUTHORIZATION};
use serde::Deserialize;
use serde_json::Value;
use url::Url;

use crate::hub::authorization_value;
use crate::{
    Error, EventId, Hub, MatchType, ProtocolVersion, Result, Subscriber, SubscriberBuilder,
    SubscriberEvent, Token, TokenProvider, TopicSelector,
};

/// How long a subscriptions API request may take.
const API_TIMEOUT: Duration = Duration::from_secs(10);

/// The most of a subscriptions document read: 16 MiB.
const MAX_DOCUMENT: usize = 16 * 1024 * 1024;

/// Everything but RFC 3986 unreserved characters is percent-encoded.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// An active subscription, as the subscriptions API and subscription
/// events describe it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ActiveSubscription {
    /// The subscription's IRI (also the topic of its events).
    pub id: Option<String>,
    /// What the subscriber listens to.
    pub selector: TopicSelector,
    /// The subscriber's identifier.
    pub subscriber: String,
    /// `true` while connected; `false` in the event of a disconnection.
    pub active: bool,
    /// The payload of the subscriber's token, if any.
    pub payload: Option<Value>,
}

impl ActiveSubscription {
    /// Parses one subscription document of either dialect.
    ///
    /// ```
    /// use mercure_client::MatchType;
    /// use mercure_client::subscriptions::ActiveSubscription;
    ///
    /// let v1 = ActiveSubscription::from_json(br#"{"type": "subscription",
    ///     "match": "https://example.com/books/:id", "match_type": "urlpattern",
    ///     "subscriber": "urn:uuid:1", "active": true, "payload": {"user": 7}}"#).unwrap();
    /// assert_eq!(v1.selector.match_type(), MatchType::Pattern);
    /// let v0 = ActiveSubscription::from_json(br#"{"@context": "https://mercure.rocks/",
    ///     "type": "Subscription", "topic": "https://example.com/books/1",
    ///     "subscriber": "urn:uuid:1", "active": false}"#).unwrap();
    /// assert_eq!(v0.selector.expression(), "https://example.com/books/1");
    /// assert!(!v0.active);
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidResponse`] when it is not a subscription document.
    pub fn from_json(body: &[u8]) -> Result<Self> {
        let raw: RawSubscription = serde_json::from_slice(body)
            .map_err(|e| Error::InvalidResponse(format!("invalid subscription document: {e}")))?;
        raw.into_subscription()
    }

    /// Whether the payload holds every member of `filter` (recursively
    /// for objects; other values compare equal). A `None` filter matches
    /// everything; an object filter never matches a missing payload.
    ///
    /// ```
    /// use serde_json::json;
    /// use mercure_client::subscriptions::ActiveSubscription;
    ///
    /// let s = ActiveSubscription::from_json(br#"{"topic": "t", "subscriber": "s",
    ///     "active": true, "payload": {"user": {"id": 7, "name": "Ann"}, "tenant": "a"}}"#).unwrap();
    /// assert!(s.payload_matches(Some(&json!({"user": {"id": 7}}))));
    /// assert!(!s.payload_matches(Some(&json!({"user": {"id": 8}}))));
    /// assert!(s.payload_matches(None));
    /// ```
    pub fn payload_matches(&self, filter: Option<&Value>) -> bool {
        match filter {
            None => true,
            Some(filter) => self
                .payload
                .as_ref()
                .is_some_and(|payload| contains(payload, filter)),
        }
    }
}

fn contains(value: &Value, filter: &Value) -> bool {
    match (value, filter) {
        (Value::Object(value), Value::Object(filter)) => filter
            .iter()
            .all(|(key, want)| value.get(key).is_some_and(|have| contains(have, want))),
        _ => value == filter,
    }
}

#[derive(Deserialize)]
struct RawSubscription {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    topic: Option<String>,
    #[serde(default, rename = "match")]
    matcher: Option<String>,
    #[serde(default, alias = "matchType")]
    match_type: Option<String>,
    subscriber: String,
    #[serde(default = "yes")]
    active: bool,
    #[serde(default)]
    payload: Option<Value>,
}

fn yes() -> bool {
    true
}

impl RawSubscription {
    fn into_subscription(self) -> Result<ActiveSubscription> {
        let selector = match (self.matcher, self.topic) {
            (Some(expression), _) => match self.match_type.as_deref() {
                None => TopicSelector::exact(expression),
                Some(kind) if kind.eq_ignore_ascii_case("exact") => {
                    TopicSelector::exact(expression)
                }
                Some(kind) if kind.eq_ignore_ascii_case("urlpattern") => {
                    TopicSelector::pattern(expression)
                }
                Some(kind) => {
                    return Err(Error::InvalidResponse(format!(
                        "unknown matcher type {kind:?} in a subscription document"
                    )));
                }
            },
            // 0.x: the hub interprets the string (exact, template or *).
            (None, Some(topic)) => TopicSelector::exact(topic),
            (None, None) => {
                return Err(Error::InvalidResponse(
                    "a subscription document without topic or match".into(),
                ));
            }
        };
        Ok(ActiveSubscription {
            id: self.id,
            selector,
            subscriber: self.subscriber,
            active: self.active,
            payload: self.payload,
        })
    }
}

/// A page of the subscriptions API.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SubscriptionList {
    /// The subscriptions.
    pub subscriptions: Vec<ActiveSubscription>,
    /// The id of the last event the hub dispatched when it answered:
    /// subscribe to subscription events from there to miss nothing.
    pub last_event_id: Option<EventId>,
}

impl SubscriptionList {
    /// Parses a collection document of either dialect (an object with
    /// `subscriptions`, or a bare array); the cursor comes from
    /// `lastEventID` / `last_event_id` in the body.
    ///
    /// # Errors
    /// [`Error::InvalidResponse`] for anything else.
    pub fn from_json(body: &[u8]) -> Result<Self> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Object {
                subscriptions: Vec<RawSubscription>,
                #[serde(default, rename = "lastEventID", alias = "last_event_id")]
                last_event_id: Option<String>,
            },
            Array(Vec<RawSubscription>),
        }
        let raw: Raw = serde_json::from_slice(body)
            .map_err(|e| Error::InvalidResponse(format!("invalid subscriptions document: {e}")))?;
        let (raw, last_event_id) = match raw {
            Raw::Object {
                subscriptions,
                last_event_id,
            } => (subscriptions, last_event_id),
            Raw::Array(subscriptions) => (subscriptions, None),
        };
        Ok(Self {
            subscriptions: raw
                .into_iter()
                .map(RawSubscription::into_subscription)
                .collect::<Result<_>>()?,
            last_event_id: last_event_id.map(EventId::from),
        })
    }
}

/// A client of a hub's subscriptions API.
///
/// ```no_run
/// use mercure_client::Hub;
/// use mercure_client::subscriptions::SubscriptionsApi;
///
/// # async fn run() -> mercure_client::Result<()> {
/// let hub = Hub::builder("http://hub.internal:3000/.well-known/mercure").build()?;
/// let api = SubscriptionsApi::new(&hub);
/// let online = api
///     .is_connected("https://example.com/chat/7", Some(&serde_json::json!({"user": 42})))
///     .await?;
/// # let _ = online; Ok(()) }
/// ```
#[derive(Clone)]
pub struct SubscriptionsApi {
    client: reqwest::Client,
    hub: Url,
    version: ProtocolVersion,
    provider: Option<Arc<dyn TokenProvider>>,
}

impl fmt::Debug for SubscriptionsApi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SubscriptionsApi")
            .field("hub", &self.hub.as_str())
            .field("version", &self.version)
            .field("provider", &self.provider)
            .finish_non_exhaustive()
    }
}

impl SubscriptionsApi {
    /// The API of `hub`, with its HTTP client, dialect and token provider
    /// (the token must allow subscribing to the subscription topics).
    pub fn new(hub: &Hub) -> Self {
        Self {
            client: hub.http_client().clone(),
            hub: hub.url().clone(),
            version: hub.protocol(),
            provider: hub.token_provider().cloned(),
        }
    }

    /// Presents a fixed token instead of the hub's.
    #[must_use]
    pub fn token(mut self, token: Token) -> Self {
        self.provider = Some(Arc::new(token));
        self
    }

    /// Presents the tokens of `provider` instead of the hub's.
    #[must_use]
    pub fn token_provider(mut self, provider: Arc<dyn TokenProvider>) -> Self {
        self.provider = Some(provider);
        self
    }

    /// The URL of the collection, of one selector's subscriptions, or of
    /// one subscription: `{hub}/subscriptions[/{topic}[/{subscriber}]]`
    /// in 0.x, `{hub}/subscriptions[/{match_type}/{match}[/{subscriber}]]`
    /// in 1.0, each value percent-encoded once.
    ///
    /// ```
    /// use mercure_client::{Hub, ProtocolVersion, TopicSelector};
    /// use mercure_client::subscriptions::SubscriptionsApi;
    ///
    /// let hub = Hub::builder("https://example.com/.well-known/mercure")
    ///     .protocol(ProtocolVersion::V1)
    ///     .build()
    ///     .unwrap();
    /// let url = SubscriptionsApi::new(&hub)
    ///     .url(Some(&TopicSelector::pattern("https://example.com/:id")), Some("urn:uuid:1"));
    /// assert_eq!(
    ///     url.as_str(),
    ///     "https://example.com/.well-known/mercure/subscriptions/urlpattern/https%3A%2F%2Fexample.com%2F%3Aid/urn%3Auuid%3A1"
    /// );
    /// ```
    pub fn url(&self, selector: Option<&TopicSelector>, subscriber: Option<&str>) -> Url {
        let mut path = self.hub.path().trim_end_matches('/').to_owned();
        path.push_str("/subscriptions");
        if let Some(selector) = selector {
            if self.version == ProtocolVersion::V1 {
                path.push('/');
                path.push_str(match selector.match_type() {
                    MatchType::Exact => "exact",
                    MatchType::Pattern => "urlpattern",
                });
            }
            path.push('/');
            path.extend(utf8_percent_encode(selector.expression(), SEGMENT));
            if let Some(subscriber) = subscriber {
                path.push('/');
                path.extend(utf8_percent_encode(subscriber, SEGMENT));
            }
        }
        let mut url = self.hub.clone();
        url.set_path(&path);
        url.set_query(None);
        url
    }

    /// Every active subscription.
    ///
    /// # Errors
    /// Transport and status errors (a 404 when the hub has no
    /// subscriptions API), [`Error::InvalidResponse`] for an unreadable
    /// document.
    pub async fn all(&self) -> Result<SubscriptionList> {
        self.list(self.url(None, None)).await
    }

    /// The active subscriptions of one selector (a topic, or a pattern in
    /// 1.0).
    ///
    /// # Errors
    /// As [`SubscriptionsApi::all`].
    pub async fn for_selector(
        &self,
        selector: impl Into<TopicSelector>,
    ) -> Result<SubscriptionList> {
        self.list(self.url(Some(&selector.into()), None)).await
    }

    /// One subscriber's subscription to a selector; `None` when it is not
    /// connected (404).
    ///
    /// # Errors
    /// As [`SubscriptionsApi::all`].
    pub async fn get(
        &self,
        selector: impl Into<TopicSelector>,
        subscriber: &str,
    ) -> Result<Option<ActiveSubscription>> {
        let url = self.url(Some(&selector.into()), Some(subscriber));
        match self.fetch(url).await? {
            (200..=299, _, body) => ActiveSubscription::from_json(&body).map(Some),
            (404, ..) => Ok(None),
            (status, _, body) => Err(crate::discovery::status_error(status, &body)),
        }
    }

    /// Whether anyone subscribed to `selector` is connected, whose token
    /// payload holds `payload_filter` (see
    /// [`ActiveSubscription::payload_matches`]).
    ///
    /// # Errors
    /// As [`SubscriptionsApi::all`].
    pub async fn is_connected(
        &self,
        selector: impl Into<TopicSelector>,
        payload_filter: Option<&Value>,
    ) -> Result<bool> {
        Ok(self
            .for_selector(selector)
            .await?
            .subscriptions
            .iter()
            .any(|s| s.active && s.payload_matches(payload_filter)))
    }

    /// A subscriber to the events of every subscription, to configure
    /// further (last event id, retry...) and hand to
    /// [`SubscriptionEvents::new`].
    pub fn events_subscriber(&self, selector: Option<&TopicSelector>) -> SubscriberBuilder {
        let hub_path = self.hub.path().trim_end_matches('/').to_owned();
        let topic = match (self.version, selector) {
            (ProtocolVersion::V0, None) => {
                TopicSelector::pattern(format!("{hub_path}/subscriptions{{/topic}}{{/subscriber}}"))
            }
            (ProtocolVersion::V1, None) => TopicSelector::pattern(format!(
                "{hub_path}/subscriptions/:match_type/:match/:subscriber"
            )),
            (_, Some(selector)) => {
                let collection = self.url(Some(selector), None);
                let path = collection.path();
                TopicSelector::pattern(match self.version {
                    ProtocolVersion::V0 => format!("{path}{{/subscriber}}"),
                    ProtocolVersion::V1 => format!("{path}/:subscriber"),
                })
            }
        };
        let mut builder = Subscriber::builder(self.hub.as_str())
            .protocol(self.version)
            .http_client(self.client.clone())
            .topic(topic);
        if let Some(provider) = &self.provider {
            builder = builder.shared_token_provider(Arc::clone(provider));
        }
        builder
    }

    /// The stream of subscription events (connections and
    /// disconnections) of every subscription, or of one selector's.
    ///
    /// # Errors
    /// As [`SubscriberBuilder::build`].
    pub fn events(&self, selector: Option<&TopicSelector>) -> Result<SubscriptionEvents> {
        Ok(SubscriptionEvents::new(
            self.events_subscriber(selector).build()?,
        ))
    }

    async fn list(&self, url: Url) -> Result<SubscriptionList> {
        // A collection always exists, if empty: a 404 means the hub has no
        // subscriptions API, which is an error.
        let (status, headers, body) = self.fetch(url).await?;
        if !(200..300).contains(&status) {
            return Err(crate::discovery::status_error(status, &body));
        }
        let mut list = SubscriptionList::from_json(&body)?;
        if list.last_event_id.is_none() {
            // 1.0: the cursor travels in the Link header.
            let base = self.hub.clone();
            list.last_event_id = crate::discovery::links_of(&headers, &base)
                .into_iter()
                .find(|link| link.has_rel("mercure"))
                .and_then(|link| link.param("last-event-id").map(EventId::from));
        }
        Ok(list)
    }

    /// GETs `url` (refreshing the token once after a 401, unless the
    /// provider gives the refused token back): the status, headers and
    /// body.
    async fn fetch(&self, url: Url) -> Result<(u16, reqwest::header::HeaderMap, Vec<u8>)> {
        let token = match &self.provider {
            Some(provider) => Some(provider.token().await?),
            None => None,
        };
        let first = self.send(url.clone(), token.as_ref()).await?;
        let Some(provider) = self.provider.as_ref().filter(|_| first.0 == 401) else {
            return Ok(first);
        };
        let fresh = provider.refresh().await?;
        if Some(&fresh) == token.as_ref() {
            return Ok(first);
        }
        self.send(url, Some(&fresh)).await
    }

    async fn send(
        &self,
        url: Url,
        token: Option<&Token>,
    ) -> Result<(u16, reqwest::header::HeaderMap, Vec<u8>)> {
        let mut request = self
            .client
            .get(url.clone())
            .timeout(API_TIMEOUT)
            .header(ACCEPT, self.version.dialect().subscriptions_content_type);
        if let Some(token) = token {
            request = request.header(AUTHORIZATION, authorization_value(token)?);
        }
        let response = request.send().await.map_err(crate::hub::transport_error)?;
        crate::http_client::check_origin(&response, &url)?;
        if response.status().is_redirection() {
            return Err(crate::http_client::redirect_error(&response, &url));
        }
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body =
            crate::body::read_limited(response, MAX_DOCUMENT, "the subscriptions document").await?;
        Ok((status, headers, body))
    }
}

impl Hub {
    /// The hub's subscriptions API; same as [`SubscriptionsApi::new`].
    pub fn subscriptions(&self) -> SubscriptionsApi {
        SubscriptionsApi::new(self)
    }
}

/// Subscription events: one [`ActiveSubscription`] per connection
/// (`active: true`) or disconnection (`active: false`).
///
/// Built on a [`Subscriber`], so it reconnects and resumes by itself; its
/// connection events are left out. An event that is not a subscription
/// document yields an [`Error::InvalidResponse`] and the stream goes on;
/// an error of the subscriber ends it.
pub struct SubscriptionEvents {
    stream: BoxStream<'static, Result<ActiveSubscription>>,
}

impl fmt::Debug for SubscriptionEvents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SubscriptionEvents").finish_non_exhaustive()
    }
}

impl SubscriptionEvents {
    /// Reads the subscription events `subscriber` receives.
    pub fn new(subscriber: Subscriber) -> Self {
        let stream = subscriber
            .filter_map(|event| {
                std::future::ready(match event {
                    Ok(SubscriberEvent::Update(update)) => {
                        Some(ActiveSubscription::from_json(update.data().as_bytes()))
                    }
                    Ok(_) => None,
                    Err(error) => Some(Err(error)),
                })
            })
            .boxed();
        Self { stream }
    }
}

impl Stream for SubscriptionEvents {
    type Item = Result<ActiveSubscription>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.stream.poll_next_unpin(cx)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn parses_collections_of_both_dialects() {
        let v0 = SubscriptionList::from_json(
            json!({
                "@context": "https://mercure.rocks/",
                "id": "/.well-known/mercure/subscriptions",
                "type": "Subscriptions",
                "lastEventID": "urn:uuid:9",
                "subscriptions": [{
                    "id": "/.well-known/mercure/subscriptions/https%3A%2F%2Fexample.com%2F%7Bid%7D/urn%3Auuid%3A1",
                    "type": "Subscription",
                    "topic": "https://example.com/{id}",
                    "subscriber": "urn:uuid:1",
                    "active": true,
                    "payload": {"user": 1}
                }]
            })
            .to_string()
            .as_bytes(),
        )
        .unwrap();
        assert_eq!(v0.last_event_id.as_ref().unwrap(), "urn:uuid:9");
        assert_eq!(
            v0.subscriptions[0].selector.expression(),
            "https://example.com/{id}"
        );
        assert_eq!(v0.subscriptions[0].payload, Some(json!({"user": 1})));

        let v1 = SubscriptionList::from_json(
            json!({
                "id": "/.well-known/mercure/subscriptions",
                "type": "subscriptions",
                "last_event_id": "urn:uuid:2",
                "subscriptions": [
                    {"type": "subscription", "match": "https://example.com/:id", "match_type": "urlpattern", "subscriber": "s1", "active": true},
                    {"type": "Subscription", "match": "https://example.com/1", "matchType": "Exact", "subscriber": "s2", "active": false}
                ]
            })
            .to_string()
            .as_bytes(),
        )
        .unwrap();
        assert_eq!(v1.last_event_id.as_ref().unwrap(), "urn:uuid:2");
        assert_eq!(
            v1.subscriptions[0].selector,
            TopicSelector::pattern("https://example.com/:id")
        );
        assert_eq!(
            v1.subscriptions[1].selector,
            TopicSelector::exact("https://example.com/1")
        );
        assert!(!v1.subscriptions[1].active);

        let bare = SubscriptionList::from_json(br#"[{"topic": "t", "subscriber": "s"}]"#).unwrap();
        assert!(bare.subscriptions[0].active);
        assert_eq!(bare.last_event_id, None);
    }

    #[test]
    fn rejects_other_documents() {
        for bad in [
            &br#"{"subscriptions": [{"subscriber": "s"}]}"#[..],
            br#"{"subscriptions": [{"match": "m", "match_type": "regex", "subscriber": "s"}]}"#,
            br#"{"title": "Dune"}"#,
            b"not json",
        ] {
            assert!(matches!(
                SubscriptionList::from_json(bad),
                Err(Error::InvalidResponse(_))
            ));
        }
    }

    #[test]
    fn payload_filters() {
        let with = |payload: Option<Value>| ActiveSubscription {
            id: None,
            selector: TopicSelector::exact("t"),
            subscriber: "s".into(),
            active: true,
            payload,
        };
        let s = with(Some(
            json!({"user": {"id": 7, "roles": ["a"]}, "tenant": "x"}),
        ));
        assert!(s.payload_matches(None));
        assert!(s.payload_matches(Some(&json!({}))));
        assert!(s.payload_matches(Some(&json!({"tenant": "x"}))));
        assert!(s.payload_matches(Some(&json!({"user": {"roles": ["a"]}}))));
        assert!(!s.payload_matches(Some(&json!({"tenant": "y"}))));
        assert!(!s.payload_matches(Some(&json!({"missing": null}))));
        assert!(!with(None).payload_matches(Some(&json!({}))));
    }

    #[test]
    fn urls_per_dialect() {
        let hub = |version| {
            Hub::builder("https://example.com/.well-known/mercure?x=1")
                .protocol(version)
                .build()
                .unwrap()
        };
        let v0 = SubscriptionsApi::new(&hub(ProtocolVersion::V0));
        assert_eq!(
            v0.url(None, None).as_str(),
            "https://example.com/.well-known/mercure/subscriptions"
        );
        assert_eq!(
            v0.url(Some(&"https://example.com/a b%".into()), Some("urn:uuid:1"))
                .as_str(),
            "https://example.com/.well-known/mercure/subscriptions/https%3A%2F%2Fexample.com%2Fa%20b%25/urn%3Auuid%3A1"
        );
        let v1 = SubscriptionsApi::new(&hub(ProtocolVersion::V1));
        assert_eq!(
            v1.url(Some(&"https://example.com/a".into()), None).as_str(),
            "https://example.com/.well-known/mercure/subscriptions/exact/https%3A%2F%2Fexample.com%2Fa"
        );
    }
}
