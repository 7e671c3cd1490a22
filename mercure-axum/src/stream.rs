//! Server-selected streams: SSE responses for topics the server chooses.

use std::convert::Infallible;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use mercure_hub::{SubscribeRequest, Subscription};
use mercure_web::{EventId, MercureState, TopicSelector};

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
/// use mercure_axum::hub::Subscription;
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
    state: MercureState,
    last_event_id: Option<EventId>,
}

impl<S> FromRequestParts<S> for ServerStream
where
    Mercure: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Infallible> {
        let header = parts.headers.get("last-event-id");
        let last_event_id = header
            .and_then(|value| value.to_str().ok())
            .filter(|id| !id.is_empty());
        let state = MercureState::from_ref(&Mercure::from_ref(state));
        Ok(Self {
            state,
            last_event_id: last_event_id.map(EventId::from),
        })
    }
}

impl ServerStream {
    /// The `Last-Event-ID` the client sent, if any.
    pub fn last_event_id(&self) -> Option<&EventId> {
        self.last_event_id.as_ref()
    }

    /// A stream of `topics` (public and private updates) for `subscriber`
    /// (the identity `permission_changed` names; `None` for an anonymous
    /// visitor); see [`MercureState::open_stream`].
    ///
    /// # Errors
    /// [`WebError::TopicDenied`](mercure_web::WebError::TopicDenied) (403)
    /// when the topic authorizer refuses a topic, and the other errors of
    /// [`MercureState::open_stream`].
    pub fn open<I, T>(&self, subscriber: Option<&str>, topics: I) -> Result<Subscription, Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<TopicSelector>,
    {
        let topics = topics.into_iter().map(Into::into).collect();
        Ok(self
            .state
            .open_stream(subscriber, topics, self.last_event_id.as_ref())?)
    }

    /// A stream for a request built by hand (pass it
    /// [`ServerStream::last_event_id`] to resume where the client left off).
    ///
    /// # Errors
    /// See [`MercureState::subscribe`].
    pub fn subscribe(&self, request: SubscribeRequest) -> Result<Subscription, Error> {
        Ok(self.state.subscribe(request)?)
    }
}
