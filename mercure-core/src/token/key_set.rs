//! Sets of verification keys: keys named by `kid`, the rule choosing which
//! of them verify a token, and JWK sets (RFC 7517) read into them.

use std::fmt;
use std::str::FromStr as _;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{
    AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, KeyOperations, PublicKeyUse,
};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey};

use super::{TokenError, VerificationKey};

/// The most keys whose signature check one token may cost, whatever the
/// number of keys trusted.
pub const MAX_KEYS_TRIED: usize = 4;

/// The shortest secret of an `oct` (HMAC) key taken from a JWK set: the
/// output size of SHA-256.
const MIN_HMAC_KEY_BYTES: usize = 32;

/// The most keys a JWK set may hold; a larger set is refused whole.
pub const MAX_JWKS_KEYS: usize = 100;

/// The longest key id (`kid`) of a JWK kept; a key with a longer one is
/// skipped.
pub const MAX_KEY_ID_LEN: usize = 256;

/// The RSA moduli accepted in a JWK, in bits: at least 2048 (shorter keys
/// are forgeable), at most 8192 (longer ones make every check slow).
const RSA_BITS: std::ops::RangeInclusive<usize> = 2048..=8192;

/// The RSA algorithms a JWK without `alg` verifies.
const RSA_ALGORITHMS: [Algorithm; 6] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
];

/// The HMAC algorithms an `oct` JWK without `alg` verifies.
const HMAC_ALGORITHMS: [Algorithm; 3] = [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512];

/// Verification keys, some named by a key id (`kid`), and the rule
/// choosing which of them check a token's signature.
///
/// Only keys bound to the algorithm of the token's header are candidates.
/// Among them, for a token whose header has a `kid`, the keys with that
/// id come first, then the keys without an id (keys configured without
/// one, such as a PEM file, trust every `kid`); keys with another id are
/// never tried. For a token without `kid`, the keys without an id come
/// first, then the others. At most [`MAX_KEYS_TRIED`] candidates are tried,
/// in that order, so a token costs a few signature checks however many keys
/// are trusted. Cheap to clone.
///
/// ```
/// use mercure_core::token::{Algorithm, KeySet, VerificationKey};
///
/// let keys = KeySet::new([
///     VerificationKey::hs256(b"old secret").unwrap().with_key_id("2025"),
///     VerificationKey::hs256(b"new secret").unwrap().with_key_id("2026"),
/// ]);
/// assert!(keys.contains_key_id("2026"));
/// let chosen = keys.candidates(Algorithm::HS256, Some("2026"));
/// assert_eq!(chosen.len(), 1);
/// assert_eq!(chosen[0].key_id(), Some("2026"));
/// assert!(keys.candidates(Algorithm::HS256, Some("1999")).is_empty());
/// assert_eq!(keys.candidates(Algorithm::HS256, None).len(), 2);
/// ```
#[derive(Clone, Default)]
pub struct KeySet {
    keys: Arc<[VerificationKey]>,
    skipped: Arc<[SkippedKey]>,
}

impl fmt::Debug for KeySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeySet")
            .field("keys", &self.keys)
            .field("skipped", &self.skipped)
            .finish()
    }
}

/// A key of a JWK set left out, and why (for the operator's logs; it
/// never holds key material).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedKey {
    /// The key's `kid` (its first 64 characters), if it has one.
    pub key_id: Option<String>,
    /// Why it is not used.
    pub reason: String,
}

/// How a JWK set is read.
#[derive(Debug, Clone, Copy, Default)]
#[must_use]
pub struct JwksOptions {
    allow_hmac: bool,
}

impl JwksOptions {
    /// The defaults: signature keys of the asymmetric families only.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether symmetric (`oct`) keys are read as HMAC secrets (default
    /// `false`: a secret published in a key set is no secret, and a key set
    /// is expected to hold public keys only).
    pub fn allow_hmac(mut self, allow: bool) -> Self {
        self.allow_hmac = allow;
        self
    }
}

impl KeySet {
    /// A set of `keys`.
    pub fn new(keys: impl IntoIterator<Item = VerificationKey>) -> Self {
        Self {
            keys: keys.into_iter().collect(),
            skipped: Arc::new([]),
        }
    }

