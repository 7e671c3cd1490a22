//! The WHATWG event-stream rules as a table, run against our decoder and
//! the crates considered for the job (eventsource-stream, sse-stream,
//! sseer), each input decoded whole and one byte at a time. Our decoder
//! must pass every row; the others' results are printed as the table
//! recorded in docs/decisions.md (`cargo test -p mercure-client --test
//! sse_conformance -- --nocapture`).

use std::convert::Infallible;
use std::panic::{AssertUnwindSafe, catch_unwind};

use bytes::Bytes;
use futures_util::{FutureExt, Stream, StreamExt, stream};
use mercure_core::sse::SseDecoder;

/// An event as (id, type, data, retry in ms); id `None` when empty.
type Event = (Option<String>, String, String, Option<u64>);

fn event(id: Option<&str>, ty: &str, data: &str, retry: Option<u64>) -> Event {
    (id.map(str::to_owned), ty.to_owned(), data.to_owned(), retry)
}

fn norm_type(ty: &str) -> String {
    if ty.is_empty() {
        "message".to_owned()
    } else {
        ty.to_owned()
    }
}

fn norm_id(id: &str) -> Option<String> {
    (!id.is_empty()).then(|| id.to_owned())
}

fn chunks(input: &[u8], size: usize) -> Vec<Bytes> {
    input
        .chunks(size.max(1))
        .map(Bytes::copy_from_slice)
        .collect()
}

fn source(chunks: &[Bytes]) -> impl Stream<Item = Result<Bytes, Infallible>> + Unpin + '_ {
    stream::iter(chunks.iter().cloned().map(Ok))
}

/// Collects a ready stream; the first error ends it.
fn collect<S, T, E: std::fmt::Debug>(
    mut stream: S,
    map: impl Fn(T) -> Option<Event>,
) -> Result<Vec<Event>, String>
where
    S: Stream<Item = Result<T, E>> + Unpin,
{
    let mut out = Vec::new();
    while let Some(Some(item)) = stream.next().now_or_never() {
        match item {
            Ok(item) => out.extend(map(item)),
            Err(error) => return Err(format!("error: {error:?}")),
        }
    }
    Ok(out)
}

fn ours(chunks: &[Bytes]) -> Result<Vec<Event>, String> {
    let mut decoder = SseDecoder::new();
    let mut out = Vec::new();
    for chunk in chunks {
        decoder.feed(chunk).map_err(|e| e.to_string())?;
        while let Some(u) = decoder.next_update() {
            out.push((
                u.id().map(|id| id.to_string()),
                u.event_type().to_owned(),
                u.data().to_owned(),
                u.retry().map(|r| r.as_millis() as u64),
            ));
        }
    }
    Ok(out)
}

fn eventsource_stream(chunks: &[Bytes]) -> Result<Vec<Event>, String> {
    use eventsource_stream::Eventsource;
    collect(
        source(chunks).eventsource(),
        |e: eventsource_stream::Event| {
            Some((
                norm_id(&e.id),
                norm_type(&e.event),
                e.data,
                e.retry.map(|r| r.as_millis() as u64),
            ))
        },
    )
}

fn sse_stream(chunks: &[Bytes]) -> Result<Vec<Event>, String> {
    collect(
        Box::pin(sse_stream::SseByteStream::new(source(chunks))),
        |e: sse_stream::Sse| {
            let data = e.data?;
            Some((
                e.id.as_deref().and_then(norm_id),
                norm_type(e.event.as_deref().unwrap_or("")),
                data,
                e.retry,
            ))
        },
    )
}

fn sseer(chunks: &[Bytes]) -> Result<Vec<Event>, String> {
    collect(
        Box::pin(sseer::EventStream::new(source(chunks))),
        |e: sseer::event::Event| {
            Some((
                norm_id(&e.id),
                norm_type(&e.event),
                e.data.to_string(),
                e.retry.map(|r| r.as_millis() as u64),
            ))
        },
    )
}

type Candidate = fn(&[Bytes]) -> Result<Vec<Event>, String>;

