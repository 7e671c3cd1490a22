//! Delivery: the events a transport appends, fanned out in cursor order to
//! the subscribers of this hub.
//!
//! Publishers never wait here. A transport pushes each stored event to the
//! [`Feed`] (a short queue lock) and calls [`Feed::deliver`]: the first
//! caller to find the dispatcher idle fans out everything queued, in
//! order, and the others return at once, their events delivered by it.
//! With one publisher, its own thread fans out its event as soon as it is
//! stored, with no task hop; under load, one thread delivers batches while
//! the others go on publishing, and it hands the rest to a task after a
//! bounded number of events.
//!
//! Subscribers are spread over shards, each behind its own lock, so that a
//! subscriber connecting waits for at most one shard's share of one
//! batch, never for publishers. Each shard remembers the cursor of the
//! last event it fanned out: a subscriber registering there gets live
//! events after that cursor and reads the rest from history, with no gap
//! and no duplicate (see [`Dispatcher::register`]).

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};

use url::Url;

use crate::event::{Cursor, Event};
use crate::matcher::MatchMemo;
use crate::metrics::Counters;
use crate::outbox::{Outbox, Pushed};
use crate::subscriber::{CloseReason, SubscriberEntry};

/// Shards of the subscriber registry.
const SHARDS: usize = 16;
/// Events taken from the queue at a time (one flush of sockets each).
const BATCH: usize = 64;
/// Events one publisher's thread delivers before handing the rest to a
/// task.
const TURN: usize = 1024;
/// Subscribers written to by one task after a batch (the first batch by
/// the delivering thread itself): both cores share a large fan-out.
const FLUSH_BATCH: usize = 32;

/// Where a [`Transport`](crate::Transport) puts the events it stores, in
/// cursor order, for the hub to deliver. Cheap to clone.
#[derive(Clone)]
pub struct Feed {
    dispatcher: Arc<Dispatcher>,
}

impl fmt::Debug for Feed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Feed").finish_non_exhaustive()
    }
}

impl Feed {
    pub(crate) fn new(dispatcher: Arc<Dispatcher>) -> Self {
        Self { dispatcher }
    }

    /// Queues a stored event for delivery. Call in cursor order (under the
    /// transport's own ordering lock, if it has one): it only takes a short
    /// queue lock.
    pub fn push(&self, event: Arc<Event>) {
        self.dispatcher.lock_queue().push_back(event);
    }

    /// Delivers what was pushed, unless another thread is delivering (it
    /// then delivers these events too). Call holding no lock.
    pub fn deliver(&self) {
        self.dispatcher.deliver();
    }

    /// A feed that delivers to no subscriber, for testing a transport:
    /// [`Feed::take_pushed`] returns what it was given.
    #[doc(hidden)]
    pub fn detached() -> Self {
        let base = Url::parse("http://localhost/.well-known/mercure").expect("a valid URL");
        let dispatcher = Arc::new(Dispatcher::new(base, Arc::default()));
        dispatcher.hold.store(true, Ordering::Release);
        Self { dispatcher }
    }

    /// The events pushed to a [`Feed::detached`] feed since last asked.
    #[doc(hidden)]
    pub fn take_pushed(&self) -> Vec<Arc<Event>> {
        self.dispatcher.lock_queue().drain(..).collect()
    }
}

/// A subscriber as the dispatcher holds it.
pub(crate) struct Slot {
    pub(crate) entry: Arc<SubscriberEntry>,
    pub(crate) outbox: Arc<Outbox>,
    /// Live events up to this cursor are not delivered: the subscriber
    /// reads them from history (or already has them).
    live_after: Cursor,
}

impl Slot {
    pub(crate) fn close(&self, reason: CloseReason) {
        self.entry.close(reason);
        self.outbox.close();
    }
}

