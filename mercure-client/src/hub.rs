//! A hub to publish to.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use url::Url;

use crate::body::{encoding_error, read_limited, read_truncated, unexpected_encoding};
use crate::error::bearer_challenge;
use crate::{
    CachedTokenProvider, Error, EventId, Grants, HubInfo, HubRejection, MAX_EVENT_ID_LEN,
    ProtocolVersion, Publisher, Result, Token, TokenFactory, TokenProvider, Update,
};

/// How long a publish may take unless configured otherwise.
pub const DEFAULT_PUBLISH_TIMEOUT: Duration = Duration::from_secs(10);

/// The longest answer to a publish that is read: 64 KiB. A longer one is
/// refused ([`Error::ResponseTooLarge`]), never cut and used as an id.
pub const MAX_PUBLISH_ANSWER: usize = 64 * 1024;

/// A Mercure hub: where to publish, where browsers subscribe, which
/// dialect it speaks and how to authorize.
///
/// Cheap to clone (an `Arc` inside); clones share the HTTP connection pool.
///
/// ```no_run
/// use mercure_client::token::Token;
/// use mercure_client::{Hub, Update};
///
/// # async fn run() -> mercure_client::Result<()> {
/// let hub = Hub::builder("http://hub.internal:3000/.well-known/mercure")
///     .public_url("https://example.com/.well-known/mercure")
///     .token(Token::new(std::env::var("MERCURE_PUBLISHER_JWT").unwrap_or_default()))
///     .build()?;
/// let id = hub.publish(&Update::new("https://example.com/books/1", "{}")?).await?;
/// println!("published {id}");
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Hub {
    inner: Arc<HubInner>,
}

#[derive(Debug)]
struct HubInner {
    info: HubInfo,
    provider: Option<Arc<dyn TokenProvider>>,
    client: reqwest::Client,
    timeout: Option<Duration>,
}

impl Hub {
    /// Starts configuring a hub whose (internal) URL is `url`.
    pub fn builder(url: impl AsRef<str>) -> HubBuilder {
        let url = url.as_ref();
        HubBuilder {
            url: parse_url(url),
            public_url: None,
            version: None,
            provider: None,
            factory: None,
            client: None,
            timeout: Some(DEFAULT_PUBLISH_TIMEOUT),
        }
    }

    /// The URL this process publishes to (may be internal to a network).
    pub fn url(&self) -> &Url {
        self.inner.info.url()
    }

    /// The URL browsers and other subscribers reach the hub at.
    pub fn public_url(&self) -> &Url {
        self.inner.info.public_url()
    }

    /// The dialect the hub speaks.
    pub fn protocol(&self) -> ProtocolVersion {
        self.inner.info.protocol()
    }

    /// What the web helpers need to know of this hub: its URLs, dialect and
    /// token factory.
    pub fn info(&self) -> &HubInfo {
        &self.inner.info
    }

    /// The provider of the token this hub presents, if any.
    pub fn token_provider(&self) -> Option<&Arc<dyn TokenProvider>> {
        self.inner.provider.as_ref()
    }

    /// The factory minting tokens for this hub (for subscriber cookies), if any.
    pub fn token_factory(&self) -> Option<&TokenFactory> {
        self.inner.info.token_factory()
    }

    /// The HTTP client.
    pub fn http_client(&self) -> &reqwest::Client {
        &self.inner.client
    }

