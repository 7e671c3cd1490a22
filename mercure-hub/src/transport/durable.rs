//! A durable history in a local file ([redb]).
//!
//! # File format
//!
//! One redb 4 database (redb's file format v3) with three tables:
//! - `mercure_events` (`u64` → bytes): each stored event by cursor, as a
//!   record: format byte (1), append time (unix ms, `u64` LE), flags (bit 0:
//!   private), id (`u32` LE length, UTF-8), topics (`u32` LE count, then
//!   each as `u32` LE length and UTF-8), and the rest is the encoded frame;
//! - `mercure_event_ids` (multimap `&str` → `u64`): the cursors of each id;
//! - `mercure_meta` (`&str` → `u64`): `format` (1) and `last_cursor`, the
//!   last cursor given out (kept when trimming empties the history, so
//!   cursors keep increasing).
//!
//! # Writing
//!
//! Appends go over a channel to one writer thread, which takes everything
//! waiting (at most [`MAX_BATCH_EVENTS`] events, [`MAX_BATCH_BYTES`]
//! bytes), writes it in one transaction committed with
//! [`Durability::Immediate`] (one `fsync` per batch, two with quick
//! repair), then pushes the events to the feeds in cursor order and
//! answers the appenders: an acknowledged event is on disk. The same
//! transaction trims the oldest events beyond the count and age bounds, at
//! most the batch's size plus [`TRIM_SLACK`] of them, so that no batch
//! stalls; an idle writer trims what is left.
//!
//! # Crash recovery
//!
//! With quick repair (the default), each commit also saves redb's
//! allocator state and commits in two phases: reopening after a crash
//! loads that state instead of walking every page of the file (about
//! 1.5 s for a million events, against 1 ms; docs/decisions.md, "History
//! store: redb").

use std::fmt;
use std::fs;
use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use redb::{
    Database, DatabaseError, Durability, MultimapTable, MultimapTableDefinition,
    MultimapTableHandle, ReadableDatabase, ReadableTable, ReadableTableMetadata, StorageError,
    Table, TableDefinition, TableHandle,
};
use tokio::runtime::Handle;
use tokio::sync::oneshot;

use super::{Feed, Page, Transport, TransportError, TransportFuture};
use crate::event::{Cursor, Event};

const EVENTS: TableDefinition<u64, &[u8]> = TableDefinition::new("mercure_events");
const IDS: MultimapTableDefinition<&str, u64> = MultimapTableDefinition::new("mercure_event_ids");
const META: TableDefinition<&str, u64> = TableDefinition::new("mercure_meta");
const META_FORMAT: &str = "format";
const META_LAST_CURSOR: &str = "last_cursor";
/// The layout of the tables.
const FORMAT: u64 = 1;
/// The layout of a record.
const RECORD_VERSION: u8 = 1;
const FLAG_PRIVATE: u8 = 1;

/// Most events written in one transaction.
const MAX_BATCH_EVENTS: usize = 4096;
/// Most record bytes written in one transaction (a larger single event
/// still goes alone).
const MAX_BATCH_BYTES: usize = 16 << 20;
/// How long the writer gathers a batch, from its first append, when the
/// last batch showed concurrent appenders: the appenders it just answered
/// send their next update within about a loopback round trip, and taking
/// them into this commit rather than the next halves the commits (and
/// fsyncs) under steady concurrent load. A lone appender never waits.
const GATHER: Duration = Duration::from_micros(200);
/// Events a batch may trim beyond its own count.
const TRIM_SLACK: usize = 1024;
/// Events trimmed by one transaction of an idle writer.
const IDLE_TRIM: usize = 16 * 1024;

/// The bounds and settings of a [`DurableTransport`].
///
/// ```
/// use std::time::Duration;
/// use mercure_hub::DurableOptions;
///
/// let options = DurableOptions::new()
///     .with_max_events(100_000)
///     .with_max_age(Duration::from_secs(24 * 3600));
/// assert_eq!(options.max_events(), 100_000);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DurableOptions {
    max_events: u64,
    max_age: Duration,
    cache_size: usize,
    quick_repair: bool,
}

impl Default for DurableOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl DurableOptions {
    /// Events kept by default: 1,000,000 (a file of about 550 MiB with
    /// 300-byte updates).
    pub const DEFAULT_MAX_EVENTS: u64 = 1_000_000;
    /// How long an event is kept by default: 7 days.
    pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(7 * 24 * 3600);
    /// Memory given to redb's page cache by default: 64 MiB.
    pub const DEFAULT_CACHE_SIZE: usize = 64 << 20;

    /// The defaults: [`Self::DEFAULT_MAX_EVENTS`],
    /// [`Self::DEFAULT_MAX_AGE`], [`Self::DEFAULT_CACHE_SIZE`], quick
    /// repair on.
    pub const fn new() -> Self {
        Self {
            max_events: Self::DEFAULT_MAX_EVENTS,
            max_age: Self::DEFAULT_MAX_AGE,
            cache_size: Self::DEFAULT_CACHE_SIZE,
            quick_repair: true,
        }
    }

    /// Keeps at most `max_events` events (at least 1: opening with 0 is
    /// an error); the oldest go first.
    #[must_use]
    pub const fn with_max_events(mut self, max_events: u64) -> Self {
        self.max_events = max_events;
        self
    }

    /// Forgets events appended longer than `max_age` ago. The newest event
    /// is kept whatever its age, so that a subscriber that has it can
    /// resume.
    #[must_use]
    pub const fn with_max_age(mut self, max_age: Duration) -> Self {
        self.max_age = max_age;
        self
    }

    /// Memory for redb's page cache, in bytes.
    #[must_use]
    pub const fn with_cache_size(mut self, bytes: usize) -> Self {
        self.cache_size = bytes;
        self
    }

    /// Whether each commit also saves redb's allocator state (on by
    /// default). On, reopening after a crash takes milliseconds whatever
    /// the size of the file, and each commit costs a second `fsync`; off,
    /// commits are cheaper but reopening after a crash reads and checks
    /// the whole file (seconds for a large history). A clean close saves
    /// the state either way. See docs/decisions.md, "History store: redb".
    #[must_use]
    pub const fn with_quick_repair(mut self, quick_repair: bool) -> Self {
        self.quick_repair = quick_repair;
        self
    }

    /// The most events kept.
    pub const fn max_events(&self) -> u64 {
        self.max_events
    }

    /// How long events are kept.
    pub const fn max_age(&self) -> Duration {
        self.max_age
    }

    /// The page cache's size in bytes.
    pub const fn cache_size(&self) -> usize {
        self.cache_size
    }

    /// Whether commits save the allocator state.
    pub const fn quick_repair(&self) -> bool {
        self.quick_repair
    }

    fn max_age_ms(&self) -> u64 {
        u64::try_from(self.max_age.as_millis()).unwrap_or(u64::MAX)
    }

