//! Reading the event ids of a stream of SSE bytes: an in-process
//! `Subscription`, or the body of a subscription response.

#![allow(dead_code)]

use std::time::Duration;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};

/// The ids of the events of `stream`, read until the event with id `end`
/// (not included); panics when the stream stalls for 20 s or ends.
pub(crate) async fn ids_until<S, E>(stream: S, end: &str) -> Vec<String>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Debug,
{
    ids_until_within(stream, end, Duration::from_secs(20)).await
}

/// [`ids_until`], panicking when the stream stalls for `patience`.
pub(crate) async fn ids_until_within<S, E>(stream: S, end: &str, patience: Duration) -> Vec<String>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Debug,
{
    events_until_within(stream, end, patience)
        .await
        .into_iter()
        .map(|(id, _)| id)
        .collect()
}

/// The events (id, data lines joined with LF) of `stream`, read until the
/// event with id `end` (not included); panics when the stream stalls for
/// `patience` or ends.
pub(crate) async fn events_until_within<S, E>(
    mut stream: S,
    end: &str,
    patience: Duration,
) -> Vec<(String, String)>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Debug,
{
    let mut text = Vec::new();
    let mut events = Vec::new();
    loop {
        let chunk = tokio::time::timeout(patience, stream.next())
            .await
            .unwrap_or_else(|_| panic!("the stream stalled; events so far: {events:?}"))
            .unwrap_or_else(|| panic!("the stream ended early; events so far: {events:?}"))
            .unwrap();
        text.extend_from_slice(&chunk);
        while let Some(at) = text.windows(2).position(|w| w == b"\n\n") {
            let block: Vec<u8> = text.drain(..at + 2).collect();
            let block = std::str::from_utf8(&block).expect("UTF-8 events");
            let Some(id) = block.lines().find_map(|line| line.strip_prefix("id: ")) else {
                continue;
            };
            if id == end {
                return events;
            }
            let data: Vec<&str> = block
                .lines()
                .filter_map(|line| line.strip_prefix("data: "))
                .collect();
            events.push((id.to_owned(), data.join("\n")));
        }
    }
}
