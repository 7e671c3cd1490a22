//! Verifying tokens: the counterpart of [`TokenFactory`](super::TokenFactory).

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

use super::key::parse_algorithm;
use super::key_set::candidates;
use super::{Algorithm, Claims, KeySet, TokenError, VerificationKey};
use crate::clock::{Clock, SystemClock};

/// Verifies JWTs with a set of keys and reads their claims in either
/// dialect.
///
/// A token is accepted when one of the keys bound to the algorithm its
/// header names verifies its signature (so `alg: none`, unknown algorithms
/// and algorithm substitution are refused; the keys tried are chosen by
/// the token's `kid` and are at most a few, as [`KeySet`] says), and when the verifier's clock
/// is within its `nbf` and `exp`. Its claims are read only then. Which
/// issuers, audiences and dialects to trust is left to the caller, who
/// reads them from the returned [`Claims`]. Cheap to clone.
///
/// ```
/// use mercure_core::ProtocolVersion;
/// use mercure_core::token::{Grants, SigningKey, TokenFactory, VerificationKey, Verifier};
///
/// let secret = b"!ChangeThisMercureHubJWTSecretKey!";
/// let factory = TokenFactory::builder(SigningKey::hs256(secret).unwrap())
///     .protocol(ProtocolVersion::V1)
///     .issuer("https://app.example.com")
///     .audience("https://example.com/.well-known/mercure")
///     .build()
///     .unwrap();
/// let grants = Grants::subscribe_all().with_subject("user-42");
/// let token = factory.mint(&grants).unwrap();
///
/// let verifier = Verifier::new([VerificationKey::hs256(secret).unwrap()]);
/// let claims = verifier.verify(token.expose()).unwrap();
/// assert_eq!(claims.dialect(), ProtocolVersion::V1);
/// assert_eq!(claims.grants(), &grants);
/// assert!(claims.has_audience("https://example.com/.well-known/mercure"));
/// assert!(claims.has_access_token_type());
///
/// let other = Verifier::new([VerificationKey::hs256(b"another secret").unwrap()]);
/// assert!(other.verify(token.expose()).is_err());
/// ```
#[derive(Debug, Clone)]
pub struct Verifier {
    keys: KeySet,
    clock: Arc<dyn Clock>,
}

impl Verifier {
    /// A verifier trusting `keys`, checking times with the system clock.
    pub fn new(keys: impl IntoIterator<Item = VerificationKey>) -> Self {
        Self {
            keys: KeySet::new(keys),
            clock: Arc::new(SystemClock),
        }
    }

    /// Checks `exp` and `nbf` with `clock` instead of the system clock.
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// A verifier trusting the keys of `keys`, checking times with the
    /// system clock.
    pub fn with_key_set(keys: KeySet) -> Self {
        Self {
            keys,
            clock: Arc::new(SystemClock),
        }
    }

    /// The trusted keys.
    pub fn keys(&self) -> &[VerificationKey] {
        self.keys.keys()
    }

    /// The trusted keys, as a set.
    pub fn key_set(&self) -> &KeySet {
        &self.keys
    }

    /// The clock checking `exp` and `nbf`.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Verifies `token` (a JWS in compact serialization) and returns its
    /// claims.
    ///
    /// # Errors
    /// [`TokenError::MalformedToken`] when it is not a readable JWS,
    /// [`TokenError::UnknownAlgorithm`] for `alg: none` or another
    /// unknown algorithm, [`TokenError::UnacceptedAlgorithm`] when no key
    /// is bound to its algorithm, [`TokenError::InvalidSignature`] when no
    /// such key verifies it, [`TokenError::InvalidClaims`] as
    /// [`Claims::decode`], [`TokenError::Expired`] and
    /// [`TokenError::NotYetValid`] as [`Claims::check_time`]. The errors
    /// never quote the token.
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let claims = self.verify_signature(token)?;
        claims.check_time(self.clock.unix_seconds())?;
        Ok(claims)
    }

    /// Verifies the signature and reads the claims, leaving times unchecked.
    fn verify_signature(&self, token: &str) -> Result<Claims, TokenError> {
        UnverifiedToken::parse(token)?
            .verify(&[&self.keys])
            .map(|(_, claims)| claims)
    }
}