    /// How often an idle writer looks for events past their age.
    fn trim_interval(&self) -> Duration {
        self.max_age
            .clamp(Duration::from_millis(50), Duration::from_secs(60))
    }
}

/// A history kept in a local file (a [redb](https://www.redb.org)
/// database): events survive a restart and a crash, bounded by count and
/// age ([`DurableOptions`]).
///
/// One writer thread stores appended events in batches, one transaction
/// and one `fsync` per batch: [`Transport::append`] resolves once the
/// event is on disk. Reads run on tokio's blocking threads when called
/// inside a runtime.
///
/// A file serves one transport at a time: a second open, from this
/// process or another, fails. Dropping the transport (or
/// [`DurableTransport::close`]) stores what was appended and closes the
/// file.
///
/// ```no_run
/// use mercure_hub::{DurableOptions, DurableTransport};
///
/// # fn run() -> Result<(), mercure_hub::Error> {
/// let history = DurableTransport::open("/var/lib/mercure/history.redb", DurableOptions::new())?;
/// # Ok(()) }
/// ```
pub struct DurableTransport {
    path: PathBuf,
    options: DurableOptions,
    db: Arc<Database>,
    shared: Arc<Shared>,
    /// `None` once closed.
    sender: Option<mpsc::Sender<Command>>,
    writer: Option<JoinHandle<()>>,
}

/// What the writer and [`Transport::start`] share.
#[derive(Default)]
struct Shared {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    feeds: Vec<Feed>,
    /// The newest event stored.
    newest: Option<Arc<Event>>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

type Reply = oneshot::Sender<Result<Arc<Event>, TransportError>>;

enum Command {
    Append {
        event: Event,
        reply: Reply,
        /// The appender's runtime: delivery may hand work to it.
        runtime: Option<Handle>,
    },
    /// Answered once everything sent before it is stored.
    Flush(oneshot::Sender<()>),
}

impl DurableTransport {
    /// Opens the history in the file at `path`, creating it if it does
    /// not exist (its directory must).
    ///
    /// Reads only the newest event: opening takes milliseconds whatever
    /// the size of the history, and after a crash too with quick repair
    /// (the default). A file that is locked by another open, unreadable,
    /// not a redb database, damaged, or another program's redb database
    /// is an error, never a fresh start.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`](crate::Error::InvalidConfig), saying which
    /// of the above it is, or that `max_events` is 0.
    pub fn open(path: impl AsRef<Path>, options: DurableOptions) -> Result<Self, crate::Error> {
        let path = path.as_ref().to_path_buf();
        if options.max_events == 0 {
            return Err(invalid(
                "the history must keep at least one event (max events is 0)",
            ));
        }
        check_path(&path)?;
        let started = std::time::Instant::now();
        if !path.exists() {
            create_new(&path, &options)?;
        }
        // redb may panic on some damaged files: that is a damaged file too.
        let opened = catch_unwind(AssertUnwindSafe(|| {
            let db = open_database(&path, &options)?;
            let head = read_head(&db, &path, &options)?;
            Ok::<_, crate::Error>((db, head))
        }))
        .map_err(|_| {
            invalid(format!(
                "the history file {} is damaged (redb failed while reading it); move it away to \
                 start a new history",
                path.display()
            ))
        })?;
        let (db, (last, newest)) = opened?;
        tracing::debug!(
            path = %path.display(),
            newest = newest.as_ref().map(|e| e.cursor().get()),
            took_ms = started.elapsed().as_millis(),
            "opened the history file"
        );
        let db = Arc::new(db);
        let shared = Arc::new(Shared::default());
        shared.lock().newest = newest;

        let (sender, receiver) = mpsc::channel();
        let writer = Writer {
            db: Arc::clone(&db),
            shared: Arc::clone(&shared),
            options: options.clone(),
            receiver,
            last,
            path: path.clone(),
            more_to_trim: true,
            last_batch: 0,
        };
        let writer = thread::Builder::new()
            .name("mercure-history".into())
            .spawn(move || writer.run())
            .map_err(|e| invalid(format!("cannot start the history writer thread: {e}")))?;
        Ok(Self {
            path,
            options,
            db,
            shared,
            sender: Some(sender),
            writer: Some(writer),
        })
    }

    /// The file it keeps the history in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Its bounds and settings.
    pub fn options(&self) -> &DurableOptions {
        &self.options
    }

    /// How many events are stored now (reads the file's table header).
    ///
    /// # Errors
    ///
    /// When the file cannot be read.
    pub fn count(&self) -> Result<u64, TransportError> {
        let tx = self.db.begin_read().map_err(read_error)?;
        let events = tx.open_table(EVENTS).map_err(read_error)?;
        events.len().map_err(read_error)
    }

    /// Resolves once every event appended before the call is stored (or
    /// has failed).
    ///
    /// # Errors
    ///
    /// When the writer has stopped.
    pub async fn flush(&self) -> Result<(), TransportError> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Flush(reply))?;
        answer.await.map_err(|_| stopped())
    }

    /// Stores what was appended and closes the file, waiting for the
    /// writer thread (one batch at most). Dropping the transport does the
    /// same.
    ///
    /// # Errors
    ///
    /// [`Error::Unavailable`](crate::Error::Unavailable) when the writer
    /// thread had panicked.
    pub fn close(mut self) -> Result<(), crate::Error> {
        if self.shutdown() {
            Ok(())
        } else {
            Err(crate::Error::Unavailable(
                "the history writer thread panicked".into(),
            ))
        }
    }

    /// Stops the writer once it has stored what was sent; false if it
    /// had panicked.
    fn shutdown(&mut self) -> bool {
        drop(self.sender.take());
        match self.writer.take() {
            // Never join from the writer itself (a delivery dropping the
            // last handle).
            Some(writer) if writer.thread().id() != thread::current().id() => writer.join().is_ok(),
            _ => true,
        }
    }

    fn send(&self, command: Command) -> Result<(), TransportError> {
        self.sender
            .as_ref()
            .ok_or_else(stopped)?
            .send(command)
            .map_err(|_| stopped())
    }

    /// Runs `read` on a blocking thread of the current runtime, or here
    /// outside of one.
    fn read<T: Send + 'static>(
        &self,
        read: impl FnOnce(&Database) -> Result<T, TransportError> + Send + 'static,
    ) -> TransportFuture<'_, T> {
        let db = Arc::clone(&self.db);
        match Handle::try_current() {
            Ok(runtime) => {
                let task = runtime.spawn_blocking(move || read(&db));
                Box::pin(async move {
                    task.await
                        .map_err(|e| TransportError::with_source("the history read failed", e))?
                })
            }
            Err(_) => Box::pin(std::future::ready(read(&db))),
        }
    }
}

