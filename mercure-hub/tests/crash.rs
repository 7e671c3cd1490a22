//! The durable history survives `kill -9` during a steady publish stream:
//! every acknowledged update is replayed after a restart, in order, exactly
//! once; an update in flight at the crash is there at most once; a
//! subscriber resuming from its last event id gets exactly what it missed.
//!
//! The hub (the binary, its history file in a scratch working directory)
//! is killed 20-300 ms into each run while publishers publish one update
//! at a time each, as fast as they can (several of them, so that batches
//! of the group commit are cut too). Settings: `CRASH_RESTARTS` (default
//! 50), `CRASH_PUBLISHERS` (default 16; 1 is one sequential publisher),
//! `CRASH_SEED` (the kill delays), `CRASH_VERBOSE` (a line per run).

#[path = "support/process.rs"]
mod process;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use process::{Event, HubProcess, Rng, SseParser, TempDir};

const TOPIC: &str = "https://example.com/crash";
/// How long a subscriber has to catch up, a publisher to notice the crash.
const PATIENCE: Duration = Duration::from_secs(15);
/// Bound of the whole test.
const BUDGET: Duration = Duration::from_secs(120);

/// What was published. Every publish takes a sequence number (its data)
/// from one clock just before it is sent, and an acknowledged one takes
/// another number from the same clock once its answer is read, so that
/// "A was acknowledged before B was sent" reads `A.acked < B.seq`.
#[derive(Default)]
struct Ledger {
    clock: u64,
    /// Acknowledged publishes, in the order of their acknowledgement:
    /// sequence number, id, acknowledgement time.
    acked: Vec<(u64, String, u64)>,
    /// The publishes that failed (in flight at a crash).
    failed: HashSet<u64>,
    /// Errors that happened while the hub was not being killed.
    unexpected: Vec<String>,
}

impl Ledger {
    fn tick(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    fn acked_ids(&self) -> HashSet<String> {
        self.acked.iter().map(|(_, id, _)| id.clone()).collect()
    }
}

/// One event of the topic: its id and sequence number.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Update {
    id: String,
    seq: u64,
}

