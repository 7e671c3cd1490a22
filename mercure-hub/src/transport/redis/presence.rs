//! The [`Cluster`] of a [`RedisTransport`](super::RedisTransport): each
//! instance's subscriptions in a hash of its own, kept alive by a
//! heartbeat, and commands on a pub/sub channel.
//!
//! # Keys
//!
//! With the stream key `K` and this instance's id `I`:
//! - `K:instances`, a sorted set: instance id → the time (ms, Redis's
//!   clock) its presence expires unless renewed. Live instances have a
//!   score in the future; the others are removed by the next heartbeat.
//! - `K:presence:I`, a hash: `<subscriber id>#<selector index>` → the
//!   subscription as JSON (`v` = 1, `subscriber`, `subject`, `dialect`
//!   0 or 1, `selector`, `match` (`exact` or `urlpattern`), `payload`).
//!   Its TTL is renewed with the heartbeat, so that a crashed instance's
//!   subscribers disappear once it runs out.
//! - `K:presence:I:resync`, a hash written while the whole presence is
//!   rewritten (at start, after an error, when the hash went missing),
//!   then renamed over `K:presence:I`.
//! - `K:control`, a pub/sub channel: commands as JSON (`v` = 1, `from`,
//!   `command`: `permission_changed` with `subject` and `topic`, or
//!   `close_subscriber` with `subscriber`).
//!
//! # Writing
//!
//! The hub queues each change (a subscriber came or went) and returns; a
//! task of the transport takes what is queued, folds it and writes it in
//! one `MULTI` (`HSET`, `HDEL`, `PEXPIRE`): one round trip per batch,
//! whatever the rate of changes, never on the publish path. A failed
//! write is followed by a full rewrite from the hubs' memory, which also
//! repairs a hash that Redis lost (restart without persistence, outage
//! longer than the TTL): the heartbeat notices it missing.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use ::redis::aio::PubSub;

use super::Commands;
use ::redis::{Client, Msg, RedisError, Script, Value};
use futures_util::StreamExt;
use mercure_core::{MatchType, ProtocolVersion, TopicSelector};
use serde::{Deserialize, Serialize};
use tokio::runtime::Handle;
use tokio::sync::{Notify, watch};

use super::{MAX_BACKOFF, MIN_BACKOFF, OUTAGE_REMINDER, bytes_of, protocol_error, query};
use crate::SubscriptionInfo;
use crate::cluster::{Cluster, ClusterCommand, ClusterSubscriptions, Member, PresenceChange};
use crate::transport::{TransportError, TransportFuture};

/// The format of a stored subscription and of a command.
const FORMAT: u8 = 1;
/// Changes queued before they are dropped for a full rewrite.
const MAX_PENDING: usize = 100_000;
/// Fields per `HSET`/`HDEL` command.
const FIELDS_PER_COMMAND: usize = 500;
/// Fields one `HSCAN` step asks for.
const SCAN_STEP: usize = 1000;
/// How often the control connection is checked with a `PING`.
const CONTROL_PING: Duration = Duration::from_secs(5);

/// Renews this instance's presence: its entry in the instances set and
/// its hash's TTL; forgets the instances whose presence expired. KEYS:
/// instances, hash. ARGV: instance, ttl (ms). Returns 1 when the hash
/// exists, 0 when it does not.
static HEARTBEAT: std::sync::LazyLock<Script> = std::sync::LazyLock::new(|| {
    Script::new(
        r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. string.format('%.0f', now))
redis.call('ZADD', KEYS[1], string.format('%.0f', now + tonumber(ARGV[2])), ARGV[1])
return redis.call('PEXPIRE', KEYS[2], ARGV[2])
",
    )
});

/// The live instances. KEYS: instances. Returns their ids.
static LIVE: std::sync::LazyLock<Script> = std::sync::LazyLock::new(|| {
    Script::new(
        r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZRANGEBYSCORE', KEYS[1], string.format('%.0f', now), '+inf')
",
    )
});

/// The keys of the cluster.
#[derive(Debug, Clone)]
pub(super) struct ClusterKeys {
    pub(super) instances: Arc<str>,
    /// `K:presence:`, followed by an instance id.
    presence_prefix: Arc<str>,
    /// This instance's hash.
    hash: Arc<str>,
    resync: Arc<str>,
    pub(super) control: Arc<str>,
}

