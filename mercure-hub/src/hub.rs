//! The hub itself: publishing, subscribing, and the application's
//! operations on subscribers.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use mercure_core::{EventId, ProtocolVersion, TopicSelector, Update};

use crate::auth::Verifier;
use crate::cluster::{ClusterCommand, ClusterSubscriptions, Member, PresenceChange};
use crate::dispatch::{Dispatcher, Feed};
use crate::documents::{subscription_document, subscription_topic, with_context};
use crate::event::Cursor;
use crate::matcher::{MatcherCache, MatcherKind};
use crate::metrics::Counters;
use crate::outbox::Outbox;
use crate::subscriber::{Access, CloseReason, SubscriberEntry};
use crate::subscription::Replay;
use crate::{
    Error, Event, HubConfig, Metrics, PrivateAccess, SubscribeRequest, Subscription,
    SubscriptionInfo,
};

/// A Mercure hub running inside this process.
///
/// Cheap to clone (an `Arc` inside). Serve it over HTTP with
/// [`EmbeddedHub::router`]; publish and subscribe in-process with
/// [`EmbeddedHub::publish`] and [`EmbeddedHub::subscribe`], which share the
/// HTTP endpoints' delivery path.
///
/// ```
/// use mercure_hub::{EmbeddedHub, HubConfig, VerificationKey};
/// use mercure_core::Update;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let hub = EmbeddedHub::new(
///     HubConfig::builder()
///         .key(VerificationKey::hs256(b"!ChangeThisMercureHubJWTSecretKey!").unwrap())
///         .build()
///         .unwrap(),
/// );
/// let update = Update::new("https://example.com/books/1", "{}").unwrap();
/// let id = hub.publish(&update).await.unwrap();
/// assert!(id.as_str().starts_with("urn:uuid:"));
/// # }
/// ```
#[derive(Clone)]
pub struct EmbeddedHub {
    pub(crate) inner: Arc<Inner>,
}

impl fmt::Debug for EmbeddedHub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmbeddedHub")
            .field("url", &self.inner.config.url.as_str())
            .field("metrics", &self.metrics())
            .finish_non_exhaustive()
    }
}

pub(crate) struct Inner {
    pub(crate) config: HubConfig,
    pub(crate) matchers: MatcherCache,
    pub(crate) publishers: Verifier,
    pub(crate) subscribers: Verifier,
    pub(crate) counters: Arc<Counters>,
    /// The request rate limits of HTTP clients.
    pub(crate) rate_limits: crate::rate::RateLimits,
    /// The replay budget, in KiB (see [`crate::subscription::Replay`]).
    pub(crate) replay_budget: Arc<tokio::sync::Semaphore>,
    dispatcher: Arc<Dispatcher>,
    next_key: AtomicU64,
    /// The hub is shutting down: new subscriptions are refused.
    draining: std::sync::atomic::AtomicBool,
}

/// Where a subscriber's history starts.
enum Start {
    /// No history: live events only.
    Live,
    /// Every event held.
    Earliest,
    /// The events after this one (the requested `Last-Event-ID`).
    After(Cursor, String),
}

impl EmbeddedHub {
    /// Starts a hub with `config`: its delivery joins the configured
    /// [`Transport`](crate::Transport), after the newest event it holds.
    pub fn new(config: HubConfig) -> Self {
        mercure_core::crypto::install_default_provider();
        let matchers = MatcherCache::new(config.matcher_cache_size, config.url.clone());
        let publishers = Verifier::new(
            config.publisher_keys.clone(),
            config.publisher_jwks.clone(),
            &config,
        );
        let subscribers = Verifier::new(
            config.subscriber_keys.clone(),
            config.subscriber_jwks.clone(),
            &config,
        );
        let counters = Arc::new(Counters::default());
        let dispatcher = Arc::new(Dispatcher::new(config.url.clone(), Arc::clone(&counters)));
        let head = config.transport.start(Feed::new(Arc::clone(&dispatcher)));
        dispatcher.start_after(head.as_ref());
        let replay_budget = Arc::new(tokio::sync::Semaphore::new(
            crate::subscription::replay_budget_units(config.replay_bytes),
        ));
        // Checked by `HubConfigBuilder::build`.
        let rate_limits = crate::rate::RateLimits::of(
            config.publish_rate,
            config.subscribe_rate,
            config.rate_limit_keys,
        )
        .unwrap_or_default();
        let hub = Self {
            inner: Arc::new(Inner {
                rate_limits,
                matchers,
                publishers,
                subscribers,
                counters,
                replay_budget,
                dispatcher,
                next_key: AtomicU64::new(0),
                draining: std::sync::atomic::AtomicBool::new(false),
                config,
            }),
        };
        if let Some(cluster) = hub.inner.config.transport.cluster() {
            cluster.join(Member::new(&hub.inner));
            tracing::debug!(instance = cluster.instance(), "hub joined its cluster");
        }
        hub
    }