fn rules() -> Vec<(&'static str, Vec<u8>, Vec<Event>)> {
    let m = "message";
    vec![
        (
            "LF line ends",
            b"data: a\n\n".to_vec(),
            vec![event(None, m, "a", None)],
        ),
        (
            "CRLF line ends",
            b"data: a\r\n\r\n".to_vec(),
            vec![event(None, m, "a", None)],
        ),
        (
            "CR line ends (last event too)",
            b"data: a\r\rdata: b\r\r".to_vec(),
            vec![event(None, m, "a", None), event(None, m, "b", None)],
        ),
        (
            "mixed line ends",
            b"data: a\r\ndata: b\rdata: c\n\r\n".to_vec(),
            vec![event(None, m, "a\nb\nc", None)],
        ),
        (
            "leading BOM",
            b"\xEF\xBB\xBFdata: a\n\n".to_vec(),
            vec![event(None, m, "a", None)],
        ),
        (
            "second BOM is not skipped",
            b"\xEF\xBB\xBF\xEF\xBB\xBFdata: a\n\ndata: b\n\n".to_vec(),
            vec![event(None, m, "b", None)],
        ),
        (
            "UTF-8 across chunks",
            "data: é😀\n\n".as_bytes().to_vec(),
            vec![event(None, m, "é😀", None)],
        ),
        (
            "invalid UTF-8 replaced, stream goes on",
            b"data: a\xFFb\n\ndata: c\n\n".to_vec(),
            vec![
                event(None, m, "a\u{FFFD}b", None),
                event(None, m, "c", None),
            ],
        ),
        (
            "comments",
            b": heartbeat\n\n:x\ndata: a\n\n".to_vec(),
            vec![event(None, m, "a", None)],
        ),
        (
            "field without colon",
            b"data\ndata\n\n".to_vec(),
            vec![event(None, m, "\n", None)],
        ),
        (
            "one space stripped",
            b"data:  a \n\n".to_vec(),
            vec![event(None, m, " a ", None)],
        ),
        (
            "retry: digits only",
            b"retry: 1x\ndata: a\n\nretry: 300\ndata: b\n\n".to_vec(),
            vec![event(None, m, "a", None), event(None, m, "b", Some(300))],
        ),
        (
            "id with NUL ignored",
            b"id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\n".to_vec(),
            vec![
                event(Some("1"), m, "a", None),
                event(Some("1"), m, "b", None),
            ],
        ),
        (
            "last event id carried over",
            b"id: 1\ndata: a\n\ndata: b\n\n".to_vec(),
            vec![
                event(Some("1"), m, "a", None),
                event(Some("1"), m, "b", None),
            ],
        ),
        (
            "empty id resets",
            b"id: 1\ndata: a\n\nid\ndata: b\n\n".to_vec(),
            vec![event(Some("1"), m, "a", None), event(None, m, "b", None)],
        ),
        (
            "empty data buffer: no dispatch",
            b"event: x\nid: 7\n\ndata: a\n\n".to_vec(),
            vec![event(Some("7"), m, "a", None)],
        ),
        (
            "empty data line dispatches",
            b"data:\n\n".to_vec(),
            vec![event(None, m, "", None)],
        ),
        (
            "event type resets",
            b"event: book\ndata: a\n\ndata: b\n\n".to_vec(),
            vec![event(None, "book", "a", None), event(None, m, "b", None)],
        ),
        (
            "incomplete event at EOF dropped",
            b"data: a\n\ndata: b\n".to_vec(),
            vec![event(None, m, "a", None)],
        ),
    ]
}

