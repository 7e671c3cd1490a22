//! A history shared by several hubs in [Redis](https://redis.io): one
//! Redis Stream holds the hub-wide order.
//!
//! # Wire format
//!
//! With the stream key `K` (default `mercure`):
//! - `K`, a stream: one entry per event, its entry id (`ms-seq`) being the
//!   event's [`Cursor`], packed as `(ms << 20) | seq` (an entry whose
//!   `seq` reaches 2^20 is refused). Each entry has the fields `v` (`1`,
//!   the format), `id` (the event id, UTF-8), `topics` (a JSON array of
//!   strings, the canonical topic first), `private` (`0` or `1`) and
//!   `frame` (the encoded server-sent event, bytes).
//! - `K:ids`, a hash: event id → the stream id of the earliest entry held
//!   with that id.
//!
//! # Appending and delivering
//!
//! An append is one round trip: a Lua script adds the entry (`XADD` with
//! `MAXLEN ~`, Redis giving the id) and records its id in the index
//! (`HSETNX`: the earliest wins, unless the entry it names was trimmed).
//! The append resolves once Redis answered; it pushes nothing itself. One
//! reader task per transport reads the stream (`XREAD BLOCK` on a
//! connection of its own) and pushes every entry, appended by any hub, to
//! the feeds in stream order, then delivers: every hub sees the same
//! order, each event once, and only once Redis holds it. The reader
//! resumes after the last entry it delivered when the connection comes
//! back.
//!
//! # Cluster
//!
//! The hubs sharing a stream are the instances of a cluster: each lists
//! the others' subscribers and sends them commands (see
//! [`Cluster`](crate::Cluster)). Their keys and formats are described in
//! `transport/redis/presence.rs`.
//!
//! # Trimming
//!
//! `MAXLEN ~` keeps about `max_events` entries (Redis trims whole nodes of
//! its radix tree, 100 entries each by default). A maintenance task trims
//! entries older than `max_age` (`XTRIM MINID ~`, the newest entry is
//! kept) and forgets the index entries of trimmed events (`HSCAN` in
//! batches), a bounded amount of work per run.

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use ::redis::aio::MultiplexedConnection;
use ::redis::{
    AsyncConnectionConfig, Client, ErrorKind, IntoConnectionInfo, ProtocolVersion, RedisError,
    Script, Value,
};
use bytes::Bytes;
use tokio::runtime::Handle;
use tokio::task::JoinHandle;

use super::{Feed, Page, Transport, TransportError, TransportFuture};
use crate::event::{Cursor, Event};

mod commands;
mod presence;

use commands::Commands;

/// The format of an entry (its `v` field).
const FORMAT: &str = "1";
/// Bits of a cursor holding an entry id's sequence number.
const SEQ_BITS: u32 = 20;
/// The first sequence number that does not fit a cursor.
const SEQ_LIMIT: u64 = 1 << SEQ_BITS;
/// The first millisecond time that does not fit a cursor.
const MS_LIMIT: u64 = 1 << (64 - SEQ_BITS);
/// Most entries one `XREAD` returns.
const READ_COUNT: usize = 256;
/// How long one `XREAD` blocks waiting for entries.
const READ_BLOCK: Duration = Duration::from_secs(2);
/// How much longer than [`READ_BLOCK`] the reader waits for an answer
/// before it takes the connection for dead.
const READ_GRACE: Duration = Duration::from_secs(3);
/// The reader's first wait before reconnecting, doubled up to
/// [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(1);
/// How often the reader repeats, during an outage, that Redis is still
/// unreachable.
const OUTAGE_REMINDER: Duration = Duration::from_secs(30);
/// Index entries one step of the index cleanup looks at (`HSCAN COUNT`).
const CLEANUP_STEP: u64 = 500;
/// Index entries one maintenance run looks at, at least (more for a large
/// index: an eighth of it).
const CLEANUP_BUDGET: u64 = 10_000;
/// The oldest Redis this works with: exclusive ranges and `MINID` came
/// with 6.2.
const MIN_VERSION: (u64, u64) = (6, 2);

/// Adds an entry and indexes its id. KEYS: stream, index. ARGV: max
/// events, id, topics, private, frame. Returns the entry id.
static APPEND: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local sid = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*',
  'v', '1', 'id', ARGV[2], 'topics', ARGV[3], 'private', ARGV[4], 'frame', ARGV[5])
local ms, seq = string.match(sid, '^(%d+)-(%d+)$')
if tonumber(seq) >= 1048576 or tonumber(ms) >= 17592186044416 then
  redis.call('XDEL', KEYS[1], sid)
  return redis.error_reply('ERR the stream id ' .. sid .. ' does not fit a mercure cursor')
end
if redis.call('HSETNX', KEYS[2], ARGV[2], sid) == 0 then
  local held = redis.call('HGET', KEYS[2], ARGV[2])
  if #redis.call('XRANGE', KEYS[1], held, held) == 0 then
    redis.call('HSET', KEYS[2], ARGV[2], sid)
  end
end
return sid
",
    )
});

/// The earliest entry held with an id. KEYS: stream, index. ARGV: id.
/// Returns the `XRANGE` of it (empty once trimmed), or nil.
static FIND: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local sid = redis.call('HGET', KEYS[2], ARGV[1])
if not sid then return false end
return redis.call('XRANGE', KEYS[1], sid, sid)
",
    )
});

/// Trims the entries older than ARGV[1] ms by Redis's clock, keeping the
/// newest. KEYS: stream. Returns how many were trimmed.
static TRIM_AGE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local now = redis.call('TIME')
local min_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) - tonumber(ARGV[1])
if min_ms <= 0 then return 0 end
local newest = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
if #newest == 0 then return 0 end
local min_id = string.format('%.0f', min_ms) .. '-0'
local newest_ms = tonumber(string.match(newest[1][1], '^(%d+)-'))
if newest_ms < min_ms then min_id = newest[1][1] end
return redis.call('XTRIM', KEYS[1], 'MINID', '~', min_id)
",
    )
});

/// One step of the index cleanup: forgets the index entries, among those
/// `HSCAN` returns from cursor ARGV[1] (COUNT ARGV[2]), whose entry is
/// older than the stream's first. KEYS: stream, index. Returns the next
/// `HSCAN` cursor, the entries looked at and those forgotten.
static CLEAN_INDEX: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local function parse(sid)
  local ms, seq = string.match(sid, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq)
