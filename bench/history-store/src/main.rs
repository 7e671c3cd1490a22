//! redb 4.6 (what mercure-hub's `DurableTransport` uses), redb 2.6 (the
//! last line that builds with Rust 1.88) and SQLite (WAL,
//! `synchronous=FULL`) as the hub's durable history: the same records, the
//! same layout (events by cursor, an index from event id to cursor), one
//! transaction per batch, each redb with and without quick repair.
//!
//! ```sh
//! cd bench/history-store && CARGO_TARGET_DIR=/tmp/hs cargo run --release   # everything, ~5 min
//! BENCH_RECORDS=100000 cargo run --release   # a smaller history (default 1,000,000)
//! BENCH_SECONDS=1 BENCH_ROUNDS=1 cargo run --release   # shorter append runs (default 2 s, 3 rounds)
//! BENCH_DIR=/some/disk cargo run --release   # where the files go (default: the temp dir)
//! cargo run --release -- commits redb-4.6+quick-repair /tmp/x.db 200   # for strace
//! ```
//!
//! Measured: the disk's `fdatasync` latency; appends/s with batches of 1,
//! 16 and 256 records of about 200 B and 2 KiB (fresh file each, rounds
//! interleaved across the stores); reopen time of a history of
//! `BENCH_RECORDS` records after a clean close and after the writing
//! process was killed (SIGKILL) right after a commit; a range read of
//! 100,000 records; 10,000 lookups by id; the file size and where redb's
//! pages go. Then the hub's own `DurableTransport` (group commit by its
//! writer thread) with 1, 16 and 256 concurrent appenders.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use redb::{
    Durability, MultimapTableDefinition, ReadableTable, ReadableTableMetadata, TableDefinition,
};
use redb4::{ReadableDatabase as _, ReadableTableMetadata as _};

const EVENTS: TableDefinition<u64, &[u8]> = TableDefinition::new("events");
const IDS: MultimapTableDefinition<&str, u64> = MultimapTableDefinition::new("ids");
const EVENTS4: redb4::TableDefinition<u64, &[u8]> = redb4::TableDefinition::new("events");
const IDS4: redb4::MultimapTableDefinition<&str, u64> = redb4::MultimapTableDefinition::new("ids");

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// Which store, and for redb whether commits save the allocator state
/// (`set_quick_repair`), which makes recovery after a crash quick.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Redb,
    RedbQuickRepair,
    Redb4,
    Redb4QuickRepair,
    Sqlite,
}

const KINDS: [Kind; 5] = [
    Kind::Redb,
    Kind::RedbQuickRepair,
    Kind::Redb4,
    Kind::Redb4QuickRepair,
    Kind::Sqlite,
];

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Redb => "redb-2.6",
            Kind::RedbQuickRepair => "redb-2.6+quick-repair",
            Kind::Redb4 => "redb-4.6",
            Kind::Redb4QuickRepair => "redb-4.6+quick-repair",
            Kind::Sqlite => "sqlite-wal-full",
        }
    }

    fn parse(name: &str) -> Option<Self> {
        KINDS.into_iter().find(|kind| kind.name() == name)
    }
}

/// One stored event: its cursor, its id, and the record the hub would
/// store (header, id, topic, frame).
struct Rec {
    cursor: u64,
    id: String,
    value: Vec<u8>,
}

fn id_of(cursor: u64) -> String {
    // A UUID-shaped id, scattered like random ones.
    let h = cursor.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
    let g = h.rotate_left(29).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    format!(
        "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
        h >> 32,
        (h >> 16) & 0xffff,
        h & 0xfff,
        g >> 52,
        g & 0xffff_ffff_ffff
    )
}