impl Drop for DurableTransport {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl fmt::Debug for DurableTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DurableTransport")
            .field("path", &self.path)
            .field("options", &self.options)
            .field(
                "newest",
                &self.shared.lock().newest.as_ref().map(|e| e.cursor()),
            )
            .finish_non_exhaustive()
    }
}

impl Transport for DurableTransport {
    fn start(&self, feed: Feed) -> Option<Arc<Event>> {
        // Under the lock the writer pushes under: no event is stored
        // between the head read and the feed joining.
        let mut state = self.shared.lock();
        state.feeds.push(feed);
        state.newest.clone()
    }

    fn append(&self, event: Event) -> TransportFuture<'_, Arc<Event>> {
        let (reply, answer) = oneshot::channel();
        let sent = self.send(Command::Append {
            event,
            reply,
            runtime: Handle::try_current().ok(),
        });
        Box::pin(async move {
            sent?;
            answer.await.map_err(|_| stopped())?
        })
    }

    fn find(&self, id: &str) -> TransportFuture<'_, Option<Arc<Event>>> {
        let id = id.to_owned();
        self.read(move |db| find(db, &id))
    }

    fn page(&self, page: Page) -> TransportFuture<'_, Vec<Arc<Event>>> {
        self.read(move |db| read_page(db, page))
    }

    /// Waits until what was appended is stored; the file itself is
    /// closed when the transport is dropped.
    fn close(&self) -> TransportFuture<'_, ()> {
        Box::pin(self.flush())
    }
}

fn invalid(message: impl Into<String>) -> crate::Error {
    crate::Error::InvalidConfig(message.into())
}

fn stopped() -> TransportError {
    TransportError::new("the history writer has stopped")
}

fn read_error(error: impl Into<redb::Error>) -> TransportError {
    TransportError::with_source("cannot read the history file", error.into())
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Refuses, before redb sees it, a path whose directory is missing or
/// that is not a regular file.
fn check_path(path: &Path) -> Result<(), crate::Error> {
    let shown = path.display();
    let dir = path
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or_else(|| Path::new("."));
    match fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => {
            return Err(invalid(format!(
                "cannot open the history file {shown}: {} is not a directory",
                dir.display()
            )));
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(invalid(format!(
                "cannot open the history file {shown}: its directory {} does not exist",
                dir.display()
            )));
        }
        Err(e) => {
            return Err(invalid(format!(
                "cannot open the history file {shown}: its directory {} is not accessible: {e}",
                dir.display()
            )));
        }
    }
    match fs::metadata(path) {
        Ok(meta) if meta.is_dir() => Err(invalid(format!(
            "the history file {shown} is a directory, not a file"
        ))),
        Ok(meta) if !meta.is_file() => Err(invalid(format!(
            "the history file {shown} is not a regular file"
        ))),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(invalid(format!(
            "cannot open the history file {shown}: {e}"
        ))),
    }
}

/// Creates a missing history file readable by its owner only: it holds
/// private updates.
/// Creates an empty history at `path` as a whole: made under a temporary
/// name beside it (readable by its owner only), synced, then renamed into
/// place, so that a crash while it is made leaves no half-made file at
/// `path` for the next start to refuse (a leftover temporary file is
/// replaced).
fn create_new(path: &Path, options: &DurableOptions) -> Result<(), crate::Error> {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".creating");
    let temporary = path.with_file_name(name);
    match fs::remove_file(&temporary) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(invalid(format!(
                "cannot replace the unfinished history file {}: {e}",
                temporary.display()
            )));
        }
    }
    create_private(&temporary)?;
    {
        let db = open_database(&temporary, options)?;
        read_head(&db, &temporary, options)?;
    }
    let sync = |file: &Path| fs::File::open(file).and_then(|f| f.sync_all());
    sync(&temporary)
        .and_then(|()| fs::rename(&temporary, path))
        .and_then(|()| {
            let dir = path
                .parent()
                .filter(|dir| !dir.as_os_str().is_empty())
                .unwrap_or_else(|| Path::new("."));
            sync(dir)
        })
        .map_err(|e| {
            invalid(format!(
                "cannot create the history file {}: {e}",
                path.display()
            ))
        })
}

fn create_private(path: &Path) -> Result<(), crate::Error> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => Err(invalid(format!(
            "cannot create the history file {}: permission denied",
            path.display()
        ))),
        Err(e) => Err(invalid(format!(
            "cannot create the history file {}: {e}",
            path.display()
        ))),
    }
}

fn open_database(path: &Path, options: &DurableOptions) -> Result<Database, crate::Error> {
    let shown = path.display().to_string();
    let mut builder = redb::Builder::new();
    builder.set_cache_size(options.cache_size);
    {
        let shown = shown.clone();
        let warned = std::cell::Cell::new(false);
        builder.set_repair_callback(move |session| {
            if !warned.replace(true) {
                tracing::warn!(
                    path = %shown,
                    "the history file was not closed cleanly and its last commit did not save \
                     the allocator state: checking and repairing the whole file"
                );
            }
            tracing::info!(path = %shown, progress = session.progress(), "repairing the history file");
        });
    }
    builder.create(path).map_err(|error| match error {
        DatabaseError::DatabaseAlreadyOpen => invalid(format!(
            "the history file {shown} is already in use (locked by another mercure-hub process, \
             or by another transport in this one)"
        )),
        DatabaseError::Storage(StorageError::Io(e))
            if e.kind() == io::ErrorKind::PermissionDenied =>
        {
            invalid(format!(
                "cannot open the history file {shown}: permission denied (it needs read and write \
                 access)"
            ))
        }
        DatabaseError::Storage(StorageError::Io(e)) if e.kind() == io::ErrorKind::InvalidData => {
            invalid(format!(
                "the history file {shown} is not a redb database (or its header is damaged); \
                 move it away to start a new history"
            ))
        }
        DatabaseError::Storage(StorageError::Io(e)) if e.kind() == io::ErrorKind::UnexpectedEof => {
            invalid(format!(
                "the history file {shown} is damaged (shorter than its header); move it away to \
                 start a new history"
            ))
        }
        DatabaseError::Storage(StorageError::Corrupted(why)) => invalid(format!(
            "the history file {shown} is damaged ({why}); move it away to start a new history"
        )),
        DatabaseError::UpgradeRequired(version) => invalid(format!(
            "the history file {shown} is in redb file format {version}, which this build cannot \
             read"
        )),
        other => invalid(format!("cannot open the history file {shown}: {other}")),
    })
}