end
local first_ms, first_seq = math.huge, 0
local first = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)
if #first > 0 then first_ms, first_seq = parse(first[1][1]) end
local scan = redis.call('HSCAN', KEYS[2], ARGV[1], 'COUNT', ARGV[2])
local fields = scan[2]
local stale = {}
for i = 1, #fields, 2 do
  local ms, seq = parse(fields[i + 1])
  if ms == nil or ms < first_ms or (ms == first_ms and seq < first_seq) then
    stale[#stale + 1] = fields[i]
  end
end
for i = 1, #stale, 100 do
  redis.call('HDEL', KEYS[2], unpack(stale, i, math.min(i + 99, #stale)))
end
return {scan[1], #fields / 2, #stale}
",
    )
});

/// The settings of a [`RedisTransport`].
///
/// ```
/// use std::time::Duration;
/// use mercure_hub::RedisOptions;
///
/// let options = RedisOptions::new()
///     .with_key("chat:events")
///     .with_max_events(500_000)
///     .with_max_age(Duration::from_secs(24 * 3600))
///     .with_append_timeout(Duration::from_secs(1));
/// assert_eq!(options.key(), "chat:events");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisOptions {
    key: Cow<'static, str>,
    max_events: u64,
    max_age: Duration,
    append_timeout: Duration,
    instance: Option<Cow<'static, str>>,
    presence_ttl: Duration,
    presence_limit: usize,
}

impl Default for RedisOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl RedisOptions {
    /// The stream key by default: `mercure` (the id index is at
    /// `mercure:ids`).
    pub const DEFAULT_KEY: &'static str = "mercure";
    /// Events kept by default: about 100,000 (some 50 MiB of Redis memory
    /// with 300-byte updates, index included).
    pub const DEFAULT_MAX_EVENTS: u64 = 100_000;
    /// How long an event is kept by default: 7 days.
    pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(7 * 24 * 3600);
    /// How long an operation on Redis may take by default: 2 seconds.
    pub const DEFAULT_APPEND_TIMEOUT: Duration = Duration::from_secs(2);
    /// How long an instance's presence outlives its last heartbeat by
    /// default: 15 seconds (renewed every 5).
    pub const DEFAULT_PRESENCE_TTL: Duration = Duration::from_secs(15);
    /// Most subscriptions a cluster-wide listing holds by default: 100,000.
    pub const DEFAULT_PRESENCE_LIMIT: usize = 100_000;

    /// The defaults: [`Self::DEFAULT_KEY`], [`Self::DEFAULT_MAX_EVENTS`],
    /// [`Self::DEFAULT_MAX_AGE`], [`Self::DEFAULT_APPEND_TIMEOUT`],
    /// [`Self::DEFAULT_PRESENCE_TTL`], [`Self::DEFAULT_PRESENCE_LIMIT`], a
    /// random instance id.
    pub const fn new() -> Self {
        Self {
            key: Cow::Borrowed(Self::DEFAULT_KEY),
            max_events: Self::DEFAULT_MAX_EVENTS,
            max_age: Self::DEFAULT_MAX_AGE,
            append_timeout: Self::DEFAULT_APPEND_TIMEOUT,
            instance: None,
            presence_ttl: Self::DEFAULT_PRESENCE_TTL,
            presence_limit: Self::DEFAULT_PRESENCE_LIMIT,
        }
    }

    /// The key of the stream; the id index is at `<key>:ids`. Hubs that
    /// share a key share their history and order.
    #[must_use]
    pub fn with_key(mut self, key: impl Into<String>) -> Self {
        self.key = Cow::Owned(key.into());
        self
    }

    /// Keeps about `max_events` events (at least 1: connecting with 0 is
    /// an error). Redis trims whole nodes of its stream (100 entries by
    /// default, `stream-node-max-entries`), so a few more may be held.
    #[must_use]
    pub const fn with_max_events(mut self, max_events: u64) -> Self {
        self.max_events = max_events;
        self
    }

    /// Forgets events appended longer than `max_age` ago (by Redis's
    /// clock), checked every few seconds, in whole stream nodes. The
    /// newest event is kept whatever its age, so that a subscriber that
    /// has it can resume.
    #[must_use]
    pub const fn with_max_age(mut self, max_age: Duration) -> Self {
        self.max_age = max_age;
        self
    }

    /// How long an append waits for Redis before it fails (the publisher
    /// gets a 503); reading history ([`Transport::find`],
    /// [`Transport::page`]) and connecting are bounded by it too. An
    /// append that timed out may still have been stored (and is then
    /// delivered): a publisher retrying with the same update id is
    /// acknowledged without a duplicate.
    #[must_use]
    pub const fn with_append_timeout(mut self, timeout: Duration) -> Self {
        self.append_timeout = timeout;
        self
    }

    /// This instance's id in the cluster (see
    /// [`Cluster::instance`](crate::Cluster::instance)): a name of up to
    /// 200 characters, without spaces or control characters, that no
    /// other live instance sharing the stream uses (a pod or host name,
    /// say). By default a random UUID, new at each connection. An
    /// instance restarting under the same id replaces the presence its
    /// previous run left at once, instead of letting it expire.
    #[must_use]
    pub fn with_instance_id(mut self, id: impl Into<String>) -> Self {
        self.instance = Some(Cow::Owned(id.into()));
        self
    }

    /// How long an instance's presence (its subscribers, listed by the
    /// other instances) outlives its last heartbeat; heartbeats come
    /// every third of it. An instance that stops without closing its
    /// transport (a crash) stays listed that long. At least 30 ms.
    #[must_use]
    pub const fn with_presence_ttl(mut self, ttl: Duration) -> Self {
        self.presence_ttl = ttl;
        self
    }

    /// Most subscriptions a cluster-wide listing holds (this instance's
    /// first, then the other instances' in the order of their ids); past
    /// it the listing says it is truncated. At least 1.
    #[must_use]
    pub const fn with_presence_limit(mut self, limit: usize) -> Self {
        self.presence_limit = limit;
        self
    }

    /// The key of the stream.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The instance id chosen, if any (otherwise a random one is made at
    /// each connection: see [`RedisTransport::instance_id`]).
    pub fn instance_id(&self) -> Option<&str> {
        self.instance.as_deref()
    }

    /// How long an instance's presence outlives its last heartbeat.
    pub const fn presence_ttl(&self) -> Duration {
        self.presence_ttl
    }

    /// Most subscriptions a cluster-wide listing holds.
    pub const fn presence_limit(&self) -> usize {
        self.presence_limit
    }

    /// The most events kept (about).
    pub const fn max_events(&self) -> u64 {
        self.max_events
    }

    /// How long events are kept.
    pub const fn max_age(&self) -> Duration {
        self.max_age
    }

    /// How long an operation on Redis may take.
    pub const fn append_timeout(&self) -> Duration {
        self.append_timeout
    }

    fn check(&self) -> Result<(), crate::Error> {
        if self.max_events == 0 {
            return Err(invalid(
                "the history must keep at least one event (max events is 0)",
            ));
        }
        if self.key.is_empty() {
            return Err(invalid("the Redis stream key is empty"));
        }
        if self.append_timeout.is_zero() {
            return Err(invalid("the Redis append timeout is zero"));
        }
        if self.presence_ttl < Duration::from_millis(30) {
            return Err(invalid("the presence TTL must be at least 30 ms"));
        }
        if self.presence_limit == 0 {
            return Err(invalid("the presence listing limit is zero"));
        }
        if let Some(id) = &self.instance
            && (id.is_empty()
                || id.chars().count() > 200
                || id.chars().any(|c| c.is_whitespace() || c.is_control()))
        {
            return Err(invalid(format!(
                "the instance id {id:?} must be 1 to 200 characters, without spaces or \
                 control characters"
            )));
        }
        Ok(())
    }

    fn max_age_ms(&self) -> u64 {
        u64::try_from(self.max_age.as_millis()).unwrap_or(u64::MAX)
    }

    /// How often the maintenance task runs.
    fn maintenance_interval(&self) -> Duration {
        (self.max_age / 4).clamp(Duration::from_secs(1), Duration::from_secs(10))
    }
}

/// A history in Redis that several hubs share: each hub (in this process
/// or another) connects its own `RedisTransport` to the same Redis and
/// stream key, and every update published on any of them reaches the
/// subscribers of all of them, in one order, each once.
///
/// Appends resolve once Redis stored the event (with `appendonly yes` and
/// `appendfsync always`, once it is on Redis's disk); they fail after
/// [`RedisOptions::append_timeout`] when Redis does not answer, so that
/// publishers get a 503 instead of waiting. A reader task delivers what
/// the stream holds, in stream order, to the hubs this transport serves;
/// it reconnects after an outage and resumes where it stopped, missing
/// nothing unless Redis trimmed or lost events meanwhile.
///
/// Needs Redis 6.2 or later (or a server speaking its protocol, such as
/// Valkey), a single instance or a primary: not Redis Cluster. Redis
/// holds the data of private updates: keep it reachable by the hubs only
/// (a password in the URL, `requirepass` or ACLs). The wire format is
/// described in the module's source (`transport/redis.rs`).
///
/// What it does not do: an append acknowledged by Redis is as durable as
/// Redis makes it (on its disk with `appendfsync always`; a replica
/// promoted after a failover may lack the newest events, replication
/// being asynchronous). Events that a hub could not read before Redis
/// trimmed them (a hub cut off from Redis longer than the bounds allow)
/// are missed by its subscribers, with a warning. Of several events
/// sharing an id, [`Transport::find`] knows the earliest only: once it
/// is trimmed, the id is unknown (a subscriber resuming from it replays
/// the whole history) until the id is used again.
///
/// ```no_run
/// use std::sync::Arc;
/// use mercure_hub::{EmbeddedHub, HubConfig, RedisOptions, RedisTransport};
///
/// # async fn run() -> Result<(), mercure_hub::Error> {
/// let history = RedisTransport::connect("redis://127.0.0.1:6379/0", RedisOptions::new()).await?;
/// let hub = EmbeddedHub::new(HubConfig::builder().transport(Arc::new(history)).build()?);
/// # Ok(()) }
/// ```
pub struct RedisTransport {
    /// The URL, password and query left out.
    shown: Arc<str>,
    options: RedisOptions,
    keys: Keys,
    commands: Commands,
    shared: Arc<Shared>,
    runtime: Handle,
    reader: JoinHandle<()>,
    maintenance: JoinHandle<()>,
    cluster: presence::RedisCluster,
    /// Keeps this instance's presence.
    presence: JoinHandle<()>,
    /// Follows the other instances' commands.
    control: JoinHandle<()>,
}

/// The keys of one history.
#[derive(Clone)]
struct Keys {
    stream: Arc<str>,
    ids: Arc<str>,
}

/// What the reader and [`Transport::start`] share.
#[derive(Default)]
struct Shared {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    feeds: Vec<Feed>,
    /// The newest event pushed to the feeds (or held when connecting).
    newest: Option<Arc<Event>>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl RedisTransport {
    /// Connects to the Redis at `url` (`redis://[user:password@]host[:port][/db]`,
    /// or `unix:///path/to/socket`), checks it, reads the newest event of
    /// the stream and starts the reader. Call it inside a tokio runtime:
    /// the reader and the maintenance run on it (and stop when the
    /// transport is dropped).
    ///
    /// Unless the URL chooses a protocol (`?protocol=resp2`), RESP3 is
    /// spoken: the connection then notices at once that Redis went away
    /// and reconnects before the next append.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`](crate::Error::InvalidConfig) for a URL
    /// that cannot be used, refused credentials, a Redis older than 6.2,
    /// keys holding something else than a stream, a hash and a sorted set,
    /// options out
    /// of range, or a call outside a tokio runtime; [`Error::Unavailable`](crate::Error::Unavailable)
    /// when Redis cannot be reached or does not answer within the append
    /// timeout.
    pub async fn connect(url: &str, options: RedisOptions) -> Result<Self, crate::Error> {
        options.check()?;
        let runtime = Handle::try_current().map_err(|_| {
            invalid("RedisTransport::connect must be called inside a tokio runtime")
        })?;
        let (client, shown) = client(url)?;
        let shown: Arc<str> = Arc::from(shown);
        let keys = Keys {
            stream: Arc::from(options.key()),
            ids: Arc::from(format!("{}:ids", options.key())),
        };
        let instance: Arc<str> = match options.instance_id() {
            Some(id) => Arc::from(id),
            None => Arc::from(uuid::Uuid::new_v4().to_string()),
        };
        let cluster_keys = presence::ClusterKeys::new(options.key(), &instance);
        let limit = options.append_timeout;
        let unreachable = |why: String| {
            crate::Error::Unavailable(format!("cannot connect to Redis at {shown}: {why}"))
        };
        let checked = tokio::time::timeout(limit, async {
            let mut connection = reader_connection(&client, limit)
                .await
                .map_err(|e| connect_error(&shown, &e))?;
            check_server(&mut connection, &keys, &cluster_keys, &shown).await?;
            let head = query(
                &mut connection,
                ::redis::cmd("XREVRANGE")
                    .arg(&*keys.stream)
                    .arg("+")
                    .arg("-")
                    .arg("COUNT")
                    .arg(1),
            )
            .await
            .map_err(|e| unreachable(e.to_string()))?;
            // The connection of appends and reads, which reconnects by
            // itself, made now rather than by the first append.
            let mut manager = Commands::new(&client, limit, Arc::clone(&shown))
                .map_err(|e| invalid(format!("the Redis URL {shown} cannot be used: {e}")))?;
            query(&mut manager, &::redis::cmd("PING"))
                .await
                .map_err(|e| connect_error(&shown, &e))?;
            // Subscribed before the hubs start: no command sent after
            // this returns is missed.
            let control = presence::control_connection(&client, &cluster_keys.control, limit)
                .await
                .map_err(|e| connect_error(&shown, &e))?;
            Ok::<_, crate::Error>((connection, head, manager, control))
        })
        .await
        .map_err(|_| unreachable(format!("no answer within {limit:?}")))?;
        let (connection, head, manager, control) = checked?;
        let head = entries(head).map_err(unreachable)?.into_iter().next_back();
        let mut last = StreamId::ZERO;
        let shared = Arc::new(Shared::default());
        if let Some(entry) = head {
            last = entry.id;
            match entry.event {
                Ok(event) => shared.lock().newest = Some(Arc::new(event)),
                Err(why) => tracing::warn!(
                    redis = %shown,
                    entry = %entry.id,
                    "the newest entry of the stream is not a mercure event ({why}); it is skipped"
                ),
            }
        }
        let cluster = presence::RedisCluster::new(
            presence::Settings {
                instance: Arc::clone(&instance),
                key: Arc::clone(&keys.stream),
                ttl: options.presence_ttl,
                limit: options.presence_limit,
                timeout: limit,
                shown: Arc::clone(&shown),
                runtime: runtime.clone(),
            },
            manager.clone(),
        );
        let presence = runtime.spawn(presence::keep_presence(Arc::clone(&cluster.shared)));
        let control = runtime.spawn(presence::follow_commands(
            Arc::clone(&cluster.shared),
            client.clone(),
            control,
        ));
        let reader = Reader {
            client,
            key: Arc::clone(&keys.stream),
            shared: Arc::clone(&shared),
            last,
            shown: Arc::clone(&shown),
            instance: Arc::clone(&instance),
            connection: Some(connection),
            timeout: limit,
        };
        let reader = runtime.spawn(reader.run());
        let maintenance = runtime.spawn(maintain(
            manager.clone(),
            keys.clone(),
            options.clone(),
            Arc::clone(&shown),
        ));
        tracing::debug!(
            redis = %shown,
            key = %keys.stream,
            newest = %last,
            %instance,
            "connected to the Redis history"
        );
        Ok(Self {
            shown,
            options,
            keys,
            commands: manager,
            shared,
            runtime,
            reader,
            maintenance,
            cluster,
            presence,
            control,
        })
    }

    /// Its settings.
    pub fn options(&self) -> &RedisOptions {
        &self.options
    }

    /// This instance's id in the cluster: [`RedisOptions::with_instance_id`],
    /// or a random UUID.
    pub fn instance_id(&self) -> &str {
        &self.cluster.shared.instance
    }

    /// Stops the transport's tasks the way a crash of the process would:
    /// nothing is cleaned up (the presence expires on its own). For tests.
    #[doc(hidden)]
    pub fn simulate_crash(&self) {
        self.reader.abort();
        self.maintenance.abort();
        self.presence.abort();
        self.control.abort();
    }

    /// Trims now what the maintenance task trims every few seconds: the
    /// events older than the age bound, and the index entries of trimmed
    /// events (one pass over the index, in steps of 500 entries).
    ///
    /// # Errors
    ///
    /// When Redis fails, or does not answer within the append timeout (a
    /// pass over an index of millions of ids may take longer: the
    /// maintenance task goes on with it in bounded runs).
    pub async fn trim(&self) -> Result<(), TransportError> {
        let manager = self.commands.clone();
        let keys = self.keys.clone();
        let max_age_ms = self.options.max_age_ms();
        self.run("trimming the history", async move {
            let mut manager = manager;
            trim_age(&mut manager, &keys, max_age_ms).await?;
            clean_index(&mut manager, &keys, &mut "0".to_owned(), u64::MAX).await?;
            Ok(())
        })
        .await
    }

    /// Runs `operation` with the timeout: on the current runtime, or on
    /// the transport's when called outside of one.
    fn run<T: Send + 'static>(
        &self,
        what: &'static str,
        operation: impl Future<Output = Result<T, RedisError>> + Send + 'static,
    ) -> TransportFuture<'_, T> {
        let limit = self.options.append_timeout;
        let shown = Arc::clone(&self.shown);
        let bounded = async move {
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
        };
        if Handle::try_current().is_ok() {
            Box::pin(bounded)
        } else {
            let task = self.runtime.spawn(bounded);
            Box::pin(async move {
                task.await
                    .map_err(|e| TransportError::with_source(format!("{what} failed"), e))?
            })
        }
    }
}

