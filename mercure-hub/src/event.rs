//! Updates as the hub holds them: validated, identified, encoded once.

use std::sync::{Arc, OnceLock};

use bytes::Bytes;

use crate::matcher::TopicSet;

/// A published update: its id, topics, visibility, and the server-sent
/// event every subscriber receives, encoded once and shared.
#[derive(Debug)]
pub struct Event {
    id: Arc<str>,
    topics: TopicSet,
    private: bool,
    frame: Bytes,
    /// `frame` as one HTTP/1.1 chunk, made for the first subscriber on the
    /// lean path and shared by the others.
    chunk: OnceLock<Bytes>,
}

impl Event {
    pub(crate) fn new(id: Arc<str>, topics: TopicSet, private: bool, frame: Bytes) -> Self {
        Self {
            id,
            topics,
            private,
            frame,
            chunk: OnceLock::new(),
        }
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