/// Checks that the database is a history (or makes an empty one one);
/// returns the last cursor given and the newest stored event.
fn read_head(
    db: &Database,
    path: &Path,
    options: &DurableOptions,
) -> Result<(Cursor, Option<Arc<Event>>), crate::Error> {
    let shown = path.display();
    let damaged = |e: redb::Error| {
        invalid(format!(
            "cannot read the history file {shown}: {e}; move it away to start a new history"
        ))
    };
    let foreign = |what: &str| {
        invalid(format!(
            "the history file {shown} is a redb database but not a mercure-hub history ({what}); \
             choose another file"
        ))
    };
    let tx = db.begin_read().map_err(|e| damaged(e.into()))?;
    let mut names: Vec<String> = tx
        .list_tables()
        .map_err(|e| damaged(e.into()))?
        .map(|t| t.name().to_owned())
        .collect();
    names.extend(
        tx.list_multimap_tables()
            .map_err(|e| damaged(e.into()))?
            .map(|t| t.name().to_owned()),
    );
    if names.is_empty() {
        drop(tx);
        initialize(db, options).map_err(|e| damaged(*e.0))?;
        return Ok((Cursor::ZERO, None));
    }
    let expected = [META.name(), EVENTS.name(), IDS.name()];
    if let Some(name) = names.iter().find(|name| !expected.contains(&name.as_str())) {
        return Err(foreign(&format!("it has a table {name:?}")));
    }
    let meta = tx.open_table(META).map_err(|e| foreign(&e.to_string()))?;
    let format = meta
        .get(META_FORMAT)
        .map_err(|e| damaged(e.into()))?
        .map(|v| v.value());
    match format {
        Some(FORMAT) => {}
        Some(other) => {
            return Err(invalid(format!(
                "the history file {shown} is in history format {other}, which this version of \
                 mercure-hub cannot read (it reads format {FORMAT})"
            )));
        }
        None => return Err(foreign("no format number")),
    }
    let last = meta
        .get(META_LAST_CURSOR)
        .map_err(|e| damaged(e.into()))?
        .map_or(0, |v| v.value());
    tx.open_multimap_table(IDS)
        .map_err(|e| foreign(&e.to_string()))?;
    let events = tx.open_table(EVENTS).map_err(|e| foreign(&e.to_string()))?;
    let newest = match events.last().map_err(|e| damaged(e.into()))? {
        None => None,
        Some((cursor, record)) => Some(Arc::new(decode(cursor.value(), record.value()).map_err(
            |e| {
                invalid(format!(
                    "the history file {shown} is damaged: {e}; move it away to start a new \
                     history"
                ))
            },
        )?)),
    };
    let last = newest.as_ref().map_or(last, |e| e.cursor().get().max(last));
    Ok((Cursor::new(last), newest))
}

/// A redb error, boxed (redb's error type is large).
#[derive(Debug)]
struct StoreError(Box<redb::Error>);

impl<E: Into<redb::Error>> From<E> for StoreError {
    fn from(error: E) -> Self {
        Self(Box::new(error.into()))
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

fn initialize(db: &Database, options: &DurableOptions) -> Result<(), StoreError> {
    let mut tx = db.begin_write()?;
    tx.set_durability(Durability::Immediate)?;
    tx.set_quick_repair(options.quick_repair);
    {
        let mut meta = tx.open_table(META)?;
        meta.insert(META_FORMAT, FORMAT)?;
        meta.insert(META_LAST_CURSOR, 0)?;
        tx.open_table(EVENTS)?;
        tx.open_multimap_table(IDS)?;
    }
    tx.commit()?;
    Ok(())
}

fn find(db: &Database, id: &str) -> Result<Option<Arc<Event>>, TransportError> {
    let tx = db.begin_read().map_err(read_error)?;
    let ids = tx.open_multimap_table(IDS).map_err(read_error)?;
    let events = tx.open_table(EVENTS).map_err(read_error)?;
    // Cursors come in order: the first one still stored is the earliest.
    for cursor in ids.get(id).map_err(read_error)? {
        let cursor = cursor.map_err(read_error)?.value();
        if let Some(record) = events.get(cursor).map_err(read_error)? {
            return decode(cursor, record.value()).map(|e| Some(Arc::new(e)));
        }
    }
    Ok(None)
}

fn read_page(db: &Database, page: Page) -> Result<Vec<Arc<Event>>, TransportError> {
    let start = match page.after {
        None => 0,
        Some(after) => match after.next() {
            Some(next) => next.get(),
            None => return Ok(Vec::new()),
        },
    };
    if start > page.up_to.get() {
        return Ok(Vec::new());
    }
    let tx = db.begin_read().map_err(read_error)?;
    let events = tx.open_table(EVENTS).map_err(read_error)?;
    let mut taken = Vec::new();
    let mut bytes = 0;
    for entry in events.range(start..=page.up_to.get()).map_err(read_error)? {
        if !page.has_room(taken.len(), bytes) {
            break;
        }
        let (cursor, record) = entry.map_err(read_error)?;
        let event = decode(cursor.value(), record.value())?;
        bytes += event.size();
        taken.push(Arc::new(event));
    }
    Ok(taken)
}

/// Appends the record of `event`, appended at `at` (unix ms), to `out`.
fn encode(event: &Event, at: u64, out: &mut Vec<u8>) -> Result<(), TransportError> {
    let len = |n: usize| {
        u32::try_from(n).map_err(|_| TransportError::new("the event is too large to store"))
    };
    out.push(RECORD_VERSION);
    out.extend_from_slice(&at.to_le_bytes());
    out.push(if event.is_private() { FLAG_PRIVATE } else { 0 });
    out.extend_from_slice(&len(event.id().len())?.to_le_bytes());
    out.extend_from_slice(event.id().as_bytes());
    out.extend_from_slice(&len(event.topics().len())?.to_le_bytes());
    for topic in event.topics() {
        out.extend_from_slice(&len(topic.len())?.to_le_bytes());
        out.extend_from_slice(topic.as_bytes());
    }
    out.extend_from_slice(event.frame());
    Ok(())
}

/// Reads a record, checking every bound.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], &'static str> {
        if n > self.rest.len() {
            return Err("truncated");
        }
        let (taken, rest) = self.rest.split_at(n);
        self.rest = rest;
        Ok(taken)
    }

    fn u8(&mut self) -> Result<u8, &'static str> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<usize, &'static str> {
        let bytes: [u8; 4] = self.take(4)?.try_into().map_err(|_| "truncated")?;
        usize::try_from(u32::from_le_bytes(bytes)).map_err(|_| "a length past this platform")
    }

    fn u64(&mut self) -> Result<u64, &'static str> {
        let bytes: [u8; 8] = self.take(8)?.try_into().map_err(|_| "truncated")?;
        Ok(u64::from_le_bytes(bytes))
    }

    fn str(&mut self) -> Result<&'a str, &'static str> {
        let len = self.u32()?;
        std::str::from_utf8(self.take(len)?).map_err(|_| "text that is not UTF-8")
    }
}

/// The head of a record: its append time, flags and id.
struct Head<'a> {
    at: u64,
    flags: u8,
    id: &'a str,
}