impl ClusterKeys {
    pub(super) fn new(key: &str, instance: &str) -> Self {
        let presence_prefix: Arc<str> = Arc::from(format!("{key}:presence:"));
        Self {
            instances: Arc::from(format!("{key}:instances")),
            hash: Arc::from(format!("{presence_prefix}{instance}")),
            resync: Arc::from(format!("{presence_prefix}{instance}:resync")),
            presence_prefix,
            control: Arc::from(format!("{key}:control")),
        }
    }

    fn hash_of(&self, instance: &str) -> String {
        format!("{}{instance}", self.presence_prefix)
    }
}

/// The cluster of one [`RedisTransport`](super::RedisTransport).
pub(super) struct RedisCluster {
    pub(super) shared: Arc<Shared>,
}

/// What the cluster's tasks and methods share.
pub(super) struct Shared {
    pub(super) instance: Arc<str>,
    pub(super) keys: ClusterKeys,
    manager: Commands,
    members: Mutex<Vec<Member>>,
    pending: Mutex<Pending>,
    wake: Notify,
    /// How far the changes are stored.
    flushed: watch::Sender<Flushed>,
    ttl: Duration,
    limit: usize,
    timeout: Duration,
    shown: Arc<str>,
    runtime: Handle,
}

/// How far the changes are stored.
#[derive(Debug, Clone, Copy, Default)]
struct Flushed {
    /// The sequence number of the last change stored.
    done: u64,
    /// The last attempt to store failed (Redis is unreachable): the
    /// changes queued meanwhile are not waited for.
    failing: bool,
}

#[derive(Default)]
struct Pending {
    changes: Vec<PresenceChange>,
    /// The sequence number of the last change queued.
    queued: u64,
    /// Changes were dropped: the whole presence must be rewritten.
    overflowed: bool,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The settings of a cluster.
pub(super) struct Settings {
    pub(super) instance: Arc<str>,
    pub(super) key: Arc<str>,
    pub(super) ttl: Duration,
    pub(super) limit: usize,
    pub(super) timeout: Duration,
    pub(super) shown: Arc<str>,
    pub(super) runtime: Handle,
}

impl RedisCluster {
    pub(super) fn new(settings: Settings, manager: Commands) -> Self {
        let keys = ClusterKeys::new(&settings.key, &settings.instance);
        Self {
            shared: Arc::new(Shared {
                instance: settings.instance,
                keys,
                manager,
                members: Mutex::default(),
                pending: Mutex::default(),
                wake: Notify::new(),
                flushed: watch::Sender::new(Flushed::default()),
                ttl: settings.ttl,
                limit: settings.limit,
                timeout: settings.timeout,
                shown: settings.shown,
                runtime: settings.runtime,
            }),
        }
    }
}

impl fmt::Debug for RedisCluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisCluster")
            .field("instance", &self.shared.instance)
            .finish_non_exhaustive()
    }
}

impl Cluster for RedisCluster {
    fn instance(&self) -> &str {
        &self.shared.instance
    }

    fn join(&self, member: Member) {
        let mut members = lock(&self.shared.members);
        members.retain(|m| !m.is_gone());
        members.push(member);
    }

