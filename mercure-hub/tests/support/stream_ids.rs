//! Reading the event ids of an in-process `Subscription` stream.

use std::time::Duration;

use futures_util::StreamExt;
use mercure_hub::Subscription;

/// The ids of the events of `subscription`, read until the event with id
/// `end` (not included); panics when the stream stalls for 20 s or ends.
pub(crate) async fn ids_until(mut subscription: Subscription, end: &str) -> Vec<String> {
    let mut text = String::new();
    let mut ids = Vec::new();
    loop {
        let chunk = tokio::time::timeout(Duration::from_secs(20), subscription.next())
            .await
            .expect("the stream stalled")
            .expect("the stream ended early")
            .unwrap();
        text.push_str(std::str::from_utf8(&chunk).unwrap());
        while let Some(at) = text.find("\n\n") {
            let block: String = text.drain(..at + 2).collect();
            if let Some(id) = block.lines().find_map(|line| line.strip_prefix("id: ")) {
                if id == end {
                    return ids;
                }
                ids.push(id.to_owned());
            }
        }
    }
}
