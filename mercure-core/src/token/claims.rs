//! Reading the claims of a verified token, in both dialects: the
//! counterpart of the encoding in `grants.rs` and `factory.rs`, so that one
//! definition of the Mercure claims serves minting and verifying.

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

use super::grants::Grants;
use super::{AUTHORIZATION_DETAIL_TYPE, TokenError};
use crate::{ProtocolVersion, TopicSelector};

/// The latest time a claim may name, 9999-12-31T23:59:59Z in seconds since
/// the Unix epoch. A later `exp`, `nbf` or `iat` (`1e19`, `2^63`, ...) is
/// read as this one, so that every time [`Claims`] reports converts into a
/// [`SystemTime`](std::time::SystemTime) or a deadline without overflow.
pub const LATEST_CLAIM_TIME: u64 = 253_402_300_799;

/// The shorter authorization detail type of the latest drafts. Not a
/// collision-resistant name (RFC 9396 keeps no registry of types: another
/// application's details may be typed `mercure`), so its details are read
/// apart from those of [`AUTHORIZATION_DETAIL_TYPE`]: see
/// [`Claims::without_short_detail_type`].
const SHORT_DETAIL_TYPE: &str = "mercure";

/// The longest claim value quoted back in an error.
const MAX_QUOTED: usize = 64;

/// The claims of a token, read in its dialect: what it grants, who issued
/// it, for whom and until when.
///
/// A 1.0 token is recognized by its `authorization_details` claim (only
/// the details of a Mercure type count: [`AUTHORIZATION_DETAIL_TYPE`], and
/// the short `mercure` of the latest drafts unless the reader leaves it out
/// with [`Claims::without_short_detail_type`]), any other token is read as
/// a 0.x one (a missing `mercure` claim grants nothing). The values are
/// those of the token: whether the issuer, the audience, the dialect and
/// the detail types suit the reader is the reader's policy.
///
/// Obtain claims from [`Verifier::verify`](super::Verifier::verify), which
/// checks the signature first, or decode a payload whose signature was
/// checked elsewhere with [`Claims::decode`].
///
/// ```
/// use mercure_core::token::{Claims, Grants};
/// use mercure_core::{ProtocolVersion, TopicSelector};
///
/// let claims = Claims::decode(br#"{
///     "sub": "user-42", "exp": 1e19,
///     "mercure": {"subscribe": ["https://example.com/users/42/{+rest}"], "payload": {"id": 42}}
/// }"#).unwrap();
/// assert_eq!(claims.dialect(), ProtocolVersion::V0);
/// assert_eq!(
///     claims.grants(),
///     &Grants::new()
///         .subscribe([TopicSelector::pattern("https://example.com/users/42/{+rest}")])
///         .with_payload(serde_json::json!({"id": 42}))
///         .with_subject("user-42")
/// );
/// // Far-future times saturate instead of overflowing.
/// assert_eq!(claims.expires_at(), Some(mercure_core::token::LATEST_CLAIM_TIME));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Claims {
    dialect: ProtocolVersion,
    grants: Grants,
    /// The Mercure authorization details of a 1.0 token, in token order;
    /// for a 0.x token, one detail of `*` subscribing with its payload.
    details: Vec<Detail>,
    issuer: Option<String>,
    audience: Vec<String>,
    issued_at: Option<u64>,
    expires_at: Option<u64>,
    not_before: Option<u64>,
    token_type: Option<String>,
}