impl Drop for RedisTransport {
    fn drop(&mut self) {
        self.simulate_crash();
    }
}

impl fmt::Debug for RedisTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisTransport")
            .field("url", &self.shown)
            .field("instance", &self.instance_id())
            .field("options", &self.options)
            .field(
                "newest",
                &self.shared.lock().newest.as_ref().map(|e| e.cursor()),
            )
            .finish_non_exhaustive()
    }
}

impl Transport for RedisTransport {
    fn cluster(&self) -> Option<&dyn crate::Cluster> {
        Some(&self.cluster)
    }

    /// Forgets this instance's presence at once (its subscribers are no
    /// longer listed by the other instances) and stops following the
    /// cluster's commands; appends go on working.
    fn close(&self) -> TransportFuture<'_, ()> {
        self.presence.abort();
        self.control.abort();
        self.cluster.shared.stopped();
        let shared = Arc::clone(&self.cluster.shared);
        self.run("leaving the cluster", async move { shared.leave().await })
    }

    fn start(&self, feed: Feed) -> Option<Arc<Event>> {
        // Under the lock the reader pushes under: the feed gets every
        // event after the one returned.
        let mut state = self.shared.lock();
        state.feeds.push(feed);
        state.newest.clone()
    }

    fn append(&self, event: Event) -> TransportFuture<'_, Arc<Event>> {
        let topics = match serde_json::to_string(event.topics()) {
            Ok(topics) => topics,
            Err(e) => {
                return Box::pin(std::future::ready(Err(TransportError::with_source(
                    "cannot encode the topics",
                    e,
                ))));
            }
        };
        let mut manager = self.commands.clone();
        let keys = self.keys.clone();
        // Redis reads MAXLEN as a signed 64-bit number.
        let max_events = self.options.max_events.min(i64::MAX as u64);
        self.run("appending to the history", async move {
            let sid: String = APPEND
                .key(&*keys.stream)
                .key(&*keys.ids)
                .arg(max_events)
                .arg(event.id())
                .arg(topics)
                .arg(if event.is_private() { "1" } else { "0" })
                .arg(event.frame().as_ref())
                .invoke_async(&mut manager)
                .await?;
            let cursor = StreamId::parse(sid.as_bytes())
                .and_then(StreamId::cursor)
                .ok_or_else(|| {
                    protocol_error(format!("the stream id {sid} does not fit a cursor"))
                })?;
            Ok(Arc::new(event.at(cursor)))
        })
    }

    fn find(&self, id: &str) -> TransportFuture<'_, Option<Arc<Event>>> {
        let id = id.to_owned();
        let mut manager = self.commands.clone();
        let keys = self.keys.clone();
        let shown = Arc::clone(&self.shown);
        self.run("reading the history", async move {
            let found: Value = FIND
                .key(&*keys.stream)
                .key(&*keys.ids)
                .arg(id)
                .invoke_async(&mut manager)
                .await?;
            Ok(events(&shown, entries(found).map_err(protocol_error)?)
                .into_iter()
                .next())
        })
    }

    fn page(&self, page: Page) -> TransportFuture<'_, Vec<Arc<Event>>> {
        if page.after.is_some_and(|after| after >= page.up_to) {
            return Box::pin(std::future::ready(Ok(Vec::new())));
        }
        let start = match page.after {
            None => "-".to_owned(),
            Some(after) => format!("({}", StreamId::of(after)),
        };
        let end = StreamId::of(page.up_to).to_string();
        let mut manager = self.commands.clone();
        let keys = self.keys.clone();
        let shown = Arc::clone(&self.shown);
        self.run("reading the history", async move {
            let read = query(
                &mut manager,
                ::redis::cmd("XRANGE")
                    .arg(&*keys.stream)
                    .arg(start)
                    .arg(end)
                    .arg("COUNT")
                    .arg(page.max_events),
            )
            .await?;
            let mut taken = Vec::new();
            let mut bytes = 0;
            for event in events(&shown, entries(read).map_err(protocol_error)?) {
                if !page.has_room(taken.len(), bytes) {
                    break;
                }
                bytes += event.size();
                taken.push(event);
            }
            Ok(taken)
        })
    }
}