#[test]
fn whatwg_rules_table() {
    let candidates: [(&str, Candidate); 4] = [
        ("mercure-client", ours),
        ("eventsource-stream 0.2.3", eventsource_stream),
        ("sse-stream 0.3.0", sse_stream),
        ("sseer 0.3.1", sseer),
    ];
    let mut table = String::from("| rule |");
    for (name, _) in &candidates {
        table.push_str(&format!(" {name} |"));
    }
    table.push_str("\n|---|");
    table.push_str(&"---|".repeat(candidates.len()));
    table.push('\n');
    let mut our_failures = Vec::new();
    for (rule, input, expected) in rules() {
        table.push_str(&format!("| {rule} |"));
        for (name, decode) in &candidates {
            let mut verdict = "yes".to_owned();
            for size in [input.len(), 1] {
                let pieces = chunks(&input, size);
                let got = catch_unwind(AssertUnwindSafe(|| decode(&pieces)));
                let outcome = match got {
                    Err(_) => Some("panics".to_owned()),
                    Ok(Err(error)) => Some(if error.len() > 40 {
                        "stream error".to_owned()
                    } else {
                        error
                    }),
                    Ok(Ok(events)) if events == expected => None,
                    Ok(Ok(_)) => Some("wrong events".to_owned()),
                };
                if let Some(outcome) = outcome {
                    verdict = if size == 1 && input.len() > 1 {
                        format!("no ({outcome}, byte by byte)")
                    } else {
                        format!("no ({outcome})")
                    };
                    if *name == "mercure-client" {
                        our_failures.push(format!("{rule}: {verdict}"));
                    }
                    break;
                }
            }
            table.push_str(&format!(" {verdict} |"));
        }
        table.push('\n');
    }
    println!("{table}");
    assert!(our_failures.is_empty(), "{our_failures:#?}");
}

/// `.sse` fixture files (LF, CRLF, CR and BOM variants of one stream)
/// decode to the same updates.
#[test]
fn fixture_files_decode_alike() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut seen = 0;
    let mut reference: Option<Vec<Event>> = None;
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sse"))
        .collect();
    entries.sort();
    for path in entries {
        let bytes = std::fs::read(&path).unwrap();
        for size in [bytes.len(), 1, 3, 64] {
            let events = ours(&chunks(&bytes, size)).unwrap();
            match &reference {
                None => reference = Some(events),
                Some(reference) => assert_eq!(&events, reference, "{}", path.display()),
            }
        }
        seen += 1;
    }
    assert_eq!(seen, 4, "the four line-end variants");
    let reference = reference.unwrap();
    assert_eq!(reference.len(), 4);
    assert_eq!(
        reference[0],
        event(
            Some("urn:uuid:1"),
            "message",
            "{\"@id\": \"https://example.com/books/1\",\n \"title\": \"Dune\"}",
            Some(2000)
        )
    );
    assert_eq!(reference[1].1, "book.updated");
    assert_eq!(reference[2].0.as_deref(), Some("urn:uuid:2"));
    assert_eq!(reference[3].2, "");
}

/// Arbitrary bytes (event-stream punctuation, field names, invalid and
/// split UTF-8) decode without panicking, to the same updates whatever the
/// chunking, and the last event id never contains NUL.
#[test]
fn random_streams_decode_alike_in_any_chunking() {
    let pieces: [&[u8]; 16] = [
        b"data",
        b"id",
        b"event",
        b"retry",
        b":",
        b" ",
        b"\n",
        b"\r",
        b"\r\n",
        b"\0",
        b"1",
        b"x",
        b"\xEF\xBB\xBF",
        b"\xC3",
        b"\xA9",
        b"\xFF",
    ];
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..3000 {
        let len = (next() % 60) as usize;
        let input: Vec<u8> = (0..len)
            .flat_map(|_| {
                pieces[(next() % pieces.len() as u64) as usize]
                    .iter()
                    .copied()
            })
            .collect();
        let whole = ours(&chunks(&input, input.len())).unwrap();
        for size in [1, 2, 3, (next() % 17 + 1) as usize] {
            assert_eq!(
                ours(&chunks(&input, size)).unwrap(),
                whole,
                "{input:?} in chunks of {size}"
            );
        }
        for (id, _, data, _) in &whole {
            assert!(id.as_deref().is_none_or(|id| !id.contains('\0')));
            assert!(!data.contains('\r'));
        }
    }
}
