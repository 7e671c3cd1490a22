//! Updates as the hub holds them: validated, identified, encoded once,
//! placed in the hub-wide order by the transport.

use std::fmt;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;

use crate::matcher::TopicSet;

/// A position in the hub-wide order of events, assigned by the
/// [`Transport`](crate::Transport) when it appends an event: every event
/// appended later has a greater cursor (cursors need not be contiguous).
/// [`Cursor::ZERO`] comes before every event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Cursor(u64);

impl Cursor {
    /// The position before every event.
    pub const ZERO: Cursor = Cursor(0);

    /// The cursor numbered `position`.
    pub const fn new(position: u64) -> Self {
        Self(position)
    }

    /// Its number.
    pub const fn get(self) -> u64 {
        self.0
    }

    /// The next cursor, or `None` past the last one.
    pub fn next(self) -> Option<Self> {
        self.0.checked_add(1).map(Self)
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A published update: its place in the hub's order, its id, topics,
/// visibility, and the server-sent event every subscriber receives,
/// encoded once and shared.
///
/// A [`Transport`](crate::Transport) stores the parts
/// ([`Event::cursor`], [`Event::id`], [`Event::topics`],
/// [`Event::is_private`], [`Event::frame`]) and rebuilds the event from
/// them with [`Event::from_parts`].
pub struct Event {
    cursor: Cursor,
    id: Arc<str>,
    topics: TopicSet,
    private: bool,
    frame: Bytes,
    /// `frame` as one HTTP/1.1 chunk, made for the first subscriber on the
    /// lean path and shared by the others.
    chunk: OnceLock<Bytes>,
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The data may be private: only its size is shown.
        f.debug_struct("Event")
            .field("cursor", &self.cursor)
            .field("id", &self.id)
            .field("topics", &self.topics.topics())
            .field("private", &self.private)
            .field("frame_len", &self.frame.len())
            .finish()
    }
}

impl Event {
    /// An event rebuilt from its stored parts: `frame` is the encoded
    /// server-sent event (its `id:` line included) as
    /// [`Event::frame`] returned it.
    pub fn from_parts(
        cursor: Cursor,
        id: impl Into<Arc<str>>,
        topics: Vec<String>,
        private: bool,
        frame: Bytes,
    ) -> Self {
        Self {
            cursor,
            id: id.into(),
            topics: TopicSet::new(Arc::from(topics)),
            private,
            frame,
            chunk: OnceLock::new(),
        }
    }

    /// A new event, not yet appended ([`Cursor::ZERO`]).
    pub(crate) fn new(id: Arc<str>, topics: Arc<[String]>, private: bool, frame: Bytes) -> Self {
        Self {
            cursor: Cursor::ZERO,
            id,
            topics: TopicSet::new(topics),
            private,
            frame,
            chunk: OnceLock::new(),
        }
    }

    /// The same event at `cursor`: what a transport returns from
    /// [`Transport::append`](crate::Transport::append).
    #[must_use]
    pub fn at(mut self, cursor: Cursor) -> Self {
        self.cursor = cursor;
        self
    }

    /// Its position in the hub-wide order ([`Cursor::ZERO`] before it is
    /// appended).
    pub fn cursor(&self) -> Cursor {
        self.cursor
    }

    /// The event's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The topics, the canonical one first.
    pub fn topics(&self) -> &[String] {
        self.topics.topics()
    }

    /// Whether only authorized subscribers receive it.
    pub fn is_private(&self) -> bool {
        self.private
    }

    /// The encoded server-sent event.
    pub fn frame(&self) -> &Bytes {
        &self.frame
    }

    /// The bytes it takes in history and in queues: its frame and topics.
    pub fn size(&self) -> usize {
        self.frame.len() + self.id.len() + self.topics().iter().map(String::len).sum::<usize>()
    }

    /// The encoded event as one chunk of HTTP/1.1 chunked transfer coding.
    pub(crate) fn chunk(&self) -> &[u8] {
        self.chunk.get_or_init(|| {
            let mut chunk = Vec::new();
            crate::chunk::put_http_chunk(&mut chunk, &self.frame);
            Bytes::from(chunk)
        })
    }

    pub(crate) fn id_arc(&self) -> &Arc<str> {
        &self.id
    }

    pub(crate) fn topic_set(&self) -> &TopicSet {
        &self.topics
    }
}
