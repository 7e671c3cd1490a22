//! An incremental decoder for the WHATWG `text/event-stream` format.
//!
//! Follows the parsing rules of the HTML Living Standard, "Server-sent
//! events", section 9.2.6: one leading BOM is skipped, lines end with CR, LF
//! or CRLF (a CRLF split across two chunks counts once), UTF-8 split across
//! chunks is reassembled (invalid sequences become U+FFFD, the stream goes
//! on), comments are ignored, a field without a colon has an empty value,
//! `retry` is taken only when it is all ASCII digits, an `id` containing NUL
//! is ignored, the last event id carries over from event to event, and a
//! block with an empty data buffer dispatches nothing. An event cut off by
//! the end of the stream is discarded.

use std::collections::VecDeque;
use std::time::Duration;

use bytes::Bytes;
use bytestring::ByteString;

use super::ReceivedUpdate;

/// The most a single event (one line, or the data of one event) may hold
/// unless configured otherwise: 16 MiB.
pub const DEFAULT_MAX_EVENT_SIZE: usize = 16 * 1024 * 1024;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The event stream broke a limit; see [`SseDecoder::max_event_size`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an event of the stream is larger than the {limit} bytes allowed")]
pub struct EventTooLarge {
    /// The limit in bytes.
    pub limit: usize,
}

/// Decodes a `text/event-stream` body fed in arbitrary chunks into
/// [`ReceivedUpdate`]s.
///
/// Chunks given as [`Bytes`] ([`SseDecoder::feed_bytes`], what HTTP
/// clients yield) are not copied: an update whose data, and type, fit on
/// one line refers to the chunk they arrived in (see
/// [`ReceivedUpdate::into_owned`] about keeping updates for long).
///
/// ```
/// use mercure_core::sse::SseDecoder;
///
/// let mut decoder = SseDecoder::new();
/// decoder.feed(b"\xEF\xBB\xBFid: 1\r\nevent: book\r\ndata: {\"title\":").unwrap();
/// assert!(decoder.next_update().is_none()); // not complete yet
/// decoder.feed(b" \"Dune\"}\r\n\r\n").unwrap();
/// let update = decoder.next_update().unwrap();
/// assert_eq!(update.id().map(|id| id.as_str()), Some("1"));
/// assert_eq!(update.event_type(), "book");
/// assert_eq!(update.data(), r#"{"title": "Dune"}"#);
/// assert_eq!(decoder.last_event_id(), "1");
/// ```
#[derive(Debug)]
pub struct SseDecoder {
    /// Bytes of a line whose end has not arrived yet.
    partial: Vec<u8>,
    /// Whether the previous chunk ended with CR (an LF starting the next
    /// chunk then belongs to that line end).
    after_cr: bool,
    /// Whether the start of the stream (where a BOM may be) is behind us.
    started: bool,
    /// The data buffer, without its trailing LF.
    data: DataBuffer,
    /// The event type buffer; `None` when empty or `message`.
    event_type: Option<ByteString>,
    /// The last event id buffer (carried from event to event).
    id_buffer: String,
    /// Whether an `id` field was taken since the last blank line (the id
    /// buffer is only meaningful then).
    id_set: bool,
    /// The event source's last event id: the id buffer as of the last
    /// blank line.
    last_event_id: String,
    /// `retry` seen in the current block.
    block_retry: Option<Duration>,
    /// The latest `retry` of the stream.
    reconnection_time: Option<Duration>,
    ready: VecDeque<ReceivedUpdate>,
    max_event_size: usize,
    line_ends: LineEnds,
}

/// The data lines of the current block.
#[derive(Debug, Default)]
enum DataBuffer {
    /// No data line yet (the block will dispatch nothing).
    #[default]
    Empty,
    /// One line: a slice of the chunk it came in, not copied.
    One(ByteString),
    /// Several lines, joined with LF into a buffer of their own.
    Many(String),
}

impl DataBuffer {
    fn len(&self) -> usize {
        match self {
            DataBuffer::Empty => 0,
            DataBuffer::One(text) => text.len(),
            DataBuffer::Many(text) => text.len(),
        }
    }
}

impl Default for SseDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl SseDecoder {
    /// A decoder at the start of a stream.
    pub fn new() -> Self {
        Self {
            partial: Vec::new(),
            after_cr: false,
            started: false,
            data: DataBuffer::Empty,
            event_type: None,
            id_buffer: String::new(),
            id_set: false,
            last_event_id: String::new(),
            block_retry: None,
            reconnection_time: None,
            ready: VecDeque::new(),
            max_event_size: DEFAULT_MAX_EVENT_SIZE,
            line_ends: LineEnds::new(),
        }
    }

    /// Bounds the size of one line and of one event's data (default
    /// [`DEFAULT_MAX_EVENT_SIZE`]); a larger event makes [`SseDecoder::feed`]
    /// fail instead of buffering without end.
    #[must_use]
    pub fn max_event_size(mut self, bytes: usize) -> Self {
        self.max_event_size = bytes;
        self
    }

    /// Starts decoding a new response (after a reconnection): buffers of
    /// the interrupted one are dropped, the last event id and the
    /// reconnection time are kept.
    pub fn restart(&mut self) {
        self.partial.clear();
        self.after_cr = false;
        self.started = false;
        self.data = DataBuffer::Empty;
        self.event_type = None;
        self.block_retry = None;
        self.id_set = false;
    }

    /// The id to send back in `Last-Event-ID` when reconnecting: the id
    /// buffer as of the last complete event block (empty when none).
    pub fn last_event_id(&self) -> &str {
        &self.last_event_id
    }

    /// Sets the last event id, for resuming a stream decoded elsewhere.
    pub fn set_last_event_id(&mut self, id: impl Into<String>) {
        self.last_event_id = id.into();
        self.id_set = false;
    }

    /// The reconnection time the stream asked for with its latest valid
    /// `retry` field.
    pub fn reconnection_time(&self) -> Option<Duration> {
        self.reconnection_time
    }

    /// Takes the next complete update, oldest first.
    pub fn next_update(&mut self) -> Option<ReceivedUpdate> {
        self.ready.pop_front()
    }

    /// How many complete updates wait to be taken.
    pub fn pending(&self) -> usize {
        self.ready.len()
    }

    /// Decodes `chunk`, queueing every update it completes.
    ///
    /// The chunk is copied once; prefer [`SseDecoder::feed_bytes`] when the
    /// input already is [`Bytes`].
    ///
    /// # Errors
    /// [`EventTooLarge`] when a line or an event's data outgrows the limit;
    /// the decoder should then be dropped (or [restarted](Self::restart)
    /// on a new response).
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), EventTooLarge> {
        self.feed_bytes(Bytes::copy_from_slice(chunk))
    }

    /// Decodes `chunk` without copying it, queueing every update it
    /// completes: single-line data and types of the updates are slices of
    /// `chunk`.
    ///
    /// # Errors
    /// [`EventTooLarge`] when a line or an event's data outgrows the limit;
    /// the decoder should then be dropped (or [restarted](Self::restart)
    /// on a new response).
    pub fn feed_bytes(&mut self, chunk: Bytes) -> Result<(), EventTooLarge> {
        let mut start = 0;
        if chunk.is_empty() {
            // Nothing to decode; an empty chunk between a CR and its LF
            // must not end the pairing.
            return Ok(());
        }
        if self.after_cr {
            self.after_cr = false;
            if chunk[0] == b'\n' {
                start = 1;
            }
        }
        if !self.started {
            // The BOM may itself arrive split across chunks.
            let rest = &chunk[start..];
            let seen = self.partial.len();
            let want = BOM.len() - seen;
            let take = want.min(rest.len());
            if rest[..take] != BOM[seen..seen + take] {
                // Not a BOM: whatever was held back is ordinary input.
                self.started = true;
                if !self.partial.is_empty() {
                    let held = Bytes::from(std::mem::take(&mut self.partial));
                    self.feed_started(&held, 0)?;
                }
                return self.feed_started(&chunk, start);
            }
            if take < want {
                self.partial.extend_from_slice(rest);
                return Ok(());
            }
            self.partial.clear();
            self.started = true;
            start += take;
        }
        self.feed_started(&chunk, start)
    }

    fn feed_started(&mut self, chunk: &Bytes, start: usize) -> Result<(), EventTooLarge> {
        let mut rest = &chunk[start..];
        if !self.partial.is_empty() {
            match self.line_ends.find(rest) {
                None => {
                    if self.partial.len() + rest.len() > self.max_event_size {
                        return Err(self.too_large());
                    }
                    self.partial.extend_from_slice(rest);
                    return Ok(());
                }
                Some(end) => {
                    if self.partial.len() + end > self.max_event_size {
                        return Err(self.too_large());
                    }
                    let mut line = std::mem::take(&mut self.partial);
                    line.extend_from_slice(&rest[..end]);
                    let line = Bytes::from(line);
                    self.line(&line, &line)?;
                    rest = self.skip_line_end(rest, end);
                }
            }
        }
        while let Some(end) = self.line_ends.find(rest) {
            self.line(chunk, &rest[..end])?;
            rest = self.skip_line_end(rest, end);
        }
        if rest.len() > self.max_event_size {
            return Err(self.too_large());
        }
        self.partial.extend_from_slice(rest);
        Ok(())
    }

    /// What follows the line end at `end` (CR, LF or CRLF).
    fn skip_line_end<'a>(&mut self, input: &'a [u8], end: usize) -> &'a [u8] {
        if input[end] == b'\r' {
            match input.get(end + 1) {
                Some(b'\n') => &input[end + 2..],
                Some(_) => &input[end + 1..],
                None => {
                    self.after_cr = true;
                    &input[end + 1..]
                }
            }
        } else {
            &input[end + 1..]
        }
    }

    fn too_large(&self) -> EventTooLarge {
        EventTooLarge {
            limit: self.max_event_size,
        }
    }

    /// Handles one line, a part of `source`.
    fn line(&mut self, source: &Bytes, line: &[u8]) -> Result<(), EventTooLarge> {
        if line.is_empty() {
            self.dispatch();
            return Ok(());
        }
        let (field, value) = match line {
            // The usual spellings, recognised without a scan.
            [b'd', b'a', b't', b'a', b':', value @ ..] => (Field::Data, value),
            [b'i', b'd', b':', value @ ..] => (Field::Id, value),
            [b'e', b'v', b'e', b'n', b't', b':', value @ ..] => (Field::Event, value),
            [b':', ..] => return Ok(()), // a comment
            // Field names are short: a plain scan finds the colon first.
            _ => match line.iter().position(|&c| c == b':') {
                Some(colon) => (Field::named(&line[..colon]), &line[colon + 1..]),
                None => (Field::named(line), &b""[..]),
            },
        };
        let value = value.strip_prefix(b" ").unwrap_or(value);
        match field {
            Field::Data => {
                if self.data.len() + value.len() + 1 > self.max_event_size {
                    return Err(self.too_large());
                }
                match &mut self.data {
                    // Most events have one data line: not copied.
                    DataBuffer::Empty => self.data = DataBuffer::One(text(source, value)),
                    DataBuffer::One(first) => {
                        let mut joined = String::with_capacity(first.len() + 1 + value.len());
                        joined.push_str(first);
                        joined.push('\n');
                        push_lossy(&mut joined, value);
                        self.data = DataBuffer::Many(joined);
                    }
                    DataBuffer::Many(joined) => {
                        joined.push('\n');
                        push_lossy(joined, value);
                    }
                }
            }
            Field::Event => {
                self.event_type =
                    (!value.is_empty() && value != b"message").then(|| text(source, value));
            }
            Field::Id if !has_nul(value) => {
                // Reuses the buffer's allocation.
                self.id_buffer.clear();
                push_lossy(&mut self.id_buffer, value);
                self.id_set = true;
            }
            Field::Retry if !value.is_empty() && value.iter().all(u8::is_ascii_digit) => {
                // Digits only, so parsing fails only on overflow (ignored).
                if let Ok(ms) = std::str::from_utf8(value).unwrap_or("").parse::<u64>() {
                    let retry = Duration::from_millis(ms);
                    self.block_retry = Some(retry);
                    self.reconnection_time = Some(retry);
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn dispatch(&mut self) {
        if self.id_set {
            // The buffer becomes the last event id; its old allocation is
            // reused by the next id field.
            std::mem::swap(&mut self.last_event_id, &mut self.id_buffer);
            self.id_set = false;
        }
        let retry = self.block_retry.take();
        let event_type = self.event_type.take();
        let data = match std::mem::take(&mut self.data) {
            DataBuffer::Empty => return,
            DataBuffer::One(data) => data,
            DataBuffer::Many(data) => ByteString::from(data),
        };
        let id = (!self.last_event_id.is_empty()).then(|| self.last_event_id.as_str().into());
        self.ready
            .push_back(ReceivedUpdate::from_parts(id, event_type, data, retry));
    }
}

/// The fields of the format.
#[derive(Debug, Clone, Copy)]
enum Field {
    Data,
    Event,
    Id,
    Retry,
    /// Any other name (ignored).
    Other,
}

impl Field {
    fn named(name: &[u8]) -> Self {
        match name {
            b"data" => Field::Data,
            b"event" => Field::Event,
            b"id" => Field::Id,
            b"retry" => Field::Retry,
            _ => Field::Other,
        }
    }
}

/// Whether `bytes` holds a NUL (ids are short: a branch-free scan the
/// compiler vectorises beats a search call).
#[inline]
fn has_nul(bytes: &[u8]) -> bool {
    bytes.iter().fold(false, |found, &byte| found | (byte == 0))
}

/// Finds line ends (CR or LF), with the widest vector instructions the
/// processor has, chosen once.
#[derive(Debug, Clone, Copy)]
struct LineEnds {
    #[cfg(target_arch = "x86_64")]
    avx2: Option<memchr::arch::x86_64::avx2::memchr::Two>,
}

impl LineEnds {
    fn new() -> Self {
        Self {
            #[cfg(target_arch = "x86_64")]
            avx2: memchr::arch::x86_64::avx2::memchr::Two::new(b'\n', b'\r'),
        }
    }

    /// The first CR or LF.
    #[inline]
    fn find(&self, bytes: &[u8]) -> Option<usize> {
        #[cfg(target_arch = "x86_64")]
        if let Some(searcher) = &self.avx2 {
            return searcher.find(bytes);
        }
        memchr::memchr2(b'\n', b'\r', bytes)
    }
}

/// `value`, a part of `source`, as text sharing `source`'s buffer; invalid
/// UTF-8 sequences become U+FFFD (in a copy).
#[inline]
fn text(source: &Bytes, value: &[u8]) -> ByteString {
    if value.is_empty() {
        return ByteString::new();
    }
    ByteString::try_from(source.slice_ref(value))
        .unwrap_or_else(|_| ByteString::from(String::from_utf8_lossy(value).into_owned()))
}

/// Validates UTF-8, with SIMD for long values.
#[inline]
fn as_utf8(bytes: &[u8]) -> Option<&str> {
    if bytes.len() >= 128 {
        simdutf8::basic::from_utf8(bytes).ok()
    } else {
        std::str::from_utf8(bytes).ok()
    }
}

fn push_lossy(out: &mut String, bytes: &[u8]) {
    match as_utf8(bytes) {
        Some(text) => out.push_str(text),
        None => out.push_str(&String::from_utf8_lossy(bytes)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Expected<'a> = (Option<&'a str>, &'a str, &'a str);

    fn decode_in_chunks(input: &[u8], chunk: usize) -> Vec<ReceivedUpdate> {
        let mut decoder = SseDecoder::new();
        let mut out = Vec::new();
        for piece in input.chunks(chunk.max(1)) {
            decoder.feed(piece).unwrap();
            while let Some(update) = decoder.next_update() {
                out.push(update);
            }
        }
        out
    }

    fn summary(updates: &[ReceivedUpdate]) -> Vec<(Option<String>, String, String)> {
        updates
            .iter()
            .map(|u| {
                (
                    u.id().map(|id| id.as_str().to_owned()),
                    u.event_type().to_owned(),
                    u.data().to_owned(),
                )
            })
            .collect()
    }

    /// Every case is decoded whole and in every chunk size from 1 to 7, so
    /// CRLF pairs, BOM bytes and UTF-8 sequences all get split.
    #[test]
    fn rules_table() {
        let cases: &[(&str, &[u8], &[Expected<'_>])] = &[
            ("lf", b"data: a\n\n", &[(None, "message", "a")]),
            ("crlf", b"data: a\r\n\r\n", &[(None, "message", "a")]),
            (
                "cr",
                b"data: a\r\rdata: b\r\r",
                &[(None, "message", "a"), (None, "message", "b")],
            ),
            (
                "mixed line ends",
                b"data: a\r\ndata: b\rdata: c\n\r\n",
                &[(None, "message", "a\nb\nc")],
            ),
            (
                "leading bom",
                b"\xEF\xBB\xBFdata: a\n\n",
                &[(None, "message", "a")],
            ),
            (
                "only one bom skipped",
                b"\xEF\xBB\xBF\xEF\xBB\xBFdata: a\n\ndata: b\n\n",
                &[(None, "message", "b")],
            ),
            (
                "bom-like prefix is data",
                b"\xEF\xBBdata: a\n\ndata: b\n\n",
                &[(None, "message", "b")],
            ),
            (
                "comment",
                b": heartbeat\n\n:x\ndata: a\n\n",
                &[(None, "message", "a")],
            ),
            (
                "no space after colon",
                b"data:a\n\n",
                &[(None, "message", "a")],
            ),
            (
                "only one space stripped",
                b"data:  a \n\n",
                &[(None, "message", " a ")],
            ),
            ("field without colon", b"data\n\n", &[(None, "message", "")]),
            (
                "empty data dispatches",
                b"data:\n\n",
                &[(None, "message", "")],
            ),
            (
                "two empty data lines",
                b"data\ndata\n\n",
                &[(None, "message", "\n")],
            ),
            (
                "no data, no dispatch",
                b"event: x\n\ndata: a\n\n",
                &[(None, "message", "a")],
            ),
            (
                "multi-line data",
                b"data: a\ndata: b\n\n",
                &[(None, "message", "a\nb")],
            ),
            (
                "event type",
                b"event: book\ndata: a\n\n",
                &[(None, "book", "a")],
            ),
            (
                "event type resets",
                b"event: book\ndata: a\n\ndata: b\n\n",
                &[(None, "book", "a"), (None, "message", "b")],
            ),
            (
                "id carried over",
                b"id: 1\ndata: a\n\ndata: b\n\n",
                &[(Some("1"), "message", "a"), (Some("1"), "message", "b")],
            ),
            (
                "empty id resets",
                b"id: 1\ndata: a\n\nid\ndata: b\n\n",
                &[(Some("1"), "message", "a"), (None, "message", "b")],
            ),
            (
                "id with nul ignored",
                b"id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\n",
                &[(Some("1"), "message", "a"), (Some("1"), "message", "b")],
            ),
            (
                "unknown field ignored",
                b"foo: bar\ndata: a\n\n",
                &[(None, "message", "a")],
            ),
            (
                "field names are case-sensitive",
                b"Data: x\ndata: a\n\n",
                &[(None, "message", "a")],
            ),
            (
                "incomplete last event dropped",
                b"data: a\n\ndata: b\n",
                &[(None, "message", "a")],
            ),
            (
                "utf-8",
                "data: é😀\n\n".as_bytes(),
                &[(None, "message", "é😀")],
            ),
            (
                "invalid utf-8 replaced",
                b"data: a\xFFb\n\ndata: c\n\n",
                &[(None, "message", "a\u{FFFD}b"), (None, "message", "c")],
            ),
            (
                "truncated utf-8 at line end",
                b"data: \xE2\x82\ndata: z\n\n",
                &[(None, "message", "\u{FFFD}\nz")],
            ),
            (
                "colon in value",
                b"data: a: b\n\n",
                &[(None, "message", "a: b")],
            ),
        ];
        for (name, input, expected) in cases {
            let expected: Vec<_> = expected
                .iter()
                .map(|(id, ty, data)| (id.map(str::to_owned), (*ty).to_owned(), (*data).to_owned()))
                .collect();
            for chunk in [input.len(), 1, 2, 3, 4, 5, 7] {
                let got = summary(&decode_in_chunks(input, chunk));
                assert_eq!(got, expected, "case {name:?}, chunks of {chunk}");
            }
        }
    }

    #[test]
    fn retry_rules() {
        let mut decoder = SseDecoder::new();
        decoder.feed(b"retry: 1500\ndata: a\n\n").unwrap();
        let update = decoder.next_update().unwrap();
        assert_eq!(update.retry(), Some(Duration::from_millis(1500)));
        assert_eq!(
            decoder.reconnection_time(),
            Some(Duration::from_millis(1500))
        );
        for ignored in [
            &b"retry: 15s\n\n"[..],
            b"retry: -1\n\n",
            b"retry:\n\n",
            b"retry: 1 0\n\n",
            b"retry: 99999999999999999999999\n\n",
        ] {
            decoder.feed(ignored).unwrap();
        }
        assert_eq!(
            decoder.reconnection_time(),
            Some(Duration::from_millis(1500))
        );
        // A retry-only block changes the reconnection time without an update.
        decoder.feed(b"retry: 10\n\ndata: b\n\n").unwrap();
        assert_eq!(decoder.reconnection_time(), Some(Duration::from_millis(10)));
        assert_eq!(decoder.next_update().unwrap().retry(), None);
    }

    #[test]
    fn last_event_id_follows_blank_lines_and_survives_restart() {
        let mut decoder = SseDecoder::new();
        decoder
            .feed(b"id: 1\ndata: a\n\nid: 2\n\nid: 3\ndata: cut")
            .unwrap();
        // An id-only block moves the cursor; the cut event does not.
        assert_eq!(decoder.last_event_id(), "2");
        decoder.restart();
        decoder.feed(b"\xEF\xBB\xBFdata: b\n\n").unwrap();
        let ids: Vec<_> = std::iter::from_fn(|| decoder.next_update())
            .map(|u| u.id().map(|id| id.to_string()))
            .collect();
        assert_eq!(ids, [Some("1".to_owned()), Some("2".to_owned())]);
    }

    #[test]
    fn crlf_split_across_chunks_counts_once() {
        let mut decoder = SseDecoder::new();
        decoder.feed(b"data: a\r").unwrap();
        decoder.feed(b"\n").unwrap();
        decoder.feed(b"\r").unwrap();
        decoder.feed(b"").unwrap();
        decoder.feed(b"\ndata: b\r\n\r\n").unwrap();
        assert_eq!(decoder.next_update().unwrap().data(), "a");
        assert_eq!(decoder.next_update().unwrap().data(), "b");
        assert!(decoder.next_update().is_none());
        // An empty chunk between CR and LF does not make the LF a second
        // line end.
        let mut decoder = SseDecoder::new();
        decoder.feed(b"data: a\r").unwrap();
        decoder.feed_bytes(Bytes::new()).unwrap();
        decoder.feed(b"\ndata: b\r\r").unwrap();
        assert_eq!(decoder.next_update().unwrap().data(), "a\nb");
        assert!(decoder.next_update().is_none());
    }

    /// Chunks given as `Bytes` decode like copied ones, cut anywhere.
    #[test]
    fn shared_chunks_decode_like_copied_ones() {
        let input: &[u8] = b"\xEF\xBB\xBFid: 1\r\nevent: book\r\ndata: \xC3\xA9t\xC3\xA9\r\n\r\n\
            data: a\rdata: b\xFF\r\revent: message\ndata: c\n\n";
        let expected = summary(&decode_in_chunks(input, input.len()));
        assert_eq!(expected.len(), 3);
        for size in 1..=input.len() {
            let mut decoder = SseDecoder::new();
            let mut got = Vec::new();
            for piece in input.chunks(size) {
                decoder.feed_bytes(Bytes::copy_from_slice(piece)).unwrap();
                got.extend(std::iter::from_fn(|| decoder.next_update()));
            }
            assert_eq!(summary(&got), expected, "chunks of {size}");
        }
    }

    /// Single-line data and types point into the chunk; `into_owned`
    /// copies them out, and multi-line data has a buffer of its own.
    #[test]
    fn single_line_values_share_the_chunk_until_owned() {
        let chunk = Bytes::from_static(b"event: book\ndata: {}\n\ndata: a\ndata: b\n\n");
        let range = chunk.as_ptr_range();
        let inside = |text: &str| range.contains(&text.as_ptr());
        let mut decoder = SseDecoder::new();
        decoder.feed_bytes(chunk.clone()).unwrap();
        let single = decoder.next_update().unwrap();
        assert!(inside(single.data()) && inside(single.event_type()));
        let owned = single.clone().into_owned();
        assert_eq!(owned, single);
        assert!(!inside(owned.data()) && !inside(owned.event_type()));
        let joined = decoder.next_update().unwrap();
        assert_eq!(joined.data(), "a\nb");
        assert!(!inside(joined.data()));
        assert_eq!(joined.into_data(), "a\nb");
    }

    #[test]
    fn oversized_events_are_refused() {
        let mut decoder = SseDecoder::new().max_event_size(16);
        assert!(decoder.feed(b"data: 0123456789abcdef").is_err());
        let mut decoder = SseDecoder::new().max_event_size(16);
        decoder.feed(b"data: 01234567\n").unwrap();
        assert_eq!(
            decoder.feed(b"data: 01234567\n"),
            Err(EventTooLarge { limit: 16 })
        );
        let mut decoder = SseDecoder::new().max_event_size(16);
        decoder.feed(b"data: 01234").unwrap();
        assert!(decoder.feed(b"56789abcdef").is_err());
    }
}
