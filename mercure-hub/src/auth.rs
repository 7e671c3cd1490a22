//! The hub's token policy: which tokens of which dialect are accepted, and
//! their grants compiled into matchers. `mercure_core::token` verifies
//! signatures and reads the claims of both dialects.
//!
//! The rules at the boundary between the dialects (each can be relaxed in
//! [`HubConfig`](crate::HubConfig)):
//! - a 1.0 access token is held to RFC 9068 and to this hub: `typ` `at+jwt`,
//!   `exp`, the hub's audience, and an `iss` (one of the trusted issuers
//!   and advertised authorization servers, when there are any);
//! - only details typed `https://mercure.rocks/authorization-detail` grant
//!   rights; the short `mercure` type is another application's;
//! - which requests a 0.x token may authorize (not 1.0 subscriptions) and
//!   where a 1.0 token may travel (not in the `authorization` query
//!   parameter) is checked by the HTTP handlers with
//!   [`Authorization::dialect`].

use std::fmt;
use std::sync::Arc;

use mercure_core::clock::Clock;
use mercure_core::token::{Claims, KeySet, TokenError, UnverifiedToken};
use mercure_core::{ProtocolVersion, TopicSelector};
use quick_cache::sync::Cache;
use url::Url;

use crate::matcher::{Matcher, MatcherCache, MatcherKind, TopicSet};
use crate::{DialectSupport, Error, HubConfig, Jwks, VerificationKey};

/// The rights a verified token carries.
#[derive(Debug)]
pub(crate) struct Authorization {
    /// The dialect of the token's claims.
    pub(crate) dialect: ProtocolVersion,
    /// The `sub` claim.
    pub(crate) subject: Option<String>,
    /// What keys the holder's rate limits: the issuer and the subject
    /// together (two issuers' subjects are distinct clients), or nothing
    /// when the subject names the issuing application rather than the
    /// holder (a `sub` equal to `iss`, what 1.0 token factories put there
    /// when they are given no subject, names every user of that
    /// application at once).
    rate_subject: Option<String>,
    /// Topics the holder may publish to.
    pub(crate) publish: Vec<Arc<Matcher>>,
    /// Topics whose private updates the holder may receive.
    pub(crate) subscribe: Vec<Arc<Matcher>>,
    /// The `subscribe` grants in token order, each with its payload: a
    /// subscription shows the payload of the first whose topics match its
    /// own selector.
    payloads: Vec<(Vec<Arc<Matcher>>, Option<serde_json::Value>)>,
    /// `exp`, in seconds since the Unix epoch.
    pub(crate) expires_at: Option<u64>,
}

impl Authorization {
    /// What keys the holder's rate limits (see the field); `None`: the
    /// client's address does.
    pub(crate) fn rate_subject(&self) -> Option<&str> {
        self.rate_subject.as_deref()
    }

    /// Whether every topic may be published.
    pub(crate) fn may_publish_all(&self, topics: &TopicSet, base: &Url) -> bool {
        topics
            .topics()
            .iter()
            .all(|topic| self.publish.iter().any(|m| m.matches(topic, base)))
    }

    /// The payload describing a subscription to `selector`: that of the
    /// first `subscribe` grant whose topics match the selector's expression
    /// read as a topic (`*` matches every selector).
    pub(crate) fn payload_for(
        &self,
        selector: &TopicSelector,
        base: &Url,
    ) -> Option<&serde_json::Value> {
        self.payloads
            .iter()
            .find(|(matchers, _)| {
                matchers
                    .iter()
                    .any(|m| m.matches(selector.expression(), base))
            })
            .and_then(|(_, payload)| payload.as_ref())
    }
}