impl Claims {
    /// Reads the JSON claims set of a token (its decoded payload). The
    /// signature must have been checked already: prefer
    /// [`Verifier::verify`](super::Verifier::verify). The `typ` header is
    /// not part of the payload, so [`Claims::token_type`] is `None`.
    ///
    /// # Errors
    /// [`TokenError::InvalidClaims`] when the payload is not a JSON object,
    /// a registered or Mercure claim has the wrong shape, or a 1.0 topic
    /// has an unknown `match_type`.
    pub fn decode(payload: &[u8]) -> Result<Self, TokenError> {
        let raw: RawClaims = serde_json::from_slice(payload).map_err(|e| invalid(e.to_string()))?;
        let (dialect, grants, details) = match (raw.authorization_details, raw.mercure) {
            (Some(details), _) => {
                let details = read_details(details)?;
                let grants = grants_of(&details, raw.sub);
                (ProtocolVersion::V1, grants, details)
            }
            (None, legacy) => {
                let mut grants = Grants::new();
                grants.subject = raw.sub;
                let mut details = Vec::new();
                if let Some(legacy) = legacy {
                    grants.publish = legacy.publish.into_iter().map(legacy_selector).collect();
                    grants.subscribe = legacy.subscribe.into_iter().map(legacy_selector).collect();
                    // The payload of a 0.x token describes every subscription.
                    details.push(Detail {
                        short_type: false,
                        publish: false,
                        subscribe: true,
                        topics: vec![TopicSelector::all()],
                        payload: legacy.payload.clone(),
                    });
                    grants.payload = legacy.payload;
                }
                (ProtocolVersion::V0, grants, details)
            }
        };
        Ok(Self {
            dialect,
            grants,
            details,
            issuer: raw.iss,
            audience: match raw.aud {
                None => Vec::new(),
                Some(RawAudience::One(one)) => vec![one],
                Some(RawAudience::Many(many)) => many,
            },
            issued_at: raw.iat,
            expires_at: raw.exp,
            not_before: raw.nbf,
            token_type: None,
        })
    }

    /// These claims with the authorization details typed `mercure` (the
    /// short type of the latest drafts) left out, as details of another
    /// application: for readers that take only the collision-resistant
    /// [`AUTHORIZATION_DETAIL_TYPE`] as Mercure's. 0.x claims are returned
    /// as they are.
    ///
    /// ```
    /// use mercure_core::token::Claims;
    ///
    /// let claims = Claims::decode(br#"{"authorization_details": [
    ///     {"type": "mercure", "actions": ["subscribe"], "topics": [{"match": "*"}]},
    ///     {"type": "https://mercure.rocks/authorization-detail", "actions": ["publish"],
    ///      "topics": [{"match": "https://example.com/a"}]}
    /// ]}"#).unwrap();
    /// assert!(claims.has_short_detail_type());
    /// assert_eq!(claims.grants().subscribe_selectors().len(), 1);
    /// let strict = claims.without_short_detail_type();
    /// assert!(!strict.has_short_detail_type());
    /// assert!(strict.grants().subscribe_selectors().is_empty());
    /// assert_eq!(strict.grants().publish_selectors().len(), 1);
    /// ```
    #[must_use]
    pub fn without_short_detail_type(mut self) -> Self {
        if self.dialect == ProtocolVersion::V1 && self.has_short_detail_type() {
            self.details.retain(|detail| !detail.short_type);
            let subject = self.grants.subject.take();
            self.grants = grants_of(&self.details, subject);
        }
        self
    }

    /// Whether one of the authorization details is typed with the short
    /// `mercure` of the latest drafts rather than
    /// [`AUTHORIZATION_DETAIL_TYPE`].
    pub fn has_short_detail_type(&self) -> bool {
        self.details.iter().any(|detail| detail.short_type)
    }