    /// Reads a JWK set (RFC 7517 §5: `{"keys": [...]}`) into verification
    /// keys: RSA (2048 to 8192 bits), EC P-256 and P-384, Ed25519 (`OKP`),
    /// and `oct` HMAC secrets when `options` allow them. A key's `alg`, when
    /// present, must fit its type, and binds it; without `alg`, an RSA key
    /// verifies every RS* and PS* algorithm, an EC key that of its curve,
    /// an `oct` key every HS* algorithm. Keys meant for something else than
    /// verifying signatures (`use` other than `sig`, `key_ops` without
    /// `verify`), holding private parameters, or of another type or curve
    /// are skipped and listed in [`KeySet::skipped`], so one odd key does
    /// not lose the others.
    ///
    /// ```
    /// use mercure_core::token::{Algorithm, JwksOptions, KeySet};
    ///
    /// let jwks = br#"{"keys": [
    ///   {"kty": "OKP", "crv": "Ed25519", "kid": "ed", "use": "sig",
    ///    "x": "jpmtF-0CJ7q9r837m-lp8M-xk-Q0PbQUpVTmEBnnCDc"},
    ///   {"kty": "EC", "crv": "P-256", "kid": "enc", "use": "enc",
    ///    "x": "YCUSV99T9379E6_TYcHAx-kttEYWFnY_3QAW0aGMKmM",
    ///    "y": "slquZdNNsw9QVAYsTAoYoCNKJ3gSB4g9JTWC3j2XGWg"}
    /// ]}"#;
    /// let keys = KeySet::from_jwks(jwks, JwksOptions::new()).unwrap();
    /// assert_eq!(keys.len(), 1);
    /// assert_eq!(keys.keys()[0].algorithm(), Algorithm::EdDSA);
    /// assert_eq!(keys.keys()[0].key_id(), Some("ed"));
    /// assert_eq!(keys.skipped()[0].key_id.as_deref(), Some("enc"));
    /// ```
    ///
    /// # Errors
    /// [`TokenError::InvalidKeySet`] when `json` is not a JWK set, or holds
    /// more than [`MAX_JWKS_KEYS`] keys. A set without a usable key is not
    /// an error.
    pub fn from_jwks(json: &[u8], options: JwksOptions) -> Result<Self, TokenError> {
        #[derive(serde::Deserialize)]
        struct RawSet {
            keys: Vec<serde_json::Value>,
        }
        let raw: RawSet = serde_json::from_slice(json).map_err(|e| TokenError::InvalidKeySet {
            reason: format!("not a JWK set: {e}"),
        })?;
        if raw.keys.len() > MAX_JWKS_KEYS {
            return Err(TokenError::InvalidKeySet {
                reason: format!(
                    "{} keys, more than the {MAX_JWKS_KEYS} accepted",
                    raw.keys.len()
                ),
            });
        }
        let mut keys = Vec::new();
        let mut skipped = Vec::new();
        for value in raw.keys {
            let key_id = value
                .get("kid")
                .and_then(serde_json::Value::as_str)
                .map(|kid| kid.chars().take(64).collect());
            match read_jwk(&value, options) {
                Ok(read) => keys.extend(read),
                Err(reason) => skipped.push(SkippedKey { key_id, reason }),
            }
        }
        Ok(Self {
            keys: keys.into(),
            skipped: skipped.into(),
        })
    }

    /// The keys.
    pub fn keys(&self) -> &[VerificationKey] {
        &self.keys
    }

    /// How many keys there are (a JWK without `alg` counts once per
    /// algorithm it verifies).
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there is no key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The keys of the JWK set this was read from that were left out.
    pub fn skipped(&self) -> &[SkippedKey] {
        &self.skipped
    }

    /// Whether a key has the id `kid`.
    pub fn contains_key_id(&self, kid: &str) -> bool {
        self.keys.iter().any(|key| key.key_id() == Some(kid))
    }

    /// Whether the two sets hold keys of the same ids and algorithms (the
    /// key material is not compared).
    pub fn same_ids(&self, other: &KeySet) -> bool {
        self.keys.len() == other.keys.len()
            && self
                .keys
                .iter()
                .zip(other.keys.iter())
                .all(|(a, b)| a.algorithm() == b.algorithm() && a.key_id() == b.key_id())
    }