fn record(cursor: u64, frame_len: usize) -> Rec {
    let id = id_of(cursor);
    let topic = format!("https://example.com/books/{}", cursor % 1000);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64;
    let mut value = Vec::with_capacity(frame_len + id.len() + topic.len() + 24);
    value.push(1);
    value.extend_from_slice(&now.to_le_bytes());
    value.push(0);
    value.extend_from_slice(&(id.len() as u32).to_le_bytes());
    value.extend_from_slice(id.as_bytes());
    value.extend_from_slice(&1u32.to_le_bytes());
    value.extend_from_slice(&(topic.len() as u32).to_le_bytes());
    value.extend_from_slice(topic.as_bytes());
    let head = format!("id: {id}\ndata: ");
    value.extend_from_slice(head.as_bytes());
    let body = frame_len.saturating_sub(head.len() + 2);
    value.extend((0..body).map(|i| b'a' + (i % 26) as u8));
    value.extend_from_slice(b"\n\n");
    Rec { cursor, id, value }
}

enum Store {
    Redb { db: redb::Database, quick: bool },
    Redb4 { db: redb4::Database, quick: bool },
    Sqlite(rusqlite::Connection),
}

impl Store {
    fn open(kind: Kind, path: &Path) -> Result<Self> {
        Ok(match kind {
            Kind::Redb | Kind::RedbQuickRepair => {
                let db = redb::Builder::new()
                    .create_with_file_format_v3(true)
                    .set_cache_size(64 << 20)
                    .create(path)?;
                Store::Redb {
                    db,
                    quick: kind == Kind::RedbQuickRepair,
                }
            }
            Kind::Redb4 | Kind::Redb4QuickRepair => {
                let db = redb4::Builder::new()
                    .set_cache_size(64 << 20)
                    .create(path)?;
                Store::Redb4 {
                    db,
                    quick: kind == Kind::Redb4QuickRepair,
                }
            }
            Kind::Sqlite => {
                let conn = rusqlite::Connection::open(path)?;
                conn.pragma_update(None, "journal_mode", "WAL")?;
                conn.pragma_update(None, "synchronous", "FULL")?;
                conn.execute_batch(
                    "CREATE TABLE IF NOT EXISTS events (cursor INTEGER PRIMARY KEY, id TEXT NOT NULL, record BLOB NOT NULL);
                     CREATE INDEX IF NOT EXISTS events_id ON events (id, cursor);",
                )?;
                Store::Sqlite(conn)
            }
        })
    }

    /// One transaction, durable when it returns.
    fn append(&mut self, batch: &[Rec]) -> Result<()> {
        match self {
            Store::Redb { db, quick } => {
                let mut tx = db.begin_write()?;
                tx.set_durability(Durability::Immediate);
                tx.set_quick_repair(*quick);
                {
                    let mut events = tx.open_table(EVENTS)?;
                    let mut ids = tx.open_multimap_table(IDS)?;
                    for rec in batch {
                        events.insert(rec.cursor, rec.value.as_slice())?;
                        ids.insert(rec.id.as_str(), rec.cursor)?;
                    }
                }
                tx.commit()?;
            }
            Store::Redb4 { db, quick } => {
                let mut tx = db.begin_write()?;
                tx.set_durability(redb4::Durability::Immediate)?;
                tx.set_quick_repair(*quick);
                {
                    let mut events = tx.open_table(EVENTS4)?;
                    let mut ids = tx.open_multimap_table(IDS4)?;
                    for rec in batch {
                        events.insert(rec.cursor, rec.value.as_slice())?;
                        ids.insert(rec.id.as_str(), rec.cursor)?;
                    }
                }
                tx.commit()?;
            }
            Store::Sqlite(conn) => {
                let tx = conn.transaction()?;
                {
                    let mut insert = tx.prepare_cached(
                        "INSERT INTO events (cursor, id, record) VALUES (?1, ?2, ?3)",
                    )?;
                    for rec in batch {
                        insert.execute((
                            rec.cursor as i64,
                            rec.id.as_str(),
                            rec.value.as_slice(),
                        ))?;
                    }
                }
                tx.commit()?;
            }
        }
        Ok(())
    }