/// The hub's token policy: which keys verify which tokens (publishers' or
/// subscribers'), which dialects, issuers, audience and detail types are
/// accepted, and the compilation of granted selectors into matchers.
/// Signatures and claims are read by [`mercure_core::token`], with the
/// configured keys, the JWK sets of the role, and the JWK set of the
/// token's claimed issuer. Remembers the tokens it verified, as long as
/// the JWK sets do not change.
pub(crate) struct Verifier {
    /// The keys configured, without a JWK set.
    keys: KeySet,
    /// The JWK sets of the role (publishers' or subscribers').
    jwks: Vec<Jwks>,
    /// The JWK sets of issuers of 1.0 access tokens.
    issuer_jwks: Vec<(String, Jwks)>,
    clock: Arc<dyn Clock>,
    support: DialectSupport,
    /// Trusted issuers and advertised authorization servers.
    issuers: Vec<String>,
    audience: Option<String>,
    allow_missing_issuer: bool,
    accept_short_detail_type: bool,
    /// Verified tokens, with the generation of the JWK sets then.
    verified: Cache<Box<str>, (u64, Arc<Authorization>), TokenWeighter>,
}

/// What a remembered token weighs: its bytes (a token may be up to 64 KiB)
/// and its authorization's, at least [`VERIFIED_CACHE_BYTES`] /
/// [`VERIFIED_CACHE`], so that the cache is bounded in bytes and in
/// entries.
#[derive(Debug, Clone, Copy)]
struct TokenWeighter;

impl quick_cache::Weighter<Box<str>, (u64, Arc<Authorization>)> for TokenWeighter {
    fn weight(&self, token: &Box<str>, (_, authorization): &(u64, Arc<Authorization>)) -> u64 {
        let bytes = std::mem::size_of::<(Box<str>, (u64, Arc<Authorization>))>()
            + std::mem::size_of::<Authorization>()
            + token.len()
            + authorization.subject.as_ref().map_or(0, String::len)
            + authorization.rate_subject.as_ref().map_or(0, String::len)
            + std::mem::size_of::<Arc<Matcher>>()
                * (authorization.publish.len() + 2 * authorization.subscribe.len());
        u64::try_from(bytes)
            .unwrap_or(u64::MAX)
            .max(VERIFIED_CACHE_BYTES / VERIFIED_CACHE as u64)
    }
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("keys", &self.keys)
            .field("jwks", &self.jwks)
            .field("issuer_jwks", &self.issuer_jwks)
            .field("support", &self.support)
            .field("issuers", &self.issuers)
            .field("audience", &self.audience)
            .field("allow_missing_issuer", &self.allow_missing_issuer)
            .field("accept_short_detail_type", &self.accept_short_detail_type)
            .finish_non_exhaustive()
    }
}

/// How many verified tokens are remembered, at most.
const VERIFIED_CACHE: usize = 4096;
/// How many bytes the remembered tokens take, at most (about: see
/// [`TokenWeighter`]).
const VERIFIED_CACHE_BYTES: u64 = 16 << 20;

impl Verifier {
    /// The policy of `config` for tokens verified by `keys` and the JWK
    /// sets `jwks` (and the issuers' sets of `config`).
    pub(crate) fn new(keys: Vec<VerificationKey>, jwks: Vec<Jwks>, config: &HubConfig) -> Self {
        let mut issuers = config.issuers.clone();
        for server in &config.authorization_servers {
            if !issuers.contains(server) {
                issuers.push(server.clone());
            }
        }
        Self {
            keys: KeySet::new(keys),
            jwks,
            issuer_jwks: config.issuer_jwks.clone(),
            clock: Arc::clone(&config.clock),
            support: config.support,
            issuers,
            audience: config.audience.clone(),
            allow_missing_issuer: config.allow_missing_issuer,
            accept_short_detail_type: config.accept_short_detail_type,
            verified: Cache::with_weighter(VERIFIED_CACHE, VERIFIED_CACHE_BYTES, TokenWeighter),
        }
    }

    /// Whether some key or JWK set verifies these tokens.
    pub(crate) fn has_keys(&self) -> bool {
        !self.keys.is_empty() || !self.jwks.is_empty() || !self.issuer_jwks.is_empty()
    }