/// Where a registered subscriber's live delivery starts.
pub(crate) struct Registered {
    /// The last event fanned out in its shard before it joined: history
    /// covers the events up to it.
    pub(crate) up_to: Cursor,
    /// The id of the newest event up to `up_to`.
    pub(crate) newest: Option<Arc<str>>,
}

struct Shard {
    slots: RwLock<HashMap<u64, Slot>>,
    /// Written only with `slots` read-locked by the fan-out; read with it
    /// write-locked by a registration.
    dispatched: Mutex<Dispatched>,
}

#[derive(Clone, Default)]
struct Dispatched {
    cursor: Cursor,
    newest: Option<Arc<str>>,
}

/// The delivery of one hub.
pub(crate) struct Dispatcher {
    queue: Mutex<VecDeque<Arc<Event>>>,
    /// A thread is delivering.
    running: AtomicBool,
    /// Nothing is delivered (a detached feed).
    hold: AtomicBool,
    shards: Box<[Shard]>,
    base: Url,
    counters: Arc<Counters>,
}

impl Dispatcher {
    pub(crate) fn new(base: Url, counters: Arc<Counters>) -> Self {
        Self {
            queue: Mutex::new(VecDeque::new()),
            running: AtomicBool::new(false),
            hold: AtomicBool::new(false),
            shards: (0..SHARDS)
                .map(|_| Shard {
                    slots: RwLock::new(HashMap::new()),
                    dispatched: Mutex::new(Dispatched::default()),
                })
                .collect(),
            base,
            counters,
        }
    }

    /// Live delivery starts after `head`, the newest event the transport
    /// held when the hub started.
    pub(crate) fn start_after(&self, head: Option<&Arc<Event>>) {
        let start = Dispatched {
            cursor: head.map_or(Cursor::ZERO, |e| e.cursor()),
            newest: head.map(|e| Arc::clone(e.id_arc())),
        };
        for shard in self.shards.iter() {
            *lock(&shard.dispatched) = start.clone();
        }
    }

