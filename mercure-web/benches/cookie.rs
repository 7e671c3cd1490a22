//! The per-response cost of an authorization cookie: deriving its
//! `Domain` with the Public Suffix List, minting the token, rendering the
//! `Set-Cookie` value.
//!
//! ```sh
//! cargo bench -p mercure-web --bench cookie
//! ```

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mercure_web::token::{Grants, SigningKey, TokenFactory};
use mercure_web::{AuthorizationCookie, CookieOptions, HubInfo, cookie_domain};
use url::Url;

fn domains(c: &mut Criterion) {
    let hub = Url::parse("https://hub.example.co.uk/.well-known/mercure").expect("url");
    let mut group = c.benchmark_group("cookie_domain");
    group.throughput(Throughput::Elements(1));
    for (name, host) in [
        ("same_host", "hub.example.co.uk:443"),
        ("shared_site", "www.example.co.uk"),
        ("cross_site", "www.example.org"),
    ] {
        group.bench_function(name, |b| b.iter(|| cookie_domain(black_box(host), &hub)));
    }
    group.finish();
}

fn cookies(c: &mut Criterion) {
    let factory = TokenFactory::builder(
        SigningKey::hs256(b"!ChangeThisMercureHubJWTSecretKey!").expect("key"),
    )
    .build()
    .expect("factory");
    let hub = HubInfo::builder("https://hub.example.com/.well-known/mercure")
        .token_factory(factory)
        .build()
        .expect("hub");
    let grants = Grants::new()
        .subscribe([
            "https://example.com/books/1",
            "https://example.com/users/42/{+rest}",
        ])
        .with_payload(serde_json::json!({"user": 42}));
    let options = CookieOptions::new();
    let mut group = c.benchmark_group("authorization_cookie");
    group.throughput(Throughput::Elements(1));
    group.bench_function("mint_and_render", |b| {
        b.iter(|| {
            AuthorizationCookie::mint(&hub, black_box("www.example.com"), &grants, &options)
                .expect("cookie")
                .set_cookie_header()
        })
    });
    let cookie =
        AuthorizationCookie::mint(&hub, "www.example.com", &grants, &options).expect("cookie");
    group.bench_function("render", |b| {
        b.iter(|| black_box(&cookie).set_cookie_header())
    });
    group.finish();
}

criterion_group!(benches, domains, cookies);
criterion_main!(benches);