    /// The generation of every JWK set together: it changes whenever one
    /// of their keys do.
    fn generation(&self) -> u64 {
        self.jwks
            .iter()
            .chain(self.issuer_jwks.iter().map(|(_, jwks)| jwks))
            .fold(0_u64, |sum, jwks| sum.wrapping_add(jwks.generation()))
    }

    /// Verifies `token` and returns its grants.
    pub(crate) async fn verify(
        &self,
        token: &str,
        matchers: &MatcherCache,
    ) -> Result<Arc<Authorization>, Error> {
        let generation = self.generation();
        if let Some((seen, found)) = self.verified.get(token)
            && seen == generation
        {
            check_expiry(found.expires_at, self.clock.unix_seconds())?;
            return Ok(found);
        }
        let authorization = Arc::new(self.verify_uncached(token, matchers).await?);
        self.verified
            .insert(Box::from(token), (generation, Arc::clone(&authorization)));
        Ok(authorization)
    }

    /// Checks the signature of `token` with the keys it may be verified
    /// with: those configured, the role's JWK sets, and the JWK set of the
    /// issuer it claims. When its `kid` is in none of the JWK sets (or one
    /// was never fetched), they are refreshed (within their limits) and
    /// the token tried once more.
    async fn verify_signature(&self, token: &str) -> Result<Claims, Error> {
        if !self.has_keys() {
            return Err(Error::InvalidToken(
                "the hub has no key for this kind of token".into(),
            ));
        }
        let unverified = UnverifiedToken::parse(token).map_err(invalid_token)?;
        let issuer = if self.issuer_jwks.is_empty() {
            None
        } else {
            unverified.unverified_issuer().and_then(|iss| {
                self.issuer_jwks
                    .iter()
                    .find(|(issuer, _)| *issuer == iss)
                    .map(|(issuer, jwks)| (issuer.as_str(), jwks))
            })
        };
        // The issuer's set comes first: index 1 of the sets tried.
        let sources: Vec<&Jwks> = issuer
            .map(|(_, jwks)| jwks)
            .into_iter()
            .chain(&self.jwks)
            .collect();
        for jwks in &sources {
            jwks.refresh_if_stale();
        }
        let mut tried_again = false;
        loop {
            let held: Vec<(KeySet, u64)> = sources.iter().map(|jwks| jwks.current()).collect();
            let mut sets = vec![&self.keys];
            sets.extend(held.iter().map(|(keys, _)| keys));
            match unverified.verify(&sets) {
                Ok((set, claims)) => {
                    if let Some((issuer, _)) = issuer
                        && set == 1
                        && (claims.dialect() != ProtocolVersion::V1
                            || claims.issuer() != Some(issuer))
                    {
                        return Err(Error::InvalidToken(
                            "an issuer's keys verify only its Mercure 1.0 access tokens".into(),
                        ));
                    }
                    return Ok(claims);
                }
                Err(error) => {
                    let unknown_kid = unverified
                        .key_id()
                        .is_some_and(|kid| !held.iter().any(|(keys, _)| keys.contains_key_id(kid)));
                    let never_fetched = held.iter().any(|(keys, _)| keys.is_empty());
                    if tried_again || sources.is_empty() || !(unknown_kid || never_fetched) {
                        return Err(invalid_token(error));
                    }
                    tried_again = true;
                    let refreshed = futures_util::future::join_all(
                        sources
                            .iter()
                            .zip(&held)
                            .map(|(jwks, (_, seen))| jwks.refresh_for_unknown_kid(*seen)),
                    )
                    .await;
                    if !refreshed.contains(&true) {
                        return Err(invalid_token(error));
                    }
                }
            }
        }
    }

