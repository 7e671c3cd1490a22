//! Server-selected streams: SSE responses for topics the server chooses.

use std::convert::Infallible;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use mercure_hub::{SubscribeRequest, Subscription};
use mercure_web::{EventId, MercureState, TopicSelector};

use crate::{Error, Mercure};

/// Opens event streams on the embedded hub for topics the handler chooses,
/// like a view decorated with `@sse.subscribe(...)`: the client connects to
/// the application's URL and never names the topics. The stream resumes
/// after the `Last-Event-ID` the browser sends when it reconnects. A
/// [`Subscription`] is a response.
///
/// ```
/// use axum::{Router, extract::Path, routing::get};
/// use mercure_axum::{Mercure, ServerStream, hub::Subscription};
///
/// async fn object_events(Path(id): Path<u32>, stream: ServerStream) -> mercure_axum::Result<Subscription> {
///     stream.open(None, [format!("https://example.com/objects/{id}")]).await
/// }
///
/// # fn app(mercure: Mercure) -> Router {
/// Router::new().route("/objects/{id}/events", get(object_events)).with_state(mercure)
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct ServerStream {
    state: MercureState,
    last_event_id: Option<EventId>,
}

impl<S: Send + Sync> FromRequestParts<S> for ServerStream
where
    Mercure: FromRef<S>,
{
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Infallible> {
        let last_event_id = parts
            .headers
            .get("last-event-id")
            .and_then(|v| v.to_str().ok());
        let last_event_id = last_event_id.filter(|id| !id.is_empty()).map(EventId::from);
        let state = Mercure::from_ref(state).state().clone();
        Ok(Self {
            state,
            last_event_id,
        })
    }
}

impl ServerStream {
    /// A stream of `topics` (public and private updates) for `subscriber`
    /// (the identity `permission_changed` names; `None` for an anonymous
    /// visitor), resuming after the client's `Last-Event-ID`.
    ///
    /// # Errors
    /// See [`MercureState::open_stream`]: `403` when the topic authorizer
    /// refuses a topic.
    pub async fn open(
        &self,
        subscriber: Option<&str>,
        topics: impl IntoIterator<Item: Into<TopicSelector>>,
    ) -> Result<Subscription, Error> {
        let topics = topics.into_iter().map(Into::into).collect();
        Ok(self
            .state
            .open_stream(subscriber, topics, self.last_event_id.as_ref())
            .await?)
    }

    /// A stream for a request built by hand.
    ///
    /// # Errors
    /// See [`MercureState::subscribe`].
    pub async fn subscribe(&self, request: SubscribeRequest) -> Result<Subscription, Error> {
        Ok(self.state.subscribe(request).await?)
    }

    /// The `Last-Event-ID` the client sent, if any (to resume a request
    /// built by hand).
    pub fn last_event_id(&self) -> Option<&EventId> {
        self.last_event_id.as_ref()
    }
}