    fn presence_changed(&self, change: PresenceChange) -> TransportFuture<'static, ()> {
        let seq = {
            let mut pending = lock(&self.shared.pending);
            pending.queued += 1;
            if pending.overflowed {
                // The rewrite to come covers it.
            } else if pending.changes.len() >= MAX_PENDING {
                pending.changes = Vec::new();
                pending.overflowed = true;
            } else {
                pending.changes.push(change);
            }
            pending.queued
        };
        self.shared.wake.notify_one();
        let mut flushed = self.shared.flushed.subscribe();
        let limit = self.shared.timeout;
        let shown = Arc::clone(&self.shared.shown);
        on_runtime(&self.shared.runtime, async move {
            let waited = flushed.wait_for(|state| state.done >= seq || state.failing);
            match tokio::time::timeout(limit, waited).await {
                Ok(Ok(state)) if state.done >= seq => Ok(()),
                Ok(Ok(_)) => Err(TransportError::new(format!(
                    "storing a subscriber's presence failed: Redis at {shown} is unreachable"
                ))),
                Ok(Err(_)) => Err(TransportError::new("the transport was dropped")),
                Err(_) => Err(TransportError::new(format!(
                    "storing a subscriber's presence failed: Redis at {shown} did not store it \
                     within {limit:?}"
                ))),
            }
        })
    }

    fn subscriptions(&self) -> TransportFuture<'_, ClusterSubscriptions> {
        let shared = Arc::clone(&self.shared);
        on_runtime(&self.shared.runtime, async move {
            let mut listed = ClusterSubscriptions::default();
            for member in shared.members() {
                for mut info in member.subscriptions() {
                    if listed.subscriptions.len() >= shared.limit {
                        listed.truncated = true;
                        break;
                    }
                    info.instance = Some(shared.instance.to_string());
                    listed.subscriptions.push(info);
                }
            }
            let remaining = shared.limit - listed.subscriptions.len();
            let limit = shared.timeout * 4;
            let reader = Arc::clone(&shared);
            let (remote, truncated) = bounded(
                limit,
                "listing the cluster's subscriptions",
                &shared.shown,
                async move { reader.read_remote(remaining).await },
            )
            .await?;
            listed.subscriptions.extend(remote);
            listed.truncated |= truncated;
            Ok(listed)
        })
    }

    fn broadcast(&self, command: ClusterCommand) -> TransportFuture<'_, usize> {
        let shared = Arc::clone(&self.shared);
        on_runtime(&self.shared.runtime, async move {
            let closed = shared.apply(&command);
            if matches!(command, ClusterCommand::CloseSubscriber { .. }) && closed > 0 {
                // Subscriber ids are unique: it was this instance's.
                return Ok(closed);
            }
            let message = encode_command(&shared.instance, &command)
                .map_err(|e| TransportError::with_source("cannot encode the command", e))?;
            let mut manager = shared.manager.clone();
            let channel = Arc::clone(&shared.keys.control);
            bounded(
                shared.timeout,
                "sending a command to the cluster",
                &shared.shown,
                async move {
                    query(
                        &mut manager,
                        ::redis::cmd("PUBLISH").arg(&*channel).arg(message),
                    )
                    .await
                },
            )
            .await?;
            tracing::debug!(instance = %shared.instance, ?command, closed, "command sent to the cluster");
            Ok(closed)
        })
    }
}

impl Shared {
    fn members(&self) -> Vec<Member> {
        let mut members = lock(&self.members);
        members.retain(|m| !m.is_gone());
        members.clone()
    }

    /// Applies `command` to the members; returns how many subscribers
    /// were closed.
    fn apply(&self, command: &ClusterCommand) -> usize {
        self.members().iter().map(|m| m.apply(command)).sum()
    }

    fn ttl_ms(&self) -> u64 {
        u64::try_from(self.ttl.as_millis())
            .unwrap_or(u64::MAX)
            .max(1)
    }

    /// How often the presence is renewed: a third of its TTL.
    fn heartbeat(&self) -> Duration {
        (self.ttl / 3).max(Duration::from_millis(10))
    }

    /// The changes queued, the sequence number of the last, and whether
    /// some were dropped.
    fn take(&self) -> (Vec<PresenceChange>, u64, bool) {
        let mut pending = lock(&self.pending);
        let overflowed = std::mem::take(&mut pending.overflowed);
        (
            std::mem::take(&mut pending.changes),
            pending.queued,
            overflowed,
        )
    }

