//! `token`: tokens verified and their claims decoded in both dialects
//! (`mercure_core::token::Verifier`, `Claims`): the 0.x `mercure` claim
//! and 1.0 RFC 9068 access tokens with `authorization_details`.
//!
//! Input: a first byte choosing the mode, then:
//!
//! - mode 0: a raw token (any text: garbage, JWS-like, `alg: none`...);
//! - mode 1: a claims set (any bytes), signed with the test HMAC key
//!   under a fixed `HS256` header, so that the claims decoder after the
//!   signature check is reached;
//! - mode 2: a JOSE header and a claims set, split at the first `0xFF`
//!   byte, signed with the test key (header fields fuzzed too).
//!
//! Checks:
//!
//! - no panic;
//! - an error never quotes the token's signature or payload (secrets never
//!   reach errors);
//! - a signed claims set verifies exactly as `Claims::decode` of the same
//!   bytes followed by the time check does (the verifier's only addition
//!   is the signature);
//! - the grants of verified claims, minted again by a `TokenFactory` of
//!   the same dialect and verified, are the same grants (a 1.0 token
//!   without a subject gets its issuer as one; a 1.0 payload without
//!   subscribe selectors is not minted).

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use mercure_core::ProtocolVersion;
use mercure_core::clock::ManualClock;
use mercure_core::token::{Claims, SigningKey, TokenFactory, VerificationKey, Verifier};
use sha2::Sha256;

use crate::shown;

/// The test key (the hub's well-known development secret).
const SECRET: &[u8] = b"!ChangeThisMercureHubJWTSecretKey!";
/// "Now" for the verifier: 2026-01-01.
const NOW: u64 = 1_767_225_600;

fn sign(header: &[u8], claims: &[u8]) -> String {
    let mut token = URL_SAFE_NO_PAD.encode(header);
    token.push('.');
    token.push_str(&URL_SAFE_NO_PAD.encode(claims));
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET).expect("any key length");
    mac.update(token.as_bytes());
    let signature = mac.finalize().into_bytes();
    token.push('.');
    token.push_str(&URL_SAFE_NO_PAD.encode(signature));
    token
}

fn verifier() -> Verifier {
    Verifier::new([VerificationKey::hs256(SECRET).expect("an HMAC key")])
        .with_clock(Arc::new(ManualClock::at_unix(NOW)))
}

/// Whether `a` and `b` are the same JSON, numbers compared to within a
/// few units in the last place: serde_json (without its
/// `float_roundtrip` feature) may read back a float it wrote one unit off
/// (findings/token/float_payload).
fn same_json(a: Option<&serde_json::Value>, b: Option<&serde_json::Value>) -> bool {
    use serde_json::Value;
    match (a, b) {
        (None, None) => true,
        (Some(Value::Number(x)), Some(Value::Number(y))) => {
            x == y
                || match (x.as_f64(), y.as_f64()) {
                    (Some(x), Some(y)) => {
                        (x - y).abs() <= 4.0 * f64::EPSILON * x.abs().max(y.abs())
                    }
                    _ => false,
                }
        }
        (Some(Value::Array(x)), Some(Value::Array(y))) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_json(Some(x), Some(y)))
        }
        (Some(Value::Object(x)), Some(Value::Object(y))) => {
            x.len() == y.len() && x.iter().all(|(k, v)| same_json(Some(v), y.get(k)))
        }
        (a, b) => a == b,
    }
}

/// Runs one input.
pub fn run(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let verifier = verifier();
    let (token, claims) = match mode % 3 {
        0 => (String::from_utf8_lossy(rest).into_owned(), None),
        1 => (sign(br#"{"alg":"HS256","typ":"at+jwt"}"#, rest), Some(rest)),
        _ => {
            let at = rest.iter().position(|&b| b == 0xFF).unwrap_or(rest.len());
            let header = &rest[..at];
            let claims = rest.get(at + 1..).unwrap_or_default();
            (sign(header, claims), None)
        }
    };
    let verified = verifier.verify(&token);
    if let Err(error) = &verified {
        let message = format!("{error} {error:?}");
        for part in token.split('.').skip(1) {
            assert!(
                part.len() < 8 || !message.contains(part),
                "an error quotes the token: {message}"
            );
        }
    }
    if let Some(claims) = claims {
        let expected = Claims::decode(claims).and_then(|c| c.check_time(NOW).map(|()| c));
        // The verifier adds the header's `typ`; compare the rest.
        let got = verified.clone().map(|c| {
            (
                c.dialect(),
                c.grants().clone(),
                c.issuer().map(str::to_owned),
                c.audience().to_vec(),
                c.expires_at(),
                c.not_before(),
                c.issued_at(),
            )
        });
        let want = expected.map(|c| {
            (
                c.dialect(),
                c.grants().clone(),
                c.issuer().map(str::to_owned),
                c.audience().to_vec(),
                c.expires_at(),
                c.not_before(),
                c.issued_at(),
            )
        });
        assert_eq!(
            got,
            want,
            "verify and decode disagree on \"{}\"",
            shown(claims)
        );
    }
    let Ok(claims) = verified else { return };
    let grants = claims.grants();
    let builder = TokenFactory::builder(SigningKey::hs256(SECRET).expect("an HMAC key"))
        .protocol(claims.dialect());
    let builder = match claims.dialect() {
        ProtocolVersion::V0 => builder,
        ProtocolVersion::V1 => builder
            .issuer("https://app.example.com")
            .audience("https://example.com/.well-known/mercure"),
    };
    let factory = builder.build().expect("a token factory");
    let minted = match factory.mint(grants) {
        Ok(minted) => minted,
        Err(error) => panic!("verified grants cannot be minted again ({error}): {grants:?}"),
    };
    // The factory stamps times from the system clock: verify with it.
    let again = Verifier::new([VerificationKey::hs256(SECRET).expect("an HMAC key")])
        .verify(minted.expose())
        .unwrap_or_else(|e| panic!("a minted token does not verify ({e}): {grants:?}"));
    assert_eq!(again.dialect(), claims.dialect(), "{grants:?}");
    // A 1.0 factory gives a token without `sub` its issuer as subject,
    // and writes a payload only in a subscribe detail: without subscribe
    // selectors, a 1.0 payload is not minted (findings/token/).
    let again = again.into_grants();
    let payload_kept =
        claims.dialect() == ProtocolVersion::V0 || !grants.subscribe_selectors().is_empty();
    let same = again.publish_selectors() == grants.publish_selectors()
        && again.subscribe_selectors() == grants.subscribe_selectors()
        && (!payload_kept || same_json(again.payload(), grants.payload()))
        && (grants.subject().is_none() || again.subject() == grants.subject());
    assert!(
        same,
        "grants minted again read otherwise: {grants:?} became {again:?} (from \"{}\")",
        shown(rest)
    );
}
