//! Our tokens: minted by `TokenFactory`, verified by `Verifier` and read as
//! `Claims`, for both dialects and every algorithm family, against values
//! known in advance (claims sets written out, a token computed elsewhere);
//! provider caching and refresh with an injected clock.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mercure_client::clock::ManualClock;
use mercure_client::token::{
    Algorithm, CachedTokenProvider, Grants, SigningKey, Token, TokenError, TokenFactory,
    TokenProvider,
};
use mercure_client::{ProtocolVersion, TopicSelector};
use mercure_core::token::{Claims, VerificationKey, Verifier};
use serde_json::{Value, json};

const NOW: u64 = 1_800_000_000;
const ISSUER: &str = "https://app.example.com";
const AUDIENCE: &str = "https://example.com/.well-known/mercure";
const SECRET: &[u8] = b"a-very-long-hmac-secret-for-tests";

/// A 0.x token for [`Grants::subscribe_all`], issued at [`NOW`] for the
/// default hour, signed HS256 with [`SECRET`]: computed outside this
/// project (HMAC-SHA256 over the base64url of the two JSON texts below).
const KNOWN_V0_TOKEN: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.\
    eyJpYXQiOjE4MDAwMDAwMDAsImV4cCI6MTgwMDAwMzYwMCwibWVyY3VyZSI6eyJzdWJzY3JpYmUiOlsiKiJdfX0.\
    wdRGOXwiKN6CsPaNhz5HNWVjmCPgFKJjdZIhjCmXBIE";