    /// The `subscribe` grants one by one, in token order: each detail's
    /// topics and payload. The payload describing a subscription is that of
    /// the first of them whose topics match the subscription's own selector
    /// (read as a topic); a detail of `*` matches every subscription. A 0.x
    /// token yields one item of `*` with its payload, when it has a
    /// `mercure` claim.
    ///
    /// ```
    /// use mercure_core::token::Claims;
    ///
    /// let claims = Claims::decode(br#"{"authorization_details": [
    ///     {"type": "https://mercure.rocks/authorization-detail", "actions": ["subscribe"],
    ///      "topics": [{"match": "https://example.com/a"}], "payload": {"n": 1}},
    ///     {"type": "https://mercure.rocks/authorization-detail", "actions": ["subscribe"],
    ///      "topics": [{"match": "*"}], "payload": {"n": 2}}
    /// ]}"#).unwrap();
    /// let details: Vec<_> = claims.subscribe_details().collect();
    /// assert_eq!(details.len(), 2);
    /// assert_eq!(details[0].0[0].expression(), "https://example.com/a");
    /// assert_eq!(details[0].1, Some(&serde_json::json!({"n": 1})));
    /// // The summary of the grants keeps the first payload.
    /// assert_eq!(claims.grants().payload(), Some(&serde_json::json!({"n": 1})));
    /// ```
    pub fn subscribe_details(
        &self,
    ) -> impl Iterator<Item = (&[TopicSelector], Option<&serde_json::Value>)> {
        self.details
            .iter()
            .filter(|detail| detail.subscribe)
            .map(|detail| (detail.topics.as_slice(), detail.payload.as_ref()))
    }

    pub(super) fn with_token_type(mut self, token_type: Option<String>) -> Self {
        self.token_type = token_type;
        self
    }

    /// The dialect of the claims: 1.0 when they hold
    /// `authorization_details`, 0.x otherwise.
    pub fn dialect(&self) -> ProtocolVersion {
        self.dialect
    }

    /// What the token grants, including its `sub` claim.
    ///
    /// 0.x selectors are bare strings: one holding a URI template
    /// expression (`{` or `}`) reads as a pattern, any other as exact. The
    /// payload of 1.0 grants is that of the first `subscribe` detail
    /// carrying one (see [`Claims::subscribe_details`] for each detail's).
    pub fn grants(&self) -> &Grants {
        &self.grants
    }

    /// What the token grants, by value.
    pub fn into_grants(self) -> Grants {
        self.grants
    }

    /// The `sub` claim.
    pub fn subject(&self) -> Option<&str> {
        self.grants.subject()
    }

    /// The `iss` claim.
    pub fn issuer(&self) -> Option<&str> {
        self.issuer.as_deref()
    }

    /// The `aud` claim, a string or an array of strings; empty when absent.
    pub fn audience(&self) -> &[String] {
        &self.audience
    }

    /// Whether the `aud` claim names `audience`.
    pub fn has_audience(&self, audience: &str) -> bool {
        self.audience.iter().any(|a| a == audience)
    }

    /// The `iat` claim, in seconds since the Unix epoch (negative times
    /// read as 0, fractions are dropped, and later times than
    /// [`LATEST_CLAIM_TIME`] read as it).
    pub fn issued_at(&self) -> Option<u64> {
        self.issued_at
    }

    /// The `exp` claim, read as [`Claims::issued_at`] is.
    pub fn expires_at(&self) -> Option<u64> {
        self.expires_at
    }

    /// The `nbf` claim, read as [`Claims::issued_at`] is.
    pub fn not_before(&self) -> Option<u64> {
        self.not_before
    }

    /// The `typ` header of the token, when read by a
    /// [`Verifier`](super::Verifier).
    pub fn token_type(&self) -> Option<&str> {
        self.token_type.as_deref()
    }

    /// Whether the `typ` header marks an RFC 9068 access token (`at+jwt` or
    /// `application/at+jwt`, in any case), as Mercure 1.0 tokens must be.
    pub fn has_access_token_type(&self) -> bool {
        self.token_type.as_deref().is_some_and(|typ| {
            typ.eq_ignore_ascii_case("at+jwt") || typ.eq_ignore_ascii_case("application/at+jwt")
        })
    }

