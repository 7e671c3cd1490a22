//! Request bodies read within a size limit and a total time limit: a body
//! trickled a byte at a time cannot hold its connection past the hub's
//! body timeout, whatever serves the router.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::BytesMut;
use futures_util::StreamExt;

/// Most bytes reserved for a body before they arrive, whatever its declared
/// `Content-Length`: the buffer grows as bytes come, so that a declared
/// length costs nothing until it is sent.
const MAX_RESERVED: usize = 16 * 1024;

/// Why a body could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum BodyError {
    /// Larger than the limit: 413.
    TooLarge,
    /// Not complete within the timeout: 408, and the connection is closed.
    TimedOut,
    /// The connection failed while it was read: 400.
    Broken,
}

impl IntoResponse for BodyError {
    fn into_response(self) -> Response {
        match self {
            BodyError::TooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "the request body is too large\n",
            )
                .into_response(),
            BodyError::TimedOut => (
                StatusCode::REQUEST_TIMEOUT,
                [(header::CONNECTION, HeaderValue::from_static("close"))],
                "the request body was not received in time\n",
            )
                .into_response(),
            BodyError::Broken => {
                (StatusCode::BAD_REQUEST, "the request body is unreadable\n").into_response()
            }
        }
    }
}

/// The whole body, at most `limit` bytes, received within `timeout`.
pub(super) async fn read(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
    timeout: Duration,
) -> Result<Bytes, BodyError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(BodyError::TooLarge);
    }
    let collect = async {
        let mut stream = body.into_data_stream();
        let reserved = declared.map_or(0, |length| {
            usize::try_from(length).map_or(MAX_RESERVED, |length| length.min(MAX_RESERVED))
        });
        let mut buffer = BytesMut::with_capacity(reserved);
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|_| BodyError::Broken)?;
            if chunk.len() > limit - buffer.len() {
                return Err(BodyError::TooLarge);
            }
            buffer.extend_from_slice(&chunk);
        }
        Ok(buffer.freeze())
    };
    tokio::time::timeout(timeout, collect)
        .await
        .unwrap_or(Err(BodyError::TimedOut))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trickle(bytes: &'static [u8], every: Duration) -> Body {
        let stream = futures_util::stream::iter(bytes.chunks(1)).then(move |chunk| async move {
            tokio::time::sleep(every).await;
            Ok::<_, std::io::Error>(Bytes::from_static(chunk))
        });
        Body::from_stream(stream)
    }

    #[tokio::test(start_paused = true)]
    async fn a_trickled_body_times_out_as_a_whole() {
        let body = trickle(b"topic=abcdefghijklmnopqrstuvwxyz", Duration::from_secs(1));
        let started = tokio::time::Instant::now();
        let slow = read(&HeaderMap::new(), body, 1024, Duration::from_secs(10)).await;
        assert_eq!(slow, Err(BodyError::TimedOut));
        assert_eq!(started.elapsed(), Duration::from_secs(10));
        let body = trickle(b"topic=a", Duration::from_millis(10));
        let quick = read(&HeaderMap::new(), body, 1024, Duration::from_secs(10)).await;
        assert_eq!(quick.unwrap(), Bytes::from_static(b"topic=a"));
    }

    #[tokio::test]
    async fn the_limit_is_checked_before_and_while_reading() {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from_static("2048"));
        let read_body = |headers: HeaderMap, body: &'static str| async move {
            read(&headers, Body::from(body), 8, Duration::from_secs(5)).await
        };
        assert_eq!(read_body(headers, "x").await, Err(BodyError::TooLarge));
        assert_eq!(
            read_body(HeaderMap::new(), "123456789").await,
            Err(BodyError::TooLarge)
        );
        assert_eq!(
            read_body(HeaderMap::new(), "12345678").await.unwrap(),
            Bytes::from_static(b"12345678")
        );
        let response = BodyError::TimedOut.into_response();
        assert_eq!(response.status(), StatusCode::REQUEST_TIMEOUT);
        assert_eq!(response.headers()[header::CONNECTION], "close");
    }
}