    /// Writes `changes` (after the whole presence, when `full`) and, when
    /// `beat`, renews the presence. Returns true when the hash turned out
    /// to be missing although the members have subscribers (it must be
    /// rewritten).
    async fn flush(
        &self,
        changes: Vec<PresenceChange>,
        full: bool,
        beat: bool,
    ) -> Result<bool, RedisError> {
        let mut manager = self.manager.clone();
        let ttl_ms = self.ttl_ms();
        let mut transaction = ::redis::pipe();
        transaction.atomic();
        if full {
            let fields: Vec<(String, String)> = self
                .members()
                .iter()
                .flat_map(|member| encode_subscriptions(&member.subscriptions()))
                .collect();
            if fields.is_empty() {
                transaction.del(&*self.keys.hash).ignore();
            } else {
                let mut writes = ::redis::pipe();
                writes.del(&*self.keys.resync).ignore();
                for chunk in fields.chunks(FIELDS_PER_COMMAND) {
                    writes.hset_multiple(&*self.keys.resync, chunk).ignore();
                }
                writes
                    .pexpire(
                        &*self.keys.resync,
                        i64::try_from(ttl_ms).unwrap_or(i64::MAX),
                    )
                    .ignore();
                writes.query_async::<()>(&mut manager).await?;
                transaction
                    .rename(&*self.keys.resync, &*self.keys.hash)
                    .ignore();
            }
        }
        let mut folded: BTreeMap<String, Option<String>> = BTreeMap::new();
        for change in changes {
            match change {
                PresenceChange::Subscribed(infos) => {
                    for (field, value) in encode_subscriptions(&infos) {
                        folded.insert(field, Some(value));
                    }
                }
                PresenceChange::Unsubscribed {
                    subscriber,
                    selectors,
                } => {
                    for index in 0..selectors {
                        folded.insert(field(&subscriber, index), None);
                    }
                }
            }
        }
        let (sets, deletes): (Vec<_>, Vec<_>) =
            folded.into_iter().partition(|(_, value)| value.is_some());
        let sets: Vec<(String, String)> = sets
            .into_iter()
            .filter_map(|(field, value)| value.map(|value| (field, value)))
            .collect();
        let deletes: Vec<String> = deletes.into_iter().map(|(field, _)| field).collect();
        for chunk in sets.chunks(FIELDS_PER_COMMAND) {
            transaction.hset_multiple(&*self.keys.hash, chunk).ignore();
        }
        for chunk in deletes.chunks(FIELDS_PER_COMMAND) {
            transaction.hdel(&*self.keys.hash, chunk).ignore();
        }
        if full || !sets.is_empty() || !deletes.is_empty() {
            transaction
                .pexpire(&*self.keys.hash, i64::try_from(ttl_ms).unwrap_or(i64::MAX))
                .ignore();
            transaction.query_async::<()>(&mut manager).await?;
        }
        if !(beat || full) {
            return Ok(false);
        }
        let exists: i64 = HEARTBEAT
            .key(&*self.keys.instances)
            .key(&*self.keys.hash)
            .arg(&*self.instance)
            .arg(ttl_ms)
            .invoke_async(&mut manager)
            .await?;
        Ok(exists == 0 && self.members().iter().any(Member::has_subscribers))
    }

    /// The subscriptions of the other live instances, at most `limit`;
    /// and whether some were left out.
    async fn read_remote(&self, limit: usize) -> Result<(Vec<SubscriptionInfo>, bool), RedisError> {
        let mut manager = self.manager.clone();
        let live: Value = LIVE
            .key(&*self.keys.instances)
            .invoke_async(&mut manager)
            .await?;
        let mut instances: Vec<String> = match live {
            Value::Array(items) | Value::Set(items) => items
                .iter()
                .filter_map(|item| bytes_of(item).map(|b| String::from_utf8_lossy(b).into_owned()))
                .filter(|id| **id != *self.instance)
                .collect(),
            Value::Nil => Vec::new(),
            other => {
                return Err(protocol_error(format!(
                    "expected the live instances, got {other:?}"
                )));
            }
        };
        instances.sort();
        if instances.is_empty() {
            return Ok((Vec::new(), false));
        }
        let mut lengths = ::redis::pipe();
        for instance in &instances {
            lengths.hlen(self.keys.hash_of(instance));
        }
        let lengths: Vec<u64> = lengths.query_async(&mut manager).await?;
        let mut listed = Vec::new();
        let mut truncated = false;
        for (instance, length) in instances.iter().zip(lengths) {
            if length == 0 {
                continue;
            }
            let remaining = limit - listed.len();
            if remaining == 0 {
                truncated = true;
                break;
            }
            let hash = self.keys.hash_of(instance);
            let mut pairs = if usize::try_from(length).is_ok_and(|n| n <= remaining) {
                let all = query(&mut manager, ::redis::cmd("HGETALL").arg(&hash)).await?;
                field_pairs(all).map_err(protocol_error)?
            } else {
                truncated = true;
                let mut pairs = Vec::new();
                let mut cursor = "0".to_owned();
                loop {
                    let step = query(
                        &mut manager,
                        ::redis::cmd("HSCAN")
                            .arg(&hash)
                            .arg(&cursor)
                            .arg("COUNT")
                            .arg(SCAN_STEP),
                    )
                    .await?;
                    let (next, found) = scan_step(step).map_err(protocol_error)?;
                    pairs.extend(found);
                    cursor = next;
                    if cursor == "0" || pairs.len() >= remaining {
                        break;
                    }
                }
                pairs
            };
            pairs.sort_by(|(a, _), (b, _)| field_order(a).cmp(&field_order(b)));
            if pairs.len() > remaining {
                truncated = true;
                pairs.truncate(remaining);
            }
            for (field, value) in pairs {
                match decode_subscription(&value, instance) {
                    Ok(info) => listed.push(info),
                    Err(why) => tracing::warn!(
                        redis = %self.shown,
                        %instance,
                        field = %String::from_utf8_lossy(&field),
                        "skipping a stored subscription that cannot be read: {why}"
                    ),
                }
            }
        }
        Ok((listed, truncated))
    }

