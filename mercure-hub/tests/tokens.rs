//! Tokens minted by `mercure-client` are accepted; forged, tampered,
//! expired, `alg: none`, wrong-algorithm and wrong-audience tokens are not.

mod support;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mercure_core::ProtocolVersion;
use mercure_core::clock::ManualClock;
use mercure_core::token::Algorithm;
use mercure_core::token::{Grants, SigningKey, TokenFactory};
use mercure_hub::{HubConfig, VerificationKey};
use serde_json::json;
use support::{ISSUER, SECRET, TestHub, config, start};

const V0: ProtocolVersion = ProtocolVersion::V0;
const V1: ProtocolVersion = ProtocolVersion::V1;

fn key_file(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/keys/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn query(version: ProtocolVersion) -> &'static str {
    match version {
        V0 => "topic=t",
        V1 => "match=t",
    }
}

async fn status(hub: &TestHub, version: ProtocolVersion, token: &str) -> u16 {
    hub.subscribe(query(version), Some(token))
        .await
        .status()
        .as_u16()
}

#[tokio::test]
async fn client_tokens_of_both_dialects_are_accepted_for_publishing_and_subscribing() {
    let hub = start(config()).await;
    for version in [V0, V1] {
        let factory = hub.factory(version);
        let subscriber = factory.mint(&Grants::subscribe_all()).unwrap();
        let mut reader = hub.stream(query(version), Some(subscriber.expose())).await;
        let publisher = factory.mint(&Grants::publish_all()).unwrap();
        let (code, _) = hub
            .publish(
                publisher.expose(),
                &[("topic", "t"), ("data", "private"), ("private", "on")],
            )
            .await;
        assert_eq!(code, 200, "{version}");
        assert_eq!(
            reader.next_event().await.unwrap().data(),
            "private",
            "{version}"
        );
    }
}

#[tokio::test]
async fn pem_public_keys_verify_rsa_ec_and_ed25519_tokens() {
    let cases = [
        (Algorithm::RS256, "rsa_private.pem", "rsa_public.pem"),
        (Algorithm::PS256, "rsa_private.pem", "rsa_public.pem"),
        (Algorithm::ES256, "ec256_private.pem", "ec256_public.pem"),
        (
            Algorithm::EdDSA,
            "ed25519_private.pem",
            "ed25519_public.pem",
        ),
    ];
    for (algorithm, private, public) in cases {
        let hub = start(
            HubConfig::builder()
                .key(VerificationKey::from_pem(algorithm, key_file(public)).unwrap()),
        )
        .await;
        for version in [V0, V1] {
            let mut builder =
                TokenFactory::builder(SigningKey::from_pem(algorithm, key_file(private)).unwrap())
                    .protocol(version);
            if version == V1 {
                builder = builder.issuer(ISSUER).audience(&hub.url);
            }
            let token = builder
                .build()
                .unwrap()
                .mint(&Grants::subscribe_all())
                .unwrap();
            assert_eq!(
                status(&hub, version, token.expose()).await,
                200,
                "{algorithm:?} {version}"
            );
            // An HMAC token "signed" with the public key is the classic confusion attack.
            let confused = TokenFactory::builder(SigningKey::hs256(key_file(public)).unwrap())
                .build()
                .unwrap()
                .mint(&Grants::subscribe_all())
                .unwrap();
            assert_eq!(
                status(&hub, V0, confused.expose()).await,
                401,
                "{algorithm:?} confusion"
            );
        }
    }
}

#[tokio::test]
async fn forged_and_tampered_tokens_are_refused() {
    let hub = start(config()).await;
    for version in [V0, V1] {
        let mut forger = TokenFactory::builder(SigningKey::hs256(b"not the hub's secret").unwrap())
            .protocol(version);
        if version == V1 {
            forger = forger.issuer(ISSUER).audience(&hub.url);
        }
        let forged = forger
            .build()
            .unwrap()
            .mint(&Grants::subscribe_all())
            .unwrap();
        assert_eq!(
            status(&hub, version, forged.expose()).await,
            401,
            "{version}"
        );

        let genuine = hub.token(version, &Grants::subscribe(Grants::new(), ["other"]));
        let mut parts: Vec<String> = genuine.split('.').map(str::to_owned).collect();
        let mut claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[1]).unwrap()).unwrap();
        claims["mercure"] = json!({"subscribe": ["*"]});
        parts[1] = URL_SAFE_NO_PAD.encode(claims.to_string());
        assert_eq!(
            status(&hub, version, &parts.join(".")).await,
            401,
            "{version} tampered"
        );
    }
}

