//! A daemon that subscribes to a hub and prints what it receives, for as
//! long as it runs: across hub restarts, network failures and token
//! expiry.
//!
//! The [`Subscriber`] does the hard part: it reconnects with exponential
//! backoff and jitter, resends the last event id so the hub can replay what
//! was missed, asks the token provider for a fresh token before every
//! attempt, and reports when the hub could not replay (after a restart
//! that lost its history, say). This module only configures it and turns
//! its events into lines.

use std::time::Duration;

use futures_util::StreamExt;
use mercure_client::subscriber::{ExponentialBackoff, ReconnectReason};
use mercure_client::token::{CachedTokenProvider, Grants, SigningKey, TokenFactory};
use mercure_client::{ProtocolVersion, Subscriber, SubscriberEvent, TopicSelector};

/// What to subscribe to, and how.
#[derive(Clone)]
pub struct DaemonConfig {
    /// The hub's URL.
    pub hub_url: String,
    /// The topic selectors (exact topics, or URI templates in 0.x / URL
    /// patterns in 1.0).
    pub topics: Vec<TopicSelector>,
    /// The HS256 secret to mint subscriber tokens with (granting the same
    /// selectors, so private updates arrive too); `None` subscribes
    /// anonymously.
    pub secret: Option<Vec<u8>>,
    /// The dialect of the hub.
    pub protocol: ProtocolVersion,
    /// The first wait before reconnecting (doubling with each failure).
    pub initial_delay: Duration,
    /// The longest wait between two reconnection attempts.
    pub max_delay: Duration,
}

impl std::fmt::Debug for DaemonConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DaemonConfig")
            .field("hub_url", &self.hub_url)
            .field("topics", &self.topics)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("protocol", &self.protocol)
            .field("initial_delay", &self.initial_delay)
            .field("max_delay", &self.max_delay)
            .finish()
    }
}

/// Builds the subscriber described by `config`.
///
/// # Errors
/// An unusable URL or key, or no topics.
pub fn subscriber(config: &DaemonConfig) -> mercure_client::Result<Subscriber> {
    let mut builder = Subscriber::builder(&config.hub_url)
        .protocol(config.protocol)
        .topics(config.topics.iter().cloned())
        .retry_strategy(
            ExponentialBackoff::new()
                .initial(config.initial_delay)
                .max(config.max_delay),
        );
    builder = match &config.secret {
        Some(secret) => {
            let mut factory =
                TokenFactory::builder(SigningKey::hs256(secret)?).protocol(config.protocol);
            if config.protocol != ProtocolVersion::V0 {
                factory = factory.audience(&config.hub_url);
            }
            let grants = Grants::new().subscribe(config.topics.iter().cloned());
            builder.token_provider(CachedTokenProvider::new(factory.build()?, grants))
        }
        None => builder.anonymous(),
    };
    builder.build()
}

/// A line describing `event`.
pub fn describe(event: &SubscriberEvent) -> String {
    match event {
        SubscriberEvent::Update(update) => format!(
            "update {} [{}] {}",
            update.id().map_or("-", |id| id.as_str()),
            update.event_type(),
            update.data()
        ),
        SubscriberEvent::Connected(connected) => match &connected.requested {
            Some(id) => format!(
                "connected (attempt {}), resuming after {id}",
                connected.attempt
            ),
            None => format!("connected (attempt {})", connected.attempt),
        },
        SubscriberEvent::Reconnecting(reconnecting) => {
            let reason = match &reconnecting.reason {
                ReconnectReason::Ended => "the hub ended the stream".to_owned(),
                ReconnectReason::ReadTimeout => "the stream went silent".to_owned(),
                ReconnectReason::Refused(error) => format!("refused: {error}"),
                ReconnectReason::Unavailable(error) => format!("hub unavailable: {error}"),
                ReconnectReason::Network(error) => format!("network: {error}"),
                _ => "connection lost".to_owned(),
            };
            format!(
                "reconnecting in {} ms ({reason})",
                reconnecting.delay.as_millis()
            )
        }
        SubscriberEvent::EventsLost(lost) => format!(
            "the hub could not replay the updates after {} (resumed after {}): some may be missing",
            lost.requested, lost.resumed_from
        ),
        _ => "unknown event".to_owned(),
    }
}

/// Subscribes with `subscriber` and hands a line per event to `print`
/// until the subscription ends: `Ok` when the hub ended it for good (204),
/// `Err` when it refused it.
///
/// # Errors
/// The refusal that ended the subscription.
pub async fn run(
    mut subscriber: Subscriber,
    mut print: impl FnMut(String),
) -> mercure_client::Result<()> {
    while let Some(event) = subscriber.next().await {
        print(describe(&event?));
    }
    Ok(())
}
