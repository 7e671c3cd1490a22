//! Token minting and cached-provider lookup.
//!
//! ```sh
//! cargo bench -p mercure-client --bench tokens
//! ```

use futures_util::FutureExt as _;
use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mercure_client::token::{CachedTokenProvider, Grants, SigningKey, TokenFactory, TokenProvider};
use mercure_client::{ProtocolVersion, TopicSelector};

fn grants() -> Grants {
    Grants::new()
        .publish(["https://example.com/books/{id}"])
        .subscribe([TopicSelector::exact("https://example.com/users/42")])
        .with_payload(serde_json::json!({"user": "https://example.com/users/42"}))
}

fn factory(version: ProtocolVersion) -> TokenFactory {
    TokenFactory::builder(SigningKey::hs256(b"!ChangeThisMercureHubJWTSecretKey!").expect("key"))
        .protocol(version)
        .issuer("https://app.example.com")
        .audience("https://example.com/.well-known/mercure")
        .lifetime(Duration::from_secs(3600))
        .build()
        .expect("factory")
}

fn minting(c: &mut Criterion) {
    let grants = grants();
    let mut group = c.benchmark_group("mint_hs256");
    group.throughput(Throughput::Elements(1));
    for version in ProtocolVersion::ALL {
        let factory = factory(version);
        group.bench_function(format!("protocol_{version}"), |b| {
            b.iter(|| factory.mint(black_box(&grants)).expect("mint"));
        });
    }
    // Baseline: jsonwebtoken::encode on equivalent claims built as a JSON
    // value, the straightforward way to mint with the named crate.
    mercure_client::crypto::install_default_provider();
    let key = jsonwebtoken::EncodingKey::from_secret(b"!ChangeThisMercureHubJWTSecretKey!");
    let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    group.bench_function("baseline_jsonwebtoken_encode_0.x", |b| {
        b.iter(|| {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("clock")
                .as_secs();
            let claims = serde_json::json!({
                "iat": now,
                "exp": now + 3600,
                "mercure": {
                    "publish": ["https://example.com/books/{id}"],
                    "subscribe": ["https://example.com/users/42"],
                    "payload": {"user": "https://example.com/users/42"}
                }
            });
            jsonwebtoken::encode(&header, black_box(&claims), &key).expect("encode")
        });
    });
    group.finish();
}

fn cached_lookup(c: &mut Criterion) {
    let provider = CachedTokenProvider::new(factory(ProtocolVersion::V1), grants());
    provider
        .token()
        .now_or_never()
        .expect("ready")
        .expect("warm");
    c.bench_function("cached_provider_lookup", |b| {
        b.iter(|| {
            black_box(
                provider
                    .token()
                    .now_or_never()
                    .expect("ready")
                    .expect("token"),
            )
        });
    });
}

criterion_group!(benches, minting, cached_lookup);
criterion_main!(benches);