    /// The newest cursor: what the hub reads before serving.
    fn last(&self) -> Result<Option<u64>> {
        Ok(match self {
            Store::Redb { db, .. } => {
                let tx = db.begin_read()?;
                let events = tx.open_table(EVENTS)?;
                events.last()?.map(|(k, v)| {
                    std::hint::black_box(v.value().len());
                    k.value()
                })
            }
            Store::Redb4 { db, .. } => {
                use redb4::ReadableTable;
                let tx = db.begin_read()?;
                let events = tx.open_table(EVENTS4)?;
                events.last()?.map(|(k, v)| {
                    std::hint::black_box(v.value().len());
                    k.value()
                })
            }
            Store::Sqlite(conn) => conn
                .query_row(
                    "SELECT cursor, length(record) FROM events ORDER BY cursor DESC LIMIT 1",
                    (),
                    |row| row.get::<_, i64>(0),
                )
                .map(|c| Some(c as u64))
                .or_else(|e| match e {
                    rusqlite::Error::QueryReturnedNoRows => Ok(None),
                    e => Err(e),
                })?,
        })
    }

    fn len(&self) -> Result<u64> {
        Ok(match self {
            Store::Redb { db, .. } => db.begin_read()?.open_table(EVENTS)?.len()?,
            Store::Redb4 { db, .. } => {
                use redb4::ReadableTableMetadata;
                db.begin_read()?.open_table(EVENTS4)?.len()?
            }
            Store::Sqlite(conn) => conn.query_row("SELECT count(*) FROM events", (), |row| {
                row.get::<_, i64>(0)
            })? as u64,
        })
    }

    /// Copies out the records `after < cursor <= after + n`; returns
    /// (records, bytes).
    fn range(&self, after: u64, n: u64) -> Result<(u64, u64)> {
        let mut count = 0;
        let mut bytes = 0;
        match self {
            Store::Redb { db, .. } => {
                let tx = db.begin_read()?;
                let events = tx.open_table(EVENTS)?;
                for entry in events.range(after + 1..=after + n)? {
                    let (_, v) = entry?;
                    let copy = v.value().to_vec();
                    bytes += copy.len() as u64;
                    count += 1;
                    std::hint::black_box(copy);
                }
            }
            Store::Redb4 { db, .. } => {
                let tx = db.begin_read()?;
                let events = tx.open_table(EVENTS4)?;
                for entry in events.range(after + 1..=after + n)? {
                    let (_, v) = entry?;
                    let copy = v.value().to_vec();
                    bytes += copy.len() as u64;
                    count += 1;
                    std::hint::black_box(copy);
                }
            }
            Store::Sqlite(conn) => {
                let mut stmt = conn.prepare_cached(
                    "SELECT cursor, record FROM events WHERE cursor > ?1 AND cursor <= ?2 ORDER BY cursor",
                )?;
                let mut rows = stmt.query(((after) as i64, (after + n) as i64))?;
                while let Some(row) = rows.next()? {
                    let copy: Vec<u8> = row.get(1)?;
                    bytes += copy.len() as u64;
                    count += 1;
                    std::hint::black_box(copy);
                }
            }
        }
        Ok((count, bytes))
    }

    /// The earliest cursor stored for `id`.
    fn find(&self, id: &str) -> Result<Option<u64>> {
        Ok(match self {
            Store::Redb { db, .. } => {
                let tx = db.begin_read()?;
                let ids = tx.open_multimap_table(IDS)?;
                let mut cursors = redb::ReadableMultimapTable::get(&ids, id)?;
                match cursors.next() {
                    Some(c) => Some(c?.value()),
                    None => None,
                }
            }
            Store::Redb4 { db, .. } => {
                let tx = db.begin_read()?;
                let ids = tx.open_multimap_table(IDS4)?;
                let mut cursors = redb4::ReadableMultimapTable::get(&ids, id)?;
                match cursors.next() {
                    Some(c) => Some(c?.value()),
                    None => None,
                }
            }
            Store::Sqlite(conn) => {
                let mut stmt = conn.prepare_cached(
                    "SELECT cursor FROM events WHERE id = ?1 ORDER BY cursor LIMIT 1",
                )?;
                let mut rows = stmt.query([id])?;
                match rows.next()? {
                    Some(row) => Some(row.get::<_, i64>(0)? as u64),
                    None => None,
                }
            }
        })
    }
}

