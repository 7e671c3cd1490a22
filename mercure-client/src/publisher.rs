//! The publishing seam applications depend on.

use std::fmt;
use std::sync::Arc;

use futures_util::future::BoxFuture;

use crate::{EventId, Result, Update};

/// Something updates can be published to: a [`Hub`](crate::Hub), or in
/// tests a [`MockHub`](crate::testing::MockHub) or
/// [`RecordingHub`](crate::testing::RecordingHub).
///
/// Depend on `Arc<dyn Publisher>` (or a generic `P: Publisher`) in
/// application code so tests can swap the hub out.
///
/// ```
/// use std::sync::Arc;
/// use mercure_client::{Publisher, Update, testing::RecordingHub};
///
/// async fn book_changed(hub: &dyn Publisher, id: u32) -> mercure_client::Result<()> {
///     hub.publish(&Update::new(format!("https://example.com/books/{id}"), "{}")?).await?;
///     Ok(())
/// }
///
/// # tokio_test_block(async {
/// let hub = RecordingHub::new();
/// book_changed(&hub, 7).await.unwrap();
/// assert_eq!(hub.published()[0].topic(), "https://example.com/books/7");
/// # });
/// # fn tokio_test_block(f: impl std::future::Future<Output = ()>) {
/// #     futures_util::FutureExt::now_or_never(f).unwrap();
/// # }
/// ```
pub trait Publisher: Send + Sync + fmt::Debug {
    /// Publishes `update`, returning the id the hub assigned.
    fn publish<'a>(&'a self, update: &'a Update) -> BoxFuture<'a, Result<EventId>>;
}

impl<P: Publisher + ?Sized> Publisher for Arc<P> {
    fn publish<'a>(&'a self, update: &'a Update) -> BoxFuture<'a, Result<EventId>> {
        (**self).publish(update)
    }
}

impl<P: Publisher + ?Sized> Publisher for &P {
    fn publish<'a>(&'a self, update: &'a Update) -> BoxFuture<'a, Result<EventId>> {
        (**self).publish(update)
    }
}

impl<P: Publisher + ?Sized> Publisher for Box<P> {
    fn publish<'a>(&'a self, update: &'a Update) -> BoxFuture<'a, Result<EventId>> {
        (**self).publish(update)
    }
}