/// A token whose header is read and whose signature is not checked yet:
/// what chooses the keys to check it with. [`Verifier`] does it all for one
/// set of keys; this is for callers that choose among several (by the
/// token's `kid`, or its unverified issuer).
///
/// ```
/// use mercure_core::token::{
///     Algorithm, KeySet, SigningKey, TokenFactory, UnverifiedToken, VerificationKey, Grants,
/// };
///
/// let signing = SigningKey::hs256(b"secret").unwrap().with_key_id("k1");
/// let token = TokenFactory::builder(signing).build().unwrap().mint(&Grants::publish_all()).unwrap();
/// let unverified = UnverifiedToken::parse(token.expose()).unwrap();
/// assert_eq!(unverified.algorithm(), Algorithm::HS256);
/// assert_eq!(unverified.key_id(), Some("k1"));
///
/// let other = KeySet::new([VerificationKey::hs256(b"other").unwrap().with_key_id("k0")]);
/// let mine = KeySet::new([VerificationKey::hs256(b"secret").unwrap().with_key_id("k1")]);
/// let (set, claims) = unverified.verify(&[&other, &mine]).unwrap();
/// assert_eq!(set, 1);
/// assert!(claims.grants().publish_selectors().len() == 1);
/// ```
#[derive(Clone)]
pub struct UnverifiedToken<'t> {
    /// The header and payload, as signed.
    signing_input: &'t str,
    payload: &'t str,
    signature: Vec<u8>,
    algorithm: Algorithm,
    typ: Option<String>,
    kid: Option<String>,
}

impl fmt::Debug for UnverifiedToken<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnverifiedToken")
            .field("algorithm", &self.algorithm)
            .field("typ", &self.typ)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl<'t> UnverifiedToken<'t> {
    /// Reads the header of `token` (a JWS in compact serialization).
    ///
    /// # Errors
    /// [`TokenError::MalformedToken`] when it is not a readable JWS or its
    /// header has `crit`, [`TokenError::UnknownAlgorithm`] for `alg: none`
    /// or another unknown algorithm. The errors never quote the token.
    pub fn parse(token: &'t str) -> Result<Self, TokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(malformed("the token is longer than 64 KiB"));
        }
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(malformed("a JWS has three dot-separated parts"));
        };
        let signing_input = &token[..header.len() + 1 + payload.len()];
        let header: RawHeader = serde_json::from_slice(&base64(header, "header")?)
            .map_err(|e| malformed(&format!("unreadable header: {e}")))?;
        if header.crit {
            return Err(malformed("critical header extensions are not supported"));
        }
        // Exactly as registered: no surrounding space, no other case.
        if header.alg.trim() != header.alg {
            return Err(TokenError::UnknownAlgorithm {
                name: header.alg.trim().chars().take(32).collect(),
            });
        }
        let algorithm = parse_algorithm(&header.alg)?;
        let signature = base64(signature, "signature")?;
        Ok(Self {
            signing_input,
            payload,
            signature,
            algorithm,
            typ: header.typ,
            kid: header.kid,
        })
    }

    /// The algorithm the header names.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The key id (`kid`) the header names, if any.
    pub fn key_id(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The `iss` claim, read without checking the signature: only to choose
    /// the keys that check it, never to trust it. `None` when the payload
    /// has none or cannot be read.
    pub fn unverified_issuer(&self) -> Option<String> {
        #[derive(Deserialize)]
        struct Issuer {
            iss: Option<String>,
        }
        let payload = URL_SAFE_NO_PAD.decode(self.payload).ok()?;
        serde_json::from_slice::<Issuer>(&payload).ok()?.iss
    }

    /// Checks the signature with the keys of `sets` that the rule of
    /// [`KeySet`] chooses (at most [`MAX_KEYS_TRIED`](super::MAX_KEYS_TRIED) of them, over all
    /// sets), then reads the claims; returns the index in `sets` of the set
    /// whose key verified it, and the claims. Times (`exp`, `nbf`) are left
    /// unchecked: see [`Claims::check_time`].
    ///
    /// # Errors
    /// [`TokenError::UnknownKeyId`] when the header's `kid` is no key's of
    /// `sets` and no key without an id verifies it,
    /// [`TokenError::UnacceptedAlgorithm`] when no key is bound to the
    /// algorithm, [`TokenError::InvalidSignature`] when no key chosen
    /// verifies it, [`TokenError::InvalidClaims`] as [`Claims::decode`].
    pub fn verify(&self, sets: &[&KeySet]) -> Result<(usize, Claims), TokenError> {
        let algorithm = self.algorithm;
        let kid = self.kid.as_deref();
        let unknown_kid = kid.is_some_and(|kid| !sets.iter().any(|set| set.contains_key_id(kid)));
        let keys = candidates(sets, algorithm, kid);
        if keys.is_empty() {
            return Err(if unknown_kid {
                TokenError::UnknownKeyId
            } else {
                TokenError::UnacceptedAlgorithm { algorithm }
            });
        }
        let verified = keys.into_iter().find(|(_, key)| {
            (crate::crypto::provider().verifier_factory)(&algorithm, key.decoding_key()).is_ok_and(
                |verifier| {
                    verifier
                        .verify(self.signing_input.as_bytes(), &self.signature)
                        .is_ok()
                },
            )
        });
        let Some((set, _)) = verified else {
            return Err(if unknown_kid {
                TokenError::UnknownKeyId
            } else {
                TokenError::InvalidSignature
            });
        };
        let claims = Claims::decode(&base64(self.payload, "payload")?)?;
        Ok((set, claims.with_token_type(self.typ.clone())))
    }
}