/// Where redb's file space goes.
fn redb_stats(path: &Path) -> Result<String> {
    let db = redb::Database::create(path)?;
    let tx = db.begin_write()?;
    let stats = tx.stats()?;
    let page = stats.page_size() as u64;
    let events = tx.open_table(EVENTS)?.stats()?;
    let ids = tx.open_multimap_table(IDS)?.stats()?;
    let line = format!(
        "redb 2.6 pages: {:.0} MiB allocated; events table {:.0} MiB stored in {:.0} MiB of leaves \
         ({:.0} MiB fragmented); id index {:.0} MiB stored in {:.0} MiB of leaves ({:.0} MiB \
         fragmented)",
        mib(stats.allocated_pages() * page),
        mib(events.stored_bytes()),
        mib(events.leaf_pages() * page),
        mib(events.fragmented_bytes()),
        mib(ids.stored_bytes()),
        mib(ids.leaf_pages() * page),
        mib(ids.fragmented_bytes()),
    );
    tx.abort()?;
    Ok(line)
}

fn redb4_stats(path: &Path) -> Result<String> {
    let db = redb4::Database::create(path)?;
    let tx = db.begin_write()?;
    let stats = tx.stats()?;
    let page = stats.page_size() as u64;
    let events = tx.open_table(EVENTS4)?.stats()?;
    let ids = tx.open_multimap_table(IDS4)?.stats()?;
    let line = format!(
        "redb 4.6 pages: {:.0} MiB allocated; events table {:.0} MiB stored in {:.0} MiB of leaves \
         ({:.0} MiB fragmented); id index {:.0} MiB stored in {:.0} MiB of leaves ({:.0} MiB \
         fragmented)",
        mib(stats.allocated_pages() * page),
        mib(events.stored_bytes()),
        mib(events.leaf_pages() * page),
        mib(events.fragmented_bytes()),
        mib(ids.stored_bytes()),
        mib(ids.leaf_pages() * page),
        mib(ids.fragmented_bytes()),
    );
    tx.abort()?;
    Ok(line)
}

fn file_size(kind: Kind, path: &Path) -> u64 {
    let mut size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    if kind == Kind::Sqlite {
        for suffix in ["-wal", "-shm"] {
            let mut other = path.as_os_str().to_owned();
            other.push(suffix);
            size += std::fs::metadata(other).map(|m| m.len()).unwrap_or(0);
        }
    }
    size
}