    /// The configuration.
    pub fn config(&self) -> &HubConfig {
        &self.inner.config
    }

    /// Publishes `update` without HTTP and without a token (the embedding
    /// application is trusted), through the same validation and delivery
    /// path as the publish endpoint; resolves once the transport stored it
    /// (on disk, for a durable one). Validation follows 1.0 rules unless
    /// the hub speaks 0.x only ([`HubConfig::publish_rules`]), and the
    /// topic limit ([`HubConfigBuilder::max_topics`]) applies.
    ///
    /// An update reusing the id of an update in history is delivered like
    /// any other (a subscriber resuming from that id gets every update
    /// after the earliest of them), except an exact retry (same id,
    /// topics, visibility, type, retry and data as the earliest), which
    /// is acknowledged without being delivered twice.
    ///
    /// # Errors
    /// [`Error::InvalidUpdate`], [`Error::ReservedTopic`], or
    /// [`Error::InvalidPublish`] beyond the topic limit;
    /// [`Error::Unavailable`] when the transport failed (nothing was
    /// published).
    ///
    /// [`HubConfigBuilder::max_topics`]: crate::HubConfigBuilder::max_topics
    pub async fn publish(&self, update: &Update) -> Result<EventId, Error> {
        self.inner.validate(update)?;
        self.inner.dispatch(update).await
    }

    /// Subscribes in-process, e.g. to serve a stream whose topics the
    /// server chose. The returned [`Subscription`] is the response body.
    ///
    /// # Errors
    /// [`Error::InvalidSubscribe`] without selectors,
    /// [`Error::InvalidSelector`] for a selector that does not compile, or
    /// [`Error::Unavailable`] when the transport cannot resolve the last
    /// event id.
    pub async fn subscribe(&self, request: SubscribeRequest) -> Result<Subscription, Error> {
        let dialect = request.dialect;
        let access = match &request.access {
            PrivateAccess::None => Access::None,
            PrivateAccess::All => Access::All,
            PrivateAccess::Selectors(selectors) => Access::Matchers(
                selectors
                    .iter()
                    .map(|s| {
                        self.inner
                            .matchers
                            .get(MatcherKind::of(s, dialect), s.expression())
                    })
                    .collect::<Result<_, _>>()?,
            ),
        };
        self.inner.subscribe(request, access).await
    }

    /// The active subscriptions of this hub (one per selector of each
    /// subscriber); see [`EmbeddedHub::cluster_subscriptions`] for those of
    /// every instance of a cluster.
    pub fn subscriptions(&self) -> Vec<SubscriptionInfo> {
        self.inner
            .dispatcher
            .snapshot()
            .iter()
            .flat_map(|entry| entry.infos())
            .collect()
    }

    /// Closes every subscriber of this hub for which `select` returns
    /// true when shown one of its subscriptions; returns how many were
    /// closed. A closed subscriber's stream ends at once (a client then
    /// reconnects with a fresh token).
    ///
    /// This instance only, in a cluster too: a closure cannot travel to
    /// the other instances. [`EmbeddedHub::cluster_permission_changed`]
    /// and [`EmbeddedHub::close_subscriber`] reach them all.
    pub fn close_subscribers(&self, mut select: impl FnMut(&SubscriptionInfo) -> bool) -> usize {
        // `select` runs with no lock of the hub held, so it may call the hub.
        let chosen: Vec<u64> = self
            .inner
            .dispatcher
            .snapshot()
            .iter()
            .filter(|entry| entry.infos().any(|info| select(&info)))
            .map(|entry| entry.key)
            .collect();
        let mut closed = 0;
        for key in chosen {
            if let Some(slot) = self.inner.dispatcher.unregister(key) {
                slot.close(CloseReason::Closed);
                closed += 1;
            }
        }
        closed
    }