    /// Applies a command another instance sent.
    fn receive(&self, message: &Msg) {
        let command = match decode_command(message.get_payload_bytes()) {
            Ok((from, _)) if *from == *self.instance => return,
            Ok((from, command)) => (from, command),
            Err(why) => {
                tracing::warn!(
                    redis = %self.shown,
                    channel = %self.keys.control,
                    "skipping a control message that cannot be read: {why}"
                );
                return;
            }
        };
        let (from, command) = command;
        let closed = self.apply(&command);
        tracing::debug!(instance = %self.instance, %from, ?command, closed, "applied a command of the cluster");
    }

    /// Stops waiting for presence changes to be stored: the task storing
    /// them was stopped, and the instance's presence is being removed.
    pub(super) fn stopped(&self) {
        self.flushed.send_modify(|state| state.done = u64::MAX);
    }

    /// Forgets this instance's presence (a clean stop).
    pub(super) async fn leave(&self) -> Result<(), RedisError> {
        let mut manager = self.manager.clone();
        ::redis::pipe()
            .atomic()
            .del(&*self.keys.hash)
            .ignore()
            .zrem(&*self.keys.instances, &*self.instance)
            .ignore()
            .query_async::<()>(&mut manager)
            .await
    }
}

/// Keeps this instance's presence in Redis: writes the changes the hubs
/// queue, renews the presence every third of its TTL, rewrites it all
/// after a failure.
pub(super) async fn keep_presence(shared: Arc<Shared>) {
    let mut heartbeat = tokio::time::interval(shared.heartbeat());
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first run registers the instance and clears what a previous
    // process with the same id left.
    let mut full = true;
    let mut beat = true;
    let mut backoff = MIN_BACKOFF;
    // Since when, and when last said.
    let mut outage: Option<(Instant, Instant)> = None;
    loop {
        let (changes, queued, overflowed) = shared.take();
        if full || beat || overflowed || !changes.is_empty() {
            let full_run = full || overflowed;
            let limit = if full_run {
                shared.timeout * 4
            } else {
                shared.timeout
            };
            match tokio::time::timeout(limit, shared.flush(changes, full_run, beat)).await {
                Ok(Ok(missing)) => {
                    shared.flushed.send_if_modified(|state| {
                        let changed = queued > state.done || state.failing;
                        state.done = state.done.max(queued);
                        state.failing = false;
                        changed
                    });
                    if let Some((since, _)) = outage.take() {
                        tracing::info!(
                            redis = %shared.shown,
                            instance = %shared.instance,
                            down_ms = since.elapsed().as_millis(),
                            "storing this instance's presence again"
                        );
                    }
                    backoff = MIN_BACKOFF;
                    beat = false;
                    full = missing;
                    if missing {
                        tracing::info!(
                            redis = %shared.shown,
                            instance = %shared.instance,
                            "this instance's presence was missing from Redis: rewriting it"
                        );
                    }
                    continue;
                }
                failed => {
                    let error = match failed {
                        Ok(Err(error)) => error.to_string(),
                        _ => format!("no answer within {limit:?}"),
                    };
                    let now = Instant::now();
                    match &mut outage {
                        None => {
                            tracing::warn!(
                                redis = %shared.shown,
                                instance = %shared.instance,
                                %error,
                                "cannot store this instance's presence; the other instances \
                                 list its subscribers as last stored until it expires (retrying)"
                            );
                            outage = Some((now, now));
                        }
                        Some((since, said)) if now.duration_since(*said) >= OUTAGE_REMINDER => {
                            tracing::warn!(
                                redis = %shared.shown,
                                instance = %shared.instance,
                                %error,
                                down_s = since.elapsed().as_secs(),
                                "still cannot store this instance's presence (retrying)"
                            );
                            *said = now;
                        }
                        Some(_) => {}
                    }
                    shared.flushed.send_if_modified(|state| {
                        let changed = !state.failing;
                        state.failing = true;
                        changed
                    });
                    full = true;
                    beat = true;
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    continue;
                }
            }
        }
        tokio::select! {
            () = shared.wake.notified() => {}
            _ = heartbeat.tick() => beat = true,
        }
    }
}

