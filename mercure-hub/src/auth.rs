//! Verifying tokens and reading their Mercure grants, in both dialects.

use std::fmt;
use std::sync::Arc;

use jsonwebtoken::Validation;
use mercure_core::ProtocolVersion;
use mercure_core::clock::Clock;
use mercure_core::token::AUTHORIZATION_DETAIL_TYPE;
use quick_cache::sync::Cache;
use serde::Deserialize;

use crate::matcher::{Matcher, MatcherCache, MatcherKind, TopicSet};
use crate::{DialectSupport, Error, VerificationKey};

/// The rights a verified token carries.
#[derive(Debug)]
pub(crate) struct Authorization {
    /// The dialect of the token's claims.
    pub(crate) dialect: ProtocolVersion,
    /// The `sub` claim.
    pub(crate) subject: Option<String>,
    /// Topics the holder may publish to.
    pub(crate) publish: Vec<Arc<Matcher>>,
    /// Topics whose private updates the holder may receive.
    pub(crate) subscribe: Vec<Arc<Matcher>>,
    /// The subscriber payload.
    pub(crate) payload: Option<serde_json::Value>,
    /// `exp`, in seconds since the Unix epoch.
    pub(crate) expires_at: Option<u64>,
}

impl Authorization {
    /// Whether every topic may be published.
    pub(crate) fn may_publish_all(&self, topics: &TopicSet) -> bool {
        let base = topics.base();
        topics
            .topics()
            .iter()
            .all(|topic| self.publish.iter().any(|m| m.matches(topic, base)))
    }
}

/// Checks signatures with a set of keys and turns claims into
/// [`Authorization`]s, remembering the tokens it verified.
pub(crate) struct Verifier {
    keys: Vec<VerificationKey>,
    support: DialectSupport,
    issuers: Vec<String>,
    audience: Option<String>,
    clock: Arc<dyn Clock>,
    verified: Cache<Box<str>, Arc<Authorization>>,
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("keys", &self.keys)
            .field("support", &self.support)
            .field("issuers", &self.issuers)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct RawClaims {
    iss: Option<String>,
    aud: Option<Audience>,
    sub: Option<String>,
    exp: Option<f64>,
    nbf: Option<f64>,
    mercure: Option<RawLegacy>,
    authorization_details: Option<Vec<RawDetail>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    fn contains(&self, expected: &str) -> bool {
        match self {
            Audience::One(one) => one == expected,
            Audience::Many(many) => many.iter().any(|a| a == expected),
        }
    }
}

#[derive(Deserialize)]
struct RawLegacy {
    #[serde(default)]
    publish: Vec<String>,
    #[serde(default)]
    subscribe: Vec<String>,
    payload: Option<serde_json::Value>,
}

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

#[derive(Deserialize)]
struct RawTopic {
    #[serde(rename = "match")]
    expression: String,
    #[serde(alias = "matchType")]
    match_type: Option<String>,
}

/// How many verified tokens are remembered.
const VERIFIED_CACHE: usize = 4096;

impl Verifier {
    pub(crate) fn new(
        keys: Vec<VerificationKey>,
        support: DialectSupport,
        issuers: Vec<String>,
        audience: Option<String>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            keys,
            support,
            issuers,
            audience,
            clock,
            verified: Cache::new(VERIFIED_CACHE),
        }
    }

    /// Verifies `token` and returns its grants.
    pub(crate) fn verify(
        &self,
        token: &str,
        matchers: &MatcherCache,
    ) -> Result<Arc<Authorization>, Error> {
        let now = self.clock.unix_seconds();
        if let Some(found) = self.verified.get(token) {
            check_expiry(found.expires_at, now)?;
            return Ok(found);
        }
        let authorization = Arc::new(self.verify_uncached(token, matchers, now)?);
        self.verified
            .insert(Box::from(token), Arc::clone(&authorization));
        Ok(authorization)
    }