    /// Closes every subscriber for a shutdown, spreading their
    /// reconnections over `window`: each stream ends with a `retry:` field
    /// of a random delay within the window, after which its client
    /// reconnects (to whichever hub then serves the URL, with its
    /// `Last-Event-ID`), so that a restart does not bring every client back
    /// at once. From now on, new subscriptions are refused (503);
    /// publishing goes on. Returns how many subscribers were closed.
    pub fn drain(&self, window: Duration) -> usize {
        self.inner.draining.store(true, Ordering::Release);
        let window_ms = u64::try_from(window.as_millis()).unwrap_or(u64::MAX);
        let mut closed = 0;
        for entry in self.inner.dispatcher.snapshot() {
            if let Some(slot) = self.inner.dispatcher.unregister(entry.key) {
                // Uniform within the window, from the OS's randomness
                // (a version 4 UUID's random bits).
                let random = uuid::Uuid::new_v4().as_u128() as u64;
                let retry = if window_ms == 0 {
                    0
                } else {
                    random % window_ms.saturating_add(1)
                };
                slot.entry.drain(retry);
                slot.outbox.close();
                closed += 1;
            }
        }
        tracing::info!(subscribers = closed, window_ms, "hub draining");
        closed
    }

    /// Closes the subscriptions of `subject` (a token's `sub`) that select
    /// `topic`, after the application changed that subject's permission on
    /// it; returns how many subscribers were closed.
    ///
    /// This hub only: in a cluster, [`EmbeddedHub::cluster_permission_changed`]
    /// closes them on every instance.
    pub fn permission_changed(&self, subject: &str, topic: &str) -> usize {
        let base = self.inner.matchers.base().clone();
        let matchers = &self.inner.matchers;
        self.close_subscribers(|info| {
            info.subject.as_deref() == Some(subject)
                && matchers
                    .get(
                        MatcherKind::of(&info.selector, info.dialect),
                        info.selector.expression(),
                    )
                    .is_ok_and(|m| m.matches(topic, &base))
        })
    }

    /// The subscriptions of every hub instance sharing this hub's
    /// transport: this instance's first (from memory, as
    /// [`EmbeddedHub::subscriptions`] lists them), then the others' as
    /// they last stored them, each with its
    /// [`instance`](SubscriptionInfo::instance). The subscriptions API
    /// lists these.
    ///
    /// With a transport that is not shared ([`Transport::cluster`] is
    /// `None`), the local subscriptions, without instance. The listing is
    /// bounded by the transport ([`ClusterSubscriptions::truncated`]).
    ///
    /// A subscriber's presence is stored before its subscription event is
    /// published: a listing taken after this hub delivered that event
    /// (the API's `lastEventID`) shows it (or, for a disconnection, no
    /// longer shows it). The subscribers of an instance that stopped
    /// without closing its transport stay listed until its presence
    /// expires (for `RedisTransport`, `RedisOptions::with_presence_ttl`),
    /// and no subscription event tells of their departure.
    ///
    /// # Errors
    /// [`Error::Unavailable`] when the other instances' subscriptions
    /// cannot be read (Redis unreachable).
    ///
    /// [`Transport::cluster`]: crate::Transport::cluster
    pub async fn cluster_subscriptions(&self) -> Result<ClusterSubscriptions, Error> {
        match self.inner.config.transport.cluster() {
            Some(cluster) => Ok(cluster.subscriptions().await?),
            None => Ok(ClusterSubscriptions {
                subscriptions: self.subscriptions(),
                truncated: false,
            }),
        }
    }