#[tokio::test]
async fn alg_none_and_other_algorithms_are_refused() {
    let hub = start(config()).await;
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
    let claims = URL_SAFE_NO_PAD.encode(r#"{"mercure":{"subscribe":["*"],"publish":["*"]}}"#);
    for token in [format!("{header}.{claims}."), format!("{header}.{claims}")] {
        assert_eq!(status(&hub, V0, &token).await, 401);
        assert_eq!(hub.publish(&token, &[("topic", "t")]).await.0, 401);
    }
    // Same secret, other HMAC algorithm: the hub accepts HS256 only.
    let hs512 = TokenFactory::builder(SigningKey::hmac(Algorithm::HS512, SECRET).unwrap())
        .build()
        .unwrap()
        .mint(&Grants::subscribe_all())
        .unwrap();
    assert_eq!(status(&hub, V0, hs512.expose()).await, 401);
}

#[tokio::test]
async fn expired_and_not_yet_valid_tokens_are_refused() {
    let clock = ManualClock::new(SystemTime::now());
    let hub = start(config().clock(Arc::new(clock.clone()))).await;
    for version in [V0, V1] {
        let mut builder = TokenFactory::builder(SigningKey::hs256(SECRET).unwrap())
            .protocol(version)
            .lifetime(Duration::from_secs(60))
            .clock(Arc::new(ManualClock::new(
                SystemTime::now() - Duration::from_secs(3600),
            )));
        if version == V1 {
            builder = builder.issuer(ISSUER).audience(&hub.url);
        }
        let expired = builder
            .build()
            .unwrap()
            .mint(&Grants::subscribe_all())
            .unwrap();
        let response = hub.subscribe(query(version), Some(expired.expose())).await;
        assert_eq!(response.status(), 401, "{version}");
        let challenge = response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
    }
    // A token valid now is refused once the hub's clock passes its expiry,
    // even though it was verified (and cached) before.
    let token = hub.token(V0, &Grants::subscribe_all());
    assert_eq!(status(&hub, V0, &token).await, 200);
    clock.advance(Duration::from_secs(7200));
    assert_eq!(status(&hub, V0, &token).await, 401);
    let not_yet = hub
        .factory(V0)
        .sign(&json!({"nbf": 4_000_000_000u64, "mercure": {"subscribe": ["*"]}}))
        .unwrap();
    assert_eq!(status(&hub, V0, not_yet.expose()).await, 401);
}

#[tokio::test]
async fn access_tokens_of_1_0_are_checked_for_audience_issuer_and_type() {
    let hub = start(config().issuer(ISSUER)).await;
    let mint = |issuer: &str, audience: &str| {
        TokenFactory::builder(SigningKey::hs256(SECRET).unwrap())
            .protocol(V1)
            .issuer(issuer)
            .audience(audience)
            .build()
            .unwrap()
            .mint(&Grants::subscribe_all())
            .unwrap()
    };
    assert_eq!(status(&hub, V1, mint(ISSUER, &hub.url).expose()).await, 200);
    assert_eq!(
        status(
            &hub,
            V1,
            mint(ISSUER, "https://other-hub.example.com/").expose()
        )
        .await,
        401
    );
    assert_eq!(
        status(
            &hub,
            V1,
            mint("https://untrusted.example.com", &hub.url).expose()
        )
        .await,
        401
    );
    // authorization_details in a token whose typ is not at+jwt.
    let claims = json!({
        "iss": ISSUER, "aud": hub.url, "exp": 4_000_000_000u64,
        "authorization_details": Grants::subscribe_all().to_claim(V1),
    });
    let plain_jwt = support::factory(V0, &hub.url).sign(&claims).unwrap();
    assert_eq!(status(&hub, V1, plain_jwt.expose()).await, 401);
    let at_jwt = support::factory(V1, &hub.url).sign(&claims).unwrap();
    assert_eq!(status(&hub, V1, at_jwt.expose()).await, 200);
    // No exp: RFC 9068 requires it.
    let no_exp = support::factory(V1, &hub.url)
        .sign(&json!({"iss": ISSUER, "aud": hub.url, "authorization_details": Grants::subscribe_all().to_claim(V1)}))
        .unwrap();
    assert_eq!(status(&hub, V1, no_exp.expose()).await, 401);
}

#[tokio::test]
async fn the_short_detail_type_grants_nothing_unless_accepted() {
    for accept in [false, true] {
        let hub = start(config().accept_short_detail_type(accept)).await;
        let claims = json!({
            "iss": ISSUER, "aud": hub.url, "exp": 4_000_000_000u64,
            "authorization_details": [{
                "type": "mercure",
                "actions": ["subscribe", "publish"],
                "topics": [{"match": "https://example.com/:id", "matchType": "URLPattern"}]
            }],
        });
        let token = support::factory(V1, &hub.url).sign(&claims).unwrap();
        let mut reader = hub
            .stream(
                "match=https%3A%2F%2Fexample.com%2F1&match=sentinel",
                Some(token.expose()),
            )
            .await;
        hub.publish_ok(
            V1,
            &[
                ("topic", "https://example.com/1"),
                ("data", "private"),
                ("private", "on"),
            ],
        )
        .await;
        hub.publish_ok(V1, &[("topic", "sentinel"), ("data", "sentinel")])
            .await;
        let first = reader.next_event().await.unwrap().data();
        let (expected, publish) = if accept {
            ("private", 200)
        } else {
            ("sentinel", 403)
        };
        assert_eq!(first, expected, "accepted: {accept}");
        let (status, _) = hub
            .publish(token.expose(), &[("topic", "https://example.com/1")])
            .await;
        assert_eq!(status, publish, "accepted: {accept}");
    }
}

#[tokio::test]
async fn a_1_0_token_must_name_its_issuer_unless_allowed() {
    let no_iss = |hub: &TestHub| {
        support::factory(V1, &hub.url)
            .sign(&json!({
                "aud": hub.url, "exp": 4_000_000_000u64,
                "authorization_details": Grants::subscribe_all().to_claim(V1),
            }))
            .unwrap()
    };
    let empty_iss = |hub: &TestHub| {
        support::factory(V1, &hub.url)
            .sign(&json!({
                "iss": "", "aud": hub.url, "exp": 4_000_000_000u64,
                "authorization_details": Grants::subscribe_all().to_claim(V1),
            }))
            .unwrap()
    };
    // A 1.0-only hub without --issuer: RFC 9068 requires iss.
    let strict = start(config().support(mercure_hub::DialectSupport::V1Only)).await;
    assert_eq!(status(&strict, V1, no_iss(&strict).expose()).await, 401);
    assert_eq!(status(&strict, V1, empty_iss(&strict).expose()).await, 401);
    assert_eq!(
        status(&strict, V1, &strict.token(V1, &Grants::subscribe_all())).await,
        200
    );
    // Allowed by configuration, for self-issued tokens.
    let relaxed = start(
        config()
            .support(mercure_hub::DialectSupport::V1Only)
            .allow_missing_issuer(true),
    )
    .await;
    assert_eq!(status(&relaxed, V1, no_iss(&relaxed).expose()).await, 200);
    // Never when issuers are trusted explicitly.
    let trusting = start(config().issuer(ISSUER).allow_missing_issuer(true)).await;
    assert_eq!(status(&trusting, V1, no_iss(&trusting).expose()).await, 401);
    // An advertised authorization server is a trusted issuer, the only one.
    let advertised = start(config().authorization_server("https://auth.example.com")).await;
    assert_eq!(
        status(
            &advertised,
            V1,
            &advertised.token(V1, &Grants::subscribe_all())
        )
        .await,
        401
    );
    let from_server = TokenFactory::builder(SigningKey::hs256(SECRET).unwrap())
        .protocol(V1)
        .issuer("https://auth.example.com")
        .audience(&advertised.url)
        .build()
        .unwrap()
        .mint(&Grants::subscribe_all())
        .unwrap();
    assert_eq!(status(&advertised, V1, from_server.expose()).await, 200);
}
