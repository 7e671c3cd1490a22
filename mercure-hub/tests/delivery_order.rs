//! Delivery in history order while subscribers join under publishing load:
//! whatever the timing, each subscriber gets exactly the history after the
//! point it resumed from (its `Last-Event-ID`, the earliest event, or the
//! moment it joined), with no gap and nothing twice.

#[path = "support/stream_ids.rs"]
mod stream_ids;

use std::time::Duration;

use mercure_core::{TopicSelector, Update};
use mercure_hub::{EmbeddedHub, HubConfig, SubscribeRequest};
use stream_ids::ids_until;

/// How a subscriber resumes.
#[derive(Debug, Clone)]
enum Resume {
    Live,
    Earliest,
    After(String),
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn subscribers_joining_under_load_miss_nothing_and_get_nothing_twice() {
    let hub = EmbeddedHub::new(
        HubConfig::builder()
            .history_size(100_000)
            .queue_capacity(100_000)
            .build()
            .unwrap(),
    );
    let (publishers, each) = (4, 400);
    let publishing: Vec<_> = (0..publishers)
        .map(|p| {
            let hub = hub.clone();
            tokio::spawn(async move {
                for i in 0..each {
                    let update = Update::builder("https://example.com/t")
                        .id(format!("p{p}-{i}"))
                        .data(format!("{p} {i}"))
                        .build()
                        .unwrap();
                    hub.publish(&update).await.unwrap();
                    if i % 20 == 0 {
                        tokio::time::sleep(Duration::from_micros(100)).await;
                    } else {
                        tokio::task::yield_now().await;
                    }
                }
            })
        })
        .collect();
    // Subscribers join while the publishers run, in every way of resuming.
    let mut joined = Vec::new();
    for n in 0..36 {
        tokio::time::sleep(Duration::from_micros(300)).await;
        let resume = match n % 3 {
            0 => Resume::Live,
            1 => Resume::Earliest,
            _ => match hub.last_event_id() {
                Some(id) => Resume::After(id.as_str().to_owned()),
                None => Resume::Earliest,
            },
        };
        let mut request = SubscribeRequest::new([TopicSelector::exact("https://example.com/t")]);
        match &resume {
            Resume::Live => {}
            Resume::Earliest => request = request.last_event_id("earliest"),
            Resume::After(id) => request = request.last_event_id(id.as_str()),
        }
        let subscription = hub.subscribe(request).await.unwrap();
        joined.push((resume, tokio::spawn(ids_until(subscription, "end"))));
    }
    for task in publishing {
        task.await.unwrap();
    }
    let end = Update::builder("https://example.com/t")
        .id("end")
        .data("end")
        .build()
        .unwrap();
    hub.publish(&end).await.unwrap();
    let history = ids_until(
        hub.subscribe(
            SubscribeRequest::new([TopicSelector::exact("https://example.com/t")])
                .last_event_id("earliest"),
        )
        .await
        .unwrap(),
        "end",
    )
    .await;
    assert_eq!(history.len(), publishers * each);
    let mut joined_midway = 0;
    for (resume, task) in joined {
        let received = task.await.unwrap();
        let expected: &[String] = match &resume {
            Resume::Earliest => &history,
            Resume::After(id) => {
                let at = history.iter().position(|h| h == id).unwrap();
                &history[at + 1..]
            }
            Resume::Live => {
                // Whatever was published after it joined, in order.
                let start = history.len() - received.len();
                if start > 0 && !received.is_empty() {
                    joined_midway += 1;
                }
                &history[start..]
            }
        };
        assert_eq!(received, expected, "{resume:?}");
    }
    // The timing did what the test is about: subscribers joined while
    // the publishers were running.
    assert!(
        joined_midway >= 3,
        "{joined_midway} joined while publishing"
    );
}