    /// [`EmbeddedHub::permission_changed`] on every hub instance sharing
    /// this hub's transport: the matching subscribers of this instance
    /// are closed at once (their count is returned), those of the others
    /// as the command reaches them (within milliseconds through Redis).
    /// Without a shared transport, [`EmbeddedHub::permission_changed`].
    ///
    /// The command is not stored: an instance cut off from the cluster
    /// when it is sent (for Redis, one not subscribed to its control
    /// channel then) does not receive it. A client that reconnects with
    /// its old token is served again: change or revoke the token too.
    ///
    /// # Errors
    /// [`Error::Unavailable`] when the command could not be sent to the
    /// other instances; this instance's subscribers were closed anyway.
    pub async fn cluster_permission_changed(
        &self,
        subject: &str,
        topic: &str,
    ) -> Result<usize, Error> {
        match self.inner.config.transport.cluster() {
            Some(cluster) => Ok(cluster
                .broadcast(ClusterCommand::PermissionChanged {
                    subject: subject.to_owned(),
                    topic: topic.to_owned(),
                })
                .await?),
            None => Ok(self.permission_changed(subject, topic)),
        }
    }

    /// Closes the subscriber with this id (`urn:uuid:...`, as the
    /// subscriptions API and [`EmbeddedHub::cluster_subscriptions`] show
    /// it), on whichever instance of the cluster it is connected to;
    /// returns whether it was connected to this instance (and is now
    /// closed). Otherwise the command goes to the other instances, as
    /// [`EmbeddedHub::cluster_permission_changed`] sends its own.
    ///
    /// # Errors
    /// [`Error::Unavailable`] when the subscriber is not connected here
    /// and the command could not be sent to the other instances.
    pub async fn close_subscriber(&self, subscriber: &str) -> Result<bool, Error> {
        let command = ClusterCommand::CloseSubscriber {
            subscriber: subscriber.to_owned(),
        };
        let closed = match self.inner.config.transport.cluster() {
            Some(cluster) => cluster.broadcast(command).await?,
            None => Member::new(&self.inner).apply(&command),
        };
        Ok(closed > 0)
    }

    /// The id of this hub's instance in its cluster (see
    /// [`Cluster::instance`](crate::Cluster::instance)); `None` when its
    /// transport is not shared.
    pub fn instance_id(&self) -> Option<&str> {
        self.inner
            .config
            .transport
            .cluster()
            .map(|cluster| cluster.instance())
    }

    /// A snapshot of the counters (and, in a cluster, of the instance id).
    pub fn metrics(&self) -> Metrics {
        let mut metrics = self.inner.counters.snapshot();
        let limits = &self.inner.rate_limits;
        metrics.rate_limit_keys = [&limits.publish, &limits.subscribe]
            .into_iter()
            .flatten()
            .map(|limiter| limiter.keys() as u64)
            .sum();
        metrics.instance = self.instance_id().map(Arc::from);
        metrics
    }

    /// The id of the newest event in history delivered by this hub (or
    /// held by its transport when it started).
    pub fn last_event_id(&self) -> Option<EventId> {
        self.inner
            .dispatcher
            .newest()
            .map(|id| EventId::new(id.to_string()))
    }
}

impl Inner {
    /// The rules of what the hub serves on top of those [`Update`]
    /// enforces: the dialect rules of [`HubConfig::publish_rules`] (a hub
    /// that speaks 1.0 applies them to every publisher, whatever its
    /// token), the hub's reserved namespace, the topic limit.
    pub(crate) fn validate(&self, update: &Update) -> Result<(), Error> {
        let max = self.config.max_topics;
        if update.topics().len() > max {
            return Err(Error::InvalidPublish(format!(
                "an update may have at most {max} topics"
            )));
        }
        let dialect = self.config.publish_rules();
        update.validate_for(dialect)?;
        if dialect == ProtocolVersion::V1 {
            for topic in update.topics() {
                if self.is_reserved(topic) {
                    return Err(Error::ReservedTopic {
                        topic: topic.clone(),
                    });
                }
            }
        }
        Ok(())
    }

    /// Whether `topic`, resolved against the hub URL, addresses the hub's
    /// own namespace: its path (with percent-encoded unreserved characters
    /// decoded, RFC 3986 §6.2.2.2, so `%6D` is `m`) is one of the reserved
    /// paths or below one, whatever the scheme and authority. Reserved:
    /// `/.well-known/mercure` (the protocol's) and the hub's own path, or
    /// `/subscriptions` for a hub served at the root of its origin (where
    /// its subscription topics sit).
    fn is_reserved(&self, topic: &str) -> bool {
        let Ok(resolved) = self.config.url.join(topic) else {
            return false;
        };
        let path = decode_unreserved(resolved.path());
        let hub_path = decode_unreserved(self.config.url.path());
        let own = match hub_path.trim_end_matches('/') {
            "" => "/subscriptions",
            own => own,
        };
        ["/.well-known/mercure", own].iter().any(|reserved| {
            path.strip_prefix(reserved)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        })
    }

