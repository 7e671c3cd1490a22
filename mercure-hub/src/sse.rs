//! Server-sent events encoding: each update is encoded once into the bytes
//! every subscriber receives.

use bytes::{BufMut, Bytes, BytesMut};

/// The comment sent as soon as a stream opens, so that the response
/// headers and a first chunk leave at once.
pub(crate) const OPENING: &[u8] = b":\n\n";
/// The heartbeat comment.
pub(crate) const HEARTBEAT: &[u8] = b":\n\n";

/// Encodes one event. `id` and `event_type` hold no line breaks (updates
/// are validated before they get here); `data` is split on every line
/// break (CRLF, LF, CR) into `data:` lines, so it cannot inject fields.
pub(crate) fn encode_event(
    id: &str,
    event_type: Option<&str>,
    retry: Option<u64>,
    data: &str,
) -> Bytes {
    let mut frame = BytesMut::with_capacity(
        16 + id.len()
            + event_type.map_or(0, |t| t.len() + 8)
            + data.len()
            + 6 * (1 + data.len() / 64),
    );
    frame.put_slice(b"id: ");
    frame.put_slice(id.as_bytes());
    frame.put_u8(b'\n');
    if let Some(event_type) = event_type {
        frame.put_slice(b"event: ");
        frame.put_slice(event_type.as_bytes());
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

fn data_line(frame: &mut BytesMut, line: &[u8]) {
    frame.put_slice(b"data: ");
    frame.put_slice(line);
    frame.put_u8(b'\n');
}

/// Appends `payload` as one chunk of HTTP/1.1 chunked transfer coding:
/// `{size:x}\r\n{payload}\r\n`.
pub(crate) fn put_http_chunk(out: &mut Vec<u8>, payload: &[u8]) {
    let size = payload.len();
    let digits = (usize::BITS - size.leading_zeros()).div_ceil(4).max(1);
    out.reserve(digits as usize + payload.len() + 4);
    for shift in (0..digits).rev() {
        out.push(b"0123456789abcdef"[(size >> (shift * 4)) & 0xf]);
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(payload);
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    #[test]
    fn http_chunks_have_lower_hex_sizes() {
        for (size, expected) in [(0, "0"), (9, "9"), (255, "ff"), (4096, "1000")] {
            let payload = vec![b'x'; size];
            let mut out = Vec::new();
            super::put_http_chunk(&mut out, &payload);
            let mut wanted = format!("{expected}\r\n").into_bytes();
            wanted.extend_from_slice(&payload);
            wanted.extend_from_slice(b"\r\n");
            assert_eq!(out, wanted);
        }
    }

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
}