    fn verify_uncached(
        &self,
        token: &str,
        matchers: &MatcherCache,
        now: u64,
    ) -> Result<Authorization, Error> {
        if self.keys.is_empty() {
            return Err(Error::InvalidToken(
                "the hub has no key for this kind of token".into(),
            ));
        }
        let header = jsonwebtoken::decode_header(token)
            .map_err(|e| Error::InvalidToken(format!("malformed token: {e}")))?;
        let key = self
            .keys
            .iter()
            .find(|k| k.algorithm() == header.alg)
            .ok_or_else(|| {
                Error::InvalidToken(format!("the algorithm {:?} is not accepted", header.alg))
            })?;
        let mut validation = Validation::new(key.algorithm());
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        let data = jsonwebtoken::decode::<RawClaims>(token, key.decoding_key(), &validation)
            .map_err(|e| Error::InvalidToken(e.to_string()))?;
        let claims = data.claims;
        let expires_at = claims.exp.map(seconds);
        check_expiry(expires_at, now)?;
        if let Some(nbf) = claims.nbf
            && now < seconds(nbf)
        {
            return Err(Error::InvalidToken("the token is not valid yet".into()));
        }
        if let Some(details) = claims.authorization_details {
            if !self.support.accepts(ProtocolVersion::V1) {
                return Err(Error::InvalidToken(
                    "this hub does not accept Mercure 1.0 access tokens".into(),
                ));
            }
            let typ = header.typ.as_deref().unwrap_or("").to_ascii_lowercase();
            if typ != "at+jwt" && typ != "application/at+jwt" {
                return Err(Error::InvalidToken(
                    "a Mercure 1.0 access token must have the header typ \"at+jwt\"".into(),
                ));
            }
            if expires_at.is_none() {
                return Err(Error::InvalidToken("the token has no exp claim".into()));
            }
            if let Some(audience) = &self.audience
                && !claims
                    .aud
                    .as_ref()
                    .is_some_and(|aud| aud.contains(audience))
            {
                return Err(Error::InvalidToken(
                    "the token's audience (aud) is not this hub".into(),
                ));
            }
            if !self.issuers.is_empty()
                && !claims
                    .iss
                    .as_ref()
                    .is_some_and(|iss| self.issuers.iter().any(|i| i == iss))
            {
                return Err(Error::InvalidToken(
                    "the token's issuer (iss) is not trusted".into(),
                ));
            }
            let mut authorization = Authorization {
                dialect: ProtocolVersion::V1,
                subject: claims.sub,
                publish: Vec::new(),
                subscribe: Vec::new(),
                payload: None,
                expires_at,
            };
            for detail in details {
                if detail.kind != AUTHORIZATION_DETAIL_TYPE && detail.kind != "mercure" {
                    continue;
                }
                let mut compiled = Vec::with_capacity(detail.topics.len());
                for topic in &detail.topics {
                    let kind = match topic.match_type.as_deref() {
                        None | Some("exact" | "Exact") => MatcherKind::Exact,
                        Some("urlpattern" | "URLPattern") => MatcherKind::UrlPattern,
                        Some(other) => {
                            return Err(Error::InvalidToken(format!(
                                "unknown match_type {other:?} in authorization_details"
                            )));
                        }
                    };
                    compiled.push(
                        matchers
                            .get(kind, &topic.expression)
                            .map_err(|e| Error::InvalidToken(e.to_string()))?,
                    );
                }
                for action in &detail.actions {
                    match action.as_str() {
                        "publish" => authorization.publish.extend(compiled.iter().cloned()),
                        "subscribe" => {
                            authorization.subscribe.extend(compiled.iter().cloned());
                            if detail.payload.is_some() {
                                authorization.payload.clone_from(&detail.payload);
                            }
                        }
                        _ => {}
                    }
                }
            }
            return Ok(authorization);
        }
        let legacy = claims.mercure.unwrap_or(RawLegacy {
            publish: Vec::new(),
            subscribe: Vec::new(),
            payload: None,
        });
        if !self.support.accepts(ProtocolVersion::V0) {
            return Err(Error::InvalidToken(
                "this hub accepts only Mercure 1.0 access tokens (authorization_details)".into(),
            ));
        }
        let compile = |selectors: &[String]| -> Result<Vec<Arc<Matcher>>, Error> {
            selectors
                .iter()
                .map(|s| {
                    matchers
                        .get(MatcherKind::Legacy, s)
                        .map_err(|e| Error::InvalidToken(e.to_string()))
                })
                .collect()
        };
        Ok(Authorization {
            dialect: ProtocolVersion::V0,
            subject: claims.sub,
            publish: compile(&legacy.publish)?,
            subscribe: compile(&legacy.subscribe)?,
            payload: legacy.payload,
            expires_at,
        })
    }
}

fn seconds(value: f64) -> u64 {
    if value.is_finite() && value > 0.0 {
        // Saturating float-to-int conversion.
        value as u64
    } else {
        0
    }
}

fn check_expiry(expires_at: Option<u64>, now: u64) -> Result<(), Error> {
    match expires_at {
        Some(exp) if now >= exp => Err(Error::InvalidToken("the token has expired".into())),
        _ => Ok(()),
    }
}
