//! Server-sent events encoding: an update encoded once into the bytes every
//! subscriber receives.

use bytes::{BufMut, Bytes, BytesMut};

/// An empty comment: what a hub sends as a stream opens (so that the
/// response head leaves at once) and as a heartbeat.
pub const EMPTY_COMMENT: &[u8] = b":\n\n";

/// Encodes one event block.
///
/// `data` is split on every line break (CRLF, LF, CR) into `data:` lines,
/// so it cannot inject fields. `id` and `event_type` are single-line values
/// ([`Update`](crate::Update) validation guarantees it); a line break in
/// either is written as a space, never as a new field.
///
/// ```
/// use mercure_core::sse::encode_event;
///
/// let frame = encode_event("urn:uuid:1", Some("book"), None, "a\nb");
/// assert_eq!(&frame[..], b"id: urn:uuid:1\nevent: book\ndata: a\ndata: b\n\n");
/// ```
pub fn encode_event(id: &str, event_type: Option<&str>, retry: Option<u64>, data: &str) -> Bytes {
    let mut frame = BytesMut::with_capacity(
        16 + id.len()
            + event_type.map_or(0, |t| t.len() + 8)
            + data.len()
            + 6 * (1 + data.len() / 64),
    );
    frame.put_slice(b"id: ");
    put_single_line(&mut frame, id.as_bytes());
    frame.put_u8(b'\n');
    if let Some(event_type) = event_type {
        frame.put_slice(b"event: ");
        put_single_line(&mut frame, event_type.as_bytes());
        frame.put_u8(b'\n');
    }
    if let Some(retry) = retry {
        frame.put_slice(b"retry: ");
        frame.put_slice(retry.to_string().as_bytes());
        frame.put_u8(b'\n');
    }
    let bytes = data.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => {
                data_line(&mut frame, &bytes[start..i]);
                i += 1;
                start = i;
            }
            b'\r' => {
                data_line(&mut frame, &bytes[start..i]);
                i += if bytes.get(i + 1) == Some(&b'\n') {
                    2
                } else {
                    1
                };
                start = i;
            }
            _ => i += 1,
        }
    }
    data_line(&mut frame, &bytes[start..]);
    frame.put_u8(b'\n');
    frame.freeze()
}

fn put_single_line(frame: &mut BytesMut, value: &[u8]) {
    if memchr::memchr2(b'\n', b'\r', value).is_none() {
        frame.put_slice(value);
    } else {
        frame.extend(
            value
                .iter()
                .map(|&b| if b == b'\n' || b == b'\r' { b' ' } else { b }),
        );
    }
}

fn data_line(frame: &mut BytesMut, line: &[u8]) {
    frame.put_slice(b"data: ");
    frame.put_slice(line);
    frame.put_u8(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_fields_and_splits_data_on_every_line_break() {
        type Case<'a> = (&'a str, Option<&'a str>, Option<u64>, &'a str, &'a str);
        let cases: &[Case<'_>] = &[
            ("1", None, None, "hello", "id: 1\ndata: hello\n\n"),
            ("1", None, None, "", "id: 1\ndata: \n\n"),
            (
                "1",
                Some("changed"),
                Some(2500),
                "x",
                "id: 1\nevent: changed\nretry: 2500\ndata: x\n\n",
            ),
            ("1", None, None, "a\nb", "id: 1\ndata: a\ndata: b\n\n"),
            ("1", None, None, "a\r\nb", "id: 1\ndata: a\ndata: b\n\n"),
            ("1", None, None, "a\rb", "id: 1\ndata: a\ndata: b\n\n"),
            (
                "1",
                None,
                None,
                "a\n\nb\n",
                "id: 1\ndata: a\ndata: \ndata: b\ndata: \n\n",
            ),
            (
                "1",
                None,
                None,
                "a\r\r\nb",
                "id: 1\ndata: a\ndata: \ndata: b\n\n",
            ),
            (
                "1",
                None,
                None,
                "x\nid: forged\nevent: forged",
                "id: 1\ndata: x\ndata: id: forged\ndata: event: forged\n\n",
            ),
        ];
        for (id, kind, retry, data, expected) in cases {
            let frame = encode_event(id, *kind, *retry, data);
            assert_eq!(std::str::from_utf8(&frame).unwrap(), *expected, "{data:?}");
        }
    }

    #[test]
    fn line_breaks_in_id_or_type_cannot_start_fields() {
        let frame = encode_event("1\ndata: x", Some("a\r\nid: 2"), None, "d");
        assert_eq!(&frame[..], b"id: 1 data: x\nevent: a  id: 2\ndata: d\n\n");
    }
}
