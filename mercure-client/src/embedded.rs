//! The embedded hub of `mercure-hub` behind [`Publisher`], the seam
//! applications publish through.

use futures_util::future::BoxFuture;
use mercure_hub::EmbeddedHub;

use crate::{Error, EventId, HubRejection, Publisher, Result, Update};

impl Publisher for EmbeddedHub {
    /// Publishes in-process ([`EmbeddedHub::publish`]), so an application
    /// written against `Arc<dyn Publisher>` can use the embedded hub as it
    /// would a remote one. Refusals map to the errors a remote hub's
    /// answers would give: [`Error::InvalidUpdate`] or
    /// [`Error::BadRequest`].
    ///
    /// ```
    /// use std::sync::Arc;
    /// use mercure_client::{Publisher, Update};
    /// use mercure_hub::{EmbeddedHub, HubConfig};
    ///
    /// # futures_util::FutureExt::now_or_never(async {
    /// let hub: Arc<dyn Publisher> = Arc::new(EmbeddedHub::new(HubConfig::builder().build().unwrap()));
    /// let id = hub.publish(&Update::new("https://example.com/books/1", "{}").unwrap()).await.unwrap();
    /// assert!(id.as_str().starts_with("urn:uuid:"));
    /// # }).unwrap();
    /// ```
    fn publish<'a>(&'a self, update: &'a Update) -> BoxFuture<'a, Result<EventId>> {
        Box::pin(async move {
            EmbeddedHub::publish(self, update)
                .await
                .map_err(|error| match error {
                    mercure_hub::Error::InvalidUpdate(error) => Error::InvalidUpdate(error),
                    error @ mercure_hub::Error::Unavailable(_) => {
                        Error::ServerError(HubRejection::new(503, &error.to_string(), None))
                    }
                    other => Error::BadRequest(HubRejection::new(400, &other.to_string(), None)),
                })
        })
    }
}