    /// The keys that would check a token of `algorithm` and key id `kid`,
    /// in the order they are tried (see [`KeySet`]), at most
    /// [`MAX_KEYS_TRIED`].
    pub fn candidates(&self, algorithm: Algorithm, kid: Option<&str>) -> Vec<&VerificationKey> {
        candidates(&[self], algorithm, kid)
            .into_iter()
            .map(|(_, key)| key)
            .collect()
    }
}

/// The keys of `sets` that check a token of `algorithm` and `kid`, each
/// with the index of its set, by the rule of [`KeySet`] applied to the sets
/// together (in their order within each rank).
pub(super) fn candidates<'k>(
    sets: &[&'k KeySet],
    algorithm: Algorithm,
    kid: Option<&str>,
) -> Vec<(usize, &'k VerificationKey)> {
    let of_algorithm = || {
        sets.iter().enumerate().flat_map(move |(index, set)| {
            set.keys
                .iter()
                .filter(move |key| key.algorithm() == algorithm)
                .map(move |key| (index, key))
        })
    };
    let (first, second): (Vec<_>, Vec<_>) = match kid {
        Some(kid) => (
            of_algorithm()
                .filter(|(_, key)| key.key_id() == Some(kid))
                .collect(),
            of_algorithm()
                .filter(|(_, key)| key.key_id().is_none())
                .collect(),
        ),
        None => (
            of_algorithm()
                .filter(|(_, key)| key.key_id().is_none())
                .collect(),
            of_algorithm()
                .filter(|(_, key)| key.key_id().is_some())
                .collect(),
        ),
    };
    first
        .into_iter()
        .chain(second)
        .take(MAX_KEYS_TRIED)
        .collect()
}

/// The verification keys of one JWK, or why it is skipped.
fn read_jwk(
    value: &serde_json::Value,
    options: JwksOptions,
) -> Result<Vec<VerificationKey>, String> {
    let object = value.as_object().ok_or("not a JSON object")?;
    if ["d", "p", "q", "dp", "dq", "qi", "oth"]
        .iter()
        .any(|name| object.contains_key(*name))
    {
        return Err("it holds private key parameters: publish public keys only".into());
    }
    let jwk: Jwk = serde_json::from_value(value.clone()).map_err(|e| format!("not a JWK: {e}"))?;
    let common = &jwk.common;
    if let Some(key_id) = &common.key_id
        && key_id.len() > MAX_KEY_ID_LEN
    {
        return Err(format!("its kid is longer than {MAX_KEY_ID_LEN} bytes"));
    }
    match &common.public_key_use {
        None | Some(PublicKeyUse::Signature) => {}
        Some(_) => return Err("its use is not sig".into()),
    }
    if let Some(operations) = &common.key_operations
        && !operations.contains(&KeyOperations::Verify)
    {
        return Err("its key_ops do not include verify".into());
    }
    let declared = match common.key_algorithm {
        None => None,
        Some(KeyAlgorithm::UNKNOWN_ALGORITHM) => {
            return Err("its alg is not a supported signature algorithm".into());
        }
        Some(alg) => Some(
            Algorithm::from_str(&alg.to_string())
                .map_err(|_| format!("its alg {alg} is not a signature algorithm"))?,
        ),
    };
    let fits = |family: AlgorithmFamily, all: &[Algorithm]| -> Result<Vec<Algorithm>, String> {
        match declared {
            Some(alg) if alg.family() == family => Ok(vec![alg]),
            Some(alg) => Err(format!("its alg {alg:?} does not fit its key type")),
            None => Ok(all.to_vec()),
        }
    };
    let algorithms = match &jwk.algorithm {
        AlgorithmParameters::RSA(params) => {
            let n = decode(&params.n, "n")?;
            let bits = significant_bits(&n);
            if !RSA_BITS.contains(&bits) {
                return Err(format!(
                    "its RSA modulus has {bits} bits, not {} to {}",
                    RSA_BITS.start(),
                    RSA_BITS.end()
                ));
            }
            let e = decode(&params.e, "e")?;
            if significant_bits(&e) < 2 || e.len() > 8 {
                return Err("its RSA exponent is out of range".into());
            }
            fits(AlgorithmFamily::Rsa, &RSA_ALGORITHMS)?
        }
        AlgorithmParameters::EllipticCurve(params) => {
            let (algorithm, size) = match params.curve {
                EllipticCurve::P256 => (Algorithm::ES256, 32),
                EllipticCurve::P384 => (Algorithm::ES384, 48),
                _ => return Err("its curve is not P-256 or P-384".into()),
            };
            if decode(&params.x, "x")?.len() != size || decode(&params.y, "y")?.len() != size {
                return Err("its coordinates do not fit its curve".into());
            }
            let algorithms = fits(AlgorithmFamily::Ec, &[algorithm])?;
            if algorithms != [algorithm] {
                return Err("its alg does not fit its curve".into());
            }
            algorithms
        }
        AlgorithmParameters::OctetKeyPair(params) => {
            if params.curve != EllipticCurve::Ed25519 {
                return Err("its curve is not Ed25519".into());
            }
            if decode(&params.x, "x")?.len() != 32 {
                return Err("its Ed25519 key is not 32 bytes".into());
            }
            fits(AlgorithmFamily::Ed, &[Algorithm::EdDSA])?
        }
        AlgorithmParameters::OctetKey(params) => {
            if !options.allow_hmac {
                return Err("symmetric (oct) keys are not accepted".into());
            }
            // RFC 7518 (3.2): a key at least as long as the hash; shorter
            // ones can be found offline from one token.
            if decode(&params.value, "k")?.len() < MIN_HMAC_KEY_BYTES {
                return Err(format!(
                    "its secret is shorter than {MIN_HMAC_KEY_BYTES} bytes"
                ));
            }
            fits(AlgorithmFamily::Hmac, &HMAC_ALGORITHMS)?
        }
        _ => return Err("its key type is not RSA, EC, OKP or oct".into()),
    };
    let key = DecodingKey::from_jwk(&jwk).map_err(|e| format!("unreadable key: {e}"))?;
    Ok(algorithms
        .into_iter()
        .map(|algorithm| {
            let key = VerificationKey::from_parts(algorithm, key.clone());
            match &common.key_id {
                Some(kid) => key.with_key_id(kid.clone()),
                None => key,
            }
        })
        .collect())
}