/// Subscribes to the control channel.
pub(super) async fn control_connection(
    client: &Client,
    channel: &str,
    limit: Duration,
) -> Result<PubSub, RedisError> {
    let subscribed = tokio::time::timeout(limit, async {
        let mut pubsub = client.get_async_pubsub().await?;
        pubsub.subscribe(channel).await?;
        Ok::<_, RedisError>(pubsub)
    })
    .await;
    match subscribed {
        Ok(result) => result,
        Err(_) => Err(RedisError::from((
            ::redis::ErrorKind::Io,
            "no answer from Redis",
            format!("subscribing to {channel} took longer than {limit:?}"),
        ))),
    }
}

/// Applies the commands of the other instances, from the control
/// channel; resubscribes after an outage (commands sent meanwhile are
/// missed).
pub(super) async fn follow_commands(shared: Arc<Shared>, client: Client, first: PubSub) {
    let mut connection = Some(first);
    let mut backoff = MIN_BACKOFF;
    let mut lost: Option<Instant> = None;
    loop {
        let pubsub = match connection.take() {
            Some(pubsub) => pubsub,
            None => match control_connection(&client, &shared.keys.control, shared.timeout).await {
                Ok(pubsub) => pubsub,
                Err(error) => {
                    if lost.is_none() {
                        lost = Some(Instant::now());
                    }
                    tracing::debug!(redis = %shared.shown, %error, "cannot subscribe to the control channel (retrying)");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    continue;
                }
            },
        };
        if let Some(since) = lost.take() {
            tracing::info!(
                redis = %shared.shown,
                instance = %shared.instance,
                down_ms = since.elapsed().as_millis(),
                "following the cluster's commands again"
            );
        }
        backoff = MIN_BACKOFF;
        let (mut sink, mut messages) = pubsub.split();
        let mut ping = tokio::time::interval(CONTROL_PING);
        ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ping.tick().await;
        loop {
            tokio::select! {
                message = messages.next() => match message {
                    Some(message) => shared.receive(&message),
                    None => break,
                },
                _ = ping.tick() => {
                    let answered = tokio::time::timeout(shared.timeout, sink.ping::<Value>()).await;
                    if !matches!(answered, Ok(Ok(_))) {
                        break;
                    }
                }
            }
        }
        tracing::warn!(
            redis = %shared.shown,
            instance = %shared.instance,
            channel = %shared.keys.control,
            "lost the cluster's control channel; commands other instances send until it is \
             back do not reach this instance's subscribers (reconnecting)"
        );
        lost = Some(Instant::now());
    }
}

/// Runs `operation` within `limit`, its error described by `what`.
pub(super) async fn bounded<T>(
    limit: Duration,
    what: &str,
    shown: &str,
    operation: impl Future<Output = Result<T, RedisError>>,
) -> Result<T, TransportError> {
    match tokio::time::timeout(limit, operation).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(TransportError::with_source(
            format!("{what} failed (Redis at {shown})"),
            error,
        )),
        Err(_) => Err(TransportError::new(format!(
            "{what} failed: Redis at {shown} did not answer within {limit:?}"
        ))),
    }
}

/// `task` as a transport future: run where it is polled when that is in
/// a tokio runtime, on `runtime` otherwise.
pub(super) fn on_runtime<T: Send + 'static>(
    runtime: &Handle,
    task: impl Future<Output = Result<T, TransportError>> + Send + 'static,
) -> TransportFuture<'static, T> {
    if Handle::try_current().is_ok() {
        Box::pin(task)
    } else {
        let task = runtime.spawn(task);
        Box::pin(async move {
            task.await
                .map_err(|e| TransportError::with_source("the Redis task failed", e))?
        })
    }
}

/// The hash field of a subscriber's subscription.
fn field(subscriber: &str, index: usize) -> String {
    format!("{subscriber}#{index}")
}