/// The final update (data `end`) sorts last.
fn update(event: Event) -> Update {
    let id = event.id.expect("an event without an id");
    if event.data == END {
        return Update { id, seq: u64::MAX };
    }
    let seq = event
        .data
        .parse()
        .unwrap_or_else(|_| panic!("unexpected data {:?} (id {id})", event.data));
    Update { id, seq }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_updates_survive_kill_9_exactly_once_and_in_order() {
    let started = Instant::now();
    let restarts: usize = setting("CRASH_RESTARTS", 50);
    let publishers: usize = setting("CRASH_PUBLISHERS", 16).max(1);
    let seed: u64 = setting("CRASH_SEED", 0x006d_6572_6375_7265);
    let mut rng = Rng::new(seed);
    let dir = TempDir::new("mercure-crash");
    let args = ["--anonymous", "--heartbeat", "0"];
    let token = Arc::new(process::publisher_token());
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    // The one logical subscriber: every event it received, across runs.
    let seen: Arc<Mutex<Vec<Update>>> = Arc::default();
    let mut replays = 0;
    // Opening the file after a crash: the slowest, and how many times the
    // whole file was checked (quick repair should make that unnecessary).
    let (mut slowest_open, mut full_repairs) = (0, 0);

    for run in 0..=restarts {
        assert!(
            started.elapsed() < BUDGET,
            "the test took longer than {BUDGET:?} (at run {run} of {restarts})"
        );
        let mut hub = HubProcess::start(dir.path(), &args);
        let context = format!("run {run} of {restarts} (seed {seed}, hub {})", hub.addr);
        if run > 0 {
            let log = hub.output();
            full_repairs += usize::from(log.contains("repairing the history file"));
            if let Some(ms) = log
                .split("opened_in_ms=")
                .nth(1)
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|ms| ms.parse::<u64>().ok())
            {
                slowest_open = slowest_open.max(ms);
            }
        }

        // The subscriber resumes from the last event it received.
        let last = seen.lock().unwrap().last().cloned();
        let response = subscribe(&hub.url, last.as_ref().map(|u| u.id.as_str()), &context).await;
        let subscriber = tokio::spawn(read_into(response, Arc::clone(&seen)));
        // (a) It gets exactly what it missed: everything acknowledged so
        // far, nothing twice, in order.
        let acked = ledger.lock().unwrap().acked_ids();
        wait_for(&seen, &acked, &format!("{context}: the resumed subscriber")).await;
        check_stream(&seen.lock().unwrap(), &ledger.lock().unwrap(), &context);

        // (b) A replay of the whole history holds every acknowledged
        // update (checked every tenth run; in full at the end).
        if run % 10 == 0 && run < restarts && !acked.is_empty() {
            let replay = replay_until(&hub.url, &acked, &context).await;
            check_replay(&replay, &ledger.lock().unwrap(), &context);
            replays += 1;
        }

        if run == restarts {
            // The last start: a final update marks the end of history.
            let response = process::client()
                .post(&hub.url)
                .bearer_auth(token.as_str())
                .form(&[("topic", TOPIC), ("data", END)])
                .send()
                .await
                .unwrap_or_else(|e| panic!("{context}: the final publish failed: {e}"));
            assert_eq!(response.status(), 200, "{context}: the final publish");
            let end = HashSet::from([response.text().await.unwrap()]);
            let replay = replay_until(&hub.url, &end, &context).await;
            wait_for(&seen, &end, &format!("{context}: the subscriber")).await;
            hub.kill();
            let _ = tokio::time::timeout(PATIENCE, subscriber).await;
            let ledger = ledger.lock().unwrap();
            let seen = seen.lock().unwrap();
            assert!(
                replay.last().is_some_and(|u| end.contains(&u.id))
                    && seen.last().is_some_and(|u| end.contains(&u.id)),
                "{context}: events after the final update"
            );
            let (replay, seen) = (&replay[..replay.len() - 1], &seen[..seen.len() - 1]);
            check_replay(replay, &ledger, &context);
            let missing: Vec<_> = ledger
                .acked
                .iter()
                .filter(|(_, id, _)| !replay.iter().any(|u| &u.id == id))
                .collect();
            assert!(
                missing.is_empty(),
                "{context}: acknowledged updates missing from history: {missing:?}"
            );
            check_stream(seen, &ledger, &context);
            assert!(
                replay == seen,
                "{context}: the subscriber's events differ from the history:\n\
                 history: {replay:?}\nsubscriber: {seen:?}"
            );
            assert!(
                ledger.unexpected.is_empty(),
                "publishes failed while the hub was not being killed:\n{}",
                ledger.unexpected.join("\n")
            );
            assert!(
                !ledger.acked.is_empty(),
                "no publish was acknowledged in {restarts} runs"
            );
            let acked: HashSet<u64> = ledger.acked.iter().map(|(seq, _, _)| *seq).collect();
            let unacked_found = replay.iter().filter(|u| !acked.contains(&u.seq)).count();
            eprintln!(
                "crash: {restarts} restarts (kill -9 after 20-300 ms of {publishers} concurrent \
                 sequential publishers), {} updates acknowledged, {} publishes cut by a crash \
                 of which {unacked_found} found in history (once each), {} events in history, \
                 all replayed in order to the resuming subscriber; {replays} intermediate full \
                 replays; reopening after a crash took at most {slowest_open} ms, with \
                 {full_repairs} full repairs; seed {seed}; took {:.1?}",
                ledger.acked.len(),
                ledger.failed.len(),
                replay.len(),
                started.elapsed(),
            );
            break;
        }

        // Publishers as fast as they go, each one publish at a time on a
        // keep-alive client, until the hub is killed under them.
        let killing = Arc::new(AtomicBool::new(false));
        let client = process::client();
        let lanes: Vec<_> = (0..publishers)
            .map(|_| {
                tokio::spawn(publish_until_error(
                    client.clone(),
                    hub.url.clone(),
                    Arc::clone(&token),
                    Arc::clone(&ledger),
                    Arc::clone(&killing),
                ))
            })
            .collect();
        let delay = rng.between(20, 300);
        tokio::time::sleep(Duration::from_millis(delay)).await;
        if let Some(status) = hub.exited() {
            panic!(
                "{context}: the hub exited on its own ({status}):\n{}",
                hub.output()
            );
        }
        killing.store(true, Ordering::SeqCst);
        hub.kill();
        if std::env::var_os("CRASH_VERBOSE").is_some() {
            eprintln!(
                "{context}: killed after {delay} ms, {} acknowledged so far",
                ledger.lock().unwrap().acked.len()
            );
        }
        for lane in lanes {
            tokio::time::timeout(PATIENCE, lane)
                .await
                .unwrap_or_else(|_| panic!("{context}: a publisher never noticed the crash"))
                .unwrap();
        }
        tokio::time::timeout(PATIENCE, subscriber)
            .await
            .unwrap_or_else(|_| panic!("{context}: the subscriber's stream never ended"))
            .unwrap();
    }
}