/// The JOSE header fields read; the others are ignored, except `crit`,
/// which names extensions a verifier must understand (RFC 7515 §4.1.11):
/// this one understands none, so a token with `crit` is refused, whatever
/// its value (`null` included).
#[derive(Deserialize)]
struct RawHeader {
    alg: String,
    typ: Option<String>,
    kid: Option<String>,
    #[serde(default, deserialize_with = "present")]
    crit: bool,
}

/// `true` for a field that is there, whatever its value.
fn present<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    serde::de::IgnoredAny::deserialize(deserializer).map(|_| true)
}

/// The longest token read; anything longer is refused before decoding.
pub const MAX_TOKEN_LEN: usize = 64 * 1024;

fn malformed(reason: &str) -> TokenError {
    TokenError::MalformedToken {
        reason: reason.to_owned(),
    }
}

fn base64(part: &str, name: &str) -> Result<Vec<u8>, TokenError> {
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|e| malformed(&format!("the {name} is not base64url: {e}")))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::json;

    use super::*;
    use crate::ProtocolVersion;
    use crate::TopicSelector;
    use crate::clock::ManualClock;
    use crate::token::test_keys::{EC256_PRIVATE, EC256_PUBLIC, ED25519_PRIVATE, ED25519_PUBLIC};
    use crate::token::{Algorithm, Grants, SigningKey, TokenFactory};

    const SECRET: &[u8] = b"!ChangeThisMercureHubJWTSecretKey!";
    const ISSUER: &str = "https://app.example.com";
    const AUDIENCE: &str = "https://example.com/.well-known/mercure";

    fn factory(key: SigningKey, version: ProtocolVersion) -> TokenFactory {
        let builder = TokenFactory::builder(key).protocol(version);
        match version {
            ProtocolVersion::V0 => builder,
            ProtocolVersion::V1 => builder.issuer(ISSUER).audience(AUDIENCE),
        }
        .build()
        .unwrap()
    }

    fn grants() -> Grants {
        Grants::new()
            .publish(["https://example.com/books/1"])
            .publish([TopicSelector::pattern("https://example.com/books/{id}")])
            .subscribe([TopicSelector::pattern(
                "https://example.com/users/42/{+rest}",
            )])
            .subscribe([TopicSelector::all()])
            .with_payload(json!({"user": 42}))
            .with_subject("user-42")
    }

    fn b64(json: &serde_json::Value) -> String {
        URL_SAFE_NO_PAD.encode(json.to_string())
    }

    #[test]
    fn minted_grants_verify_back_in_both_dialects_and_every_key_family() {
        let pairs = [
            (
                SigningKey::hs256(SECRET).unwrap(),
                VerificationKey::hs256(SECRET).unwrap(),
            ),
            (
                SigningKey::hmac(Algorithm::HS512, SECRET).unwrap(),
                VerificationKey::hmac(Algorithm::HS512, SECRET).unwrap(),
            ),
            (
                SigningKey::from_pem(Algorithm::ES256, EC256_PRIVATE).unwrap(),
                VerificationKey::from_pem(Algorithm::ES256, EC256_PUBLIC).unwrap(),
            ),
            (
                SigningKey::from_pem(Algorithm::EdDSA, ED25519_PRIVATE).unwrap(),
                VerificationKey::from_pem(Algorithm::EdDSA, ED25519_PUBLIC).unwrap(),
            ),
        ];
        for (signing, verification) in pairs {
            let algorithm = signing.algorithm();
            let verifier = Verifier::new([verification]);
            for version in [ProtocolVersion::V0, ProtocolVersion::V1] {
                let factory = factory(signing.clone(), version);
                let before = factory.clock().unix_seconds();
                let token = factory.mint(&grants()).unwrap();
                let claims = verifier.verify(token.expose()).unwrap();
                assert_eq!(claims.dialect(), version, "{algorithm:?}");
                assert_eq!(claims.grants(), &grants(), "{algorithm:?} {version}");
                assert_eq!(claims.clone().into_grants(), grants());
                assert_eq!(claims.subject(), Some("user-42"));
                let issued_at = claims.issued_at().unwrap();
                assert!(issued_at >= before);
                assert_eq!(claims.expires_at(), Some(issued_at + 3600));
                assert_eq!(claims.not_before(), None);
                match version {
                    ProtocolVersion::V0 => {
                        assert_eq!(claims.token_type(), Some("JWT"));
                        assert!(!claims.has_access_token_type());
                        assert_eq!(claims.issuer(), None);
                        assert!(claims.audience().is_empty());
                    }
                    ProtocolVersion::V1 => {
                        assert!(claims.has_access_token_type());
                        assert_eq!(claims.issuer(), Some(ISSUER));
                        assert!(claims.has_audience(AUDIENCE));
                    }
                }
            }
        }
    }

    #[test]
    fn empty_and_wildcard_grants_round_trip() {
        let verifier = Verifier::new([VerificationKey::hs256(SECRET).unwrap()]);
        for version in [ProtocolVersion::V0, ProtocolVersion::V1] {
            let factory = factory(SigningKey::hs256(SECRET).unwrap(), version);
            for grants in [
                Grants::new().with_subject("s"),
                Grants::publish_all().with_subject("s"),
                Grants::subscribe_all().with_subject("s"),
                Grants::new()
                    .publish(["a"])
                    .subscribe(["b"])
                    .with_subject("s"),
            ] {
                let token = factory.mint(&grants).unwrap();
                assert_eq!(
                    verifier.verify(token.expose()).unwrap().grants(),
                    &grants,
                    "{version}"
                );
            }
        }
    }

    #[test]
    fn foreign_and_tampered_signatures_are_refused() {
        let verifier = Verifier::new([VerificationKey::hs256(SECRET).unwrap()]);
        let forged = factory(
            SigningKey::hs256(b"not the secret").unwrap(),
            ProtocolVersion::V0,
        )
        .mint(&Grants::publish_all())
        .unwrap();
        assert_eq!(
            verifier.verify(forged.expose()),
            Err(TokenError::InvalidSignature)
        );

        let genuine = factory(SigningKey::hs256(SECRET).unwrap(), ProtocolVersion::V0)
            .mint(&Grants::new().subscribe(["mine"]))
            .unwrap();
        let parts: Vec<&str> = genuine.expose().split('.').collect();
        let tampered_claims = b64(&json!({"mercure": {"subscribe": ["*"]}}));
        let tampered = format!("{}.{tampered_claims}.{}", parts[0], parts[2]);
        assert_eq!(
            verifier.verify(&tampered),
            Err(TokenError::InvalidSignature)
        );
        let no_signature = format!("{}.{}.", parts[0], parts[1]);
        assert_eq!(
            verifier.verify(&no_signature),
            Err(TokenError::InvalidSignature)
        );
    }

    #[test]
    fn alg_none_and_algorithm_substitution_are_refused() {
        let claims = b64(&json!({"mercure": {"publish": ["*"], "subscribe": ["*"]}}));
        let verifier = Verifier::new([
            VerificationKey::hs256(SECRET).unwrap(),
            VerificationKey::from_pem(Algorithm::ES256, EC256_PUBLIC).unwrap(),
        ]);
        for alg in ["none", "None", "NONE", ""] {
            let header = b64(&json!({"alg": alg, "typ": "JWT"}));
            for token in [
                format!("{header}.{claims}."),
                format!("{header}.{claims}"),
                format!("{header}.{claims}.c2lnbmF0dXJl"),
            ] {
                assert!(verifier.verify(&token).is_err(), "{alg}");
            }
        }
        // The same secret under another HMAC algorithm.
        let hs512 = factory(
            SigningKey::hmac(Algorithm::HS512, SECRET).unwrap(),
            ProtocolVersion::V0,
        )
        .mint(&Grants::publish_all())
        .unwrap();
        assert_eq!(
            verifier.verify(hs512.expose()),
            Err(TokenError::UnacceptedAlgorithm {
                algorithm: Algorithm::HS512
            })
        );
        // An HMAC token "signed" with the public key: the confusion attack.
        let confused = factory(
            SigningKey::hs256(EC256_PUBLIC).unwrap(),
            ProtocolVersion::V0,
        )
        .mint(&Grants::publish_all())
        .unwrap();
        assert_eq!(
            verifier.verify(confused.expose()),
            Err(TokenError::InvalidSignature)
        );
        // An EC token presented to an EdDSA-only verifier.
        let es256 = factory(
            SigningKey::from_pem(Algorithm::ES256, EC256_PRIVATE).unwrap(),
            ProtocolVersion::V0,
        )
        .mint(&Grants::publish_all())
        .unwrap();
        let eddsa =
            Verifier::new([VerificationKey::from_pem(Algorithm::EdDSA, ED25519_PUBLIC).unwrap()]);
        assert!(matches!(
            eddsa.verify(es256.expose()),
            Err(TokenError::UnacceptedAlgorithm { .. })
        ));
        assert!(matches!(
            Verifier::new([]).verify(es256.expose()),
            Err(TokenError::UnacceptedAlgorithm { .. })
        ));
    }

    #[test]
    fn every_key_of_the_algorithm_is_tried() {
        let verifier = Verifier::new([
            VerificationKey::hs256(b"old secret").unwrap(),
            VerificationKey::hs256(SECRET).unwrap(),
        ]);
        let token = factory(SigningKey::hs256(SECRET).unwrap(), ProtocolVersion::V0)
            .mint(&Grants::publish_all())
            .unwrap();
        assert!(verifier.verify(token.expose()).is_ok());
        assert_eq!(verifier.keys().len(), 2);
    }

    #[test]
    fn malformed_tokens_are_refused_without_quoting_them() {
        let verifier = Verifier::new([VerificationKey::hs256(SECRET).unwrap()]);
        let genuine = factory(SigningKey::hs256(SECRET).unwrap(), ProtocolVersion::V0)
            .mint(&Grants::publish_all())
            .unwrap();
        let text = genuine.expose();
        let signature = text.rsplit('.').next().unwrap();
        for token in [
            String::new(),
            "garbage".to_owned(),
            "a.b".to_owned(),
            "a.b.c.d".to_owned(),
            format!("{text}.extra"),
            format!("!!.{}", &text[text.find('.').unwrap() + 1..]),
            format!("{}.{}.{}", b64(&json!([])), "e30", signature),
            format!("{}.{}.{}", b64(&json!({"typ": "JWT"})), "e30", signature),
            format!("{}=", text),
        ] {
            let error = verifier.verify(&token).unwrap_err();
            let shown = format!("{error} {error:?}");
            assert!(!shown.contains(signature), "{shown}");
            assert!(!shown.contains(text), "{shown}");
        }
        // A signed payload that is not a claims set.
        let not_claims = factory(SigningKey::hs256(SECRET).unwrap(), ProtocolVersion::V0)
            .sign(&json!(["not", "claims"]))
            .unwrap();
        assert!(matches!(
            verifier.verify(not_claims.expose()),
            Err(TokenError::InvalidClaims { .. })
        ));
    }

    #[test]
    fn times_are_checked_with_the_verifier_clock() {
        let clock = ManualClock::at_unix(1_000_000);
        let verifier = Verifier::new([VerificationKey::hs256(SECRET).unwrap()])
            .with_clock(Arc::new(clock.clone()));
        let factory = TokenFactory::builder(SigningKey::hs256(SECRET).unwrap())
            .clock(Arc::new(clock.clone()))
            .lifetime(Duration::from_secs(60))
            .build()
            .unwrap();
        let token = factory.mint(&Grants::subscribe_all()).unwrap();
        assert!(verifier.verify(token.expose()).is_ok());
        clock.advance(Duration::from_secs(60));
        assert_eq!(verifier.verify(token.expose()), Err(TokenError::Expired));

        let not_yet = factory
            .sign(&json!({"nbf": 2_000_000, "mercure": {"subscribe": ["*"]}}))
            .unwrap();
        assert_eq!(
            verifier.verify(not_yet.expose()),
            Err(TokenError::NotYetValid)
        );
        clock.set(std::time::UNIX_EPOCH + Duration::from_secs(2_000_000));
        assert!(verifier.verify(not_yet.expose()).is_ok());
    }

    #[test]
    fn far_future_times_do_not_overflow() {
        let verifier = Verifier::new([VerificationKey::hs256(SECRET).unwrap()]);
        let factory = factory(SigningKey::hs256(SECRET).unwrap(), ProtocolVersion::V1);
        for exp in [
            json!(1e19),
            json!(9_223_372_036_854_775_808_u64),
            json!(u64::MAX),
            json!(f64::MAX),
        ] {
            let token = factory
                .sign(&json!({
                    "iss": ISSUER, "aud": AUDIENCE, "exp": exp, "iat": exp, "nbf": 0,
                    "authorization_details": Grants::subscribe_all().to_claim(ProtocolVersion::V1),
                }))
                .unwrap();
            let claims = verifier.verify(token.expose()).unwrap();
            let exp = claims.expires_at().unwrap();
            assert_eq!(exp, crate::token::LATEST_CLAIM_TIME);
            assert!(
                std::time::UNIX_EPOCH
                    .checked_add(Duration::from_secs(exp))
                    .is_some()
            );
        }
    }

    #[test]
    fn critical_header_extensions_are_refused() {
        let header = b64(&json!({"alg": "HS256", "typ": "JWT", "crit": ["exp"]}));
        let payload = b64(&json!({"mercure": {"subscribe": ["*"]}}));
        // Refused before its signature is even looked at.
        let token = format!("{header}.{payload}.c2ln");
        let verifier = Verifier::new([VerificationKey::hs256(SECRET).unwrap()]);
        assert!(matches!(
            verifier.verify(&token),
            Err(TokenError::MalformedToken { .. })
        ));
    }

    #[test]
    fn header_oddities_and_oversized_tokens_are_refused() {
        let payload = b64(&json!({"mercure": {"subscribe": ["*"]}}));
        let verifier = Verifier::new([VerificationKey::hs256(SECRET).unwrap()]);
        // `crit` present, even null.
        let header = b64(&json!({"alg": "HS256", "crit": null}));
        assert!(matches!(
            verifier.verify(&format!("{header}.{payload}.c2ln")),
            Err(TokenError::MalformedToken { .. })
        ));
        // An algorithm name with spaces around it.
        let header = b64(&json!({"alg": " HS256\n"}));
        assert!(matches!(
            verifier.verify(&format!("{header}.{payload}.c2ln")),
            Err(TokenError::UnknownAlgorithm { .. })
        ));
        // Longer than the limit: refused before any decoding.
        let long = "a".repeat(MAX_TOKEN_LEN + 1);
        assert!(matches!(
            verifier.verify(&long),
            Err(TokenError::MalformedToken { .. })
        ));
    }
}
