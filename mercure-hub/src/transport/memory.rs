//! A bounded history in memory.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::{Feed, Page, Transport, TransportError, TransportFuture};
use crate::event::{Cursor, Event};

/// A bounded in-memory history: the newest `capacity` events, and at most
/// [`MemoryTransport::max_bytes`] of them.
///
/// Appending is synchronous: the event is stored and delivered before
/// [`Transport::append`] returns its (ready) future.
///
/// ```
/// use mercure_hub::MemoryTransport;
///
/// let history = MemoryTransport::new(100).max_bytes(64 << 20);
/// assert!(history.is_empty());
/// ```
pub struct MemoryTransport {
    capacity: usize,
    max_bytes: usize,
    feeds: Mutex<Vec<Feed>>,
    inner: Mutex<Ring>,
}

#[derive(Default)]
struct Ring {
    /// The retained events held, oldest first (cursors increasing, with
    /// gaps where events were not retained).
    events: VecDeque<Arc<Event>>,
    /// The cursors of each held id, oldest first.
    index: HashMap<Arc<str>, Cursors>,
    /// Sum of [`Event::size`] of `events`.
    bytes: usize,
    /// The last cursor given.
    last: Cursor,
}

/// The cursors of one id: almost always one.
enum Cursors {
    One(Cursor),
    Many(VecDeque<Cursor>),
}

impl Cursors {
    fn first(&self) -> Option<Cursor> {
        match self {
            Cursors::One(cursor) => Some(*cursor),
            Cursors::Many(cursors) => cursors.front().copied(),
        }
    }
}

impl Ring {
    fn position(&self, cursor: Cursor) -> Result<usize, usize> {
        self.events.binary_search_by_key(&cursor, |e| e.cursor())
    }

    fn evict_oldest(&mut self) {
        let Some(evicted) = self.events.pop_front() else {
            return;
        };
        self.bytes -= evicted.size();
        let cursor = evicted.cursor();
        if let Some(cursors) = self.index.get_mut(evicted.id()) {
            let now_empty = match cursors {
                Cursors::One(held) => *held == cursor,
                Cursors::Many(held) => {
                    if held.front() == Some(&cursor) {
                        held.pop_front();
                    }
                    held.is_empty()
                }
            };
            if now_empty {
                self.index.remove(evicted.id());
            }
        }
    }

    fn store(&mut self, event: Arc<Event>) {
        let cursor = event.cursor();
        match self.index.get_mut(event.id()) {
            None => {
                self.index
                    .insert(Arc::clone(event.id_arc()), Cursors::One(cursor));
            }
            Some(cursors) => match cursors {
                Cursors::One(first) => {
                    *cursors = Cursors::Many(VecDeque::from([*first, cursor]));
                }
                Cursors::Many(held) => held.push_back(cursor),
            },
        }
        self.bytes += event.size();
        self.events.push_back(event);
    }
}

impl MemoryTransport {
    /// A history holding at most `capacity` events (0 keeps none) and, by
    /// default, at most 256 MiB of them.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            max_bytes: 256 << 20,
            feeds: Mutex::new(Vec::new()),
            inner: Mutex::new(Ring::default()),
        }
    }

    /// Keeps at most `max_bytes` of events ([`Event::size`]); the newest
    /// event is kept whatever its size.
    #[must_use]
    pub fn max_bytes(mut self, max_bytes: usize) -> Self {
        self.max_bytes = max_bytes;
        self
    }

    /// How many events it holds now.
    pub fn len(&self) -> usize {
        self.ring().events.len()
    }

    /// Whether it holds no event.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn ring(&self) -> MutexGuard<'_, Ring> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for MemoryTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ring = self.ring();
        f.debug_struct("MemoryTransport")
            .field("capacity", &self.capacity)
            .field("max_bytes", &self.max_bytes)
            .field("len", &ring.events.len())
            .field("bytes", &ring.bytes)
            .finish()
    }
}

impl Transport for MemoryTransport {
    fn start(&self, feed: Feed) -> Option<Arc<Event>> {
        // Under the ring's lock: no event is appended between the head
        // read and the feed joining.
        let ring = self.ring();
        self.feeds
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(feed);
        ring.events.back().cloned()
    }

    fn append(&self, event: Event) -> TransportFuture<'_, Arc<Event>> {
        let result = (|| {
            let mut ring = self.ring();
            let cursor = ring
                .last
                .next()
                .ok_or_else(|| TransportError::new("no cursor is left"))?;
            ring.last = cursor;
            let event = Arc::new(event.at(cursor));
            if event.is_retained() && self.capacity > 0 {
                ring.store(Arc::clone(&event));
                while ring.events.len() > self.capacity
                    || (ring.bytes > self.max_bytes && ring.events.len() > 1)
                {
                    ring.evict_oldest();
                }
            }
            // Pushed under the ring's lock: the feeds see cursor order.
            let feeds = self
                .feeds
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
            for feed in &feeds {
                feed.push(Arc::clone(&event));
            }
            drop(ring);
            for feed in &feeds {
                feed.deliver();
            }
            Ok(event)
        })();
        Box::pin(std::future::ready(result))
    }

    fn find(&self, id: &str) -> TransportFuture<'_, Option<Arc<Event>>> {
        let ring = self.ring();
        let found = ring
            .index
            .get(id)
            .and_then(Cursors::first)
            .and_then(|cursor| ring.position(cursor).ok())
            .and_then(|position| ring.events.get(position).cloned());
        Box::pin(std::future::ready(Ok(found)))
    }

    fn page(&self, page: Page) -> TransportFuture<'_, Vec<Arc<Event>>> {
        let ring = self.ring();
        let start = match page.after {
            None => 0,
            Some(after) => match ring.position(after) {
                Ok(position) => position + 1,
                Err(position) => position,
            },
        };
        let mut taken = Vec::new();
        let mut bytes = 0;
        for event in ring.events.range(start..) {
            if event.cursor() > page.up_to || !page.has_room(taken.len(), bytes) {
                break;
            }
            bytes += event.size();
            taken.push(Arc::clone(event));
        }
        Box::pin(std::future::ready(Ok(taken)))
    }
}