fn decode_head<'a>(reader: &mut Reader<'a>) -> Result<Head<'a>, &'static str> {
    let version = reader.u8()?;
    if version != RECORD_VERSION {
        return Err("an unknown record version");
    }
    let at = reader.u64()?;
    let flags = reader.u8()?;
    let id = reader.str()?;
    Ok(Head { at, flags, id })
}

fn decode(cursor: u64, record: &[u8]) -> Result<Event, TransportError> {
    let damaged = |why: &str| {
        TransportError::new(format!(
            "the history record at cursor {cursor} is damaged: {why}"
        ))
    };
    let mut reader = Reader { rest: record };
    let head = decode_head(&mut reader).map_err(damaged)?;
    let count = reader.u32().map_err(damaged)?;
    // Each topic takes at least its 4-byte length: no allocation beyond
    // what the record can hold.
    let mut topics = Vec::with_capacity(count.min(reader.rest.len() / 4));
    for _ in 0..count {
        topics.push(reader.str().map_err(damaged)?.to_owned());
    }
    Ok(Event::from_parts(
        Cursor::new(cursor),
        head.id,
        topics,
        head.flags & FLAG_PRIVATE != 0,
        Bytes::copy_from_slice(reader.rest),
    ))
}

/// The writer thread's state.
struct Writer {
    db: Arc<Database>,
    shared: Arc<Shared>,
    options: DurableOptions,
    receiver: mpsc::Receiver<Command>,
    /// The last cursor given.
    last: Cursor,
    path: PathBuf,
    /// Events past the bounds may be left for an idle moment.
    more_to_trim: bool,
    /// The size of the last batch stored.
    last_batch: usize,
}

struct Pending {
    event: Event,
    reply: Reply,
}

impl Writer {
    fn run(mut self) {
        let mut carried = None;
        loop {
            let first = match carried.take() {
                Some(command) => command,
                None => {
                    let wait = if self.more_to_trim {
                        Duration::ZERO
                    } else {
                        self.options.trim_interval()
                    };
                    match self.receiver.recv_timeout(wait) {
                        Ok(command) => command,
                        Err(RecvTimeoutError::Timeout) => {
                            self.trim_idle();
                            continue;
                        }
                        Err(RecvTimeoutError::Disconnected) => return,
                    }
                }
            };
            let mut batch = Vec::new();
            let mut flushes = Vec::new();
            let mut runtime = None;
            let mut bytes = 0;
            let mut next = Some(first);
            let gather_until = std::time::Instant::now() + GATHER;
            while let Some(command) = next.take() {
                match command {
                    Command::Flush(reply) => {
                        // Answered after what came before it.
                        flushes.push(reply);
                        break;
                    }
                    Command::Append {
                        event,
                        reply,
                        runtime: appender,
                    } => {
                        let size = event.size();
                        if !batch.is_empty()
                            && (batch.len() >= MAX_BATCH_EVENTS || bytes + size > MAX_BATCH_BYTES)
                        {
                            carried = Some(Command::Append {
                                event,
                                reply,
                                runtime: appender,
                            });
                            break;
                        }
                        bytes += size;
                        runtime = runtime.or(appender);
                        batch.push(Pending { event, reply });
                    }
                }
                next = self.receiver.try_recv().ok();
                if next.is_none() && self.last_batch > 1 && batch.len() < MAX_BATCH_EVENTS {
                    let left = gather_until.saturating_duration_since(std::time::Instant::now());
                    if !left.is_zero() {
                        next = self.receiver.recv_timeout(left).ok();
                    }
                }
            }
            self.last_batch = batch.len();
            if !batch.is_empty() {
                self.store(batch, runtime.as_ref());
            }
            for reply in flushes {
                let _ = reply.send(());
            }
        }
    }

    /// Gives the batch its cursors, writes it, and only then pushes and
    /// delivers it and answers its appenders.
    fn store(&mut self, batch: Vec<Pending>, runtime: Option<&Handle>) {
        let mut cursor = self.last;
        let mut events = Vec::with_capacity(batch.len());
        let mut replies = Vec::with_capacity(batch.len());
        for Pending { event, reply } in batch {
            let Some(next) = cursor.next() else {
                let _ = reply.send(Err(TransportError::new("no cursor is left")));
                continue;
            };
            cursor = next;
            events.push(Arc::new(event.at(cursor)));
            replies.push(reply);
        }
        if events.is_empty() {
            return;
        }
        let written = self.write(&events, cursor);
        if let Err(error) = written {
            // No cursor is consumed: the next batch takes them again.
            tracing::error!(path = %self.path.display(), %error, "cannot write to the history file");
            for reply in replies {
                let _ = reply.send(Err(TransportError::new(format!(
                    "cannot write to the history file: {error}"
                ))));
            }
            return;
        }
        self.last = cursor;
        let feeds = {
            let mut state = self.shared.lock();
            if let Some(newest) = events.last() {
                state.newest = Some(Arc::clone(newest));
            }
            for feed in &state.feeds {
                for event in &events {
                    feed.push(Arc::clone(event));
                }
            }
            state.feeds.clone()
        };
        {
            // Delivery may hand a long fan-out to a task of the
            // appenders' runtime.
            let _entered = runtime.map(Handle::enter);
            for feed in &feeds {
                feed.deliver();
            }
        }
        for (reply, event) in replies.into_iter().zip(events) {
            let _ = reply.send(Ok(event));
        }
    }

    /// One transaction: the batch's events, the last cursor,
    /// and some trimming.
    fn write(&mut self, events: &[Arc<Event>], last: Cursor) -> Result<(), String> {
        let now = unix_ms();
        let mut records = Vec::new();
        let mut ends = Vec::new();
        for event in events {
            encode(event, now, &mut records).map_err(|e| e.to_string())?;
            ends.push(records.len());
        }
        self.commit(events, last, now, &records, &ends)
            .map_err(|e| e.to_string())
    }

    fn commit(
        &mut self,
        events: &[Arc<Event>],
        last: Cursor,
        now: u64,
        records: &[u8],
        ends: &[usize],
    ) -> Result<(), StoreError> {
        let mut tx = self.db.begin_write()?;
        tx.set_durability(Durability::Immediate)?;
        tx.set_quick_repair(self.options.quick_repair);
        {
            let mut table = tx.open_table(EVENTS)?;
            let mut ids = tx.open_multimap_table(IDS)?;
            let mut meta = tx.open_table(META)?;
            let mut start = 0;
            for (event, &end) in events.iter().zip(ends) {
                let cursor = event.cursor().get();
                table.insert(cursor, &records[start..end])?;
                ids.insert(event.id(), cursor)?;
                start = end;
            }
            meta.insert(META_LAST_CURSOR, last.get())?;
            let budget = ends.len() + TRIM_SLACK;
            let removed = trim(&mut table, &mut ids, &self.options, now, budget)?;
            self.more_to_trim |= removed == budget;
        }
        tx.commit()?;
        Ok(())
    }