fn remove(kind: Kind, path: &Path) {
    let _ = std::fs::remove_file(path);
    if kind == Kind::Sqlite {
        for suffix in ["-wal", "-shm"] {
            let mut other = path.as_os_str().to_owned();
            other.push(suffix);
            let _ = std::fs::remove_file(other);
        }
    }
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Appends batches of `batch` records of `frame_len` bytes to a fresh file
/// for `seconds` (at most `max_records`); returns appends/s and commits/s.
fn append_rate(
    kind: Kind,
    dir: &Path,
    batch: usize,
    frame_len: usize,
    seconds: f64,
) -> Result<(f64, f64)> {
    let path = dir.join(format!("append-{}.db", kind.name()));
    remove(kind, &path);
    let mut store = Store::open(kind, &path)?;
    let mut cursor = 0;
    let mut commits = 0u64;
    let max_records = 2_000_000u64;
    let start = Instant::now();
    while start.elapsed().as_secs_f64() < seconds && cursor < max_records {
        let recs: Vec<Rec> = (0..batch)
            .map(|_| {
                cursor += 1;
                record(cursor, frame_len)
            })
            .collect();
        store.append(&recs)?;
        commits += 1;
    }
    let elapsed = start.elapsed().as_secs_f64();
    drop(store);
    remove(kind, &path);
    Ok((cursor as f64 / elapsed, commits as f64 / elapsed))
}

/// Fills a history of `records` records (about 256 B each) in batches of
/// 4096; returns the time it took.
fn fill(kind: Kind, path: &Path, records: u64) -> Result<Duration> {
    remove(kind, path);
    let start = Instant::now();
    let mut store = Store::open(kind, path)?;
    let mut cursor = 0;
    while cursor < records {
        let n = (records - cursor).min(4096);
        let recs: Vec<Rec> = (0..n)
            .map(|_| {
                cursor += 1;
                record(cursor, 256)
            })
            .collect();
        store.append(&recs)?;
    }
    drop(store);
    Ok(start.elapsed())
}

/// Opens the history and reads its newest record: the hub serving again.
fn reopen(kind: Kind, path: &Path) -> Result<(Duration, Store)> {
    let start = Instant::now();
    let store = Store::open(kind, path)?;
    let last = store.last()?;
    let took = start.elapsed();
    if last.is_none() {
        return Err("the reopened history is empty".into());
    }
    Ok((took, store))
}

/// Runs a child process that opens the history, commits one batch of 16
/// records and is killed (SIGKILL) as soon as it says so.
fn crash_after_commit(kind: Kind, path: &Path) -> Result<()> {
    let mut child = Command::new(std::env::current_exe()?)
        .arg("crash-writer")
        .arg(kind.name())
        .arg(path)
        .stdout(Stdio::piped())
        .spawn()?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().ok_or("no stdout")?).read_line(&mut line)?;
    child.kill()?;
    child.wait()?;
    if line.trim() != "committed" {
        return Err(format!("the crash writer said {line:?}").into());
    }
    Ok(())
}

fn crash_writer(kind: Kind, path: &Path) -> Result<()> {
    let mut store = Store::open(kind, path)?;
    let next = store.last()?.unwrap_or(0) + 1;
    let recs: Vec<Rec> = (next..next + 16).map(|c| record(c, 256)).collect();
    store.append(&recs)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "committed")?;
    out.flush()?;
    // Killed here, the database never closed.
    loop {
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// `fdatasync` of a 4 KiB overwrite, 200 times: (p50, p90, max) in ms.
fn fsync_probe(dir: &Path) -> Result<(f64, f64, f64)> {
    use std::os::unix::fs::FileExt;
    let path = dir.join("fsync-probe");
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)?;
    let mut took = Vec::new();
    for _ in 0..200 {
        file.write_all_at(&[b'x'; 4096], 0)?;
        let start = Instant::now();
        file.sync_data()?;
        took.push(ms(start.elapsed()));
    }
    drop(file);
    std::fs::remove_file(&path)?;
    took.sort_by(f64::total_cmp);
    Ok((took[100], took[180], took[199]))
}