    async fn verify_uncached(
        &self,
        token: &str,
        matchers: &MatcherCache,
    ) -> Result<Authorization, Error> {
        let mut claims = self.verify_signature(token).await?;
        claims
            .check_time(self.clock.unix_seconds())
            .map_err(invalid_token)?;
        match claims.dialect() {
            ProtocolVersion::V1 => self.check_access_token(&claims)?,
            ProtocolVersion::V0 => {
                if !self.support.accepts(ProtocolVersion::V0) {
                    return Err(Error::InvalidToken(
                        "this hub accepts only Mercure 1.0 access tokens (authorization_details)"
                            .into(),
                    ));
                }
                self.check_legacy_token(&claims)?;
            }
        }
        if !self.accept_short_detail_type {
            claims = claims.without_short_detail_type();
        }
        let dialect = claims.dialect();
        let compile = |selectors: &[TopicSelector]| -> Result<Vec<Arc<Matcher>>, Error> {
            selectors
                .iter()
                .map(|selector| {
                    matchers
                        .get(MatcherKind::of(selector, dialect), selector.expression())
                        .map_err(|e| Error::InvalidToken(e.to_string()))
                })
                .collect()
        };
        let payloads = claims
            .subscribe_details()
            .map(|(topics, payload)| Ok((compile(topics)?, payload.cloned())))
            .collect::<Result<_, Error>>()?;
        let expires_at = claims.expires_at();
        let rate_subject = match (claims.issuer(), claims.subject()) {
            (_, None) => None,
            (Some(issuer), Some(subject)) if issuer == subject => None,
            (Some(issuer), Some(subject)) => Some(format!("{issuer}\0{subject}")),
            (None, Some(subject)) => Some(subject.to_owned()),
        };
        let grants = claims.into_grants();
        Ok(Authorization {
            rate_subject,
            dialect,
            publish: compile(grants.publish_selectors())?,
            subscribe: compile(grants.subscribe_selectors())?,
            payloads,
            subject: grants.subject().map(str::to_owned),
            expires_at,
        })
    }

    /// What a 0.x token must not be: an RFC 9068 access token without
    /// Mercure 1.0 grants (`typ: at+jwt`), or a token naming an audience
    /// other than this hub's. A key shared with an identity provider then
    /// cannot turn its other tokens (ID tokens, tokens for other APIs) into
    /// subscribers of this hub. 0.x tokens without `aud` stay valid, as the
    /// 0.x protocol defines none.
    fn check_legacy_token(&self, claims: &Claims) -> Result<(), Error> {
        if claims.has_access_token_type() {
            return Err(Error::InvalidToken(
                "an access token (typ at+jwt) without Mercure 1.0 authorization details".into(),
            ));
        }
        if let Some(audience) = &self.audience
            && !claims.audience().is_empty()
            && !claims.has_audience(audience)
        {
            return Err(Error::InvalidToken(
                "the token's audience (aud) is not this hub".into(),
            ));
        }
        Ok(())
    }

