//! `sse`: the `text/event-stream` decoder (`mercure_core::sse::SseDecoder`)
//! and encoder (`encode_event`).
//!
//! Input: the cut format of [`crate::cut`] (a byte of cut count, two bytes
//! per cut, then the stream). Checks:
//!
//! - no panic, and the decoder's memory bounded by its event size limit;
//! - the stream decoded whole, cut at the input's points (an empty chunk
//!   fed at every cut too, as HTTP clients may yield one between a CR and
//!   its LF) and byte by byte (3 bytes at a time past 256 bytes) gives the
//!   same updates, last event id and
//!   reconnection time, whenever none of the three broke the size limit;
//! - every decoded update is well formed: no CR or LF in its id or type,
//!   no CR in its data, no NUL in its id;
//! - every decoded update, encoded again with `encode_event`, decodes to
//!   itself (alone, on a fresh decoder).

use std::time::Duration;

use bytes::Bytes;
use mercure_core::sse::{ReceivedUpdate, SseDecoder, encode_event};

use crate::shown;

/// The event size limit of the decoders here: small enough that inputs of
/// a few kilobytes reach it.
const LIMIT: usize = 2048;

/// What decoding a whole stream gave.
#[derive(Debug, PartialEq, Eq)]
struct Decoded {
    updates: Vec<ReceivedUpdate>,
    last_event_id: String,
    reconnection_time: Option<Duration>,
}

fn decode<'a>(pieces: impl IntoIterator<Item = &'a [u8]>, empty_between: bool) -> Option<Decoded> {
    let mut decoder = SseDecoder::new().max_event_size(LIMIT);
    let mut updates = Vec::new();
    for piece in pieces {
        decoder.feed_bytes(Bytes::copy_from_slice(piece)).ok()?;
        if empty_between {
            decoder.feed(b"").ok()?;
        }
        while let Some(update) = decoder.next_update() {
            updates.push(update);
        }
    }
    Some(Decoded {
        updates,
        last_event_id: decoder.last_event_id().to_owned(),
        reconnection_time: decoder.reconnection_time(),
    })
}

/// Runs one input.
pub fn run(data: &[u8]) {
    let (stream, pieces) = crate::cut(data);
    let whole = decode([stream], false);
    let cut = decode(pieces.iter().copied(), true);
    // Byte by byte for short streams; longer ones (which take one
    // allocation per chunk) in pieces of 3 bytes.
    let bytewise = decode(
        stream.chunks(if stream.len() <= 256 { 1 } else { 3 }),
        false,
    );
    let (Some(whole), Some(cut), Some(bytewise)) = (whole, cut, bytewise) else {
        // The limit is checked where lines end or chunks stop, which
        // depends on the cuts: a stream past it may fail in one way of
        // feeding and not in another.
        return;
    };
    assert_eq!(
        whole,
        cut,
        "whole and cut at {:?} decode differently: \"{}\"",
        pieces.iter().map(|p| p.len()).collect::<Vec<_>>(),
        shown(stream)
    );
    assert_eq!(
        whole,
        bytewise,
        "whole and byte by byte decode differently: \"{}\"",
        shown(stream)
    );
    for update in &whole.updates {
        let id = update.id().map_or("", |id| id.as_str());
        assert!(
            !id.contains(['\r', '\n', '\0']) && !update.event_type().contains(['\r', '\n']),
            "a field holds a line end or a NUL: {update:?} from \"{}\"",
            shown(stream)
        );
        assert!(
            !update.data().contains('\r'),
            "data holds a CR: {update:?} from \"{}\"",
            shown(stream)
        );
        let retry = update
            .retry()
            .map(|retry| u64::try_from(retry.as_millis()).expect("a retry from u64 milliseconds"));
        let frame = encode_event(id, Some(update.event_type()), retry, update.data());
        let mut decoder = SseDecoder::new();
        decoder.feed(&frame).expect("no limit by default");
        let again = decoder.next_update();
        assert_eq!(
            again.as_ref(),
            Some(update),
            "{update:?} encoded as \"{}\" decodes otherwise",
            shown(&frame)
        );
        assert!(decoder.next_update().is_none(), "one frame, one update");
    }
}