/// `DurableTransport` with `appenders` tasks appending 200-byte events
/// for `seconds`: (appends/s, p50 ms, p99 ms).
fn hub_appends(
    dir: &Path,
    quick_repair: bool,
    appenders: usize,
    seconds: f64,
) -> Result<(f64, f64, f64)> {
    use mercure_hub::{Cursor, DurableOptions, DurableTransport, Event, Transport};
    use std::sync::Arc;
    let path = dir.join("hub-history.redb");
    let _ = std::fs::remove_file(&path);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let history = Arc::new(DurableTransport::open(
        &path,
        DurableOptions::new().with_quick_repair(quick_repair),
    )?);
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let mut latencies: Vec<f64> = runtime.block_on(async {
        let tasks: Vec<_> = (0..appenders)
            .map(|task| {
                let history = Arc::clone(&history);
                tokio::spawn(async move {
                    let mut took = Vec::new();
                    let mut i = 0u64;
                    while Instant::now() < deadline {
                        let id = id_of(task as u64 * 1_000_000_000 + i);
                        let frame =
                            bytes::Bytes::from(format!("id: {id}\ndata: {}\n\n", "a".repeat(160)));
                        let event = Event::from_parts(
                            Cursor::ZERO,
                            id.as_str(),
                            vec!["https://example.com/books/1".to_owned()],
                            false,
                            frame,
                        );
                        let start = Instant::now();
                        history.append(event).await.expect("appended");
                        took.push(ms(start.elapsed()));
                        i += 1;
                    }
                    took
                })
            })
            .collect();
        let mut all = Vec::new();
        for task in tasks {
            all.extend(task.await.expect("a task"));
        }
        all
    });
    let appended = latencies.len() as f64;
    drop(runtime);
    Arc::try_unwrap(history)
        .map_err(|_| "the history is still shared")?
        .close()?;
    let _ = std::fs::remove_file(&path);
    latencies.sort_by(f64::total_cmp);
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize];
    Ok((appended / seconds, at(0.5), at(0.99)))
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("commits") {
        // For strace: `commits STORE PATH N` makes N commits of one record.
        let kind = Kind::parse(&args[2]).ok_or("unknown store")?;
        let path = Path::new(&args[3]);
        remove(kind, path);
        let mut store = Store::open(kind, path)?;
        let n: u64 = args[4].parse()?;
        let start = Instant::now();
        for cursor in 1..=n {
            store.append(&[record(cursor, 200)])?;
        }
        println!("{:.2} ms per commit", ms(start.elapsed()) / n as f64);
        drop(store);
        remove(kind, path);
        return Ok(());
    }
    if args.get(1).map(String::as_str) == Some("crash-writer") {
        let kind = Kind::parse(&args[2]).ok_or("unknown store")?;
        return crash_writer(kind, Path::new(&args[3]));
    }

    let records = env_u64("BENCH_RECORDS", 1_000_000);
    let seconds: f64 = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2.0);
    let dir: PathBuf = std::env::var_os("BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::env::temp_dir().join(format!("history-store-bench-{}", std::process::id()))
        });
    std::fs::create_dir_all(&dir)?;
    println!("files in {}", dir.display());
    let kinds = KINDS;

    let (p50, p90, max) = fsync_probe(&dir)?;
    println!(
        "\nfdatasync of a 4 KiB overwrite, 200 times: p50 {p50:.2} ms, p90 {p90:.2} ms, max {max:.2} ms"
    );

    let rounds = env_u64("BENCH_ROUNDS", 3);
    println!(
        "\n## appends/s (commits/s), median and range of {rounds} runs of {seconds} s, one transaction per batch, fresh file"
    );
    let header: Vec<&str> = kinds.iter().map(|k| k.name()).collect();
    println!(
        "| record | batch | {} | {} |",
        header.join(" | "),
        header[..kinds.len() - 1]
            .iter()
            .map(|name| format!("{name} / sqlite"))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    println!("|---|---|{}", "---|".repeat(2 * kinds.len() - 1));
    for frame_len in [200usize, 2048] {
        for batch in [1usize, 16, 256] {
            // Rounds interleave the stores, so that a slow spell of the
            // disk does not fall on one of them only.
            let mut rates = vec![Vec::new(); kinds.len()];
            for _ in 0..rounds {
                for (i, kind) in kinds.into_iter().enumerate() {
                    rates[i].push(append_rate(kind, &dir, batch, frame_len, seconds)?);
                }
            }
            let cell = |r: &Vec<(f64, f64)>| {
                let mut appends: Vec<f64> = r.iter().map(|x| x.0).collect();
                appends.sort_by(f64::total_cmp);
                let median = appends[appends.len() / 2];
                let commits = median / batch as f64;
                if appends.len() > 1 {
                    format!(
                        "{median:.0} ({commits:.0}), {:.0}-{:.0}",
                        appends[0],
                        appends[appends.len() - 1]
                    )
                } else {
                    format!("{median:.0} ({commits:.0})")
                }
            };
            let median = |r: &Vec<(f64, f64)>| {
                let mut appends: Vec<f64> = r.iter().map(|x| x.0).collect();
                appends.sort_by(f64::total_cmp);
                appends[appends.len() / 2]
            };
            let sqlite = median(&rates[kinds.len() - 1]);
            println!(
                "| {frame_len} B | {batch} | {} | {} |",
                rates.iter().map(cell).collect::<Vec<_>>().join(" | "),
                rates[..kinds.len() - 1]
                    .iter()
                    .map(|r| format!("{:.2}", median(r) / sqlite))
                    .collect::<Vec<_>>()
                    .join(" | ")
            );
        }
    }

    println!("\n## a history of {records} records of about 300 B (256 B frame)");
    println!(
        "| store | fill (batches of 4096) | file | reopen, clean close | reopen after SIGKILL | again after SIGKILL | range read 100,000 | 10,000 finds |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let mut notes = Vec::new();
    for kind in [Kind::Redb, Kind::Redb4, Kind::Sqlite] {
        let path = dir.join(format!("history-{}.db", kind.name()));
        let filled = fill(kind, &path, records)?;
        let size = file_size(kind, &path);
        // A clean close happened in fill(); open it once to warm the page
        // cache the same way for every store, then measure.
        let (_, store) = reopen(kind, &path)?;
        drop(store);
        let (clean, store) = reopen(kind, &path)?;
        let stored = store.len()?;
        drop(store);
        let crash_kinds: &[Kind] = match kind {
            Kind::Redb => &[Kind::Redb, Kind::RedbQuickRepair],
            Kind::Redb4 => &[Kind::Redb4, Kind::Redb4QuickRepair],
            _ => &[kind],
        };
        for &crash_kind in crash_kinds {
            crash_after_commit(crash_kind, &path)?;
            let (crashed, store) = reopen(kind, &path)?;
            drop(store);
            crash_after_commit(crash_kind, &path)?;
            let (crashed2, store) = reopen(kind, &path)?;

            let n = 100_000.min(stored);
            let after = stored / 2 - n / 2;
            let start = Instant::now();
            let (count, bytes) = store.range(after, n)?;
            let read = start.elapsed();
            assert_eq!(count, n);

            let finds = 10_000u64;
            let start = Instant::now();
            for i in 0..finds {
                let cursor = 1 + (i * 7919) % stored;
                let found = store.find(&id_of(cursor))?;
                assert_eq!(found, Some(cursor));
            }
            let find = start.elapsed();
            drop(store);
            println!(
                "| {} | {:.1} s ({:.0}/s) | {:.0} MiB | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} ms ({:.0} records/s, {:.0} MiB/s) | {:.1} µs each |",
                crash_kind.name(),
                filled.as_secs_f64(),
                records as f64 / filled.as_secs_f64(),
                mib(size),
                ms(clean),
                ms(crashed),
                ms(crashed2),
                ms(read),
                count as f64 / read.as_secs_f64(),
                mib(bytes) / read.as_secs_f64(),
                find.as_secs_f64() * 1e6 / finds as f64,
            );
        }
        if kind == Kind::Redb {
            notes.push(redb_stats(&path)?);
        }
        if kind == Kind::Redb4 {
            notes.push(redb4_stats(&path)?);
        }
        remove(kind, &path);
    }
    for note in notes {
        println!("\n{note}");
    }

    println!(
        "\n## mercure-hub's DurableTransport: concurrent appenders, {seconds} s each, fresh file, 200-byte events"
    );
    println!(
        "| appenders | quick repair (default): appends/s, p50 / p99 | without: appends/s, p50 / p99 |"
    );
    println!("|---|---|---|");
    for appenders in [1usize, 16, 256] {
        let on = hub_appends(&dir, true, appenders, seconds)?;
        let off = hub_appends(&dir, false, appenders, seconds)?;
        println!(
            "| {appenders} | {:.0}, {:.2} / {:.2} ms | {:.0}, {:.2} / {:.2} ms |",
            on.0, on.1, on.2, off.0, off.1, off.2
        );
    }
    let _ = std::fs::remove_dir(&dir);
    Ok(())
}