    /// The rules of RFC 9068 access tokens and of this hub's configuration
    /// for Mercure 1.0 tokens.
    fn check_access_token(&self, claims: &Claims) -> Result<(), Error> {
        if !self.support.accepts(ProtocolVersion::V1) {
            return Err(Error::InvalidToken(
                "this hub does not accept Mercure 1.0 access tokens".into(),
            ));
        }
        if !claims.has_access_token_type() {
            return Err(Error::InvalidToken(
                "a Mercure 1.0 access token must have the header typ \"at+jwt\"".into(),
            ));
        }
        if claims.expires_at().is_none() {
            return Err(Error::InvalidToken("the token has no exp claim".into()));
        }
        if let Some(audience) = &self.audience
            && !claims.has_audience(audience)
        {
            return Err(Error::InvalidToken(
                "the token's audience (aud) is not this hub".into(),
            ));
        }
        match claims.issuer().filter(|iss| !iss.is_empty()) {
            Some(iss) => {
                if !self.issuers.is_empty() && !self.issuers.iter().any(|i| i == iss) {
                    return Err(Error::InvalidToken(
                        "the token's issuer (iss) is not trusted".into(),
                    ));
                }
            }
            None => {
                if !self.issuers.is_empty() || !self.allow_missing_issuer {
                    return Err(Error::InvalidToken(
                        "the token has no issuer (iss) claim".into(),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// A presented token was refused: never a key or configuration error.
fn invalid_token(error: TokenError) -> Error {
    Error::InvalidToken(error.to_string())
}

fn check_expiry(expires_at: Option<u64>, now: u64) -> Result<(), Error> {
    match expires_at {
        Some(exp) if now >= exp => Err(invalid_token(TokenError::Expired)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use futures_util::StreamExt;
    use mercure_core::token::{Grants, LATEST_CLAIM_TIME, SigningKey, TokenFactory};
    use serde_json::json;

    use super::*;
    use crate::{EmbeddedHub, HubConfig};

    const SECRET: &[u8] = b"!ChangeThisMercureHubJWTSecretKey!";
    const ISSUER: &str = "https://app.example.com";

    fn factory(version: ProtocolVersion, audience: &str) -> TokenFactory {
        let builder = TokenFactory::builder(SigningKey::hs256(SECRET).unwrap()).protocol(version);
        match version {
            ProtocolVersion::V0 => builder,
            ProtocolVersion::V1 => builder.issuer(ISSUER).audience(audience),
        }
        .build()
        .unwrap()
    }

    /// Tokens of both dialects expiring at `exp`, granting every topic.
    fn far_future_tokens(exp: &serde_json::Value, audience: &str) -> Vec<String> {
        [ProtocolVersion::V0, ProtocolVersion::V1]
            .into_iter()
            .map(|version| {
                let grants = Grants::subscribe_all().publish(["*"]);
                let claim = match version {
                    ProtocolVersion::V0 => "mercure",
                    ProtocolVersion::V1 => "authorization_details",
                };
                factory(version, audience)
                    .sign(&json!({
                        "iss": ISSUER, "aud": audience, "exp": exp, "iat": exp,
                        (claim): grants.to_claim(version),
                    }))
                    .unwrap()
                    .expose()
                    .to_owned()
            })
            .collect()
    }

    /// `exp` values past what `SystemTime` and `Instant` hold: 1e19, 2^63
    /// (as integers and floats), `u64::MAX`, the largest float.
    fn far_future() -> [serde_json::Value; 5] {
        [
            json!(1e19),
            json!(1_u64 << 63),
            json!(2_f64.powi(63)),
            json!(u64::MAX),
            json!(f64::MAX),
        ]
    }

    #[tokio::test]
    async fn remembered_tokens_are_bounded_in_bytes() {
        let verifier = Verifier::new(
            vec![VerificationKey::hs256(SECRET).unwrap()],
            Vec::new(),
            &HubConfig::builder()
                .url("https://hub.example.com/")
                .build()
                .unwrap(),
        );
        let matchers = MatcherCache::new(16, url::Url::parse("https://hub.example.com/").unwrap());
        let factory = factory(ProtocolVersion::V0, "https://hub.example.com/");
        // 600 valid tokens of about 40 KiB each (a long subject): 24 MiB
        // if all were kept.
        let padding = "x".repeat(30 << 10);
        for n in 0..600 {
            let token = factory
                .mint(&Grants::subscribe_all().with_subject(format!("{n}-{padding}")))
                .unwrap();
            verifier.verify(token.expose(), &matchers).await.unwrap();
        }
        assert!(
            verifier.verified.weight() <= VERIFIED_CACHE_BYTES,
            "{} bytes remembered",
            verifier.verified.weight()
        );
        assert!(verifier.verified.len() < 600);
    }

    #[tokio::test]
    async fn far_future_expiries_are_bounded() {
        let verifier = Verifier::new(
            vec![VerificationKey::hs256(SECRET).unwrap()],
            Vec::new(),
            &HubConfig::builder()
                .url("https://hub.example.com/")
                .build()
                .unwrap(),
        );
        let matchers = MatcherCache::new(16, url::Url::parse("https://hub.example.com/").unwrap());
        for exp in far_future() {
            for token in far_future_tokens(&exp, "https://hub.example.com/") {
                let authorization = verifier.verify(&token, &matchers).await.unwrap();
                assert_eq!(authorization.expires_at, Some(LATEST_CLAIM_TIME));
                // What the subscribe path does with it.
                let at = crate::time::unix_time(LATEST_CLAIM_TIME);
                let left = crate::time::until(at, std::time::SystemTime::now()).unwrap();
                assert_eq!(left, crate::time::FAR_FUTURE);
                let _ = crate::time::deadline(tokio::time::Instant::now(), left);
                // Cached, and still valid.
                assert!(verifier.verify(&token, &matchers).await.is_ok());
            }
        }
    }

    #[tokio::test]
    async fn far_future_expiries_do_not_panic_when_subscribing() {
        for lean in [false, true] {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = format!(
                "http://{}/.well-known/mercure",
                listener.local_addr().unwrap()
            );
            let hub = EmbeddedHub::new(
                HubConfig::builder()
                    .url(&url)
                    .key(VerificationKey::hs256(SECRET).unwrap())
                    .build()
                    .unwrap(),
            );
            let server = if lean {
                tokio::spawn(crate::serve_hub(
                    listener,
                    hub.clone(),
                    hub.router(),
                    std::future::pending(),
                ))
            } else {
                tokio::spawn(crate::serve(listener, hub.router()))
            };
            let client = reqwest::Client::new();
            for exp in far_future() {
                let tokens = far_future_tokens(&exp, &url);
                for (token, query) in tokens.iter().zip(["topic=t", "match=t"]) {
                    let response = client
                        .get(format!("{url}?{query}"))
                        .bearer_auth(token)
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(response.status(), 200, "{exp} {query} lean={lean}");
                    let mut body = response.bytes_stream();
                    let first = tokio::time::timeout(Duration::from_secs(5), body.next())
                        .await
                        .unwrap();
                    assert!(first.unwrap().is_ok(), "{exp} {query}");
                }
            }
            server.abort();
        }
    }

    #[tokio::test]
    async fn tokens_of_other_kinds_do_not_pass_for_0_x_tokens() {
        let config = HubConfig::builder()
            .url("https://hub.example.com/.well-known/mercure")
            .audience("https://hub.example.com/.well-known/mercure")
            .build()
            .unwrap();
        let verifier = Verifier::new(
            vec![VerificationKey::hs256(SECRET).unwrap()],
            Vec::new(),
            &config,
        );
        let matchers = MatcherCache::new(16, url::Url::parse("https://hub.example.com/").unwrap());
        // `sign` writes `typ: JWT` for a 0.x factory, `at+jwt` for a 1.0 one.
        let sign = |claims: serde_json::Value, typ: &str| {
            let version = if typ == "at+jwt" {
                ProtocolVersion::V1
            } else {
                ProtocolVersion::V0
            };
            factory(version, "https://hub.example.com/.well-known/mercure")
                .sign(&claims)
                .unwrap()
                .expose()
                .to_owned()
        };
        let exp = json!(4_000_000_000_u64);
        // A plain 0.x token, with or without this hub as its audience.
        for claims in [
            json!({"exp": exp, "mercure": {"subscribe": ["*"]}}),
            json!({"exp": exp, "aud": "https://hub.example.com/.well-known/mercure", "mercure": {"subscribe": ["*"]}}),
        ] {
            assert!(
                verifier
                    .verify(&sign(claims, "JWT"), &matchers)
                    .await
                    .is_ok()
            );
        }
        // An ID token of an identity provider sharing the key, a token for
        // another API, an access token without Mercure 1.0 grants.
        for (claims, typ) in [
            (
                json!({"exp": exp, "aud": "my-client-id", "sub": "alice"}),
                "JWT",
            ),
            (
                json!({"exp": exp, "aud": "https://api.example.com", "mercure": {"subscribe": ["*"]}}),
                "JWT",
            ),
            (
                json!({"exp": exp, "authorization_details": null, "sub": "alice"}),
                "at+jwt",
            ),
        ] {
            assert!(
                matches!(
                    verifier.verify(&sign(claims.clone(), typ), &matchers).await,
                    Err(Error::InvalidToken(_))
                ),
                "{claims}"
            );
        }
    }
}