/// A crash while a new history file is being created (the hub killed as
/// soon as the file, or the temporary file it is made as, has grown,
/// before it listens) must not keep the next start from opening it:
/// nothing was ever acknowledged from it. (redb sizes a new file before
/// writing its header: made in place, the file left would be all zeros.)
#[test]
fn a_crash_while_the_history_file_is_created_does_not_stop_the_next_start() {
    let dir = TempDir::new("mercure-crash-create");
    let file = dir.path().join("mercure-history.redb");
    for attempt in 0..5 {
        let _ = std::fs::remove_file(&file);
        let mut child = process::command(dir.path(), &["--anonymous"])
            .spawn()
            .expect("cannot start the mercure-hub binary");
        let deadline = Instant::now() + process::STARTUP;
        let creating = dir.path().join("mercure-history.redb.creating");
        let grown = |path: &std::path::Path| std::fs::metadata(path).is_ok_and(|m| m.len() > 0);
        while !grown(&file) && !grown(&creating) {
            assert!(
                Instant::now() < deadline,
                "the hub never created its history file"
            );
            std::thread::yield_now();
        }
        let _ = child.kill();
        child.wait().unwrap();
        let size = std::fs::metadata(&file)
            .or_else(|_| std::fs::metadata(&creating))
            .map_or(0, |m| m.len());
        // Panics with the hub's output if it refuses the file.
        let hub = std::panic::catch_unwind(|| HubProcess::start(dir.path(), &["--anonymous"]));
        assert!(
            hub.is_ok(),
            "attempt {attempt}: after a kill -9 while the history file was created ({size} \
             bytes), the next start failed (see above)"
        );
    }
}

/// The data of the final update.
const END: &str = "end";

fn setting<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().map_or(default, |value| {
        value
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a number, not {value:?}"))
    })
}

/// Opens the subscription (resuming after `last`, or from the earliest
/// event), checking that the hub found `last`.
async fn subscribe(url: &str, last: Option<&str>, context: &str) -> reqwest::Response {
    let client = process::client();
    let response = tokio::time::timeout(
        PATIENCE,
        client
            .get(format!("{url}?topic={}", encode(TOPIC)))
            .header("Last-Event-ID", last.unwrap_or("earliest"))
            .send(),
    )
    .await
    .unwrap_or_else(|_| panic!("{context}: the subscription was not answered in time"))
    .unwrap_or_else(|e| panic!("{context}: the subscription failed: {e}"));
    assert_eq!(response.status(), 200, "{context}: the subscription");
    if let Some(last) = last {
        let resumed = response
            .headers()
            .get("last-event-id")
            .map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(
            resumed.as_deref(),
            Some(last),
            "{context}: the hub did not resume after the subscriber's last event id"
        );
    }
    response
}

/// Reads the stream until it ends (the hub is killed), appending events.
async fn read_into(mut response: reqwest::Response, seen: Arc<Mutex<Vec<Update>>>) {
    let mut parser = SseParser::default();
    while let Ok(Some(chunk)) = response.chunk().await {
        let events = parser.feed(&chunk);
        seen.lock().unwrap().extend(events.into_iter().map(update));
    }
}