    /// Checks `exp` and `nbf` against `now` (seconds since the Unix epoch):
    /// a token is valid from `nbf` included to `exp` excluded.
    ///
    /// # Errors
    /// [`TokenError::Expired`] or [`TokenError::NotYetValid`].
    pub fn check_time(&self, now: u64) -> Result<(), TokenError> {
        if self.expires_at.is_some_and(|exp| now >= exp) {
            return Err(TokenError::Expired);
        }
        if self.not_before.is_some_and(|nbf| now < nbf) {
            return Err(TokenError::NotYetValid);
        }
        Ok(())
    }
}

fn invalid(reason: String) -> TokenError {
    TokenError::InvalidClaims { reason }
}

/// A 0.x selector: a URI template when it holds an expression.
fn legacy_selector(expression: String) -> TopicSelector {
    if expression.contains(['{', '}']) {
        TopicSelector::pattern(expression)
    } else {
        TopicSelector::exact(expression)
    }
}

/// One Mercure authorization detail of a 1.0 token, as read.
#[derive(Debug, Clone, PartialEq)]
struct Detail {
    /// Typed `mercure` rather than [`AUTHORIZATION_DETAIL_TYPE`].
    short_type: bool,
    publish: bool,
    subscribe: bool,
    topics: Vec<TopicSelector>,
    payload: Option<serde_json::Value>,
}

/// The Mercure authorization details of `details`, in order; the details
/// of other types are someone else's. A Mercure detail that does not parse
/// refuses the whole token.
fn read_details(details: Vec<RawDetail>) -> Result<Vec<Detail>, TokenError> {
    let mut read = Vec::with_capacity(details.len());
    for detail in details {
        let short_type = detail.kind == SHORT_DETAIL_TYPE;
        if detail.kind != AUTHORIZATION_DETAIL_TYPE && !short_type {
            continue;
        }
        let topics = detail
            .topics
            .into_iter()
            .map(RawTopic::into_selector)
            .collect::<Result<Vec<_>, _>>()?;
        read.push(Detail {
            short_type,
            publish: detail.actions.iter().any(|a| a == "publish"),
            subscribe: detail.actions.iter().any(|a| a == "subscribe"),
            topics,
            payload: detail.payload,
        });
    }
    Ok(read)
}

/// The grants `details` add up to; the payload is the first `subscribe`
/// detail's that carries one.
fn grants_of(details: &[Detail], subject: Option<String>) -> Grants {
    let mut grants = Grants::new();
    grants.subject = subject;
    for detail in details {
        if detail.publish {
            grants.publish.extend(detail.topics.iter().cloned());
        }
        if detail.subscribe {
            grants.subscribe.extend(detail.topics.iter().cloned());
            if grants.payload.is_none() {
                grants.payload.clone_from(&detail.payload);
            }
        }
    }
    grants
}

#[derive(Deserialize)]
struct RawClaims {
    iss: Option<String>,
    aud: Option<RawAudience>,
    sub: Option<String>,
    #[serde(default, deserialize_with = "numeric_date")]
    iat: Option<u64>,
    #[serde(default, deserialize_with = "numeric_date")]
    exp: Option<u64>,
    #[serde(default, deserialize_with = "numeric_date")]
    nbf: Option<u64>,
    mercure: Option<RawLegacy>,
    authorization_details: Option<Vec<RawDetail>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawAudience {
    One(String),
    Many(Vec<String>),
}

/// The `mercure` claim of 0.x.
#[derive(Deserialize)]
struct RawLegacy {
    #[serde(default)]
    publish: Vec<String>,
    #[serde(default)]
    subscribe: Vec<String>,
    payload: Option<serde_json::Value>,
}

/// One of the 1.0 `authorization_details`.
#[derive(Deserialize)]
struct RawDetail {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    actions: Vec<String>,
    #[serde(default)]
    topics: Vec<RawTopic>,
    payload: Option<serde_json::Value>,
}

/// A 1.0 topic matcher.
#[derive(Deserialize)]
struct RawTopic {
    #[serde(rename = "match")]
    expression: String,
    #[serde(alias = "matchType")]
    match_type: Option<String>,
}

impl RawTopic {
    fn into_selector(self) -> Result<TopicSelector, TokenError> {
        match self.match_type.as_deref() {
            None | Some("exact" | "Exact") => Ok(TopicSelector::exact(self.expression)),
            Some("urlpattern" | "URLPattern") => Ok(TopicSelector::pattern(self.expression)),
            Some(other) => Err(invalid(format!(
                "unknown match_type {:?} in authorization_details",
                other.chars().take(MAX_QUOTED).collect::<String>()
            ))),
        }
    }
}

/// Reads a JWT `NumericDate` (any JSON number, or `null`) as whole seconds
/// in `0..=LATEST_CLAIM_TIME`, without overflow or precision loss on
/// integers.
fn numeric_date<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    struct NumericDate;