    /// Publishes `update` and returns the id the hub assigned.
    ///
    /// The update is checked against the hub's dialect first. A 401 makes
    /// the provider [`refresh`](TokenProvider::refresh) once; when that
    /// yields a different token the request is sent again.
    ///
    /// A publish follows a redirect only when it keeps the method and the
    /// body (307, 308) and stays on the hub's origin (see
    /// [`http_client`](crate::http_client)); any other is an
    /// [`Error::Redirect`]: a 301, 302 or 303 would turn the POST into a
    /// GET, and the page that follows is no answer to a publish. The answer
    /// must be a 2xx whose body, trimmed, is one event id: no whitespace
    /// or control character inside, at most [`MAX_EVENT_ID_LEN`] bytes, not
    /// an HTML page, and the whole answer at most [`MAX_PUBLISH_ANSWER`].
    ///
    /// # Errors
    /// [`Error::InvalidUpdate`], [`Error::Token`], one error per refusal
    /// status ([`Error::BadRequest`], [`Error::Unauthorized`],
    /// [`Error::Forbidden`], [`Error::PayloadTooLarge`], [`Error::ServerError`],
    /// [`Error::UnexpectedStatus`]), [`Error::Redirect`],
    /// [`Error::Timeout`], [`Error::Transport`], [`Error::EmptyEventId`]
    /// for a 2xx without an id, [`Error::InvalidEventId`] for a 2xx whose
    /// body is not an id, [`Error::ResponseTooLarge`] and
    /// [`Error::InvalidResponse`] for an encoded answer.
    pub async fn publish(&self, update: &Update) -> Result<EventId> {
        update.validate_for(self.protocol())?;
        let body = update.to_form();
        let token = match &self.inner.provider {
            Some(provider) => Some(provider.token().await?),
            None => None,
        };
        match self.send(body.clone(), token.as_ref()).await {
            Err(Error::Unauthorized(rejection)) => {
                let Some(provider) = &self.inner.provider else {
                    return Err(Error::Unauthorized(rejection));
                };
                let fresh = provider.refresh().await?;
                if Some(&fresh) == token.as_ref() {
                    return Err(Error::Unauthorized(rejection));
                }
                tracing::debug!(hub = %self.url(), "publish refused with 401; retrying with a refreshed token");
                self.send(body, Some(&fresh)).await
            }
            other => other,
        }
    }

    async fn send(&self, body: String, token: Option<&Token>) -> Result<EventId> {
        let inner = &*self.inner;
        let mut request = inner
            .client
            .post(inner.info.url().clone())
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body);
        if let Some(token) = token {
            request = request.header(AUTHORIZATION, authorization_value(token)?);
        }
        if let Some(timeout) = inner.timeout {
            request = request.timeout(timeout);
        }
        let response = request.send().await.map_err(transport_error)?;
        let url = inner.info.url();
        crate::http_client::check_origin(&response, url)?;
        if response.status().is_redirection() {
            tracing::debug!(hub = %url, status = response.status().as_u16(), "publish redirected; not followed");
            return Err(crate::http_client::redirect_error(&response, url));
        }
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            let challenge = bearer_challenge(response.headers());
            let body = read_truncated(response, HubRejection::MAX_MESSAGE).await?;
            tracing::debug!(hub = %url, status, "publish refused");
            return Err(
                HubRejection::new(status, &String::from_utf8_lossy(&body), challenge).into_error(),
            );
        }
        if let Some(encoding) = unexpected_encoding(&response) {
            return Err(encoding_error("the hub's answer", &encoding));
        }
        let body = read_limited(
            response,
            MAX_PUBLISH_ANSWER,
            "the hub's answer to a publish",
        )
        .await?;
        let id = event_id_from_answer(status, &body)?;
        tracing::trace!(hub = %url, id = id.as_str(), "update published");
        Ok(id)
    }
}

/// The event id in a 2xx answer to a publish, or why the body is not one.
///
/// The body is judged, not its `Content-Type`: hubs answer ids as
/// `text/plain` (the official hub) or as `text/html` (Flask's default,
/// flask-mercure-sse). Markup is refused: an event id is an IRI, which
/// holds no `<` or `>`.
fn event_id_from_answer(status: u16, body: &[u8]) -> Result<EventId> {
    let invalid = |reason: String| Error::InvalidEventId { status, reason };
    let text = std::str::from_utf8(body).map_err(|_| invalid("not UTF-8".into()))?;
    let id = text.trim();
    if id.contains(['<', '>']) {
        return Err(invalid("an HTML page".into()));
    }
    if id.is_empty() {
        return Err(Error::EmptyEventId { status });
    }
    if id.len() > MAX_EVENT_ID_LEN {
        return Err(invalid(format!(
            "{} bytes, more than the {MAX_EVENT_ID_LEN} accepted",
            id.len()
        )));
    }
    if id.chars().any(char::is_whitespace) {
        return Err(invalid("it holds whitespace".into()));
    }
    if id.chars().any(char::is_control) {
        return Err(invalid("it holds control characters".into()));
    }
    Ok(EventId::new(id))
}