/// The client for `url`, and the URL as it may be shown.
fn client(url: &str) -> Result<(Client, String), crate::Error> {
    let parsed = url::Url::parse(url).map_err(|e| {
        invalid(format!(
            "the Redis URL is invalid ({e}); expected redis://[user:password@]host[:port][/db]"
        ))
    })?;
    let shown = redact(&parsed);
    let mut info = parsed
        .as_str()
        .into_connection_info()
        .map_err(|e| invalid(format!("the Redis URL {shown} cannot be used: {e}")))?;
    if !parsed.query_pairs().any(|(name, _)| name == "protocol") {
        let settings = info
            .redis_settings()
            .clone()
            .set_protocol(ProtocolVersion::RESP3);
        info = info.set_redis_settings(settings);
    }
    let client = Client::open(info)
        .map_err(|e| invalid(format!("the Redis URL {shown} cannot be used: {e}")))?;
    Ok((client, shown))
}

/// `url` without its password and query (which may carry one).
fn redact(url: &url::Url) -> String {
    let mut shown = url.clone();
    if shown.password().is_some() {
        // Fails only for URLs that cannot have a password.
        let _ = shown.set_password(Some("***"));
    }
    shown.set_query(None);
    shown.set_fragment(None);
    shown.to_string()
}

/// A connection of its own for the reader, whose answers may take the
/// blocking time of `XREAD`.
async fn reader_connection(
    client: &Client,
    connect_timeout: Duration,
) -> Result<MultiplexedConnection, RedisError> {
    client
        .get_multiplexed_async_connection_with_config(
            &AsyncConnectionConfig::new()
                .set_connection_timeout(Some(connect_timeout))
                .set_response_timeout(Some(READ_BLOCK + READ_GRACE)),
        )
        .await
}

