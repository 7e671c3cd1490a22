//! Privacy across hub instances, as a property: over random updates
//! (canonical topic and alternates, public or private) published on random
//! instances of a cluster sharing one Redis, every subscriber (on a random
//! instance, with random selectors and random private access, live or
//! replaying history) receives exactly the updates an independent oracle
//! allows (`support/privacy.rs`, shared with `privacy_property`): one of
//! its selectors picks one of the update's topics, and a private update
//! needs access to one of them. Seeded, so a failure names
//! the seed that reproduces it (`PRIVACY_SEED`).

#![cfg(feature = "redis")]

#[path = "support/privacy.rs"]
mod privacy;
#[path = "support/redis.rs"]
mod redis_server;
#[path = "support/stream_ids.rs"]
mod stream_ids;

use std::sync::Arc;

use mercure_core::{ProtocolVersion, TopicSelector, Update};
use mercure_hub::{
    EmbeddedHub, HubConfig, PrivateAccess, RedisOptions, RedisTransport, SubscribeRequest,
};
use privacy::{Access, Published, Selector, Wanted};
use redis_server::RedisServer;
use stream_ids::ids_until;

const TOPICS: [&str; 6] = [
    "https://example.com/a",
    "https://example.com/b",
    "https://example.com/c",
    "https://example.com/users/1",
    "https://example.com/users/2",
    "urn:example:d",
];

/// What relative URL patterns would be resolved against (none here).
const ORIGIN: &str = "http://localhost";

/// xorshift64*: small, seeded, good enough to pick cases.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).unwrap()
    }

    fn subset(&mut self) -> Vec<&'static str> {
        let picked: Vec<&str> = TOPICS
            .iter()
            .copied()
            .filter(|_| self.below(3) == 0)
            .collect();
        if picked.is_empty() {
            vec![TOPICS[self.below(TOPICS.len())]]
        } else {
            picked
        }
    }
}

/// Exact selectors of `topics`.
fn exact(topics: Vec<&str>) -> Vec<Selector> {
    topics
        .into_iter()
        .map(|t| Selector::Exact(t.to_owned()))
        .collect()
}

/// Random exact selectors and random private access.
fn random_wanted(rng: &mut Rng) -> Wanted {
    Wanted {
        selectors: exact(rng.subset()),
        access: match rng.below(4) {
            0 => Access::All,
            1 => Access::Selectors(Vec::new()),
            _ => Access::Selectors(exact(rng.subset())),
        },
    }
}

fn request(wanted: &Wanted, dialect: ProtocolVersion) -> SubscribeRequest {
    let exact = |selectors: &[Selector]| -> Vec<TopicSelector> {
        selectors
            .iter()
            .map(|s| TopicSelector::exact(s.expression()))
            .collect()
    };
    // The end marker's topic is always selected.
    let mut selectors = exact(&wanted.selectors);
    selectors.push(TopicSelector::exact("urn:example:end"));
    let access = match &wanted.access {
        Access::All => PrivateAccess::All,
        Access::Selectors(topics) if topics.is_empty() => PrivateAccess::None,
        Access::Selectors(topics) => PrivateAccess::Selectors(exact(topics)),
    };
    SubscribeRequest::new(selectors)
        .dialect(dialect)
        .private_access(access)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_updates_reach_exactly_the_authorized_subscribers_of_every_instance() {
    let seed = std::env::var("PRIVACY_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_cafe_u64);
    let mut rng = Rng(seed | 1);
    let server = RedisServer::start();
    let mut hubs = Vec::new();
    for _ in 0..3 {
        let transport = RedisTransport::connect(&server.url(), RedisOptions::new())
            .await
            .expect("connected to the test Redis");
        hubs.push(EmbeddedHub::new(
            HubConfig::builder()
                .transport(Arc::new(transport))
                .queue_capacity(100_000)
                .build()
                .unwrap(),
        ));
    }
    // Live subscribers first, with random wants, on random instances.
    let mut live = Vec::new();
    for _ in 0..24 {
        let wanted = random_wanted(&mut rng);
        let dialect = if rng.below(2) == 0 {
            ProtocolVersion::V0
        } else {
            ProtocolVersion::V1
        };
        let hub = &hubs[rng.below(3)];
        let subscription = hub.subscribe(request(&wanted, dialect)).await.unwrap();
        live.push((wanted, tokio::spawn(ids_until(subscription, "end"))));
    }
    let mut published = Vec::new();
    for i in 0..300 {
        let topics = rng.subset();
        let private = rng.below(2) == 0;
        let id = format!("u{i}");
        let update = Update::builder(topics[0])
            .alternates(topics[1..].iter().copied())
            .id(id.as_str())
            .data("d")
            .private(private)
            .build()
            .unwrap();
        hubs[rng.below(3)].publish(&update).await.unwrap();
        published.push(Published {
            id,
            topics: topics.into_iter().map(str::to_owned).collect(),
            private,
        });
    }
    let end = Update::builder("urn:example:end")
        .id("end")
        .data("end")
        .build()
        .unwrap();
    hubs[0].publish(&end).await.unwrap();
    for (wanted, task) in live {
        let received = task.await.unwrap();
        let expected = wanted.expected(&published, ORIGIN);
        assert_eq!(received, expected, "seed {seed:#x}, live {wanted:?}");
    }
    // The same from history, on every instance.
    for _ in 0..12 {
        let wanted = random_wanted(&mut rng);
        let hub = &hubs[rng.below(3)];
        let subscription = hub
            .subscribe(request(&wanted, ProtocolVersion::V1).last_event_id("earliest"))
            .await
            .unwrap();
        let received = ids_until(subscription, "end").await;
        let expected = wanted.expected(&published, ORIGIN);
        assert_eq!(received, expected, "seed {seed:#x}, replayed {wanted:?}");
    }
}