    /// The event of a validated update, encoded once.
    fn event_of(update: &Update) -> Event {
        // Ids the hub makes are time-ordered UUIDs (version 7): a durable
        // history indexes them at the end of its id index instead of at
        // random places in it (several times fewer pages written per
        // commit), and they stay unique and unpredictable (74 random bits).
        let id: Arc<str> = match update.id() {
            Some(id) => Arc::from(id),
            None => Arc::from(uuid::Uuid::now_v7().urn().to_string()),
        };
        let frame = mercure_core::sse::encode_event(
            &id,
            update.event_type(),
            update.retry(),
            update.data(),
        );
        Event::new(id, Arc::from(update.topics()), update.is_private(), frame)
    }

    /// Stores and delivers a validated update; returns its id.
    pub(crate) async fn dispatch(&self, update: &Update) -> Result<EventId, Error> {
        let event = Self::event_of(update);
        let transport = &self.config.transport;
        if update.id().is_some()
            && let Some(held) = transport.find(event.id()).await?
            && held.topics() == event.topics()
            && held.is_private() == event.is_private()
            && held.frame() == event.frame()
        {
            // An exact retry of an update already stored: acknowledged,
            // not delivered twice.
            Counters::add(&self.counters.updates_deduplicated);
            return Ok(EventId::new(event.id().to_owned()));
        }
        let event = transport.append(event).await?;
        Counters::add(&self.counters.updates_published);
        tracing::debug!(id = %event.id(), cursor = %event.cursor(), topics = update.topics().len(), private = update.is_private(), "update published");
        Ok(EventId::new(event.id().to_owned()))
    }