fn key_file(name: &str) -> Vec<u8> {
    let path = format!("{}/keys/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Every algorithm with its signing key and verification key.
fn keys() -> Vec<(Algorithm, SigningKey, VerificationKey)> {
    let mut keys = Vec::new();
    for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
        keys.push((
            alg,
            SigningKey::hmac(alg, SECRET).unwrap(),
            VerificationKey::hmac(alg, SECRET).unwrap(),
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
            VerificationKey::from_pem(alg, key_file("rsa_public.pem")).unwrap(),
        ));
    }
    for (alg, private, public) in [
        (Algorithm::ES256, "ec256_private.pem", "ec256_public.pem"),
        (Algorithm::ES384, "ec384_private.pem", "ec384_public.pem"),
        (
            Algorithm::EdDSA,
            "ed25519_private.pem",
            "ed25519_public.pem",
        ),
    ] {
        keys.push((
            alg,
            SigningKey::from_pem(alg, key_file(private)).unwrap(),
            VerificationKey::from_pem(alg, key_file(public)).unwrap(),
        ));
    }
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

/// [`grants`] as a verifier reads them back from a token of `version`.
fn grants_read_back(version: ProtocolVersion) -> Grants {
    match version {
        // 0.x selectors are bare strings: without a URI template
        // expression, the pattern reads as an exact topic.
        ProtocolVersion::V0 => Grants::new()
            .publish([TopicSelector::exact("https://example.com/books/:id")])
            .subscribe([
                TopicSelector::exact("https://example.com/users/42"),
                TopicSelector::all(),
            ])
            .with_payload(json!({"user": "https://example.com/users/42"})),
        // Without a subject of its own, a 1.0 token's `sub` is its client,
        // by default its issuer.
        ProtocolVersion::V1 => grants().with_subject(ISSUER),
    }
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

/// A verifier trusting `key`, its clock at `now`.
fn verifier_at(key: VerificationKey, now: u64) -> Verifier {
    Verifier::new([key]).with_clock(Arc::new(ManualClock::at_unix(now)))
}

/// The JSON of part `index` (0: header, 1: payload) of a compact JWS,
/// decoded here rather than by the code under test.
fn part(token: &str, index: usize) -> Value {
    let text = token.split('.').nth(index).expect("a JWS has three parts");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(text).expect("base64url")).expect("JSON")
}

/// The claims a verifier at `now` reads from an HS256 token signed with
/// [`SECRET`].
fn claims_at(token: &Token, now: u64) -> Claims {
    verifier_at(VerificationKey::hs256(SECRET).unwrap(), now)
        .verify(token.expose())
        .unwrap()
}

#[test]
fn minted_claims_are_exact_and_verify_back_for_every_dialect_and_algorithm() {
    mercure_client::crypto::install_default_provider();
    for version in ProtocolVersion::ALL {
        for (alg, signing, verification) in keys() {
            let token = factory(signing, version).mint(&grants()).unwrap();
            let token = token.expose();
            assert_eq!(
                part(token, 0),
                json!({"alg": format!("{alg:?}"), "typ": version.dialect().token_type}),
                "{version} {alg:?}"
            );
            let mut payload = part(token, 1);
            if version == ProtocolVersion::V1 {
                let jti = payload
                    .as_object_mut()
                    .unwrap()
                    .remove("jti")
                    .expect("1.0 tokens carry a jti");
                let jti = jti.as_str().unwrap();
                assert_eq!(jti.len(), 36, "a hyphenated UUID: {jti}");
                assert_eq!(jti.matches('-').count(), 4, "a hyphenated UUID: {jti}");
            }
            assert_eq!(payload, expected_claims(version), "{version} {alg:?}");

            let claims = verifier_at(verification.clone(), NOW)
                .verify(token)
                .unwrap_or_else(|e| panic!("{version} {alg:?}: {e}"));
            assert_eq!(claims.dialect(), version);
            assert_eq!(claims.token_type(), Some(version.dialect().token_type));
            assert_eq!(
                claims.has_access_token_type(),
                version == ProtocolVersion::V1,
                "{version}"
            );
            assert_eq!(claims.issuer(), Some(ISSUER));
            assert_eq!(claims.audience(), [AUDIENCE]);
            assert_eq!(claims.issued_at(), Some(NOW));
            assert_eq!(claims.expires_at(), Some(NOW + 600));
            assert_eq!(claims.not_before(), None);
            assert_eq!(
                claims.grants(),
                &grants_read_back(version),
                "{version} {alg:?}"
            );

            // Valid until `exp`, excluded.
            assert!(
                verifier_at(verification.clone(), NOW + 599)
                    .verify(token)
                    .is_ok()
            );
            assert_eq!(
                verifier_at(verification, NOW + 600)
                    .verify(token)
                    .unwrap_err(),
                TokenError::Expired,
                "{version} {alg:?}"
            );
        }
    }
}

#[test]
fn a_token_is_refused_with_another_key_or_another_algorithm() {
    mercure_client::crypto::install_default_provider();
    let token = factory(SigningKey::hs256(b"one").unwrap(), ProtocolVersion::V0)
        .mint(&grants())
        .unwrap();
    assert_eq!(
        verifier_at(VerificationKey::hs256(b"two").unwrap(), NOW)
            .verify(token.expose())
            .unwrap_err(),
        TokenError::InvalidSignature
    );
    // A verifier holding no HS256 key does not try another family's.
    let rsa = VerificationKey::from_pem(Algorithm::RS256, key_file("rsa_public.pem")).unwrap();
    assert_eq!(
        verifier_at(rsa, NOW).verify(token.expose()).unwrap_err(),
        TokenError::UnacceptedAlgorithm {
            algorithm: Algorithm::HS256
        }
    );
}

/// A token computed outside this project: ours is the same, byte for byte,
/// and our verifier reads it.
#[test]
fn a_known_0x_token_is_minted_and_read_exactly() {
    mercure_client::crypto::install_default_provider();
    let factory = TokenFactory::builder(SigningKey::hs256(SECRET).unwrap())
        .clock(Arc::new(ManualClock::at_unix(NOW)))
        .build()
        .unwrap();
    let token = factory.mint(&Grants::subscribe_all()).unwrap();
    assert_eq!(token.expose(), KNOWN_V0_TOKEN);
    assert_eq!(
        part(KNOWN_V0_TOKEN, 0),
        json!({"alg": "HS256", "typ": "JWT"})
    );
    assert_eq!(
        part(KNOWN_V0_TOKEN, 1),
        json!({"iat": NOW, "exp": NOW + 3600, "mercure": {"subscribe": ["*"]}})
    );

    let claims = claims_at(&Token::new(KNOWN_V0_TOKEN), NOW);
    assert_eq!(claims.dialect(), ProtocolVersion::V0);
    assert_eq!(claims.token_type(), Some("JWT"));
    assert_eq!(claims.issuer(), None);
    assert!(claims.audience().is_empty());
    assert_eq!(claims.issued_at(), Some(NOW));
    assert_eq!(claims.expires_at(), Some(NOW + 3600));
    assert_eq!(claims.grants(), &Grants::subscribe_all());

    // One character of the payload changed: the signature no longer fits.
    let tampered = KNOWN_V0_TOKEN.replacen("eyJpYXQiOjE4", "eyJpYXQiOjE5", 1);
    assert!(
        tampered.starts_with("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpYXQiOjE5"),
        "the payload was changed: {tampered}"
    );
    assert_eq!(
        verifier_at(VerificationKey::hs256(SECRET).unwrap(), NOW)
            .verify(&tampered)
            .unwrap_err(),
        TokenError::InvalidSignature
    );
    // `alg: none` is no algorithm.
    let unsigned = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
        KNOWN_V0_TOKEN.split('.').nth(1).unwrap()
    );
    assert_eq!(
        verifier_at(VerificationKey::hs256(SECRET).unwrap(), NOW)
            .verify(&unsigned)
            .unwrap_err(),
        TokenError::UnknownAlgorithm {
            name: "none".into()
        }
    );
}

#[test]
fn subject_client_id_and_key_id() {
    mercure_client::crypto::install_default_provider();
    let factory = TokenFactory::builder(SigningKey::hs256(SECRET).unwrap().with_key_id("k1"))
        .protocol(ProtocolVersion::V1)
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .client_id("billing-service")
        .clock(Arc::new(ManualClock::at_unix(NOW)))
        .build()
        .unwrap();
    let token = factory
        .mint(&Grants::subscribe_all().with_subject("user-42"))
        .unwrap();
    assert_eq!(
        part(token.expose(), 0),
        json!({"alg": "HS256", "typ": "at+jwt", "kid": "k1"})
    );
    let payload = part(token.expose(), 1);
    assert_eq!(payload["sub"], "user-42");
    assert_eq!(payload["client_id"], "billing-service");
    let claims = claims_at(&token, NOW);
    assert_eq!(claims.subject(), Some("user-42"));
    assert_eq!(
        claims.grants(),
        &Grants::subscribe_all().with_subject("user-42")
    );
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
    assert_eq!(
        SigningKey::hmac(Algorithm::HS256, b"").unwrap_err(),
        TokenError::InvalidKey {
            algorithm: Algorithm::HS256,
            kind: "signing",
            reason: "the HMAC secret is empty".into(),
        }
    );
    assert!(matches!(
        SigningKey::from_pem(Algorithm::RS256, b"not a pem"),
        Err(TokenError::InvalidKey {
            algorithm: Algorithm::RS256,
            kind: "signing",
            ..
        })
    ));
    assert!(matches!(
        SigningKey::from_pem(Algorithm::ES256, key_file("rsa_private.pem")),
        Err(TokenError::InvalidKey {
            algorithm: Algorithm::ES256,
            ..
        })
    ));
    assert_eq!(
        SigningKey::from_pem(Algorithm::HS256, key_file("rsa_private.pem")).unwrap_err(),
        TokenError::AlgorithmMismatch {
            algorithm: Algorithm::HS256,
            expected: "an asymmetric algorithm (RS*, PS*, ES*, EdDSA) for a PEM key",
        }
    );
    // Key material never shows in errors.
    let error = SigningKey::from_pem(Algorithm::RS256, b"-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n")
        .unwrap_err();
    assert!(!error.to_string().contains("c2VjcmV0"), "{error}");
}

#[tokio::test]
async fn cached_provider_reuses_then_refreshes_before_expiry() {
    mercure_client::crypto::install_default_provider();
    let clock = ManualClock::at_unix(NOW);
    let factory = TokenFactory::builder(SigningKey::hs256(SECRET).unwrap())
        .lifetime(Duration::from_secs(600))
        .clock(Arc::new(clock.clone()))
        .build()
        .unwrap();
    let provider = CachedTokenProvider::new(factory, Grants::publish_all())
        .refresh_margin(Duration::from_secs(60));
    // When a token was issued and until when it is valid, as our verifier
    // reads them.
    let times = |token: &Token| {
        let claims = claims_at(token, NOW);
        (claims.issued_at().unwrap(), claims.expires_at().unwrap())
    };

    let first = provider.token().await.unwrap();
    assert_eq!(times(&first), (NOW, NOW + 600));
    clock.advance(Duration::from_secs(539));
    assert_eq!(
        provider.token().await.unwrap(),
        first,
        "still outside the margin"
    );
    clock.advance(Duration::from_secs(1));
    let second = provider.token().await.unwrap();
    assert_eq!(
        times(&second),
        (NOW + 540, NOW + 540 + 600),
        "inside the margin: a new token"
    );
    assert_eq!(provider.token().await.unwrap(), second);

    // refresh() always mints, and the new token is then cached.
    clock.advance(Duration::from_secs(1));
    let third = provider.refresh().await.unwrap();
    assert_eq!(times(&third), (NOW + 541, NOW + 541 + 600));
    assert_eq!(provider.token().await.unwrap(), third);

    // A margin larger than the lifetime is capped at half of it.
    let clock = ManualClock::at_unix(NOW);
    let short = TokenFactory::builder(SigningKey::hs256(SECRET).unwrap())
        .lifetime(Duration::from_secs(10))
        .clock(Arc::new(clock.clone()))
        .build()
        .unwrap();
    let provider = CachedTokenProvider::new(short, Grants::publish_all())
        .refresh_margin(Duration::from_secs(3600));
    let first = provider.token().await.unwrap();
    assert_eq!(times(&first), (NOW, NOW + 10));
    clock.advance(Duration::from_secs(4));
    assert_eq!(provider.token().await.unwrap(), first);
    clock.advance(Duration::from_secs(1));
    assert_eq!(times(&provider.token().await.unwrap()), (NOW + 5, NOW + 15));
}