/// The error of a failed connection attempt.
fn connect_error(shown: &str, error: &RedisError) -> crate::Error {
    let refused = error.kind() == ErrorKind::AuthenticationFailed
        || matches!(error.code(), Some("WRONGPASS" | "NOAUTH" | "NOPERM"));
    if refused {
        invalid(format!("Redis at {shown} refused the credentials: {error}"))
    } else if error.kind() == ErrorKind::InvalidClientConfig {
        invalid(format!("the Redis URL {shown} cannot be used: {error}"))
    } else {
        crate::Error::Unavailable(format!("cannot connect to Redis at {shown}: {error}"))
    }
}

/// Refuses a Redis too old, or keys holding something else.
async fn check_server(
    connection: &mut MultiplexedConnection,
    keys: &Keys,
    cluster: &presence::ClusterKeys,
    shown: &str,
) -> Result<(), crate::Error> {
    let failed = |e: RedisError| {
        crate::Error::Unavailable(format!("cannot read from Redis at {shown}: {e}"))
    };
    let info = query(connection, ::redis::cmd("INFO").arg("server"))
        .await
        .map_err(failed)?;
    let info = text(&info).unwrap_or_default();
    let version = info
        .lines()
        .find_map(|line| line.strip_prefix("redis_version:"))
        .map(str::trim)
        .unwrap_or("unknown");
    let mut parts = version.split('.').map(|n| n.parse::<u64>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    if (major, minor) < MIN_VERSION {
        return Err(invalid(format!(
            "Redis at {shown} is version {version}; the shared history needs 6.2 or later"
        )));
    }
    for (key, expected) in [
        (&keys.stream, "stream"),
        (&keys.ids, "hash"),
        (&cluster.instances, "zset"),
    ] {
        let kind = query(connection, ::redis::cmd("TYPE").arg(&**key))
            .await
            .map_err(failed)?;
        let kind = text(&kind).unwrap_or_default();
        if kind != "none" && kind != expected {
            return Err(invalid(format!(
                "the Redis key {key:?} (at {shown}) holds a {kind}, not a {expected}: choose \
                 another stream key"
            )));
        }
    }
    Ok(())
}

async fn query(
    connection: &mut impl ::redis::aio::ConnectionLike,
    command: &::redis::Cmd,
) -> Result<Value, RedisError> {
    command.query_async(connection).await
}

fn invalid(message: impl Into<String>) -> crate::Error {
    crate::Error::InvalidConfig(message.into())
}

fn protocol_error(message: impl Into<String>) -> RedisError {
    RedisError::from((
        ErrorKind::Parse,
        "unexpected answer from Redis",
        message.into(),
    ))
}

/// A stream entry id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct StreamId {
    ms: u64,
    seq: u64,
}

