//! One direction of a connection: read a chunk, maybe hold it back,
//! delay it, write it in pieces, up to the cut offset; memory bounded by one
//! buffer.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::counts::Counters;
use super::plan::Shaper;

/// The most a direction holds at once: one chunk read.
pub(super) const BUFFER: usize = 16 * 1024;

/// How a direction ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum End {
    /// Its source ended; the end was passed on (the destination shut
    /// down for writing).
    Eof,
    /// Reading or writing failed.
    Failed,
    /// It forwarded exactly as many bytes as its limit: time to cut.
    Limit,
}

/// Forwards `from` to `to` as `shaper` says until `from` ends, something
/// fails, or `limit` bytes went through; `response` tells which counters
/// the bytes go to.
pub(super) async fn pipe<R, W>(
    from: &mut R,
    to: &mut W,
    limit: Option<u64>,
    shaper: &mut Shaper,
    counters: &Counters,
    response: bool,
) -> End
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut buffer = vec![0; BUFFER];
    let mut left = limit;
    loop {
        if left == Some(0) {
            return End::Limit;
        }
        // Never read past the cut: what is after it must not be sent.
        let room = left.map_or(BUFFER, |left| {
            usize::try_from(left).unwrap_or(BUFFER).min(BUFFER)
        });
        let read = match from.read(&mut buffer[..room]).await {
            Ok(0) => {
                let _ = to.shutdown().await;
                return End::Eof;
            }
            Ok(read) => read,
            Err(_) => return End::Failed,
        };
        if let Some(stall) = shaper.stall() {
            counters.stall();
            tokio::time::sleep(stall).await;
        }
        let delay = shaper.delay();
        if delay > Duration::ZERO {
            counters.delay();
            tokio::time::sleep(delay).await;
        }
        let mut chunk = &buffer[..read];
        while !chunk.is_empty() {
            let (piece, rest) = chunk.split_at(shaper.piece(chunk.len()));
            if to.write_all(piece).await.is_err() || to.flush().await.is_err() {
                return End::Failed;
            }
            counters.piece(response, piece.len());
            chunk = rest;
            if !chunk.is_empty() {
                // Gives the reader a chance to take the piece alone.
                tokio::task::yield_now().await;
            }
        }
        left = left.map(|left| left.saturating_sub(read as u64));
    }
}