/// The order of fields: by subscriber, then selector index.
fn field_order(field: &[u8]) -> (&[u8], u64) {
    let at = field.iter().rposition(|&b| b == b'#');
    match at {
        Some(at) => (
            &field[..at],
            std::str::from_utf8(&field[at + 1..])
                .ok()
                .and_then(|n| n.parse().ok())
                .unwrap_or(u64::MAX),
        ),
        None => (field, u64::MAX),
    }
}

/// A subscription as stored.
#[derive(Serialize)]
struct Stored<'a> {
    v: u8,
    subscriber: &'a str,
    subject: Option<&'a str>,
    dialect: u8,
    selector: &'a str,
    #[serde(rename = "match")]
    match_type: MatchType,
    payload: Option<&'a serde_json::Value>,
}

/// A subscription as read.
#[derive(Deserialize)]
struct Read {
    v: u8,
    subscriber: String,
    subject: Option<String>,
    dialect: u8,
    selector: String,
    #[serde(rename = "match")]
    match_type: MatchType,
    payload: Option<serde_json::Value>,
}

/// The fields and values of subscriptions: those of a subscriber follow
/// each other, in the order of its selectors.
fn encode_subscriptions(infos: &[SubscriptionInfo]) -> Vec<(String, String)> {
    let mut previous: Option<&str> = None;
    let mut index = 0;
    infos
        .iter()
        .filter_map(|info| {
            if previous == Some(info.subscriber.as_str()) {
                index += 1;
            } else {
                previous = Some(&info.subscriber);
                index = 0;
            }
            let stored = Stored {
                v: FORMAT,
                subscriber: &info.subscriber,
                subject: info.subject.as_deref(),
                dialect: match info.dialect {
                    ProtocolVersion::V0 => 0,
                    ProtocolVersion::V1 => 1,
                },
                selector: info.selector.expression(),
                match_type: info.selector.match_type(),
                payload: info.payload.as_ref(),
            };
            // Strings and JSON values always encode.
            let value = serde_json::to_string(&stored).ok()?;
            Some((field(&info.subscriber, index), value))
        })
        .collect()
}

fn decode_subscription(value: &[u8], instance: &str) -> Result<SubscriptionInfo, String> {
    let read: Read = serde_json::from_slice(value).map_err(|e| e.to_string())?;
    if read.v != FORMAT {
        return Err(format!(
            "format {}, this version reads format {FORMAT}",
            read.v
        ));
    }
    let dialect = match read.dialect {
        0 => ProtocolVersion::V0,
        1 => ProtocolVersion::V1,
        other => return Err(format!("unknown dialect {other}")),
    };
    let selector = match read.match_type {
        MatchType::Exact => TopicSelector::exact(read.selector),
        MatchType::Pattern => TopicSelector::pattern(read.selector),
    };
    Ok(SubscriptionInfo {
        subscriber: read.subscriber,
        subject: read.subject,
        dialect,
        selector,
        payload: read.payload,
        instance: Some(instance.to_owned()),
    })
}