impl StreamId {
    const ZERO: StreamId = StreamId { ms: 0, seq: 0 };

    /// The id a cursor packs.
    fn of(cursor: Cursor) -> Self {
        Self {
            ms: cursor.get() >> SEQ_BITS,
            seq: cursor.get() & (SEQ_LIMIT - 1),
        }
    }

    fn parse(text: &[u8]) -> Option<Self> {
        let text = std::str::from_utf8(text).ok()?;
        let (ms, seq) = text.split_once('-')?;
        Some(Self {
            ms: ms.parse().ok()?,
            seq: seq.parse().ok()?,
        })
    }

    /// The cursor packing it, if it fits.
    fn cursor(self) -> Option<Cursor> {
        (self.seq < SEQ_LIMIT && self.ms < MS_LIMIT)
            .then(|| Cursor::new((self.ms << SEQ_BITS) | self.seq))
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// A stream entry, decoded or not.
struct Entry {
    id: StreamId,
    event: Result<Event, String>,
}

/// The entries of an `XRANGE` (or a [`FIND`]) answer; nil is none.
fn entries(value: Value) -> Result<Vec<Entry>, String> {
    match value {
        // A script's `false` is nil in RESP2, false in RESP3.
        Value::Nil | Value::Boolean(false) => Ok(Vec::new()),
        Value::Array(items) => items.into_iter().map(entry).collect(),
        other => Err(format!("expected stream entries, got {other:?}")),
    }
}

/// The entries of an `XREAD` answer for one stream.
fn read_entries(value: Value) -> Result<Vec<Entry>, String> {
    let streams: Vec<(Value, Value)> = match value {
        Value::Nil => return Ok(Vec::new()),
        Value::Map(streams) => streams,
        Value::Array(streams) => streams
            .into_iter()
            .map(|stream| match stream {
                Value::Array(pair) if pair.len() == 2 => {
                    let mut pair = pair.into_iter();
                    match (pair.next(), pair.next()) {
                        (Some(key), Some(entries)) => Ok((key, entries)),
                        _ => Err("a malformed XREAD answer".to_owned()),
                    }
                }
                other => Err(format!("expected a stream of XREAD, got {other:?}")),
            })
            .collect::<Result<_, _>>()?,
        other => return Err(format!("expected an XREAD answer, got {other:?}")),
    };
    let mut read = Vec::new();
    for (_, stream) in streams {
        read.extend(entries(stream)?);
    }
    Ok(read)
}

fn entry(value: Value) -> Result<Entry, String> {
    let Value::Array(parts) = value else {
        return Err(format!("expected a stream entry, got {value:?}"));
    };
    let mut parts = parts.into_iter();
    let (Some(id), Some(fields), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err("a stream entry is not an id and its fields".to_owned());
    };
    let id = bytes_of(&id)
        .and_then(StreamId::parse)
        .ok_or_else(|| format!("a stream entry id is {id:?}"))?;
    let event = match id.cursor() {
        Some(cursor) => decode(cursor, fields),
        None => Err(format!("the entry id {id} does not fit a cursor")),
    };
    Ok(Entry { id, event })
}

/// The event of an entry's fields.
fn decode(cursor: Cursor, fields: Value) -> Result<Event, String> {
    let pairs: Vec<(Value, Value)> = match fields {
        Value::Array(flat) => {
            let mut pairs = Vec::with_capacity(flat.len() / 2);
            let mut flat = flat.into_iter();
            while let Some(name) = flat.next() {
                let value = flat.next().ok_or("an odd number of fields")?;
                pairs.push((name, value));
            }
            pairs
        }
        Value::Map(pairs) => pairs,
        Value::Nil => return Err("the entry was deleted".to_owned()),
        other => return Err(format!("expected the fields of an entry, got {other:?}")),
    };
    let mut format = None;
    let mut id = None;
    let mut topics = None;
    let mut private = None;
    let mut frame = None;
    for (name, value) in pairs {
        let slot = match bytes_of(&name) {
            Some(b"v") => &mut format,
            Some(b"id") => &mut id,
            Some(b"topics") => &mut topics,
            Some(b"private") => &mut private,
            Some(b"frame") => &mut frame,
            _ => continue,
        };
        *slot = Some(value);
    }
    let field = |value: &Option<Value>, name: &str| -> Result<Vec<u8>, String> {
        value
            .as_ref()
            .and_then(bytes_of)
            .map(<[u8]>::to_vec)
            .ok_or_else(|| format!("no {name} field"))
    };
    let format = field(&format, "v")?;
    if format != FORMAT.as_bytes() {
        return Err(format!(
            "entry format {:?}, this version reads format {FORMAT}",
            String::from_utf8_lossy(&format)
        ));
    }
    let id = String::from_utf8(field(&id, "id")?).map_err(|_| "the id is not UTF-8")?;
    let topics: Vec<String> = serde_json::from_slice(&field(&topics, "topics")?)
        .map_err(|e| format!("the topics are not a JSON array of strings: {e}"))?;
    if topics.is_empty() {
        return Err("no topic".to_owned());
    }
    let private = match field(&private, "private")?.as_slice() {
        b"0" => false,
        b"1" => true,
        _ => return Err("the private flag is neither 0 nor 1".to_owned()),
    };
    let frame = Bytes::from(field(&frame, "frame")?);
    Ok(Event::from_parts(cursor, id, topics, private, frame))
}

fn bytes_of(value: &Value) -> Option<&[u8]> {
    match value {
        Value::BulkString(bytes) => Some(bytes),
        Value::SimpleString(text) => Some(text.as_bytes()),
        Value::VerbatimString { text, .. } => Some(text.as_bytes()),
        _ => None,
    }
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::Okay => Some("OK".to_owned()),
        other => bytes_of(other).map(|b| String::from_utf8_lossy(b).into_owned()),
    }
}

/// The decoded events of `entries`; those that are not are logged and
/// skipped.
fn events(shown: &str, entries: Vec<Entry>) -> Vec<Arc<Event>> {
    entries
        .into_iter()
        .filter_map(|entry| match entry.event {
            Ok(event) => Some(Arc::new(event)),
            Err(why) => {
                tracing::warn!(redis = %shown, entry = %entry.id, "skipping a stream entry that is not a mercure event: {why}");
                None
            }
        })
        .collect()
}

/// Reads the stream and feeds its entries to the hubs.
struct Reader {
    client: Client,
    key: Arc<str>,
    shared: Arc<Shared>,
    /// The last entry delivered (or skipped).
    last: StreamId,
    shown: Arc<str>,
    /// This instance's id, for the logs.
    instance: Arc<str>,
    /// `None` after a failure.
    connection: Option<MultiplexedConnection>,
    timeout: Duration,
}

/// Why a read failed.
enum ReadError {
    Redis(RedisError),
    Answer(String),
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Redis(error) => error.fmt(f),
            ReadError::Answer(why) => write!(f, "unexpected answer: {why}"),
        }
    }
}

