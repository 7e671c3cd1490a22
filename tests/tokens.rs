//! Minted tokens decoded back and checked, for both dialects and every
//! algorithm family; provider caching and refresh with an injected clock.

use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use mercure_client::clock::ManualClock;
use mercure_client::token::{
    CachedTokenProvider, Grants, SigningKey, TokenError, TokenFactory, TokenProvider,
};
use mercure_client::{ProtocolVersion, TopicSelector};
use serde_json::{Value, json};

const NOW: u64 = 1_800_000_000;
const ISSUER: &str = "https://app.example.com";
const AUDIENCE: &str = "https://example.com/.well-known/mercure";

fn key_file(name: &str) -> Vec<u8> {
    let path = format!("{}/keys/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Every algorithm with its signing key and verification key.
fn keys() -> Vec<(Algorithm, SigningKey, DecodingKey)> {
    let secret = b"a-very-long-hmac-secret-for-tests";
    let mut keys = Vec::new();
    for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
        keys.push((
            alg,
            SigningKey::hmac(alg, secret).unwrap(),
            DecodingKey::from_secret(secret),
        ));
    }
    for alg in [
        Algorithm::RS256,
        Algorithm::RS384,
        Algorithm::RS512,
        Algorithm::PS256,
        Algorithm::PS384,
        Algorithm::PS512,
    ] {
        keys.push((
            alg,
            SigningKey::from_pem(alg, key_file("rsa_private.pem")).unwrap(),
            DecodingKey::from_rsa_pem(&key_file("rsa_public.pem")).unwrap(),
        ));
    }
    keys.push((
        Algorithm::ES256,
        SigningKey::from_pem(Algorithm::ES256, key_file("ec256_private.pem")).unwrap(),
        DecodingKey::from_ec_pem(&key_file("ec256_public.pem")).unwrap(),
    ));
    keys.push((
        Algorithm::ES384,
        SigningKey::from_pem(Algorithm::ES384, key_file("ec384_private.pem")).unwrap(),
        DecodingKey::from_ec_pem(&key_file("ec384_public.pem")).unwrap(),
    ));
    keys.push((
        Algorithm::EdDSA,
        SigningKey::from_pem(Algorithm::EdDSA, key_file("ed25519_private.pem")).unwrap(),
        DecodingKey::from_ed_pem(&key_file("ed25519_public.pem")).unwrap(),
    ));
    keys
}

fn grants() -> Grants {
    Grants::new()
        .publish([TopicSelector::pattern("https://example.com/books/:id")])
        .subscribe([
            TopicSelector::exact("https://example.com/users/42"),
            TopicSelector::all(),
        ])
        .with_payload(json!({"user": "https://example.com/users/42"}))
}

fn factory(key: SigningKey, version: ProtocolVersion) -> TokenFactory {
    TokenFactory::builder(key)
        .protocol(version)
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .lifetime(Duration::from_secs(600))
        .clock(Arc::new(ManualClock::at_unix(NOW)))
        .build()
        .unwrap()
}

fn expected_claims(version: ProtocolVersion) -> Value {
    match version {
        ProtocolVersion::V0 => json!({
            "iss": ISSUER,
            "aud": AUDIENCE,
            "iat": NOW,
            "exp": NOW + 600,
            "mercure": {
                "publish": ["https://example.com/books/:id"],
                "subscribe": ["https://example.com/users/42", "*"],
                "payload": {"user": "https://example.com/users/42"}
            }
        }),
        ProtocolVersion::V1 => json!({
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": ISSUER,
            "client_id": ISSUER,
            "iat": NOW,
            "exp": NOW + 600,
            "authorization_details": [
                {
                    "type": "https://mercure.rocks/authorization-detail",
                    "actions": ["publish"],
                    "topics": [{"match": "https://example.com/books/:id", "match_type": "urlpattern"}]
                },
                {
                    "type": "https://mercure.rocks/authorization-detail",
                    "actions": ["subscribe"],
                    "topics": [{"match": "https://example.com/users/42"}, {"match": "*"}],
                    "payload": {"user": "https://example.com/users/42"}
                }
            ]
        }),
    }
}

#[test]
fn claims_decode_back_for_every_dialect_and_algorithm() {
    mercure_client::crypto::install_default_provider();
    for version in ProtocolVersion::ALL {
        for (alg, signing, decoding) in keys() {
            let token = factory(signing, version).mint(&grants()).unwrap();
            let header = jsonwebtoken::decode_header(token.expose()).unwrap();
            assert_eq!(header.alg, alg);
            assert_eq!(
                header.typ.as_deref(),
                Some(version.dialect().token_type),
                "{version} {alg:?}"
            );

            let mut validation = Validation::new(alg);
            validation.set_audience(&[AUDIENCE]);
            validation.set_issuer(&[ISSUER]);
            // The injected clock is in the future relative to real time, so
            // only the signature and claims are checked here.
            validation.validate_exp = false;
            let data = jsonwebtoken::decode::<Value>(token.expose(), &decoding, &validation)
                .unwrap_or_else(|e| panic!("{version} {alg:?}: {e}"));
            let mut claims = data.claims;
            if version == ProtocolVersion::V1 {
                let jti = claims
                    .as_object_mut()
                    .unwrap()
                    .remove("jti")
                    .expect("1.0 tokens carry a jti");
                assert_eq!(jti.as_str().unwrap().len(), 36, "a UUID");
            }
            assert_eq!(claims, expected_claims(version), "{version} {alg:?}");
        }
    }
}

#[test]
fn a_token_signed_with_another_key_does_not_verify() {
    mercure_client::crypto::install_default_provider();
    let token = factory(SigningKey::hs256(b"one").unwrap(), ProtocolVersion::V0)
        .mint(&grants())
        .unwrap();
    let mut validation = Validation::new(Algorithm::HS256);
    validation.validate_exp = false;
    validation.set_audience(&[AUDIENCE]);
    assert!(
        jsonwebtoken::decode::<Value>(
            token.expose(),
            &DecodingKey::from_secret(b"two"),
            &validation
        )
        .is_err()
    );
}

#[test]
fn v0_tokens_omit_what_is_not_configured() {
    mercure_client::crypto::install_default_provider();
    let factory = TokenFactory::builder(SigningKey::hs256(b"secret").unwrap())
        .clock(Arc::new(ManualClock::at_unix(NOW)))
        .build()
        .unwrap();
    let token = factory.mint(&Grants::subscribe_all()).unwrap();
    let claims = jsonwebtoken::dangerous::insecure_decode::<Value>(token.expose())
        .unwrap()
        .claims;
    assert_eq!(
        claims,
        json!({"iat": NOW, "exp": NOW + 3600, "mercure": {"subscribe": ["*"]}})
    );
    let header = jsonwebtoken::decode_header(token.expose()).unwrap();
    assert_eq!(header.typ.as_deref(), Some("JWT"));
}

#[test]
fn subject_and_key_id() {
    mercure_client::crypto::install_default_provider();
    let factory = TokenFactory::builder(SigningKey::hs256(b"secret").unwrap().with_key_id("k1"))
        .protocol(ProtocolVersion::V1)
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .client_id("billing-service")
        .build()
        .unwrap();
    let token = factory
        .mint(&Grants::subscribe_all().with_subject("user-42"))
        .unwrap();
    let header = jsonwebtoken::decode_header(token.expose()).unwrap();
    assert_eq!(header.kid.as_deref(), Some("k1"));
    let claims = jsonwebtoken::dangerous::insecure_decode::<Value>(token.expose())
        .unwrap()
        .claims;
    assert_eq!(claims["sub"], "user-42");
    assert_eq!(claims["client_id"], "billing-service");
}

#[test]
fn configuration_errors_are_typed() {
    let key = || SigningKey::hs256(b"secret").unwrap();
    assert_eq!(
        TokenFactory::builder(key())
            .protocol(ProtocolVersion::V1)
            .audience(AUDIENCE)
            .build()
            .unwrap_err(),
        TokenError::MissingClaim { claim: "iss" }
    );
    assert_eq!(
        TokenFactory::builder(key())
            .protocol(ProtocolVersion::V1)
            .issuer(ISSUER)
            .build()
            .unwrap_err(),
        TokenError::MissingClaim { claim: "aud" }
    );
    assert_eq!(
        TokenFactory::builder(key())
            .lifetime(Duration::ZERO)
            .build()
            .unwrap_err(),
        TokenError::InvalidLifetime
    );
    assert!(matches!(
        SigningKey::hmac(Algorithm::HS256, b""),
        Err(TokenError::InvalidKey { .. })
    ));
    assert!(matches!(
        SigningKey::from_pem(Algorithm::RS256, b"not a pem"),
        Err(TokenError::InvalidKey { .. })
    ));
    assert!(matches!(
        SigningKey::from_pem(Algorithm::ES256, key_file("rsa_private.pem")),
        Err(TokenError::InvalidKey { .. })
    ));
    assert!(matches!(
        SigningKey::from_pem(Algorithm::HS256, key_file("rsa_private.pem")),
        Err(TokenError::AlgorithmMismatch { .. })
    ));
    // Key material never shows in errors.
    let error = SigningKey::from_pem(Algorithm::RS256, b"-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n")
        .unwrap_err();
    assert!(!error.to_string().contains("c2VjcmV0"));
}

#[tokio::test]
async fn cached_provider_reuses_then_refreshes_before_expiry() {
    let clock = ManualClock::at_unix(NOW);
    let factory = TokenFactory::builder(SigningKey::hs256(b"secret").unwrap())
        .lifetime(Duration::from_secs(600))
        .clock(Arc::new(clock.clone()))
        .build()
        .unwrap();
    let provider = CachedTokenProvider::new(factory, Grants::publish_all())
        .refresh_margin(Duration::from_secs(60));
    let exp = |token: &mercure_client::token::Token| {
        jsonwebtoken::dangerous::insecure_decode::<Value>(token.expose())
            .unwrap()
            .claims["exp"]
            .as_u64()
            .unwrap()
    };

    let first = provider.token().await.unwrap();
    assert_eq!(exp(&first), NOW + 600);
    clock.advance(Duration::from_secs(539));
    assert_eq!(
        provider.token().await.unwrap(),
        first,
        "still outside the margin"
    );
    clock.advance(Duration::from_secs(1));
    let second = provider.token().await.unwrap();
    assert_ne!(second, first, "inside the margin: a new token");
    assert_eq!(exp(&second), NOW + 540 + 600);
    assert_eq!(provider.token().await.unwrap(), second);

    // refresh() always mints, and the new token is then cached.
    clock.advance(Duration::from_secs(1));
    let third = provider.refresh().await.unwrap();
    assert_ne!(third, second);
    assert_eq!(provider.token().await.unwrap(), third);

    // A margin larger than the lifetime is capped at half of it.
    let clock = ManualClock::at_unix(NOW);
    let short = TokenFactory::builder(SigningKey::hs256(b"secret").unwrap())
        .lifetime(Duration::from_secs(10))
        .clock(Arc::new(clock.clone()))
        .build()
        .unwrap();
    let provider = CachedTokenProvider::new(short, Grants::publish_all())
        .refresh_margin(Duration::from_secs(3600));
    let first = provider.token().await.unwrap();
    clock.advance(Duration::from_secs(4));
    assert_eq!(provider.token().await.unwrap(), first);
    clock.advance(Duration::from_secs(1));
    assert_ne!(provider.token().await.unwrap(), first);
}
