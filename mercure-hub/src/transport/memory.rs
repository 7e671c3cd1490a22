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
    /// The events held, oldest first (cursors increasing).
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
            if self.capacity > 0 {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: &str, data: &str) -> Event {
        Event::new(
            Arc::from(id),
            Arc::from(["t".to_owned()]),
            false,
            mercure_core::sse::encode_event(id, None, None, data),
        )
    }

    fn ids(events: &[Arc<Event>]) -> Vec<&str> {
        events.iter().map(|e| e.id()).collect()
    }

    async fn append(history: &MemoryTransport, id: &str) -> Arc<Event> {
        history.append(event(id, id)).await.unwrap()
    }

    async fn page(history: &MemoryTransport, after: Option<u64>) -> Vec<Arc<Event>> {
        history
            .page(Page::new(
                after.map(Cursor::new),
                Cursor::new(u64::MAX),
                100,
                usize::MAX,
            ))
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn keeps_the_newest_events_and_feeds_every_one_in_order() {
        let history = MemoryTransport::new(3);
        let feed = Feed::detached();
        assert!(history.start(feed.clone()).is_none());
        for id in ["a", "b", "c", "d"] {
            append(&history, id).await;
        }
        let pushed = feed.take_pushed();
        assert_eq!(ids(&pushed), ["a", "b", "c", "d"]);
        let cursors: Vec<u64> = pushed.iter().map(|e| e.cursor().get()).collect();
        assert_eq!(cursors, [1, 2, 3, 4]);
        assert_eq!(ids(&page(&history, None).await), ["b", "c", "d"]);
        assert!(history.find("a").await.unwrap().is_none(), "evicted");
        assert_eq!(ids(&page(&history, Some(2)).await), ["c", "d"]);
        // After an evicted cursor: what is held after it.
        assert_eq!(ids(&page(&history, Some(1)).await), ["b", "c", "d"]);
        assert_eq!(ids(&page(&history, Some(4)).await), Vec::<&str>::new());
        assert_eq!(history.len(), 3);
        // A second hub joining starts after the newest event held.
        assert_eq!(history.start(Feed::detached()).unwrap().id(), "d");
    }

    #[tokio::test]
    async fn a_shared_id_resolves_to_its_earliest_held_event() {
        let history = MemoryTransport::new(4);
        history.start(Feed::detached());
        let first = append(&history, "x").await;
        append(&history, "y").await;
        let second = append(&history, "x").await;
        assert_eq!(
            history.find("x").await.unwrap().unwrap().cursor(),
            first.cursor()
        );
        // Once the earliest is evicted, the next one is found.
        append(&history, "z").await;
        append(&history, "w").await;
        assert_eq!(
            history.find("x").await.unwrap().unwrap().cursor(),
            second.cursor()
        );
        append(&history, "v").await;
        append(&history, "u").await;
        assert!(history.find("x").await.unwrap().is_none());
    }

    #[tokio::test]
    async fn pages_and_history_are_bounded_in_bytes() {
        let one = event("a", &"d".repeat(100)).size();
        let history = MemoryTransport::new(100).max_bytes(3 * one);
        history.start(Feed::detached());
        for id in ["a", "b", "c", "d", "e"] {
            history.append(event(id, &"d".repeat(100))).await.unwrap();
        }
        assert_eq!(
            history.len(),
            3,
            "the oldest are evicted past the byte bound"
        );
        let page = history
            .page(Page::new(None, Cursor::new(u64::MAX), 100, one + 1))
            .await
            .unwrap();
        assert_eq!(ids(&page), ["c", "d"], "a page stops once past its bytes");
        let page = history
            .page(Page::new(None, Cursor::new(4), 100, 0))
            .await
            .unwrap();
        assert_eq!(ids(&page), ["c"], "one event even past the bytes");
        let page = history
            .page(Page::new(
                Some(Cursor::new(3)),
                Cursor::new(4),
                100,
                usize::MAX,
            ))
            .await
            .unwrap();
        assert_eq!(ids(&page), ["d"], "up to is inclusive");
        // The newest event is kept whatever its size.
        history
            .append(event("huge", &"h".repeat(10 * one)))
            .await
            .unwrap();
        assert_eq!(history.len(), 1);
    }

    #[tokio::test]
    async fn zero_capacity_keeps_nothing_but_still_delivers() {
        let history = MemoryTransport::new(0);
        let feed = Feed::detached();
        history.start(feed.clone());
        append(&history, "a").await;
        assert!(history.is_empty());
        assert_eq!(ids(&feed.take_pushed()), ["a"]);
    }
}
