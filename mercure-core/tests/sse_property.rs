//! Properties of the event-stream decoder and encoder:
//!
//! - any input, cut into chunks any way (empty chunks included, CRLF pairs,
//!   BOM bytes and UTF-8 sequences split), decodes to the events, last
//!   event id and reconnection time of a reference parser that follows
//!   the WHATWG rules on the whole input (written here, line by line,
//!   independently of the decoder);
//! - events encoded with `encode_event` decode back to themselves, as far
//!   as the format carries them (line breaks of the data become LF, those
//!   of an id or a type become spaces, an id holding NUL is ignored).
//!
//! `PROPTEST_CASES` sets the number of cases (256 by default).

use std::time::Duration;

use bytes::Bytes;
use mercure_core::sse::{SseDecoder, encode_event};
use proptest::prelude::*;

/// An event as (id, type, data, retry in ms).
type Event = (Option<String>, String, String, Option<u64>);

/// What a whole stream decodes to: its events, the last event id and the
/// reconnection time once it is over.
#[derive(Debug, PartialEq, Eq)]
struct Decoded {
    events: Vec<Event>,
    last_event_id: String,
    reconnection_ms: Option<u64>,
}

// ------------------------------------------------------------- reference

/// The WHATWG "Interpreting an event stream" algorithm, on a whole input:
/// UTF-8 decode (one leading BOM stripped, errors replaced), lines ending
/// in CRLF, LF or CR, the last unterminated line and unfinished event
/// dropped. A `retry` field also applies to the event of its block.
fn reference(input: &[u8]) -> Decoded {
    let input = input.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(input);
    let text = String::from_utf8_lossy(input);
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                lines.push(std::mem::take(&mut line));
            }
            '\n' => lines.push(std::mem::take(&mut line)),
            c => line.push(c),
        }
    }
    // `line` is unterminated: discarded.
    let mut decoded = Decoded {
        events: Vec::new(),
        last_event_id: String::new(),
        reconnection_ms: None,
    };
    let mut data = String::new();
    let mut event_type = String::new();
    let mut id_buffer = String::new();
    let mut block_retry = None;
    for line in lines {
        if line.is_empty() {
            decoded.last_event_id.clone_from(&id_buffer);
            let retry = block_retry.take();
            if data.is_empty() {
                event_type.clear();
                continue;
            }
            data.pop(); // the trailing LF
            let kind = if event_type.is_empty() {
                "message".to_owned()
            } else {
                std::mem::take(&mut event_type)
            };
            let id = (!decoded.last_event_id.is_empty()).then(|| decoded.last_event_id.clone());
            decoded
                .events
                .push((id, kind, std::mem::take(&mut data), retry));
            event_type.clear();
            continue;
        }
        if line.starts_with(':') {
            continue;
        }
        let (field, value) = match line.find(':') {
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(' ').unwrap_or(value))
            }
            None => (line.as_str(), ""),
        };
        match field {
            "event" => event_type = value.to_owned(),
            "data" => {
                data.push_str(value);
                data.push('\n');
            }
            "id" if !value.contains('\0') => id_buffer = value.to_owned(),
            "retry" if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                if let Ok(ms) = value.parse::<u64>() {
                    decoded.reconnection_ms = Some(ms);
                    block_retry = Some(ms);
                }
            }
            _ => {}
        }
    }
    decoded
}

// ---------------------------------------------------------------- decoder

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap()
}

/// Decodes `input` cut before each offset of `cuts` (sorted, within the
/// input), fed as `Bytes` or as slices, with an empty chunk here and there.
fn decode(input: &[u8], cuts: &[usize], as_bytes: bool) -> Decoded {
    let mut decoder = SseDecoder::new();
    let mut events = Vec::new();
    let mut start = 0;
    let len = input.len();
    for (i, &end) in cuts.iter().chain(std::iter::once(&len)).enumerate() {
        let chunk = &input[start..end];
        start = end;
        let fed = if as_bytes {
            decoder.feed_bytes(Bytes::copy_from_slice(chunk))
        } else {
            decoder.feed(chunk)
        };
        fed.expect("within the default size limit");
        if i % 3 == 0 {
            decoder.feed_bytes(Bytes::new()).unwrap();
        }
        while let Some(update) = decoder.next_update() {
            events.push((
                update.id().map(|id| id.as_str().to_owned()),
                update.event_type().to_owned(),
                update.data().to_owned(),
                update.retry().map(millis),
            ));
        }
    }
    Decoded {
        events,
        last_event_id: decoder.last_event_id().to_owned(),
        reconnection_ms: decoder.reconnection_time().map(millis),
    }
}

// ---------------------------------------------------------------- inputs

/// A field value: text with NULs, digits, invalid UTF-8 and BOMs, or long
/// runs (without line breaks unless `breaks`).
fn value(breaks: bool) -> impl Strategy<Value = Vec<u8>> {
    let byte = if breaks {
        prop_oneof![
            8 => any::<u8>(),
            1 => Just(b'\r'),
            1 => Just(b'\n'),
        ]
        .boxed()
    } else {
        any::<u8>()
            .prop_filter("no line break", |b| *b != b'\r' && *b != b'\n')
            .boxed()
    };
    let piece = prop_oneof![
        4 => "[ a-z0-9:]{0,12}".prop_map(String::into_bytes),
        2 => "[0-9]{1,25}".prop_map(String::into_bytes),
        2 => prop::collection::vec(byte, 0..8),
        1 => Just(b"\0".to_vec()),
        1 => Just(b"\xEF\xBB\xBF".to_vec()),
        1 => Just("é€😀".as_bytes().to_vec()),
        1 => (any::<u8>(), 100..5000_usize).prop_map(|(b, n)| {
            let b = if b == b'\r' || b == b'\n' { b'x' } else { b };
            vec![b; n]
        }),
    ];
    prop::collection::vec(piece, 0..4).prop_map(|pieces| pieces.concat())
}