    /// Trims in a transaction of its own, if anything is past the bounds.
    fn trim_idle(&mut self) {
        self.more_to_trim = false;
        let now = unix_ms();
        let due = (|| -> Result<bool, StoreError> {
            let tx = self.db.begin_read()?;
            let table = tx.open_table(EVENTS)?;
            if table.len()? > self.options.max_events {
                return Ok(true);
            }
            let oldest = table.first()?.map(|(cursor, record)| {
                let mut reader = Reader {
                    rest: record.value(),
                };
                (cursor.value(), decode_head(&mut reader).map(|h| h.at))
            });
            let newest = table.last()?.map(|(cursor, _)| cursor.value());
            let cutoff = now.saturating_sub(self.options.max_age_ms());
            Ok(match oldest {
                Some((cursor, at)) if Some(cursor) != newest => match at {
                    Ok(at) => at < cutoff,
                    // Damaged: trimming removes it.
                    Err(_) => true,
                },
                _ => false,
            })
        })();
        let result = due.and_then(|due| {
            if !due {
                return Ok(());
            }
            let mut tx = self.db.begin_write()?;
            tx.set_durability(Durability::Immediate)?;
            tx.set_quick_repair(self.options.quick_repair);
            {
                let mut table = tx.open_table(EVENTS)?;
                let mut ids = tx.open_multimap_table(IDS)?;
                let removed = trim(&mut table, &mut ids, &self.options, now, IDLE_TRIM)?;
                self.more_to_trim = removed == IDLE_TRIM;
            }
            tx.commit()?;
            Ok(())
        });
        if let Err(error) = result {
            tracing::warn!(path = %self.path.display(), %error, "cannot trim the history file");
        }
    }
}