/// Waits until the subscriber has received every event of `ids`.
async fn wait_for(seen: &Mutex<Vec<Update>>, ids: &HashSet<String>, what: &str) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let missing = {
            let seen = seen.lock().unwrap();
            let received: HashSet<&str> = seen.iter().map(|u| u.id.as_str()).collect();
            ids.iter()
                .filter(|id| !received.contains(id.as_str()))
                .count()
        };
        if missing == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what} did not receive {missing} of the {} acknowledged updates within {PATIENCE:?}",
            ids.len()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The whole history (`lastEventID=earliest`), read until it held every
/// event of `ids`.
async fn replay_until(url: &str, ids: &HashSet<String>, context: &str) -> Vec<Update> {
    let client = process::client();
    let read = async {
        let mut response = client
            .get(format!(
                "{url}?topic={}&lastEventID=earliest",
                encode(TOPIC)
            ))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{context}: the replay failed: {e}"));
        assert_eq!(response.status(), 200, "{context}: the replay");
        let mut parser = SseParser::default();
        let mut replay = Vec::new();
        let mut left = ids.len();
        while left > 0 {
            let chunk = response
                .chunk()
                .await
                .unwrap_or_else(|e| panic!("{context}: the replay failed: {e}"))
                .unwrap_or_else(|| panic!("{context}: the replay ended"));
            for event in parser.feed(&chunk) {
                let event = update(event);
                if ids.contains(&event.id) {
                    left -= 1;
                }
                replay.push(event);
            }
        }
        replay
    };
    tokio::time::timeout(PATIENCE, read)
        .await
        .unwrap_or_else(|_| {
            panic!(
                "{context}: the replay did not hold the acknowledged updates within {PATIENCE:?}"
            )
        })
}

/// Publishes updates one at a time until a publish fails (the hub is
/// killed).
async fn publish_until_error(
    client: reqwest::Client,
    url: String,
    token: Arc<String>,
    ledger: Arc<Mutex<Ledger>>,
    killing: Arc<AtomicBool>,
) {
    loop {
        let seq = ledger.lock().unwrap().tick();
        let data = seq.to_string();
        let result = async {
            let response = client
                .post(&url)
                .bearer_auth(token.as_str())
                .form(&[("topic", TOPIC), ("data", data.as_str())])
                .send()
                .await
                .map_err(|e| format!("{e:?}"))?;
            let status = response.status();
            let body = response.text().await.map_err(|e| format!("{e:?}"))?;
            if status == 200 && !body.is_empty() {
                Ok(body)
            } else {
                Err(format!("{status}: {body}"))
            }
        };
        let result = tokio::time::timeout(PATIENCE, result)
            .await
            .unwrap_or_else(|_| Err("no answer in time".into()));
        let mut ledger = ledger.lock().unwrap();
        match result {
            Ok(id) => {
                let at = ledger.tick();
                ledger.acked.push((seq, id, at));
            }
            Err(error) => {
                ledger.failed.insert(seq);
                if !killing.load(Ordering::SeqCst) {
                    ledger
                        .unexpected
                        .push(format!("publish {seq} failed: {error}"));
                }
                return;
            }
        }
    }
}

/// The events a subscriber received (a prefix of history): as
/// [`check_events`], and nothing acknowledged before the newest of them
/// was sent is missing. Panics with what is wrong.
fn check_stream(seen: &[Update], ledger: &Ledger, context: &str) {
    check(seen, ledger, "the subscriber").unwrap_or_else(|problem| panic!("{context}: {problem}"));
}

/// A replay of the whole history, read up to some point: as
/// [`check_stream`].
fn check_replay(replay: &[Update], ledger: &Ledger, context: &str) {
    check(replay, ledger, "the replay").unwrap_or_else(|problem| panic!("{context}: {problem}"));
}

fn check(events: &[Update], ledger: &Ledger, what: &str) -> Result<(), String> {
    check_events(events, ledger, what)?;
    check_prefix(events, ledger, what)
}

