//! Server-selected streams: SSE responses for topics the server chooses.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use mercure_client::TopicSelector;
use mercure_hub::{SubscribeRequest, Subscription};

use crate::{Error, Mercure};

/// Opens event streams on the embedded hub for topics the handler chooses,
/// like a view decorated with `@sse.subscribe(...)`: the client connects to
/// the application's URL and never names the topics itself.
///
/// The stream resumes after the `Last-Event-ID` the browser sends when it
/// reconnects.
///
/// ```
/// use actix_web::{HttpResponse, web};
/// use mercure_actix::ServerStream;
///
/// async fn object_events(id: web::Path<u32>, stream: ServerStream) -> mercure_actix::Result<HttpResponse> {
///     stream.open(None, [format!("https://example.com/objects/{id}")])
/// }
/// ```
#[derive(Debug, Clone)]
pub struct ServerStream {
    mercure: Mercure,
    last_event_id: Option<String>,
}

impl FromRequest for ServerStream {
    type Error = Error;
    type Future = Ready<Result<Self, Error>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let mercure = request
            .app_data::<web::Data<Mercure>>()
            .map(|data| data.get_ref().clone())
            .or_else(|| request.app_data::<Mercure>().cloned());
        let last_event_id = request
            .headers()
            .get("last-event-id")
            .and_then(|value| value.to_str().ok())
            .filter(|id| !id.is_empty())
            .map(str::to_owned);
        ready(match mercure {
            Some(mercure) => Ok(Self {
                mercure,
                last_event_id,
            }),
            None => Err(Error::NotConfigured),
        })
    }
}

impl ServerStream {
    /// The `Last-Event-ID` the client sent, if any.
    pub fn last_event_id(&self) -> Option<&str> {
        self.last_event_id.as_deref()
    }

    /// A streaming response of `topics` (public and private updates) for
    /// `subscriber` (the identity [`Mercure::permission_changed`] names;
    /// `None` for an anonymous visitor). The topic authorizer, if any, must
    /// allow every topic.
    ///
    /// # Errors
    /// [`Error::TopicDenied`] (403), [`Error::NoEmbeddedHub`],
    /// [`Error::Hub`] for a selector the hub cannot compile.
    pub fn open<I, T>(&self, subscriber: Option<&str>, topics: I) -> Result<HttpResponse, Error>
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

    /// A streaming response for a request built by hand (pass it
    /// [`ServerStream::last_event_id`] to resume where the client left off).
    ///
    /// # Errors
    /// [`Error::NoEmbeddedHub`], [`Error::Hub`].
    pub fn subscribe(&self, request: SubscribeRequest) -> Result<HttpResponse, Error> {
        let hub = self.mercure.embedded_hub().ok_or(Error::NoEmbeddedHub)?;
        Ok(event_stream(hub.subscribe(request)?))
    }
}

/// A `200 text/event-stream` response streaming `subscription`, with the
/// hub's streaming headers (content type, caching, the dialect's resume
/// header).
fn event_stream(subscription: Subscription) -> HttpResponse {
    let mut response = HttpResponse::Ok();
    for (name, value) in subscription.response_headers() {
        // The resume header echoes what the client sent: left out if it
        // cannot be a header value.
        if actix_web::http::header::HeaderValue::from_str(&value).is_ok() {
            response.insert_header((name, value));
        }
    }
    response.streaming(subscription)
}