impl Reader {
    async fn run(mut self) {
        let mut backoff = MIN_BACKOFF;
        // Since when, and when last said.
        let mut outage: Option<(Instant, Instant)> = None;
        loop {
            match self.read().await {
                Ok(()) => {
                    backoff = MIN_BACKOFF;
                    if let Some((since, _)) = outage.take() {
                        tracing::info!(
                            redis = %self.shown,
                            instance = %self.instance,
                            key = %self.key,
                            down_ms = since.elapsed().as_millis(),
                            resumed_after = %self.last,
                            "reading the Redis history again"
                        );
                    }
                }
                Err(error) => {
                    self.connection = None;
                    let now = Instant::now();
                    match &mut outage {
                        None => {
                            tracing::warn!(
                                redis = %self.shown,
                                instance = %self.instance,
                                key = %self.key,
                                %error,
                                last = %self.last,
                                "cannot read the Redis history; no update reaches this hub's \
                                 subscribers until it can again (retrying)"
                            );
                            outage = Some((now, now));
                        }
                        Some((since, said)) if now.duration_since(*said) >= OUTAGE_REMINDER => {
                            tracing::warn!(
                                redis = %self.shown,
                                instance = %self.instance,
                                key = %self.key,
                                %error,
                                down_s = since.elapsed().as_secs(),
                                "still cannot read the Redis history (retrying)"
                            );
                            *said = now;
                        }
                        Some(_) => {}
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }

    /// Reads once (connecting first if needed) and delivers what was read.
    async fn read(&mut self) -> Result<(), ReadError> {
        if self.connection.is_none() {
            let mut connection =
                tokio::time::timeout(self.timeout, reader_connection(&self.client, self.timeout))
                    .await
                    .map_err(|_| ReadError::Answer("no connection within the timeout".into()))?
                    .map_err(ReadError::Redis)?;
            self.check_gap(&mut connection).await?;
            self.connection = Some(connection);
        }
        let Some(connection) = self.connection.as_mut() else {
            return Err(ReadError::Answer("no connection".into()));
        };
        let answer = query(
            connection,
            ::redis::cmd("XREAD")
                .arg("COUNT")
                .arg(READ_COUNT)
                .arg("BLOCK")
                .arg(u64::try_from(READ_BLOCK.as_millis()).unwrap_or(u64::MAX))
                .arg("STREAMS")
                .arg(&*self.key)
                .arg(self.last.to_string()),
        )
        .await
        .map_err(ReadError::Redis)?;
        let read = read_entries(answer).map_err(ReadError::Answer)?;
        self.deliver(read);
        Ok(())
    }

    /// Warns when the stream no longer holds what follows the last entry
    /// delivered: events appended while this hub could not read were
    /// trimmed before it read them.
    async fn check_gap(&self, connection: &mut MultiplexedConnection) -> Result<(), ReadError> {
        if self.last == StreamId::ZERO {
            return Ok(());
        }
        let first = query(
            connection,
            ::redis::cmd("XRANGE")
                .arg(&*self.key)
                .arg("-")
                .arg("+")
                .arg("COUNT")
                .arg(1),
        )
        .await
        .map_err(ReadError::Redis)?;
        let first = entries(first).map_err(ReadError::Answer)?;
        if let Some(first) = first.first()
            && first.id > self.last
        {
            tracing::warn!(
                redis = %self.shown,
                instance = %self.instance,
                key = %self.key,
                last = %self.last,
                oldest_held = %first.id,
                "the oldest event the Redis history holds is newer than the last one this hub \
                 delivered: events appended while it could not read may have been trimmed, and \
                 its subscribers miss them"
            );
        }
        Ok(())
    }

    /// Pushes `read` to every feed, in order, then delivers.
    fn deliver(&mut self, read: Vec<Entry>) {
        if read.is_empty() {
            return;
        }
        let feeds = {
            let mut state = self.shared.lock();
            for entry in read {
                if entry.id <= self.last {
                    continue;
                }
                self.last = entry.id;
                match entry.event {
                    Ok(event) => {
                        let event = Arc::new(event);
                        for feed in &state.feeds {
                            feed.push(Arc::clone(&event));
                        }
                        state.newest = Some(event);
                    }
                    Err(why) => tracing::warn!(
                        redis = %self.shown,
                        instance = %self.instance,
                        entry = %entry.id,
                        "skipping a stream entry that is not a mercure event: {why}"
                    ),
                }
            }
            state.feeds.clone()
        };
        for feed in &feeds {
            feed.deliver();
        }
    }
}

/// Trims by age and cleans the index, every few seconds, a bounded amount
/// of work each time.
async fn maintain(mut manager: Commands, keys: Keys, options: RedisOptions, shown: Arc<str>) {
    let mut interval = tokio::time::interval(options.maintenance_interval());
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let max_age_ms = options.max_age_ms();
    let limit = options.append_timeout;
    let mut cursor = "0".to_owned();
    loop {
        interval.tick().await;
        match tokio::time::timeout(limit, trim_age(&mut manager, &keys, max_age_ms)).await {
            Ok(Ok(0)) => {}
            Ok(Ok(trimmed)) => {
                tracing::debug!(redis = %shown, key = %keys.stream, trimmed, "trimmed events past the age bound");
            }
            Ok(Err(error)) => {
                tracing::debug!(redis = %shown, %error, "cannot trim the Redis history now");
                continue;
            }
            Err(_) => continue,
        }
        let budget = match tokio::time::timeout(
            limit,
            query(&mut manager, ::redis::cmd("HLEN").arg(&*keys.ids)),
        )
        .await
        {
            Ok(Ok(Value::Int(len))) => CLEANUP_BUDGET.max(u64::try_from(len).unwrap_or(0) / 8),
            _ => CLEANUP_BUDGET,
        };
        // Each step is short: Redis serves other clients between them.
        let cleaned = tokio::time::timeout(
            limit * 4,
            clean_index(&mut manager, &keys, &mut cursor, budget),
        )
        .await;
        match cleaned {
            Ok(Ok(0)) => {}
            Ok(Ok(forgotten)) => {
                tracing::debug!(redis = %shown, key = %keys.ids, forgotten, "forgot the index entries of trimmed events");
            }
            Ok(Err(error)) => {
                tracing::debug!(redis = %shown, %error, "cannot clean the Redis index now");
            }
            Err(_) => {}
        }
    }
}

/// Trims the events past the age bound; returns how many.
async fn trim_age(manager: &mut Commands, keys: &Keys, max_age_ms: u64) -> Result<i64, RedisError> {
    TRIM_AGE
        .key(&*keys.stream)
        .arg(max_age_ms)
        .invoke_async(manager)
        .await
}

/// Forgets the index entries of trimmed events, from `cursor` on, looking
/// at about `budget` entries at most (or until a pass over the index
/// ends); returns how many were forgotten.
async fn clean_index(
    manager: &mut Commands,
    keys: &Keys,
    cursor: &mut String,
    budget: u64,
) -> Result<u64, RedisError> {
    let mut seen = 0;
    let mut forgotten = 0;
    loop {
        let (next, scanned, removed): (String, u64, u64) = CLEAN_INDEX
            .key(&*keys.stream)
            .key(&*keys.ids)
            .arg(cursor.as_str())
            .arg(CLEANUP_STEP)
            .invoke_async(manager)
            .await?;
        *cursor = next;
        seen += scanned;
        forgotten += removed;
        if cursor == "0" || seen >= budget {
            return Ok(forgotten);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_pack_stream_ids_in_order() {
        let id = StreamId {
            ms: 1_764_650_000_123,
            seq: 7,
        };
        let cursor = id.cursor().unwrap();
        assert_eq!(cursor.get(), (1_764_650_000_123 << 20) | 7);
        assert_eq!(StreamId::of(cursor), id);
        let next = StreamId { ms: id.ms, seq: 8 }.cursor().unwrap();
        let later = StreamId {
            ms: id.ms + 1,
            seq: 0,
        }
        .cursor()
        .unwrap();
        assert!(cursor < next && next < later);
        assert!(
            StreamId {
                ms: 1,
                seq: SEQ_LIMIT
            }
            .cursor()
            .is_none()
        );
        assert!(
            StreamId {
                ms: MS_LIMIT,
                seq: 0
            }
            .cursor()
            .is_none()
        );
        assert_eq!(
            StreamId::of(Cursor::new(u64::MAX)).cursor().unwrap().get(),
            u64::MAX
        );
        assert_eq!(StreamId::parse(b"12-3"), Some(StreamId { ms: 12, seq: 3 }));
        assert_eq!(StreamId::parse(b"12"), None);
        assert_eq!(StreamId::parse(b"a-3"), None);
        assert_eq!(id.to_string(), "1764650000123-7");
    }

    fn bulk(text: &str) -> Value {
        Value::BulkString(text.as_bytes().to_vec())
    }

    fn fields(pairs: &[(&str, &str)]) -> Value {
        Value::Array(pairs.iter().flat_map(|(k, v)| [bulk(k), bulk(v)]).collect())
    }

    #[test]
    fn entries_decode_and_refuse_what_is_not_an_event() {
        let good = fields(&[
            ("v", "1"),
            ("id", "urn:x"),
            ("topics", r#"["https://example.com/a","b"]"#),
            ("private", "1"),
            ("frame", "id: urn:x\ndata: d\n\n"),
        ]);
        let event = decode(Cursor::new(9), good).unwrap();
        assert_eq!(event.id(), "urn:x");
        assert_eq!(event.topics(), ["https://example.com/a", "b"]);
        assert!(event.is_private());
        assert_eq!(event.frame().as_ref(), b"id: urn:x\ndata: d\n\n");
        assert_eq!(event.cursor(), Cursor::new(9));

        for broken in [
            fields(&[
                ("v", "2"),
                ("id", "x"),
                ("topics", "[\"t\"]"),
                ("private", "0"),
                ("frame", ""),
            ]),
            fields(&[
                ("v", "1"),
                ("topics", "[\"t\"]"),
                ("private", "0"),
                ("frame", ""),
            ]),
            fields(&[
                ("v", "1"),
                ("id", "x"),
                ("topics", "t"),
                ("private", "0"),
                ("frame", ""),
            ]),
            fields(&[
                ("v", "1"),
                ("id", "x"),
                ("topics", "[]"),
                ("private", "0"),
                ("frame", ""),
            ]),
            fields(&[
                ("v", "1"),
                ("id", "x"),
                ("topics", "[\"t\"]"),
                ("private", "yes"),
                ("frame", ""),
            ]),
            Value::Array(vec![bulk("v")]),
            Value::Nil,
        ] {
            assert!(decode(Cursor::new(1), broken).is_err());
        }
    }

    #[test]
    fn xread_answers_of_both_protocols_are_read() {
        let one = || {
            Value::Array(vec![Value::Array(vec![
                bulk("5-1"),
                fields(&[
                    ("v", "1"),
                    ("id", "a"),
                    ("topics", "[\"t\"]"),
                    ("private", "0"),
                    ("frame", "f"),
                ]),
            ])])
        };
        let resp2 = Value::Array(vec![Value::Array(vec![bulk("k"), one()])]);
        let resp3 = Value::Map(vec![(bulk("k"), one())]);
        for answer in [resp2, resp3] {
            let read = read_entries(answer).unwrap();
            assert_eq!(read.len(), 1);
            assert_eq!(read[0].id, StreamId { ms: 5, seq: 1 });
            assert_eq!(read[0].event.as_ref().unwrap().id(), "a");
        }
        assert!(read_entries(Value::Nil).unwrap().is_empty());
        assert!(read_entries(Value::Int(3)).is_err());
    }

    #[test]
    fn urls_are_shown_without_secrets() {
        let url = url::Url::parse("redis://user:s3cret@localhost:6380/2?password=other").unwrap();
        let shown = redact(&url);
        assert!(
            !shown.contains("s3cret") && !shown.contains("other"),
            "{shown}"
        );
        assert_eq!(shown, "redis://user:***@localhost:6380/2");
    }
}