/// Every update acknowledged before the newest of `events` was sent is
/// among them (it must come before it in history).
fn check_prefix(events: &[Update], ledger: &Ledger, what: &str) -> Result<(), String> {
    let newest = events.iter().map(|u| u.seq).max().unwrap_or(0);
    let held: HashSet<&str> = events.iter().map(|u| u.id.as_str()).collect();
    let missing: Vec<_> = ledger
        .acked
        .iter()
        .filter(|(_, id, at)| *at < newest && !held.contains(id.as_str()))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{what} lacks {} acknowledged updates (of {}): {:?}",
            missing.len(),
            ledger.acked.len(),
            &missing[..missing.len().min(20)]
        ))
    }
}

/// No id or sequence number twice; each id the one acknowledged for its
/// sequence number, or a sequence number whose publish was cut by a crash;
/// in acknowledgement order: an update acknowledged before another was sent
/// comes before it (a publisher's own updates, sent one at a time, in the
/// order it sent them).
fn check_events(events: &[Update], ledger: &Ledger, what: &str) -> Result<(), String> {
    let acked: HashMap<u64, (&str, u64)> = ledger
        .acked
        .iter()
        .map(|(seq, id, at)| (*seq, (id.as_str(), *at)))
        .collect();
    let mut ids = HashSet::new();
    let mut seqs = HashSet::new();
    for event in events {
        if !(ids.insert(event.id.as_str()) && seqs.insert(event.seq)) {
            return Err(format!("{what} has {event:?} twice"));
        }
        match acked.get(&event.seq) {
            Some((id, _)) if *id != event.id => {
                return Err(format!(
                    "{what} has update {} with the id {}, not {id} as acknowledged",
                    event.seq, event.id
                ));
            }
            Some(_) => {}
            None if ledger.failed.contains(&event.seq) => {}
            None => {
                return Err(format!(
                    "{what} has update {} that was neither acknowledged nor cut by a crash",
                    event.seq
                ));
            }
        }
    }
    // From the end: the earliest acknowledgement among the later events.
    let mut earliest_ack_after = u64::MAX;
    let mut later: Option<&Update> = None;
    for (position, event) in events.iter().enumerate().rev() {
        if earliest_ack_after < event.seq {
            return Err(format!(
                "{what} is out of order: {event:?} (at {position}) was sent after {later:?} \
                 was acknowledged, which comes later"
            ));
        }
        if let Some((_, at)) = acked.get(&event.seq)
            && *at < earliest_ack_after
        {
            earliest_ack_after = *at;
            later = Some(event);
        }
    }
    Ok(())
}

fn encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// The checks above fail on what they are meant to catch (so that the
/// crash test cannot pass by checking nothing).
#[test]
fn the_checks_catch_losses_duplicates_and_reordering() {
    // Publishes 1 and 3 acknowledged (at 2 and 4), 5 cut by a crash,
    // 6 acknowledged at 7 (sent after 1 and 3 were acknowledged).
    let ledger = Ledger {
        clock: 7,
        acked: vec![(1, "a".into(), 2), (3, "b".into(), 4), (6, "d".into(), 7)],
        failed: HashSet::from([5]),
        unexpected: Vec::new(),
    };
    let u = |id: &str, seq| Update { id: id.into(), seq };
    let fails = |events: Vec<Update>| check(&events, &ledger, "the replay").is_err();
    assert!(!fails(vec![u("a", 1), u("b", 3), u("d", 6)]));
    assert!(!fails(vec![u("a", 1), u("b", 3), u("c", 5), u("d", 6)]));
    assert!(!fails(vec![u("a", 1), u("b", 3)]), "a prefix");
    assert!(fails(vec![u("a", 1), u("d", 6)]), "a loss");
    assert!(fails(vec![u("b", 3), u("d", 6)]), "a loss at the start");
    assert!(
        fails(vec![u("a", 1), u("b", 3), u("b", 3), u("d", 6)]),
        "a duplicate"
    );
    assert!(fails(vec![u("a", 1), u("d", 6), u("b", 3)]), "reordered");
    assert!(fails(vec![u("b", 3), u("a", 1), u("d", 6)]), "reordered");
    assert!(fails(vec![u("a", 1), u("x", 3), u("d", 6)]), "another id");
    assert!(
        fails(vec![u("a", 1), u("b", 3), u("e", 2)]),
        "never published"
    );
}
