//! Reading response bodies with a bound, so a hub cannot make us buffer
//! without limit.

use crate::{Error, Result};

/// The body, or [`Error::InvalidResponse`] naming `what` once it passes
/// `limit` bytes.
pub(crate) async fn read_limited(
    mut response: reqwest::Response,
    limit: usize,
    what: &str,
) -> Result<Vec<u8>> {
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(crate::hub::transport_error)?
    {
        body.extend_from_slice(&chunk);
        if body.len() > limit {
            return Err(Error::InvalidResponse(format!(
                "{what} is larger than {limit} bytes"
            )));
        }
    }
    Ok(body)
}

/// At most the first `cap` bytes of the body (the rest is not read).
pub(crate) async fn read_truncated(mut response: reqwest::Response, cap: usize) -> Result<Vec<u8>> {
    let mut body = Vec::new();
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