    pub(crate) async fn subscribe(
        self: &Arc<Self>,
        request: SubscribeRequest,
        access: Access,
    ) -> Result<Subscription, Error> {
        if self.draining.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        if request.selectors.is_empty() {
            return Err(Error::InvalidSubscribe(
                "at least one topic selector is required".into(),
            ));
        }
        let dialect = request.dialect;
        self.matchers
            .check_subscription(&request.selectors, dialect)?;
        let selectors = request
            .selectors
            .into_iter()
            .map(|selector| {
                let kind = MatcherKind::of(&selector, dialect);
                let matcher = self.matchers.get(kind, selector.expression())?;
                Ok((selector, kind, matcher))
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let expires_in = match request.expires_at {
            Some(at) => Some(
                crate::time::until(at, self.config.clock.now())
                    .ok_or_else(|| Error::InvalidToken("the token has expired".into()))?,
            ),
            None => None,
        };
        let payloads: Vec<Option<serde_json::Value>> = if request.selector_payloads.is_empty() {
            vec![request.payload; selectors.len()]
        } else {
            request.selector_payloads
        };
        let start = match request.last_event_id.as_ref().map(EventId::as_str) {
            None => Start::Live,
            Some(mercure_core::EventId::EARLIEST) => Start::Earliest,
            Some(last) => match self.config.transport.find(last).await? {
                Some(event) => Start::After(event.cursor(), last.to_owned()),
                None => Start::Earliest,
            },
        };
        let id: Arc<str> = Arc::from(uuid::Uuid::new_v4().urn().to_string());
        let key = self.next_key.fetch_add(1, Ordering::Relaxed);
        let entry = Arc::new(SubscriberEntry::new(
            key,
            Arc::clone(&id),
            request.subject,
            dialect,
            selectors,
            access,
            payloads,
        ));
        let outbox = Arc::new(Outbox::new(
            self.config.queue_capacity,
            self.config.queue_bytes,
        ));
        let after = match &start {
            Start::After(cursor, _) => Some(*cursor),
            Start::Live | Start::Earliest => None,
        };
        // Reported before it is registered, so that its departure (only
        // ever reported once it is registered) comes after.
        let stored = self.config.transport.cluster().map(|cluster| {
            cluster.presence_changed(PresenceChange::Subscribed(entry.infos().collect()))
        });
        let registered = self
            .dispatcher
            .register(Arc::clone(&entry), Arc::clone(&outbox), after);
        let (replay, resumed_from) = match start {
            Start::Live => (
                None,
                registered
                    .newest
                    .map_or_else(|| "earliest".to_owned(), |id| id.to_string()),
            ),
            Start::Earliest => (Replay::new(None, registered.up_to), "earliest".to_owned()),
            Start::After(cursor, last) => (Replay::new(Some(cursor), registered.up_to), last),
        };
        self.counters
            .subscribers_connected
            .fetch_add(1, Ordering::Relaxed);
        Counters::add(&self.counters.subscribers_total);
        tracing::debug!(subscriber = %id, dialect = %dialect, resumed_from = %resumed_from, instance = self.config.transport.cluster().map(|c| c.instance()), "subscriber connected");
        let subscription = Subscription::new(
            Arc::clone(self),
            Arc::clone(&entry),
            outbox,
            replay,
            resumed_from,
            expires_in,
        );
        if self.draining.load(Ordering::Acquire) {
            // Registered while the hub began draining: refused like the
            // subscriptions after it (dropping it unregisters it).
            return Err(Error::Closed);
        }
        if self.config.subscriptions {
            // The other instances list it before its event is published.
            presence_stored(stored).await;
            self.announce(&entry, true).await;
        }
        Ok(subscription)
    }

    /// The registered subscribers.
    pub(crate) fn snapshot(&self) -> Vec<Arc<SubscriberEntry>> {
        self.dispatcher.snapshot()
    }

    /// Forgets a subscriber whose stream was dropped.
    pub(crate) fn unregister(self: &Arc<Self>, entry: &Arc<SubscriberEntry>) {
        self.dispatcher.unregister(entry.key);
        self.counters
            .subscribers_connected
            .fetch_sub(1, Ordering::Relaxed);
        tracing::debug!(subscriber = %entry.id, instance = self.config.transport.cluster().map(|c| c.instance()), "subscriber disconnected");
        let stored = self.config.transport.cluster().map(|cluster| {
            cluster.presence_changed(PresenceChange::Unsubscribed {
                subscriber: entry.id.to_string(),
                selectors: entry.selectors.len(),
            })
        });
        if self.config.subscriptions && !entry.announced_inactive.swap(true, Ordering::AcqRel) {
            let hub = Arc::clone(self);
            let entry = Arc::clone(entry);
            run_detached(async move {
                presence_stored(stored).await;
                hub.announce(&entry, false).await;
            });
        }
    }

    /// Publishes the subscription events of `entry`, when enabled. They are
    /// kept in history like any update, so that a client resuming from the
    /// subscriptions API's `lastEventID` misses none.
    async fn announce(&self, entry: &SubscriberEntry, active: bool) {
        if !self.config.subscriptions {
            return;
        }
        let hub_path = self.config.url.path();
        for (index, (selector, _, _)) in entry.selectors.iter().enumerate() {
            let payload = entry.payloads.get(index).and_then(Option::as_ref);
            let Some(update) = subscription_update(hub_path, entry, selector, payload, active)
            else {
                continue;
            };
            if let Err(error) = self.config.transport.append(Self::event_of(&update)).await {
                tracing::warn!(%error, "a subscription event could not be published");
            }
        }
    }
}

/// Waits until a presence change is visible to the other instances of
/// the cluster (a failure is logged: the subscription event goes out
/// anyway).
async fn presence_stored(stored: Option<crate::TransportFuture<'static, ()>>) {
    if let Some(stored) = stored
        && let Err(error) = stored.await
    {
        tracing::warn!(%error, "a subscriber's presence could not be stored for the cluster");
    }
}

/// Runs `task` to completion: on the current runtime, or at once when it
/// needs no waiting (outside any runtime, a task that would wait is
/// dropped with a warning).
fn run_detached(task: impl Future<Output = ()> + Send + 'static) {
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => {
            runtime.spawn(task);
        }
        Err(_) => {
            if futures_util::FutureExt::now_or_never(task).is_none() {
                tracing::warn!("a subscription event was dropped: no runtime to publish it on");
            }
        }
    }
}

fn subscription_update(
    hub_path: &str,
    entry: &SubscriberEntry,
    selector: &TopicSelector,
    payload: Option<&serde_json::Value>,
    active: bool,
) -> Option<Update> {
    let topic = subscription_topic(hub_path, entry.dialect, selector, &entry.id);
    let doc = subscription_document(
        hub_path,
        entry.dialect,
        selector,
        &entry.id,
        payload,
        active,
    );
    let data = with_context(entry.dialect, doc).to_string();
    let mut builder = Update::builder(topic).data(data).private(true);
    if entry.dialect == ProtocolVersion::V1 {
        builder = builder.event_type("mercure");
    }
    builder.build().ok()
}

/// `path` with its percent-encoded unreserved characters (ALPHA, DIGIT,
/// `-`, `.`, `_`, `~`) decoded, as RFC 3986 §6.2.2.2 normalizes them; other
/// escapes are left as they are.
fn decode_unreserved(path: &str) -> std::borrow::Cow<'_, str> {
    if !path.contains('%') {
        return std::borrow::Cow::Borrowed(path);
    }
    let bytes = path.as_bytes();
    let mut out = String::with_capacity(path.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = path.get(i + 1..i + 3)
            && let Ok(byte) = u8::from_str_radix(hex, 16)
            && (byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~'))
        {
            out.push(char::from(byte));
            i += 3;
            continue;
        }
        // `path` is a str and only ASCII escapes are consumed above, so
        // every other char is copied whole.
        let Some(c) = path[i..].chars().next() else {
            break;
        };
        out.push(c);
        i += c.len_utf8();
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreserved_escapes_are_decoded_and_others_kept() {
        for (path, expected) in [
            ("/a/b", "/a/b"),
            ("/.well-known/%6Dercure", "/.well-known/mercure"),
            ("/%2Ewell-known/%6d%65rcure/%7E", "/.well-known/mercure/~"),
            ("/a%2Fb/%20/%zz/%4", "/a%2Fb/%20/%zz/%4"),
            ("/%C3%A9/%41%", "/%C3%A9/A%"),
            ("/é%41", "/éA"),
        ] {
            assert_eq!(decode_unreserved(path), expected, "{path}");
        }
    }

    #[test]
    fn the_reserved_namespace_is_recognized_after_normalization() {
        for (hub_url, reserved, free) in [
            (
                "https://hub.example.com/.well-known/mercure",
                &[
                    "/.well-known/mercure",
                    "/.well-known/mercure/",
                    "/.well-known/mercure/subscriptions/exact/x/y",
                    "/.well-known/%6Dercure/subscriptions/y",
                    "/.well-known/%6dercure",
                    "/%2Ewell-known/mercure/x",
                    "https://elsewhere.example.org/.well-known/mercure/x",
                    "/.well-known/other/../mercure/x",
                    "/.well-known/mercure/%2E%2E/mercure/x",
                    "/.well-known/mercure?x=1",
                    "//other.example.org/.well-known/mercure/subscriptions",
                ][..],
                &[
                    "/.well-known/mercure-not-the-hub",
                    "/.well-known/Mercure/x",
                    "/.well-known/mercure/%2E%2E/x",
                    "/.well-known%2Fmercure/x",
                    "https://example.com/books/1",
                    "urn:uuid:1",
                    "t",
                ][..],
            ),
            (
                "https://hub.example.com/hub",
                &[
                    "/hub",
                    "/hub/subscriptions/x",
                    "/%68ub/x",
                    "/.well-known/mercure/x",
                ][..],
                &["/hubs", "/other/hub"][..],
            ),
            (
                "https://hub.example.com/",
                &["/subscriptions", "/subscriptions/x/y", "/%73ubscriptions/x"][..],
                &["/books/1", "/subscriptionsx"][..],
            ),
        ] {
            let hub = EmbeddedHub::new(crate::HubConfig::builder().url(hub_url).build().unwrap());
            for topic in reserved {
                assert!(hub.inner.is_reserved(topic), "{hub_url}: {topic}");
            }
            for topic in free {
                assert!(!hub.inner.is_reserved(topic), "{hub_url}: {topic}");
            }
        }
    }
}