impl Publisher for Hub {
    fn publish<'a>(&'a self, update: &'a Update) -> BoxFuture<'a, Result<EventId>> {
        Box::pin(Hub::publish(self, update))
    }
}

/// The `Authorization` header for `token`, marked sensitive so that HTTP
/// stacks never log it.
pub(crate) fn authorization_value(token: &Token) -> Result<HeaderValue> {
    let mut value = HeaderValue::from_str(&token.bearer()).map_err(|_| {
        Error::Token(crate::TokenError::Provider(
            "the token contains characters not allowed in an HTTP header".into(),
        ))
    })?;
    value.set_sensitive(true);
    Ok(value)
}

pub(crate) fn transport_error(error: reqwest::Error) -> Error {
    if error.is_timeout() {
        Error::Timeout(error)
    } else {
        Error::Transport(error)
    }
}

fn parse_url(url: &str) -> Result<Url> {
    Url::parse(url).map_err(|source| Error::InvalidUrl {
        url: url.to_owned(),
        source,
    })
}

/// Configures a [`Hub`]; see [`Hub::builder`]. Keeps the first error and
/// returns it from [`HubBuilder::build`].
#[derive(Debug)]
#[must_use]
pub struct HubBuilder {
    url: Result<Url>,
    public_url: Option<Result<Url>>,
    version: Option<ProtocolVersion>,
    provider: Option<Arc<dyn TokenProvider>>,
    factory: Option<TokenFactory>,
    client: Option<reqwest::Client>,
    timeout: Option<Duration>,
}

impl HubBuilder {
    /// The URL subscribers use, when it differs from the publishing URL
    /// (behind a reverse proxy, in another network).
    pub fn public_url(mut self, url: impl AsRef<str>) -> Self {
        self.public_url = Some(parse_url(url.as_ref()));
        self
    }

    /// The dialect the hub speaks (default: the token factory's, else 0.x).
    pub fn protocol(mut self, version: ProtocolVersion) -> Self {
        self.version = Some(version);
        self
    }

    /// Presents a fixed token.
    pub fn token(mut self, token: Token) -> Self {
        self.provider = Some(Arc::new(token));
        self
    }

    /// Presents the tokens of `provider`.
    pub fn token_provider(mut self, provider: impl TokenProvider + 'static) -> Self {
        self.provider = Some(Arc::new(provider));
        self
    }

    /// Presents a shared provider.
    pub fn shared_token_provider(mut self, provider: Arc<dyn TokenProvider>) -> Self {
        self.provider = Some(provider);
        self
    }

    /// Mints publisher tokens with `factory` (cached until shortly before
    /// expiry) carrying `grants`, and keeps the factory for minting
    /// subscriber tokens. The hub speaks the factory's dialect unless
    /// [`HubBuilder::protocol`] names one, which must then be the same.
    pub fn token_factory(mut self, factory: TokenFactory, grants: Grants) -> Self {
        self.provider = Some(Arc::new(CachedTokenProvider::new(factory.clone(), grants)));
        self.factory = Some(factory);
        self
    }

