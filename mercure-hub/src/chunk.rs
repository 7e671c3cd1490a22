//! HTTP/1.1 chunked transfer coding for the lean subscription path, and the
//! stream's opening and heartbeat comments.

/// The comment sent as soon as a stream opens, so that the response
/// headers and a first chunk leave at once.
pub(crate) const OPENING: &[u8] = mercure_core::sse::EMPTY_COMMENT;
/// The heartbeat comment.
pub(crate) const HEARTBEAT: &[u8] = mercure_core::sse::EMPTY_COMMENT;

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
}