/// A command as sent.
#[derive(Serialize, Deserialize)]
struct Message {
    v: u8,
    from: String,
    #[serde(flatten)]
    command: WireCommand,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
enum WireCommand {
    PermissionChanged { subject: String, topic: String },
    CloseSubscriber { subscriber: String },
}

fn encode_command(from: &str, command: &ClusterCommand) -> Result<String, serde_json::Error> {
    let command = match command {
        ClusterCommand::PermissionChanged { subject, topic } => WireCommand::PermissionChanged {
            subject: subject.clone(),
            topic: topic.clone(),
        },
        ClusterCommand::CloseSubscriber { subscriber } => WireCommand::CloseSubscriber {
            subscriber: subscriber.clone(),
        },
    };
    serde_json::to_string(&Message {
        v: FORMAT,
        from: from.to_owned(),
        command,
    })
}

/// The sender and the command of a control message.
fn decode_command(payload: &[u8]) -> Result<(String, ClusterCommand), String> {
    let message: Message = serde_json::from_slice(payload).map_err(|e| e.to_string())?;
    if message.v != FORMAT {
        return Err(format!(
            "format {}, this version reads format {FORMAT}",
            message.v
        ));
    }
    let command = match message.command {
        WireCommand::PermissionChanged { subject, topic } => {
            ClusterCommand::PermissionChanged { subject, topic }
        }
        WireCommand::CloseSubscriber { subscriber } => {
            ClusterCommand::CloseSubscriber { subscriber }
        }
    };
    Ok((message.from, command))
}

/// A hash field and its value.
type Pair = (Vec<u8>, Vec<u8>);

/// The field-value pairs of an `HGETALL` answer (a flat array in RESP2,
/// a map in RESP3).
fn field_pairs(value: Value) -> Result<Vec<Pair>, String> {
    let pairs: Vec<(Value, Value)> = match value {
        Value::Nil => return Ok(Vec::new()),
        Value::Map(pairs) => pairs,
        Value::Array(flat) => {
            if flat.len() % 2 != 0 {
                return Err("an odd number of hash fields and values".to_owned());
            }
            let mut flat = flat.into_iter();
            let mut pairs = Vec::new();
            while let (Some(field), Some(value)) = (flat.next(), flat.next()) {
                pairs.push((field, value));
            }
            pairs
        }
        other => return Err(format!("expected hash fields, got {other:?}")),
    };
    pairs
        .into_iter()
        .map(
            |(field, value)| match (bytes_of(&field), bytes_of(&value)) {
                (Some(field), Some(value)) => Ok((field.to_vec(), value.to_vec())),
                _ => Err("a hash field or value is not a string".to_owned()),
            },
        )
        .collect()
}

/// The next cursor and the pairs of an `HSCAN` answer.
fn scan_step(value: Value) -> Result<(String, Vec<Pair>), String> {
    let Value::Array(parts) = value else {
        return Err(format!("expected an HSCAN answer, got {value:?}"));
    };
    let mut parts = parts.into_iter();
    let (Some(cursor), Some(found), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err("an HSCAN answer is not a cursor and fields".to_owned());
    };
    let cursor = bytes_of(&cursor)
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .ok_or("the HSCAN cursor is not a string")?;
    Ok((cursor, field_pairs(found)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscriptions_and_commands_survive_their_encoding() {
        let info = SubscriptionInfo {
            subscriber: "urn:uuid:1".to_owned(),
            subject: Some("alice".to_owned()),
            dialect: ProtocolVersion::V1,
            selector: TopicSelector::pattern("https://example.com/books/:id"),
            payload: Some(serde_json::json!({"user": 42})),
            instance: None,
        };
        let plain = SubscriptionInfo {
            subscriber: "urn:uuid:1".to_owned(),
            subject: None,
            dialect: ProtocolVersion::V0,
            selector: TopicSelector::exact("t"),
            payload: None,
            instance: None,
        };
        let other = SubscriptionInfo {
            subscriber: "urn:uuid:2".to_owned(),
            ..plain.clone()
        };
        let encoded = encode_subscriptions(&[info.clone(), plain.clone(), other]);
        let fields: Vec<&str> = encoded.iter().map(|(field, _)| field.as_str()).collect();
        assert_eq!(fields, ["urn:uuid:1#0", "urn:uuid:1#1", "urn:uuid:2#0"]);
        for ((_, value), expected) in encoded.iter().zip([info, plain]) {
            let decoded = decode_subscription(value.as_bytes(), "i").unwrap();
            assert_eq!(
                decoded,
                SubscriptionInfo {
                    instance: Some("i".to_owned()),
                    ..expected
                }
            );
        }
        assert!(decode_subscription(b"{\"v\":2}", "i").is_err());

        for command in [
            ClusterCommand::PermissionChanged {
                subject: "alice".to_owned(),
                topic: "https://example.com/a".to_owned(),
            },
            ClusterCommand::CloseSubscriber {
                subscriber: "urn:uuid:2".to_owned(),
            },
        ] {
            let text = encode_command("me", &command).unwrap();
            assert_eq!(
                decode_command(text.as_bytes()).unwrap(),
                ("me".to_owned(), command)
            );
        }
        assert!(decode_command(b"{\"v\":1,\"from\":\"x\",\"command\":\"reboot\"}").is_err());
    }

    #[test]
    fn fields_sort_by_subscriber_then_index() {
        let mut fields = [b"b#0".as_slice(), b"a#10", b"a#2", b"a#0"];
        fields.sort_by(|a, b| field_order(a).cmp(&field_order(b)));
        assert_eq!(fields, [b"a#0".as_slice(), b"a#2", b"a#10", b"b#0"]);
    }
}