fn line_end() -> impl Strategy<Value = &'static [u8]> {
    prop_oneof![Just(&b"\n"[..]), Just(&b"\r"[..]), Just(&b"\r\n"[..]),]
}

/// One line of a stream, with its end.
fn line() -> impl Strategy<Value = Vec<u8>> {
    let name = prop_oneof![
        4 => Just("data"),
        2 => Just("id"),
        2 => Just("event"),
        2 => Just("retry"),
        1 => Just("Data"),
        1 => Just("foo"),
        1 => Just(""),
    ];
    let colon = prop_oneof![
        Just(&b": "[..]),
        Just(&b":"[..]),
        Just(&b":  "[..]),
        Just(&b""[..]),
    ];
    prop_oneof![
        6 => (name, colon, value(false), line_end()).prop_map(|(name, colon, value, end)| {
            [name.as_bytes(), colon, &value[..], end].concat()
        }),
        // A blank line: the end of an event.
        3 => line_end().prop_map(<[u8]>::to_vec),
        // A comment.
        1 => (value(false), line_end()).prop_map(|(v, end)| [&b":"[..], &v[..], end].concat()),
        // Anything at all.
        1 => value(true),
    ]
}

/// A stream: maybe a BOM (or part of one), then lines.
fn stream() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        // Structured streams.
        8 => (
            prop_oneof![
                Just(&b""[..]),
                Just(&b"\xEF\xBB\xBF"[..]),
                Just(&b"\xEF\xBB"[..]),
                Just(&b"\xEF\xBB\xBF\xEF\xBB\xBF"[..]),
            ],
            prop::collection::vec(line(), 0..24),
        )
            .prop_map(|(bom, lines)| [bom.to_vec(), lines.concat()].concat()),
        // Arbitrary bytes over the bytes that matter.
        2 => prop::collection::vec(
            prop_oneof![
                Just(b'\r'),
                Just(b'\n'),
                Just(b':'),
                Just(b' '),
                Just(0_u8),
                Just(0xEF),
                Just(0xBB),
                Just(0xBF),
                Just(b'd'),
                Just(b'a'),
                Just(b't'),
                Just(b'i'),
                any::<u8>(),
            ],
            0..200,
        ),
    ]
}

/// A stream and sorted cut offsets within it.
fn chunked() -> impl Strategy<Value = (Vec<u8>, Vec<usize>, bool)> {
    stream().prop_flat_map(|input| {
        let len = input.len();
        (
            Just(input),
            prop::collection::vec(0..=len, 0..16).prop_map(|mut cuts| {
                cuts.sort_unstable();
                cuts
            }),
            any::<bool>(),
        )
    })
}

/// An event for the encoder: any id, type, retry and data.
fn event() -> impl Strategy<Value = (String, Option<String>, Option<u64>, String)> {
    let text = prop_oneof![
        3 => "[ -~]{0,20}",
        2 => ".{0,12}",
        2 => "[a\r\n :]{0,12}",
        1 => "[a\u{0}]{0,4}",
    ];
    (
        text.clone(),
        prop::option::of(text.clone()),
        prop::option::of(any::<u64>()),
        text,
    )
}

// ---------------------------------------------------------------- properties

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(256)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn any_chunking_decodes_as_the_reference((input, cuts, as_bytes) in chunked()) {
        let expected = reference(&input);
        // Whole, one byte at a time, and cut where the case says.
        prop_assert_eq!(&decode(&input, &[], as_bytes), &expected);
        let every: Vec<usize> = (1..input.len()).collect();
        prop_assert_eq!(&decode(&input, &every, as_bytes), &expected);
        prop_assert_eq!(&decode(&input, &cuts, as_bytes), &expected);
    }

    #[test]
    fn encoded_events_decode_back(
        events in prop::collection::vec(event(), 1..6),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..8),
    ) {
        let mut stream = Vec::new();
        let mut expected = Vec::new();
        let mut last_id: Option<String> = None;
        for (id, kind, retry, data) in &events {
            stream.extend_from_slice(&encode_event(id, kind.as_deref(), *retry, data));
            let one_line = |s: &str| s.replace(['\r', '\n'], " ");
            if !id.contains('\0') {
                last_id = Some(one_line(id)).filter(|id| !id.is_empty());
            }
            let kind = kind
                .as_deref()
                .map(one_line)
                .filter(|k| !k.is_empty())
                .unwrap_or_else(|| "message".to_owned());
            let data = data.replace("\r\n", "\n").replace('\r', "\n");
            expected.push((last_id.clone(), kind, data, *retry));
        }
        let mut cuts: Vec<usize> = cuts.iter().map(|i| i.index(stream.len() + 1)).collect();
        cuts.sort_unstable();
        let decoded = decode(&stream, &cuts, true);
        prop_assert_eq!(&decoded.events, &expected);
        prop_assert_eq!(&decoded, &reference(&stream));
    }
}