    fn lock_queue(&self) -> MutexGuard<'_, VecDeque<Arc<Event>>> {
        lock(&self.queue)
    }

    fn shard(&self, key: u64) -> &Shard {
        // `SHARDS` fits any integer type.
        &self.shards[(key % SHARDS as u64) as usize]
    }

    /// Delivers the queue, unless another thread does.
    fn deliver(self: &Arc<Self>) {
        if self.hold.load(Ordering::Acquire) {
            return;
        }
        loop {
            if self.running.swap(true, Ordering::AcqRel) {
                return;
            }
            let mut delivered = 0;
            loop {
                let batch: Vec<Arc<Event>> = {
                    let mut queue = self.lock_queue();
                    let n = queue.len().min(BATCH);
                    queue.drain(..n).collect()
                };
                if batch.is_empty() {
                    break;
                }
                self.fan_out(&batch);
                delivered += batch.len();
                // Handed to a task of a multi-threaded runtime only: one
                // that a `block_on` drives may never run it again.
                if delivered >= TURN
                    && let Ok(runtime) = tokio::runtime::Handle::try_current()
                    && runtime.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread
                {
                    // This thread has a publish to answer: a task goes on.
                    self.running.store(false, Ordering::Release);
                    let dispatcher = Arc::clone(self);
                    runtime.spawn(async move { dispatcher.deliver() });
                    return;
                }
            }
            self.running.store(false, Ordering::Release);
            // An event pushed after the last batch was taken, by a thread
            // that found this one running, is delivered now.
            if self.lock_queue().is_empty() {
                return;
            }
        }
    }

    /// Fans `batch` out to every shard's subscribers, event by event.
    fn fan_out(&self, batch: &[Arc<Event>]) {
        let mut to_flush = Vec::new();
        for event in batch {
            let mut memo = MatchMemo::new(&self.base);
            for shard in self.shards.iter() {
                let mut overflowed = Vec::new();
                {
                    let slots = shard.slots.read().unwrap_or_else(PoisonError::into_inner);
                    {
                        let mut dispatched = lock(&shard.dispatched);
                        dispatched.cursor = event.cursor();
                        dispatched.newest = Some(Arc::clone(event.id_arc()));
                    }
                    for (key, slot) in slots.iter() {
                        if event.cursor() <= slot.live_after || !slot.entry.wants(event, &mut memo)
                        {
                            continue;
                        }
                        match slot.outbox.push(Arc::clone(event)) {
                            Pushed::Queued | Pushed::Ended => {}
                            Pushed::Flush => to_flush.push(Arc::clone(&slot.outbox)),
                            Pushed::Full => overflowed.push(*key),
                        }
                    }
                }
                if !overflowed.is_empty() {
                    self.drop_overflowed(shard, &overflowed);
                }
            }
        }
        flush(to_flush);
    }

    fn drop_overflowed(&self, shard: &Shard, keys: &[u64]) {
        let removed: Vec<Slot> = {
            let mut slots = shard.slots.write().unwrap_or_else(PoisonError::into_inner);
            keys.iter().filter_map(|key| slots.remove(key)).collect()
        };
        for slot in removed {
            slot.close(CloseReason::Overflow);
            Counters::add(&self.counters.subscribers_dropped);
            tracing::info!(subscriber = %slot.entry.id, "subscriber fell too far behind, closing its stream");
        }
    }

    /// Registers a subscriber. It receives live events after both `after`
    /// (what it already has or reads from history) and the returned
    /// [`Registered::up_to`]: every event after `up_to` is fanned out to
    /// it, every event up to it is in history (transports push stored
    /// events only), so reading history up to `up_to` leaves no gap and
    /// sends nothing twice.
    pub(crate) fn register(
        &self,
        entry: Arc<SubscriberEntry>,
        outbox: Arc<Outbox>,
        after: Option<Cursor>,
    ) -> Registered {
        let shard = self.shard(entry.key);
        let mut slots = shard.slots.write().unwrap_or_else(PoisonError::into_inner);
        // No fan-out runs in this shard now: `dispatched` is the last
        // event fanned out here, and every later one will see this slot.
        let dispatched = lock(&shard.dispatched).clone();
        let live_after = after.map_or(dispatched.cursor, |after| after.max(dispatched.cursor));
        slots.insert(
            entry.key,
            Slot {
                entry,
                outbox,
                live_after,
            },
        );
        Registered {
            up_to: dispatched.cursor,
            newest: dispatched.newest,
        }
    }

    /// Forgets a subscriber.
    pub(crate) fn unregister(&self, key: u64) -> Option<Slot> {
        self.shard(key)
            .slots
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&key)
    }

    /// The registered subscribers.
    pub(crate) fn snapshot(&self) -> Vec<Arc<SubscriberEntry>> {
        let mut entries = Vec::new();
        for shard in self.shards.iter() {
            let slots = shard.slots.read().unwrap_or_else(PoisonError::into_inner);
            entries.extend(slots.values().map(|slot| Arc::clone(&slot.entry)));
        }
        entries
    }

    /// The id of the newest event delivered.
    pub(crate) fn newest(&self) -> Option<Arc<str>> {
        // Every event is fanned out to the first shard first.
        lock(&self.shards[0].dispatched).newest.clone()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Writes the events just queued to the subscribers on the lean path, in
/// batches spread over the workers of the runtime serving them (the first
/// batch on the delivering thread).
fn flush(mut outboxes: Vec<Arc<Outbox>>) {
    if outboxes.len() > FLUSH_BATCH
        && let Some(runtime) = outboxes[FLUSH_BATCH].runtime()
    {
        while outboxes.len() > FLUSH_BATCH {
            let batch = outboxes.split_off(outboxes.len() - FLUSH_BATCH);
            runtime.spawn(async move {
                for outbox in batch {
                    outbox.flush();
                }
            });
        }
    }
    for outbox in outboxes {
        outbox.flush();
    }
}