    impl<'de> Visitor<'de> for NumericDate {
        type Value = Option<u64>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a NumericDate (seconds since the Unix epoch)")
        }

        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(self)
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v.min(LATEST_CLAIM_TIME)))
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(u64::try_from(v).unwrap_or(0).min(LATEST_CLAIM_TIME)))
        }

        fn visit_u128<E: de::Error>(self, v: u128) -> Result<Self::Value, E> {
            Ok(Some(
                u64::try_from(v).unwrap_or(u64::MAX).min(LATEST_CLAIM_TIME),
            ))
        }

        fn visit_i128<E: de::Error>(self, v: i128) -> Result<Self::Value, E> {
            Ok(Some(if v <= 0 {
                0
            } else {
                u64::try_from(v).unwrap_or(u64::MAX).min(LATEST_CLAIM_TIME)
            }))
        }

        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            // LATEST_CLAIM_TIME is exact in an f64, and the comparisons
            // leave the cast only values it represents (dropping fractions).
            let latest = LATEST_CLAIM_TIME as f64;
            Ok(Some(if v.is_nan() || v <= 0.0 {
                0
            } else if v >= latest {
                LATEST_CLAIM_TIME
            } else {
                v as u64
            }))
        }
    }

    deserializer.deserialize_option(NumericDate)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn decode(claims: serde_json::Value) -> Result<Claims, TokenError> {
        Claims::decode(claims.to_string().as_bytes())
    }

    #[test]
    fn grants_encoded_in_either_dialect_decode_back() {
        let grants = Grants::new()
            .publish(["https://example.com/books/1", "*"])
            .publish([TopicSelector::pattern("https://example.com/books/{id}")])
            .subscribe([TopicSelector::pattern(
                "https://example.com/users/42/{+rest}",
            )])
            .subscribe(["https://example.com/users/42"])
            .with_payload(json!({"user": 42, "roles": ["admin"]}))
            .with_subject("user-42");
        for (version, name) in [
            (ProtocolVersion::V0, "mercure"),
            (ProtocolVersion::V1, "authorization_details"),
        ] {
            let claims = decode(json!({
                "sub": "user-42",
                (name): grants.to_claim(version),
            }))
            .unwrap();
            assert_eq!(claims.dialect(), version);
            assert_eq!(claims.grants(), &grants, "{version}");
        }
    }

    #[test]
    fn no_mercure_claim_grants_nothing() {
        for claims in [json!({}), json!({"mercure": null}), json!({"mercure": {}})] {
            let claims = decode(claims).unwrap();
            assert_eq!(claims.dialect(), ProtocolVersion::V0);
            assert_eq!(claims.grants(), &Grants::new());
        }
        let claims = decode(json!({"authorization_details": []})).unwrap();
        assert_eq!(claims.dialect(), ProtocolVersion::V1);
        assert_eq!(claims.grants(), &Grants::new());
    }

    #[test]
    fn only_mercure_details_count_and_every_spelling_is_read() {
        let claims = decode(json!({"authorization_details": [
            {"type": "payment_initiation", "actions": ["publish"], "topics": [{"match": "x"}]},
            {"type": "mercure", "actions": ["subscribe"],
             "topics": [{"match": "https://example.com/:id", "matchType": "URLPattern"}]},
            {"type": AUTHORIZATION_DETAIL_TYPE, "actions": ["publish", "subscribe", "dance"],
             "topics": [{"match": "a", "match_type": "exact"}], "payload": 1},
            {"type": AUTHORIZATION_DETAIL_TYPE, "actions": ["publish"],
             "topics": [{"match": "b"}], "payload": 2},
        ]}))
        .unwrap();
        assert_eq!(
            claims.grants(),
            &Grants::new()
                .subscribe([TopicSelector::pattern("https://example.com/:id")])
                .publish(["a", "b"])
                .subscribe(["a"])
                .with_payload(json!(1))
        );
        let unknown = decode(json!({"authorization_details": [
            {"type": "mercure", "actions": ["subscribe"], "topics": [{"match": "a", "match_type": "regex"}]},
        ]}))
        .unwrap_err();
        assert!(unknown.to_string().contains("regex"), "{unknown}");
    }

    #[test]
    fn the_short_detail_type_can_be_left_out() {
        let claims = decode(json!({"sub": "s", "authorization_details": [
            {"type": "mercure", "actions": ["publish", "subscribe"],
             "topics": [{"match": "*"}], "payload": {"short": true}},
            {"type": AUTHORIZATION_DETAIL_TYPE, "actions": ["subscribe"],
             "topics": [{"match": "https://example.com/a"}], "payload": {"full": true}},
        ]}))
        .unwrap();
        assert!(claims.has_short_detail_type());
        assert_eq!(claims.grants().publish_selectors(), [TopicSelector::all()]);
        assert_eq!(claims.grants().payload(), Some(&json!({"short": true})));
        let strict = claims.without_short_detail_type();
        assert!(!strict.has_short_detail_type());
        assert_eq!(
            strict.grants(),
            &Grants::new()
                .subscribe(["https://example.com/a"])
                .with_payload(json!({"full": true}))
                .with_subject("s")
        );
        assert_eq!(strict.subscribe_details().count(), 1);
        // 0.x claims have no detail types.
        let legacy = decode(json!({"mercure": {"subscribe": ["a"], "payload": 1}})).unwrap();
        assert_eq!(legacy.clone().without_short_detail_type(), legacy);
    }

    #[test]
    fn subscribe_details_keep_their_order_and_payloads() {
        let claims = decode(json!({"authorization_details": [
            {"type": AUTHORIZATION_DETAIL_TYPE, "actions": ["publish"],
             "topics": [{"match": "p"}], "payload": "ignored"},
            {"type": AUTHORIZATION_DETAIL_TYPE, "actions": ["subscribe"],
             "topics": [{"match": "https://example.com/:id", "match_type": "urlpattern"}]},
            {"type": AUTHORIZATION_DETAIL_TYPE, "actions": ["subscribe"],
             "topics": [{"match": "https://example.com/a"}], "payload": {"n": 1}},
            {"type": AUTHORIZATION_DETAIL_TYPE, "actions": ["subscribe"],
             "topics": [{"match": "*"}], "payload": {"n": 2}},
        ]}))
        .unwrap();
        let details: Vec<_> = claims.subscribe_details().collect();
        assert_eq!(
            details,
            [
                (
                    &[TopicSelector::pattern("https://example.com/:id")][..],
                    None
                ),
                (
                    &[TopicSelector::exact("https://example.com/a")][..],
                    Some(&json!({"n": 1}))
                ),
                (&[TopicSelector::all()][..], Some(&json!({"n": 2}))),
            ]
        );
        // The summary keeps the first payload, not the last.
        assert_eq!(claims.grants().payload(), Some(&json!({"n": 1})));
        let legacy = decode(json!({"mercure": {"subscribe": ["a"], "payload": 1}})).unwrap();
        let details: Vec<_> = legacy.subscribe_details().collect();
        assert_eq!(details, [(&[TopicSelector::all()][..], Some(&json!(1)))]);
        assert_eq!(decode(json!({})).unwrap().subscribe_details().count(), 0);
    }

    #[test]
    fn registered_claims_are_read() {
        let claims = decode(json!({
            "iss": "https://app.example.com", "aud": ["a", "b"], "iat": 10, "exp": 20.9, "nbf": 5,
        }))
        .unwrap();
        assert_eq!(claims.issuer(), Some("https://app.example.com"));
        assert_eq!(claims.audience(), ["a", "b"]);
        assert!(claims.has_audience("b") && !claims.has_audience("c"));
        assert_eq!(
            (claims.issued_at(), claims.expires_at(), claims.not_before()),
            (Some(10), Some(20), Some(5))
        );
        assert_eq!(claims.check_time(4), Err(TokenError::NotYetValid));
        assert_eq!(claims.check_time(5), Ok(()));
        assert_eq!(claims.check_time(19), Ok(()));
        assert_eq!(claims.check_time(20), Err(TokenError::Expired));
        let one = decode(json!({"aud": "a"})).unwrap();
        assert_eq!(one.audience(), ["a"]);
        assert_eq!(decode(json!({})).unwrap().check_time(u64::MAX), Ok(()));
        assert!(!one.has_access_token_type());
        let typed = one.with_token_type(Some("Application/AT+JWT".into()));
        assert!(typed.has_access_token_type());
    }

    #[test]
    fn times_never_overflow() {
        let huge = [
            "1e19",
            "9223372036854775808",
            "18446744073709551615",
            "18446744073709551616",
            "340282366920938463463374607431768211456",
            "1.7976931348623157e308",
        ];
        for number in huge {
            let payload = format!(r#"{{"exp": {number}, "nbf": {number}, "iat": {number}}}"#);
            let claims = Claims::decode(payload.as_bytes()).unwrap();
            for time in [claims.expires_at(), claims.not_before(), claims.issued_at()] {
                let time = time.unwrap();
                assert_eq!(time, LATEST_CLAIM_TIME, "{number}");
                let _ = std::time::UNIX_EPOCH + std::time::Duration::from_secs(time);
            }
            assert_eq!(claims.check_time(u64::MAX), Err(TokenError::Expired));
            assert_eq!(claims.check_time(0), Err(TokenError::NotYetValid));
        }
        for number in ["-1", "-1e19", "-9223372036854775809", "0", "0.5", "-0.0"] {
            let payload = format!(r#"{{"exp": {number}}}"#);
            let claims = Claims::decode(payload.as_bytes()).unwrap();
            assert_eq!(claims.expires_at(), Some(0), "{number}");
            assert_eq!(claims.check_time(0), Err(TokenError::Expired));
        }
        let null = decode(json!({"exp": null})).unwrap();
        assert_eq!(null.expires_at(), None);
        assert!(decode(json!({"exp": "tomorrow"})).is_err());
        assert!(Claims::decode(br#"{"exp": 1e400}"#).is_err());
    }

    #[test]
    fn malformed_claims_are_refused() {
        for claims in [
            json!([]),
            json!({"mercure": {"subscribe": "*"}}),
            json!({"mercure": []}),
            json!({"authorization_details": {}}),
            json!({"authorization_details": [{"actions": ["subscribe"]}]}),
            json!({"authorization_details": [{"type": "mercure", "topics": ["*"]}]}),
            json!({"aud": 42}),
            json!({"iss": ["a"]}),
            json!({"sub": 42}),
        ] {
            assert!(
                matches!(
                    decode(claims.clone()),
                    Err(TokenError::InvalidClaims { .. })
                ),
                "{claims}"
            );
        }
        assert!(Claims::decode(b"not json").is_err());
    }
}