/// Removes the oldest events beyond `max_events` and those appended
/// before `max_age`, never the newest, at most `budget`; returns how many.
fn trim(
    table: &mut Table<'_, u64, &'static [u8]>,
    ids: &mut MultimapTable<'_, &'static str, u64>,
    options: &DurableOptions,
    now: u64,
    budget: usize,
) -> Result<usize, StoreError> {
    let over = table.len()?.saturating_sub(options.max_events);
    let cutoff = now.saturating_sub(options.max_age_ms());
    let Some(newest) = table.last()?.map(|(cursor, _)| cursor.value()) else {
        return Ok(0);
    };
    let mut removed = 0;
    while removed < budget {
        let (cursor, id, expired) = {
            let Some((cursor, record)) = table.first()? else {
                break;
            };
            let cursor = cursor.value();
            let mut reader = Reader {
                rest: record.value(),
            };
            match decode_head(&mut reader) {
                Ok(head) => (cursor, Some(head.id.to_owned()), head.at < cutoff),
                // A damaged record goes first: nothing can be read from it.
                Err(_) => (cursor, None, true),
            }
        };
        if cursor == newest || (u64::try_from(removed).unwrap_or(u64::MAX) >= over && !expired) {
            break;
        }
        table.remove(cursor)?;
        if let Some(id) = id {
            ids.remove(id.as_str(), cursor)?;
        }
        removed += 1;
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use redb::ReadableMultimapTable;

    use super::*;

    /// A file path under the temporary directory, removed on drop.
    struct TempFile(PathBuf);

    impl TempFile {
        fn new(name: &str) -> Self {
            use std::sync::atomic::{AtomicU64, Ordering};
            static NEXT: AtomicU64 = AtomicU64::new(0);
            let dir = std::env::temp_dir().join(format!(
                "mercure-durable-{}-{}-{name}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ));
            fs::create_dir_all(&dir).expect("a temporary directory");
            Self(dir.join("history.redb"))
        }

        fn dir(&self) -> &Path {
            self.0.parent().expect("a directory")
        }
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(self.dir());
        }
    }

    fn event(id: &str, topic: &str) -> Event {
        Event::new(
            Arc::from(id),
            Arc::from(vec![topic.to_owned(), format!("{topic}/alt")]),
            id.ends_with('p'),
            Bytes::from(format!("id: {id}\ndata: {topic}\n\n")),
        )
    }

    fn open(file: &TempFile, options: DurableOptions) -> DurableTransport {
        DurableTransport::open(&file.0, options).expect("the history opens")
    }

    fn everything() -> Page {
        Page::new(None, Cursor::new(u64::MAX), usize::MAX, usize::MAX)
    }

    fn summary(events: &[Arc<Event>]) -> Vec<(u64, String, Vec<String>, bool, Bytes)> {
        events
            .iter()
            .map(|e| {
                (
                    e.cursor().get(),
                    e.id().to_owned(),
                    e.topics().to_vec(),
                    e.is_private(),
                    e.frame().clone(),
                )
            })
            .collect()
    }

    fn error_of(result: Result<DurableTransport, crate::Error>) -> String {
        match result {
            Ok(_) => panic!("the open should fail"),
            Err(e) => e.to_string(),
        }
    }

    /// The entries of the id index, as (id, cursor).
    fn index(history: &DurableTransport) -> Vec<(String, u64)> {
        let tx = history.db.begin_read().unwrap();
        let ids = tx.open_multimap_table(IDS).unwrap();
        let mut entries = Vec::new();
        for entry in ids.iter().unwrap() {
            let (id, cursors) = entry.unwrap();
            for cursor in cursors {
                entries.push((id.value().to_owned(), cursor.unwrap().value()));
            }
        }
        entries.sort_by_key(|(_, cursor)| *cursor);
        entries
    }

    fn stored_index(events: &[Arc<Event>]) -> Vec<(String, u64)> {
        events
            .iter()
            .map(|e| (e.id().to_owned(), e.cursor().get()))
            .collect()
    }

    #[tokio::test]
    async fn appended_events_survive_a_reopen_in_order() {
        let file = TempFile::new("reopen");
        let history = open(&file, DurableOptions::new());
        let feed = Feed::detached();
        assert!(history.start(feed.clone()).is_none());
        let mut appended = Vec::new();
        for i in 0..20 {
            let id = if i % 3 == 0 {
                format!("e{i}p")
            } else {
                format!("e{i}")
            };
            appended.push(
                history
                    .append(event(&id, "https://example.com/a"))
                    .await
                    .unwrap(),
            );
        }
        assert_eq!(summary(&feed.take_pushed()), summary(&appended));
        let cursors: Vec<u64> = appended.iter().map(|e| e.cursor().get()).collect();
        assert!(cursors.windows(2).all(|w| w[0] < w[1]), "{cursors:?}");
        drop(history);

        let history = open(&file, DurableOptions::new());
        let head = history.start(Feed::detached()).expect("the newest event");
        assert_eq!(summary(&[head]), summary(&appended[19..]));
        let read = history.page(everything()).await.unwrap();
        assert_eq!(summary(&read), summary(&appended));
        assert_eq!(history.count().unwrap(), 20);
        history.close().unwrap();
    }

    #[tokio::test]
    async fn cursors_keep_increasing_after_a_reopen() {
        let file = TempFile::new("cursors");
        let history = open(&file, DurableOptions::new());
        let first = history.append(event("a", "t")).await.unwrap();
        let second = history.append(event("b", "t")).await.unwrap();
        assert!(second.cursor() > first.cursor());
        history.flush().await.unwrap();
        drop(history);

        let history = open(&file, DurableOptions::new());
        let next = history.append(event("c", "t")).await.unwrap();
        assert!(next.cursor() > first.cursor());
        drop(history);

        let history = open(&file, DurableOptions::new());
        let after = history.append(event("d", "t")).await.unwrap();
        assert!(after.cursor() > next.cursor());
        let read = history.page(everything()).await.unwrap();
        let ids: Vec<&str> = read.iter().map(|e| e.id()).collect();
        assert_eq!(ids, ["a", "b", "c", "d"]);
    }

    #[tokio::test]
    async fn the_last_cursor_survives_when_every_event_is_trimmed_but_one() {
        let file = TempFile::new("last-cursor");
        let options = DurableOptions::new().with_max_events(1);
        let history = open(&file, options.clone());
        let mut last = Cursor::ZERO;
        for i in 0..5 {
            last = history
                .append(event(&format!("e{i}"), "t"))
                .await
                .unwrap()
                .cursor();
        }
        assert_eq!(history.count().unwrap(), 1);
        drop(history);
        let history = open(&file, options);
        assert_eq!(history.start(Feed::detached()).unwrap().cursor(), last);
        assert!(history.append(event("f", "t")).await.unwrap().cursor() > last);
    }

    #[tokio::test]
    async fn find_returns_the_earliest_of_duplicate_ids() {
        let file = TempFile::new("find");
        let history = open(&file, DurableOptions::new());
        history.append(event("other", "t")).await.unwrap();
        let first = history
            .append(event("dup", "https://example.com/1"))
            .await
            .unwrap();
        history
            .append(event("dup", "https://example.com/2"))
            .await
            .unwrap();
        let found = history.find("dup").await.unwrap().expect("found");
        assert_eq!(summary(&[found]), summary(&[first]));
        assert!(history.find("missing").await.unwrap().is_none());
    }

    #[tokio::test]
    async fn pages_keep_their_bounds() {
        let file = TempFile::new("page");
        let history = open(&file, DurableOptions::new());
        let mut appended = Vec::new();
        for i in 0..10 {
            appended.push(history.append(event(&format!("e{i}"), "t")).await.unwrap());
        }
        let cursor = |i: usize| appended[i].cursor();
        let all = Cursor::new(u64::MAX);
        let page =
            |after, up_to, events, bytes| history.page(Page::new(after, up_to, events, bytes));

        assert_eq!(
            summary(&page(None, all, 100, usize::MAX).await.unwrap()),
            summary(&appended)
        );
        assert_eq!(
            summary(
                &page(Some(cursor(2)), cursor(5), 100, usize::MAX)
                    .await
                    .unwrap()
            ),
            summary(&appended[3..=5])
        );
        assert_eq!(
            summary(&page(None, all, 3, usize::MAX).await.unwrap()),
            summary(&appended[..3])
        );
        let size = appended[0].size();
        // Past the first, at most `max_bytes`: 2.5 events' worth takes 3.
        assert_eq!(
            summary(&page(Some(cursor(0)), all, 100, size * 5 / 2).await.unwrap()),
            summary(&appended[1..4])
        );
        // One event even when larger than the page.
        assert_eq!(
            summary(&page(None, all, 100, 1).await.unwrap()),
            summary(&appended[..1])
        );
        assert!(
            page(Some(cursor(9)), all, 100, usize::MAX)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            page(Some(cursor(5)), cursor(3), 100, usize::MAX)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            page(Some(all), all, 100, usize::MAX)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            page(None, Cursor::ZERO, 100, usize::MAX)
                .await
                .unwrap()
                .is_empty()
        );
    }

    #[tokio::test]
    async fn count_trimming_keeps_the_index_consistent() {
        let file = TempFile::new("count");
        let history = open(&file, DurableOptions::new().with_max_events(5));
        let mut appended = Vec::new();
        for i in 0..30 {
            // Repeated ids: trimming removes the right cursor of each.
            appended.push(
                history
                    .append(event(&format!("e{}", i % 7), "t"))
                    .await
                    .unwrap(),
            );
        }
        assert_eq!(history.count().unwrap(), 5);
        let read = history.page(everything()).await.unwrap();
        assert_eq!(summary(&read), summary(&appended[25..]));
        assert_eq!(index(&history), stored_index(&appended[25..]));
        // e4 was appended at 4, 11, 18 and 25: only 25 is left.
        let found = history.find("e4").await.unwrap().unwrap();
        assert_eq!(found.cursor(), appended[25].cursor());
        assert!(history.find("e3").await.unwrap().is_none());
    }

    #[tokio::test]
    async fn age_trimming_keeps_the_newest_and_the_index_consistent() {
        let file = TempFile::new("age");
        let history = open(
            &file,
            DurableOptions::new().with_max_age(Duration::from_millis(300)),
        );
        let mut appended = Vec::new();
        for i in 0..4 {
            appended.push(
                history
                    .append(event(&format!("old{i}"), "t"))
                    .await
                    .unwrap(),
            );
        }
        tokio::time::sleep(Duration::from_millis(400)).await;
        // The batch of a new append trims the expired ones.
        appended.push(history.append(event("new", "t")).await.unwrap());
        let read = history.page(everything()).await.unwrap();
        assert_eq!(summary(&read), summary(&appended[4..]));
        assert_eq!(index(&history), stored_index(&appended[4..]));
        assert!(history.find("old0").await.unwrap().is_none());

        // An idle writer trims too, and keeps the newest event.
        appended.push(history.append(event("newer", "t")).await.unwrap());
        tokio::time::sleep(Duration::from_millis(1000)).await;
        let read = history.page(everything()).await.unwrap();
        assert_eq!(summary(&read), summary(&appended[5..]));
        assert_eq!(index(&history), stored_index(&appended[5..]));
        drop(history);
        let history = open(
            &file,
            DurableOptions::new().with_max_age(Duration::from_millis(300)),
        );
        assert_eq!(
            history.start(Feed::detached()).unwrap().cursor(),
            appended[5].cursor()
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_appends_are_stored_once_in_cursor_order() {
        let file = TempFile::new("concurrent");
        let history = Arc::new(open(&file, DurableOptions::new()));
        let feed = Feed::detached();
        history.start(feed.clone());
        let tasks: Vec<_> = (0..16)
            .map(|task| {
                let history = Arc::clone(&history);
                tokio::spawn(async move {
                    let mut cursors = Vec::new();
                    for i in 0..50 {
                        let stored = history
                            .append(event(&format!("t{task}-{i}"), "t"))
                            .await
                            .unwrap();
                        cursors.push(stored.cursor());
                    }
                    cursors
                })
            })
            .collect();
        let mut acknowledged = Vec::new();
        for task in tasks {
            let cursors = task.await.unwrap();
            // Each appender's events in its own order.
            assert!(cursors.windows(2).all(|w| w[0] < w[1]));
            acknowledged.extend(cursors);
        }
        acknowledged.sort();
        let pushed = feed.take_pushed();
        let pushed_cursors: Vec<Cursor> = pushed.iter().map(|e| e.cursor()).collect();
        assert_eq!(
            pushed_cursors, acknowledged,
            "pushed in cursor order, each once"
        );
        let read = history.page(everything()).await.unwrap();
        assert_eq!(summary(&read), summary(&pushed));
        let mut ids: Vec<&str> = read.iter().map(|e| e.id()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 800);
    }

    #[test]
    fn works_without_a_runtime() {
        let file = TempFile::new("no-runtime");
        let history = open(&file, DurableOptions::new());
        let stored = futures_util::FutureExt::now_or_never(history.find("x"));
        assert!(matches!(stored, Some(Ok(None))));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let appended = runtime.block_on(history.append(event("x", "t"))).unwrap();
        let found = futures_util::FutureExt::now_or_never(history.find("x"));
        assert_eq!(found.unwrap().unwrap().unwrap().cursor(), appended.cursor());
    }

    #[cfg(unix)]
    #[test]
    fn a_new_file_is_readable_by_its_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let file = TempFile::new("mode");
        open(&file, DurableOptions::new());
        let mode = fs::metadata(&file.0).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn a_second_open_is_a_clear_error() {
        let file = TempFile::new("locked");
        let history = open(&file, DurableOptions::new());
        let error = error_of(DurableTransport::open(&file.0, DurableOptions::new()));
        assert!(error.contains("already in use"), "{error}");
        history.close().unwrap();
        open(&file, DurableOptions::new());
    }

    #[test]
    fn a_file_that_is_not_a_history_is_a_clear_error() {
        let file = TempFile::new("garbage");
        fs::write(&file.0, b"this is not a database, only some text").unwrap();
        let error = error_of(DurableTransport::open(&file.0, DurableOptions::new()));
        assert!(error.contains("not a redb database"), "{error}");
        assert_eq!(
            fs::read(&file.0).unwrap(),
            b"this is not a database, only some text",
            "left as it was"
        );

        let other = TempFile::new("foreign");
        {
            let db = Database::create(&other.0).unwrap();
            let tx = db.begin_write().unwrap();
            tx.open_table(TableDefinition::<u64, u64>::new("accounts"))
                .unwrap()
                .insert(1, 2)
                .unwrap();
            tx.commit().unwrap();
        }
        let error = error_of(DurableTransport::open(&other.0, DurableOptions::new()));
        assert!(error.contains("not a mercure-hub history"), "{error}");

        let dir = TempFile::new("directory");
        fs::create_dir(&dir.0).unwrap();
        let error = error_of(DurableTransport::open(&dir.0, DurableOptions::new()));
        assert!(error.contains("is a directory"), "{error}");

        let missing = dir.dir().join("missing").join("history.redb");
        let error = error_of(DurableTransport::open(&missing, DurableOptions::new()));
        assert!(error.contains("does not exist"), "{error}");

        let error = error_of(DurableTransport::open(
            &file.0,
            DurableOptions::new().with_max_events(0),
        ));
        assert!(error.contains("at least one event"), "{error}");
    }

    #[tokio::test]
    async fn a_truncated_file_is_a_clear_error() {
        let file = TempFile::new("truncated");
        let history = open(&file, DurableOptions::new());
        for i in 0..200 {
            history
                .append(event(&format!("e{i}"), &"t".repeat(500)))
                .await
                .unwrap();
        }
        history.close().unwrap();
        let len = fs::metadata(&file.0).unwrap().len();
        for keep in [len / 2, 4096, 100] {
            let truncated = fs::OpenOptions::new().write(true).open(&file.0).unwrap();
            truncated.set_len(keep).unwrap();
            drop(truncated);
            let error = error_of(DurableTransport::open(&file.0, DurableOptions::new()));
            assert!(error.contains("is damaged"), "{keep}: {error}");
        }
    }

    #[tokio::test]
    async fn a_damaged_record_is_an_error_not_a_panic() {
        let file = TempFile::new("damaged");
        let history = open(&file, DurableOptions::new());
        let first = history.append(event("a", "t")).await.unwrap();
        history.append(event("b", "t")).await.unwrap();
        {
            let tx = history.db.begin_write().unwrap();
            let mut table = tx.open_table(EVENTS).unwrap();
            let mut record = Vec::new();
            encode(&first, 0, &mut record).unwrap();
            record.truncate(12);
            table
                .insert(first.cursor().get(), record.as_slice())
                .unwrap();
            drop(table);
            tx.commit().unwrap();
        }
        let error = history.page(everything()).await.unwrap_err().to_string();
        assert!(error.contains("damaged"), "{error}");
        assert!(history.find("a").await.is_err());
        assert!(history.find("b").await.unwrap().is_some());
    }

    #[test]
    fn every_truncated_record_is_refused() {
        let event = event("an-id", "https://example.com/topic").at(Cursor::new(7));
        let mut record = Vec::new();
        encode(&event, 1234, &mut record).unwrap();
        let frame_start = record.len() - event.frame().len();
        for len in 0..frame_start {
            assert!(decode(7, &record[..len]).is_err(), "{len}");
        }
        let decoded = decode(7, &record).unwrap();
        assert_eq!(summary(&[Arc::new(decoded)]), summary(&[Arc::new(event)]));
        // Lengths past the record.
        let mut lying = record.clone();
        lying[10..14].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(decode(7, &lying).is_err());
        let mut version = record;
        version[0] = 9;
        assert!(decode(7, &version).is_err());
    }

    #[tokio::test]
    async fn flush_and_close_store_what_was_appended() {
        let file = TempFile::new("flush");
        let history = open(&file, DurableOptions::new().with_quick_repair(false));
        let pending: Vec<_> = (0..10)
            .map(|i| history.append(event(&format!("e{i}"), "t")))
            .collect();
        history.flush().await.unwrap();
        assert_eq!(history.count().unwrap(), 10);
        for appended in pending {
            appended.await.unwrap();
        }
        // Sent, never awaited: stored before the file closes.
        drop(history.append(event("last", "t")));
        history.close().unwrap();
        let history = open(&file, DurableOptions::new());
        assert_eq!(history.count().unwrap(), 11);
        assert_eq!(history.start(Feed::detached()).unwrap().id(), "last");
    }
}
