//! Server-selected streams: SSE responses for topics the server chooses.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::http::header::HeaderValue;
use actix_web::{FromRequest, HttpRequest, HttpResponse};
use mercure_hub::{SubscribeRequest, Subscription};
use mercure_web::{EventId, MercureState, TopicSelector};

use crate::{Error, Mercure};

/// Opens event streams on the embedded hub for topics the handler chooses,
/// like a view decorated with `@sse.subscribe(...)`: the client connects to
/// the application's URL and never names the topics. The stream resumes
/// after the `Last-Event-ID` the browser sends when it reconnects.
///
/// ```
/// use actix_web::{HttpResponse, web};
/// use mercure_actix::ServerStream;
///
/// async fn object_events(id: web::Path<u32>, stream: ServerStream) -> mercure_actix::Result<HttpResponse> {
///     stream.open(None, [format!("https://example.com/objects/{id}")]).await
/// }
/// ```
#[derive(Debug, Clone)]
pub struct ServerStream {
    state: MercureState,
    last_event_id: Option<EventId>,
}

impl FromRequest for ServerStream {
    type Error = Error;
    type Future = Ready<Result<Self, Error>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let id = request.headers().get("last-event-id");
        let id = id
            .and_then(|id| id.to_str().ok())
            .filter(|id| !id.is_empty());
        let last_event_id = id.map(EventId::from);
        let state = Mercure::of(request).map(|mercure| mercure.state().clone());
        ready(state.map(|state| Self {
            state,
            last_event_id,
        }))
    }
}

impl ServerStream {
    /// A streaming response of `topics` (public and private updates) for
    /// `subscriber` (the identity `permission_changed` names; `None` for an
    /// anonymous visitor), after the client's `Last-Event-ID`.
    ///
    /// # Errors
    /// See [`MercureState::open_stream`] (`403` for a topic the topic
    /// authorizer refuses).
    pub async fn open(
        &self,
        subscriber: Option<&str>,
        topics: impl IntoIterator<Item: Into<TopicSelector>>,
    ) -> Result<HttpResponse, Error> {
        let topics = topics.into_iter().map(Into::into).collect();
        let after = self.last_event_id.as_ref();
        Ok(event_stream(
            self.state.open_stream(subscriber, topics, after).await?,
        ))
    }

    /// A streaming response for a request built by hand.
    ///
    /// # Errors
    /// See [`MercureState::subscribe`].
    pub async fn subscribe(&self, request: SubscribeRequest) -> Result<HttpResponse, Error> {
        Ok(event_stream(self.state.subscribe(request).await?))
    }

    /// The `Last-Event-ID` the client sent, if any (to resume a request
    /// built by hand).
    pub fn last_event_id(&self) -> Option<&EventId> {
        self.last_event_id.as_ref()
    }
}

/// A `200 text/event-stream` response streaming `subscription` with the
/// hub's headers (the resume header left out if it cannot be a value).
fn event_stream(subscription: Subscription) -> HttpResponse {
    let mut response = HttpResponse::Ok();
    for (name, value) in subscription.response_headers() {
        if HeaderValue::from_str(&value).is_ok() {
            response.insert_header((name, value));
        }
    }
    response.streaming(subscription)
}
