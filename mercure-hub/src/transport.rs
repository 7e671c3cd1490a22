//! Where the hub keeps the history of updates it replays to reconnecting
//! subscribers.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use crate::Event;

/// Storage for the history of published events.
///
/// The hub calls [`Transport::store`] in publish order while it holds its
/// dispatch lock, and reads through the other methods under the same lock,
/// so an implementation sees one operation at a time and must answer
/// quickly. [`MemoryTransport`] is a bounded in-memory buffer.
pub trait Transport: Send + Sync + fmt::Debug {
    /// Appends an event (the newest).
    fn store(&self, event: Arc<Event>);

    /// The event with this id, if still held.
    fn get(&self, id: &str) -> Option<Arc<Event>>;

    /// The events stored after the event with this id, oldest first, or
    /// `None` when the id is not (or no longer) held.
    fn after(&self, id: &str) -> Option<Vec<Arc<Event>>>;

    /// Every event held, oldest first.
    fn all(&self) -> Vec<Arc<Event>>;

    /// The id of the newest event held.
    fn last_id(&self) -> Option<Arc<str>>;
}

/// A bounded in-memory history: the newest `capacity` events.
///
/// ```
/// use mercure_hub::{MemoryTransport, Transport};
///
/// let history = MemoryTransport::new(100);
/// assert!(history.last_id().is_none());
/// assert!(history.after("unknown").is_none());
/// ```
pub struct MemoryTransport {
    capacity: usize,
    inner: Mutex<Ring>,
}

#[derive(Default)]
struct Ring {
    events: VecDeque<Arc<Event>>,
    /// Sequence number of each held id.
    index: HashMap<Arc<str>, u64>,
    /// Sequence number of `events[0]`.
    first: u64,
}

impl MemoryTransport {
    /// A history holding at most `capacity` events (0 keeps none).
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            inner: Mutex::new(Ring::default()),
        }
    }

    /// How many events it holds now.
    pub fn len(&self) -> usize {
        self.ring().events.len()
    }

    /// Whether it holds no event.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn ring(&self) -> std::sync::MutexGuard<'_, Ring> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for MemoryTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryTransport")
            .field("capacity", &self.capacity)
            .field("len", &self.len())
            .finish()
    }
}

impl Transport for MemoryTransport {
    fn store(&self, event: Arc<Event>) {
        if self.capacity == 0 {
            return;
        }
        let mut ring = self.ring();
        if ring.events.len() == self.capacity
            && let Some(evicted) = ring.events.pop_front()
        {
            ring.first += 1;
            let evicted_seq = ring.first - 1;
            // An id published twice maps to its newest copy only.
            if ring.index.get(evicted.id()) == Some(&evicted_seq) {
                ring.index.remove(evicted.id());
            }
        }
        let seq = ring.first + ring.events.len() as u64;
        ring.index.insert(Arc::clone(event.id_arc()), seq);
        ring.events.push_back(event);
    }

    fn get(&self, id: &str) -> Option<Arc<Event>> {
        let ring = self.ring();
        let seq = *ring.index.get(id)?;
        ring.events
            .get(usize::try_from(seq.checked_sub(ring.first)?).ok()?)
            .cloned()
    }

    fn after(&self, id: &str) -> Option<Vec<Arc<Event>>> {
        let ring = self.ring();
        let seq = *ring.index.get(id)?;
        let start = usize::try_from(seq.checked_sub(ring.first)?).ok()? + 1;
        Some(ring.events.range(start..).cloned().collect())
    }

    fn all(&self) -> Vec<Arc<Event>> {
        self.ring().events.iter().cloned().collect()
    }

    fn last_id(&self) -> Option<Arc<str>> {
        self.ring().events.back().map(|e| Arc::clone(e.id_arc()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matcher::TopicSet;

    fn event(id: &str) -> Arc<Event> {
        Arc::new(Event::new(
            Arc::from(id),
            TopicSet::new(
                Arc::from(["t".to_owned()]),
                url::Url::parse("https://h/").unwrap(),
            ),
            false,
            bytes::Bytes::new(),
        ))
    }

    fn ids(events: &[Arc<Event>]) -> Vec<&str> {
        events.iter().map(|e| e.id()).collect()
    }

    #[test]
    fn keeps_the_newest_events() {
        let history = MemoryTransport::new(3);
        for id in ["a", "b", "c", "d"] {
            history.store(event(id));
        }
        assert_eq!(ids(&history.all()), ["b", "c", "d"]);
        assert!(history.after("a").is_none(), "evicted ids are unknown");
        assert!(history.get("a").is_none());
        assert_eq!(ids(&history.after("b").unwrap()), ["c", "d"]);
        assert_eq!(ids(&history.after("d").unwrap()), Vec::<&str>::new());
        assert_eq!(history.get("c").unwrap().id(), "c");
        assert_eq!(history.last_id().as_deref(), Some("d"));
        assert_eq!(history.len(), 3);
    }

    #[test]
    fn zero_capacity_keeps_nothing() {
        let history = MemoryTransport::new(0);
        history.store(event("a"));
        assert!(history.is_empty());
        assert!(history.last_id().is_none());
    }
}
