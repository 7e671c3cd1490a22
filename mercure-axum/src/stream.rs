//! Server-selected streams: SSE responses for topics the server chooses.

use std::convert::Infallible;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use mercure_client::TopicSelector;
use mercure_hub::{SubscribeRequest, Subscription};

use crate::{Error, Mercure};

/// Opens event streams on the embedded hub for topics the handler chooses,
/// like a view decorated with `@sse.subscribe(...)`: the client connects to
/// the application's URL and never names the topics itself.
///
/// The stream resumes after the `Last-Event-ID` the browser sends when it
/// reconnects. A [`Subscription`] is a response.
///
/// ```
/// use axum::{Router, extract::Path, routing::get};
/// use mercure_axum::{Mercure, ServerStream};
/// use mercure_hub::Subscription;
///
/// async fn object_events(Path(id): Path<u32>, stream: ServerStream) -> mercure_axum::Result<Subscription> {
///     stream.open(None, [format!("https://example.com/objects/{id}")])
/// }
///
/// # fn app(mercure: Mercure) -> Router {
/// Router::new().route("/objects/{id}/events", get(object_events)).with_state(mercure)
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct ServerStream {
    mercure: Mercure,
    last_event_id: Option<String>,
}

impl<S> FromRequestParts<S> for ServerStream
where
    Mercure: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let last_event_id = parts
            .headers
            .get("last-event-id")
            .and_then(|value| value.to_str().ok())
            .filter(|id| !id.is_empty())
            .map(str::to_owned);
        Ok(Self {
            mercure: Mercure::from_ref(state),
            last_event_id,
        })
    }
}

impl ServerStream {
    /// The `Last-Event-ID` the client sent, if any.
    pub fn last_event_id(&self) -> Option<&str> {
        self.last_event_id.as_deref()
    }

    /// A stream of `topics` (public and private updates) for `subscriber`
    /// (the identity [`Mercure::permission_changed`] names; `None` for an
    /// anonymous visitor). The topic authorizer, if any, must allow every
    /// topic.
    ///
    /// # Errors
    /// [`Error::TopicDenied`] (403), [`Error::NoEmbeddedHub`],
    /// [`Error::Hub`] for a selector the hub cannot compile.
    pub fn open<I, T>(&self, subscriber: Option<&str>, topics: I) -> Result<Subscription, Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<TopicSelector>,
    {
        let selectors: Vec<TopicSelector> = topics.into_iter().map(Into::into).collect();
        if let Some(denied) = self
            .mercure
            .authorization()
            .denied_subscription(subscriber, &selectors)
        {
            return Err(Error::TopicDenied(denied.expression().to_owned()));
        }
        let mut request =
            SubscribeRequest::server_selected(selectors).dialect(self.mercure.hub().protocol());
        if let Some(subscriber) = subscriber {
            request = request.subject(subscriber);
        }
        if let Some(id) = &self.last_event_id {
            request = request.last_event_id(id.clone());
        }
        self.subscribe(request)
    }

    /// A stream for a request built by hand (pass it
    /// [`ServerStream::last_event_id`] to resume where the client left off).
    ///
    /// # Errors
    /// [`Error::NoEmbeddedHub`], [`Error::Hub`].
    pub fn subscribe(&self, request: SubscribeRequest) -> Result<Subscription, Error> {
        let hub = self.mercure.embedded_hub().ok_or(Error::NoEmbeddedHub)?;
        Ok(hub.subscribe(request)?)
    }
}
