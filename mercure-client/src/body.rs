//! Reading response bodies with a bound, so a hub cannot make us buffer
//! without limit, nor hand us an encoding we did not ask for.

use reqwest::header::CONTENT_ENCODING;

use crate::error::printable;
use crate::{Error, Result};

/// The `Content-Encoding` of an answer when it is not the identity.
///
/// This crate asks for no encoding; when the HTTP client decodes one
/// itself (reqwest's `gzip`, `brotli`... features) it removes the header.
/// A header still there means bytes this client cannot read: an error, not
/// a silent stream of garbage.
pub(crate) fn unexpected_encoding(response: &reqwest::Response) -> Option<String> {
    for value in response.headers().get_all(CONTENT_ENCODING) {
        let text = String::from_utf8_lossy(value.as_bytes());
        for coding in text.split(',').map(str::trim) {
            if !coding.is_empty() && !coding.eq_ignore_ascii_case("identity") {
                return Some(printable(coding, 32));
            }
        }
    }
    None
}

/// The error for an answer in an encoding this client did not ask for.
pub(crate) fn encoding_error(what: &str, encoding: &str) -> Error {
    Error::InvalidResponse(format!(
        "{what} is {encoding:?}-encoded, which this client did not ask for and cannot read"
    ))
}

/// The body, or [`Error::ResponseTooLarge`] once it passes `limit` bytes
/// (nothing of it is used then), or an error for an unrequested encoding.
pub(crate) async fn read_limited(
    mut response: reqwest::Response,
    limit: usize,
    what: &'static str,
) -> Result<Vec<u8>> {
    if let Some(encoding) = unexpected_encoding(&response) {
        return Err(encoding_error(what, &encoding));
    }
    if response.content_length().is_some_and(|n| n > limit as u64) {
        return Err(Error::ResponseTooLarge { what, limit });
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(crate::hub::transport_error)?
    {
        if body.len() + chunk.len() > limit {
            return Err(Error::ResponseTooLarge { what, limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// At most the first `cap` bytes of the body (the rest is not read); empty
/// for a body in an encoding this client did not ask for.
pub(crate) async fn read_truncated(mut response: reqwest::Response, cap: usize) -> Result<Vec<u8>> {
    let mut body = Vec::new();
    if unexpected_encoding(&response).is_some() {
        return Ok(body);
    }
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(crate::hub::transport_error)?
    {
        let room = cap.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= cap {
            break;
        }
    }
    Ok(body)
}