    /// Uses this HTTP client (proxies, TLS roots, pools are the caller's).
    ///
    /// Its redirect and `Referer` policies are its own: build it from
    /// [`http_client::builder`](crate::http_client::builder) to keep
    /// credentials and updates on the hub's origin.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.client = Some(client);
        self
    }

    /// Bounds each publish request (default 10 s); `None` waits forever.
    pub fn timeout(mut self, timeout: Option<Duration>) -> Self {
        self.timeout = timeout;
        self
    }

    /// Builds the hub.
    ///
    /// # Errors
    /// [`Error::InvalidUrl`] for an unparsable URL, [`Error::Config`] for a
    /// URL that is not http(s) or a factory of another dialect.
    pub fn build(self) -> Result<Hub> {
        let url = self.url?;
        let public_url = match self.public_url {
            Some(public) => public?,
            None => url.clone(),
        };
        for candidate in [&url, &public_url] {
            if !matches!(candidate.scheme(), "http" | "https") {
                return Err(Error::Config(format!(
                    "a hub URL must be http or https, not {:?}",
                    candidate.scheme()
                )));
            }
        }
        let version = match (&self.factory, self.version) {
            (Some(factory), Some(version)) if factory.protocol() != version => {
                return Err(Error::Config(format!(
                    "the token factory mints {} tokens for a {} hub",
                    factory.protocol(),
                    version
                )));
            }
            (_, Some(version)) => version,
            (Some(factory), None) => factory.protocol(),
            (None, None) => ProtocolVersion::default(),
        };
        let mut info = HubInfo::new(url)
            .with_public_url(public_url)
            .with_protocol(version);
        if let Some(factory) = self.factory {
            info = info.with_token_factory(factory);
        }
        let client = match self.client {
            Some(client) => client,
            None => crate::http_client::default_client()?,
        };
        Ok(Hub {
            inner: Arc::new(HubInner {
                info,
                provider: self.provider,
                client,
                timeout: self.timeout,
            }),
        })
    }
}

impl From<&Hub> for HubInfo {
    fn from(hub: &Hub) -> Self {
        hub.info().clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::SigningKey;

    fn factory(version: ProtocolVersion) -> TokenFactory {
        let builder =
            TokenFactory::builder(SigningKey::hs256(b"secret").unwrap()).protocol(version);
        match version {
            ProtocolVersion::V0 => builder,
            ProtocolVersion::V1 => builder
                .issuer("https://app.example.com")
                .audience("https://example.com/.well-known/mercure"),
        }
        .build()
        .unwrap()
    }

    #[test]
    fn the_dialect_does_not_depend_on_the_order_of_the_calls() {
        const URL: &str = "https://example.com/.well-known/mercure";
        let v1 = factory(ProtocolVersion::V1);
        // The factory alone decides.
        let hub = Hub::builder(URL)
            .token_factory(v1.clone(), Grants::publish_all())
            .build()
            .unwrap();
        assert_eq!(hub.protocol(), ProtocolVersion::V1);
        // Agreeing, in either order.
        for hub in [
            Hub::builder(URL)
                .protocol(ProtocolVersion::V1)
                .token_factory(v1.clone(), Grants::publish_all()),
            Hub::builder(URL)
                .token_factory(v1.clone(), Grants::publish_all())
                .protocol(ProtocolVersion::V1),
        ] {
            assert_eq!(hub.build().unwrap().protocol(), ProtocolVersion::V1);
        }
        // Disagreeing, in either order: an error, never a silent override.
        for hub in [
            Hub::builder(URL)
                .protocol(ProtocolVersion::V0)
                .token_factory(v1.clone(), Grants::publish_all()),
            Hub::builder(URL)
                .token_factory(v1.clone(), Grants::publish_all())
                .protocol(ProtocolVersion::V0),
        ] {
            let error = hub.build().unwrap_err();
            assert!(matches!(error, Error::Config(_)), "{error:?}");
            assert_eq!(
                error.to_string(),
                "invalid configuration: the token factory mints 1.0 tokens for a 0.x hub"
            );
        }
        // Neither: 0.x.
        assert_eq!(
            Hub::builder(URL).build().unwrap().protocol(),
            ProtocolVersion::V0
        );
    }
}