fn decode(value: &str, name: &str) -> Result<Vec<u8>, String> {
    URL_SAFE_NO_PAD
        .decode(value)
        .map_err(|_| format!("its {name} is not base64url"))
}

/// The bits of a big-endian unsigned integer, leading zeros left out.
fn significant_bits(bytes: &[u8]) -> usize {
    match bytes.iter().position(|&b| b != 0) {
        None => 0,
        Some(first) => (bytes.len() - first - 1) * 8 + (8 - bytes[first].leading_zeros() as usize),
    }
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::EncodingKey;
    use serde_json::{Value, json};

    use super::*;
    use crate::ProtocolVersion;
    use crate::token::{Grants, SigningKey, TokenFactory, Verifier};

    const RSA_PRIVATE: &[u8] = include_bytes!("../../../tests/keys/rsa_private.pem");
    const EC256_PRIVATE: &[u8] = include_bytes!("../../../tests/keys/ec256_private.pem");
    const EC384_PRIVATE: &[u8] = include_bytes!("../../../tests/keys/ec384_private.pem");
    const ED25519_PRIVATE: &[u8] = include_bytes!("../../../tests/keys/ed25519_private.pem");

    /// The public JWK of a private PEM key, with `kid` and, unless `None`,
    /// `alg`.
    fn jwk(algorithm: Algorithm, pem: &[u8], kid: &str, alg: bool) -> Value {
        crate::crypto::install_default_provider();
        let key = match algorithm.family() {
            AlgorithmFamily::Rsa => EncodingKey::from_rsa_pem(pem),
            AlgorithmFamily::Ec => EncodingKey::from_ec_pem(pem),
            AlgorithmFamily::Ed => EncodingKey::from_ed_pem(pem),
            AlgorithmFamily::Hmac => Ok(EncodingKey::from_secret(pem)),
        }
        .unwrap();
        let mut value =
            serde_json::to_value(Jwk::from_encoding_key(&key, algorithm).unwrap()).unwrap();
        value["kid"] = json!(kid);
        if !alg {
            value.as_object_mut().unwrap().remove("alg");
        }
        value
    }

    fn signer(algorithm: Algorithm, pem: &[u8]) -> SigningKey {
        SigningKey::from_pem(algorithm, pem).unwrap()
    }

    fn token(key: SigningKey, version: ProtocolVersion) -> String {
        let builder = TokenFactory::builder(key).protocol(version);
        match version {
            ProtocolVersion::V0 => builder,
            ProtocolVersion::V1 => builder.issuer("https://issuer.example").audience("hub"),
        }
        .build()
        .unwrap()
        .mint(&Grants::subscribe_all())
        .unwrap()
        .expose()
        .to_owned()
    }

    fn set(keys: Vec<Value>, options: JwksOptions) -> KeySet {
        KeySet::from_jwks(json!({ "keys": keys }).to_string().as_bytes(), options).unwrap()
    }

    #[test]
    fn rsa_ec_and_ed25519_jwks_verify_the_tokens_of_their_kid() {
        let keys = set(
            vec![
                jwk(Algorithm::RS256, RSA_PRIVATE, "rsa", true),
                jwk(Algorithm::ES256, EC256_PRIVATE, "ec256", true),
                jwk(Algorithm::ES384, EC384_PRIVATE, "ec384", false),
                jwk(Algorithm::EdDSA, ED25519_PRIVATE, "ed", false),
            ],
            JwksOptions::new(),
        );
        assert!(keys.skipped().is_empty(), "{:?}", keys.skipped());
        let found: Vec<(Algorithm, Option<&str>)> = keys
            .keys()
            .iter()
            .map(|k| (k.algorithm(), k.key_id()))
            .collect();
        assert_eq!(
            found,
            [
                (Algorithm::RS256, Some("rsa")),
                (Algorithm::ES256, Some("ec256")),
                (Algorithm::ES384, Some("ec384")),
                (Algorithm::EdDSA, Some("ed")),
            ]
        );
        let verifier = Verifier::with_key_set(keys);
        for (algorithm, pem, kid) in [
            (Algorithm::RS256, RSA_PRIVATE, "rsa"),
            (Algorithm::ES256, EC256_PRIVATE, "ec256"),
            (Algorithm::ES384, EC384_PRIVATE, "ec384"),
            (Algorithm::EdDSA, ED25519_PRIVATE, "ed"),
        ] {
            for version in [ProtocolVersion::V0, ProtocolVersion::V1] {
                // With its kid, without one, and with another key's.
                let with_kid = token(signer(algorithm, pem).with_key_id(kid), version);
                assert_eq!(verifier.verify(&with_kid).unwrap().dialect(), version);
                let without = token(signer(algorithm, pem), version);
                assert!(verifier.verify(&without).is_ok(), "{algorithm:?}");
                let unknown = token(signer(algorithm, pem).with_key_id("nope"), version);
                assert_eq!(verifier.verify(&unknown), Err(TokenError::UnknownKeyId));
                let wrong = token(signer(algorithm, pem).with_key_id("ed"), version);
                let expected = if algorithm == Algorithm::EdDSA {
                    Ok(())
                } else {
                    Err(TokenError::UnacceptedAlgorithm { algorithm })
                };
                assert_eq!(verifier.verify(&wrong).map(|_| ()), expected);
            }
        }
    }

    #[test]
    fn an_rsa_jwk_without_alg_verifies_every_rsa_algorithm() {
        let keys = set(
            vec![jwk(Algorithm::RS256, RSA_PRIVATE, "rsa", false)],
            JwksOptions::new(),
        );
        assert_eq!(keys.len(), RSA_ALGORITHMS.len());
        let verifier = Verifier::with_key_set(keys);
        for algorithm in RSA_ALGORITHMS {
            let token = token(
                signer(algorithm, RSA_PRIVATE).with_key_id("rsa"),
                ProtocolVersion::V0,
            );
            assert!(verifier.verify(&token).is_ok(), "{algorithm:?}");
        }
        // An RSA key never verifies an EC token.
        let es256 = token(signer(Algorithm::ES256, EC256_PRIVATE), ProtocolVersion::V0);
        assert!(matches!(
            verifier.verify(&es256),
            Err(TokenError::UnacceptedAlgorithm { .. })
        ));
    }

    #[test]
    fn keys_not_meant_for_verifying_signatures_are_skipped_with_a_reason() {
        let ec = jwk(Algorithm::ES256, EC256_PRIVATE, "good", true);
        let with = |changes: Value| {
            let mut key = ec.clone();
            for (name, value) in changes.as_object().unwrap() {
                key[name] = value.clone();
            }
            key
        };
        let mut short_rsa = jwk(Algorithm::RS256, RSA_PRIVATE, "short", true);
        short_rsa["n"] = json!(URL_SAFE_NO_PAD.encode([0xff_u8; 128]));
        let mut no_alg = ec.clone();
        no_alg.as_object_mut().unwrap().remove("alg");
        no_alg["kid"] = json!("no-alg");
        let skipped = [
            with(json!({"kid": "enc", "use": "enc"})),
            with(json!({"kid": "sign-only", "key_ops": ["sign"]})),
            with(json!({"kid": "private", "d": "c2VjcmV0"})),
            with(json!({"kid": "p521", "crv": "P-521"})),
            with(json!({"kid": "ed-on-ec", "crv": "Ed25519"})),
            with(json!({"kid": "mismatch", "alg": "ES384"})),
            with(json!({"kid": "rsa-alg", "alg": "RS256"})),
            with(json!({"kid": "encryption-alg", "alg": "RSA-OAEP"})),
            with(json!({"kid": "odd-alg", "alg": "XY999"})),
            with(json!({"kid": "short-x", "x": "AAAA"})),
            with(json!({"kid": "not-base64", "x": "!!!"})),
            with(json!({"kid": "x".repeat(MAX_KEY_ID_LEN + 1)})),
            json!({"kty": "OKP", "crv": "X25519", "kid": "x25519", "x": URL_SAFE_NO_PAD.encode([1_u8; 32])}),
            json!({"kty": "oct", "kid": "secret", "k": "c2VjcmV0"}),
            json!({"kty": "XYZ", "kid": "unknown-type"}),
            json!("not an object"),
            short_rsa,
        ];
        let mut keys: Vec<Value> = skipped.to_vec();
        keys.push(ec.clone());
        keys.push(no_alg);
        let set = set(keys, JwksOptions::new());
        let ids: Vec<_> = set.keys().iter().map(VerificationKey::key_id).collect();
        assert_eq!(ids, [Some("good"), Some("no-alg")]);
        assert_eq!(set.skipped().len(), skipped.len());
        for skipped in set.skipped() {
            assert!(!skipped.reason.is_empty());
            assert!(!skipped.reason.contains("c2VjcmV0"), "{}", skipped.reason);
            assert!(skipped.key_id.as_ref().is_none_or(|kid| kid.len() <= 64));
        }
        assert_eq!(set.skipped()[0].key_id.as_deref(), Some("enc"));
        assert!(set.skipped()[2].reason.contains("private"));
    }

    #[test]
    fn hmac_jwks_only_when_allowed() {
        let secret = URL_SAFE_NO_PAD.encode(b"!ChangeThisMercureHubJWTSecretKey!");
        let keys = vec![json!({"kty": "oct", "kid": "h", "alg": "HS256", "k": secret})];
        assert!(set(keys.clone(), JwksOptions::new()).is_empty());
        let allowed = set(keys, JwksOptions::new().allow_hmac(true));
        assert_eq!(allowed.len(), 1);
        let token = token(
            SigningKey::hs256(b"!ChangeThisMercureHubJWTSecretKey!")
                .unwrap()
                .with_key_id("h"),
            ProtocolVersion::V0,
        );
        assert!(Verifier::with_key_set(allowed).verify(&token).is_ok());
        let empty = vec![json!({"kty": "oct", "kid": "h", "k": ""})];
        assert!(set(empty, JwksOptions::new().allow_hmac(true)).is_empty());
        let short = URL_SAFE_NO_PAD.encode([7u8; MIN_HMAC_KEY_BYTES - 1]);
        let short = vec![json!({"kty": "oct", "kid": "h", "k": short})];
        assert!(set(short, JwksOptions::new().allow_hmac(true)).is_empty());
    }

    #[test]
    fn documents_that_are_not_jwk_sets_are_refused() {
        let many: Vec<Value> = (0..=MAX_JWKS_KEYS)
            .map(|i| json!({"kty": "XYZ", "kid": i.to_string()}))
            .collect();
        for document in [
            b"".to_vec(),
            b"garbage".to_vec(),
            b"{}".to_vec(),
            b"[]".to_vec(),
            br#"{"keys": {}}"#.to_vec(),
            br#"{"keys": [1, 2"#.to_vec(),
            json!({ "keys": many }).to_string().into_bytes(),
        ] {
            assert!(
                matches!(
                    KeySet::from_jwks(&document, JwksOptions::new()),
                    Err(TokenError::InvalidKeySet { .. })
                ),
                "{}",
                String::from_utf8_lossy(&document)
            );
        }
        // Empty is a set, with no key.
        assert!(
            KeySet::from_jwks(br#"{"keys": []}"#, JwksOptions::new())
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn the_keys_tried_follow_the_kid_and_are_bounded() {
        let key = |secret: &str, kid: Option<&str>| {
            let key = VerificationKey::hs256(secret).unwrap();
            match kid {
                Some(kid) => key.with_key_id(kid),
                None => key,
            }
        };
        let named: Vec<VerificationKey> = (0..10)
            .map(|i| key(&format!("secret {i}"), Some(&format!("k{i}"))))
            .collect();
        let anonymous = key("anonymous", None);
        let mut all = named.clone();
        all.push(anonymous);
        let set = KeySet::new(all);
        let ids = |kid: Option<&str>| -> Vec<Option<String>> {
            set.candidates(Algorithm::HS256, kid)
                .iter()
                .map(|key| key.key_id().map(str::to_owned))
                .collect()
        };
        // Its own kid first, then the keys without an id.
        assert_eq!(ids(Some("k7")), [Some("k7".to_owned()), None]);
        assert_eq!(ids(Some("zz")), [None]);
        // Without kid: the keys without an id first, MAX_KEYS_TRIED in all.
        assert_eq!(
            ids(None),
            [
                None,
                Some("k0".into()),
                Some("k1".into()),
                Some("k2".into())
            ]
        );
        assert!(set.candidates(Algorithm::HS384, Some("k1")).is_empty());

        let verifier = Verifier::with_key_set(set.clone());
        let mint = |secret: &str, kid: Option<&str>| {
            let key = SigningKey::hs256(secret).unwrap();
            token(
                match kid {
                    Some(kid) => key.with_key_id(kid),
                    None => key,
                },
                ProtocolVersion::V0,
            )
        };
        assert!(verifier.verify(&mint("secret 9", Some("k9"))).is_ok());
        assert!(verifier.verify(&mint("anonymous", Some("k9"))).is_ok());
        assert!(verifier.verify(&mint("anonymous", Some("zz"))).is_ok());
        assert!(verifier.verify(&mint("secret 2", None)).is_ok());
        // The tenth named key is past the bound for a token without kid.
        assert_eq!(
            verifier.verify(&mint("secret 9", None)),
            Err(TokenError::InvalidSignature)
        );
        // A kid naming another key does not reach the right one.
        assert_eq!(
            verifier.verify(&mint("secret 9", Some("k8"))),
            Err(TokenError::InvalidSignature)
        );
        assert_eq!(
            Verifier::new(named).verify(&mint("secret 1", Some("zz"))),
            Err(TokenError::UnknownKeyId)
        );
    }

    #[test]
    fn several_sets_share_one_bound_and_report_the_verifying_set() {
        let a = KeySet::new([VerificationKey::hs256("a").unwrap().with_key_id("a")]);
        let b = KeySet::new([VerificationKey::hs256("b").unwrap().with_key_id("b")]);
        let token = token(
            SigningKey::hs256("b").unwrap().with_key_id("b"),
            ProtocolVersion::V0,
        );
        let unverified = crate::token::UnverifiedToken::parse(&token).unwrap();
        assert_eq!(unverified.verify(&[&a, &b]).unwrap().0, 1);
        assert_eq!(unverified.verify(&[&b, &a]).unwrap().0, 0);
        assert_eq!(
            unverified.verify(&[&a]).unwrap_err(),
            TokenError::UnknownKeyId
        );
        assert!(a.same_ids(&a.clone()) && !a.same_ids(&b));
    }

    #[test]
    fn bit_lengths() {
        assert_eq!(significant_bits(&[]), 0);
        assert_eq!(significant_bits(&[0, 0]), 0);
        assert_eq!(significant_bits(&[0, 1]), 1);
        assert_eq!(significant_bits(&[0x80, 0]), 16);
        assert_eq!(significant_bits(&[0, 0x01, 0, 0, 1]), 25);
    }
}
