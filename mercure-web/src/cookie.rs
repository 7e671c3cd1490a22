//! The authorization cookie a browser presents to the hub.
//!
//! Browsers cannot set headers on an `EventSource`, so a web application
//! hands its subscribers a token in a cookie that the browser sends to the
//! hub by itself. Every attribute of that cookie is derived from the hub's
//! public URL and the host the application was reached at, and anything a
//! browser would silently drop is refused with a typed [`CookieError`].

use std::fmt;
use std::time::Duration;

use url::{Host, Url};

use mercure_core::HubInfo;
use mercure_core::token::{Grants, Token, TokenError};

/// The `SameSite` attribute of the cookie.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum SameSite {
    /// Sent only with requests initiated by the same site (the default, and
    /// what the Mercure specification advises).
    #[default]
    Strict,
    /// Also sent with top-level navigations from other sites.
    Lax,
    /// Sent with cross-site requests too; requires `Secure`.
    None,
}

impl SameSite {
    /// The attribute's value as written in `Set-Cookie`.
    pub fn as_str(self) -> &'static str {
        match self {
            SameSite::Strict => "Strict",
            SameSite::Lax => "Lax",
            SameSite::None => "None",
        }
    }
}

impl fmt::Display for SameSite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an authorization cookie cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CookieError {
    /// The hub has no [`TokenFactory`](crate::token::TokenFactory) to mint the token with.
    #[error("the hub has no token factory to mint the subscriber token with")]
    NoTokenFactory,
    /// The token could not be minted.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// The token contains characters a cookie value cannot hold.
    #[error("the token contains characters a cookie value cannot hold")]
    InvalidValue,
    /// The cookie name is not an RFC 6265 token.
    #[error("invalid cookie name {0:?}: expected letters, digits and !#$%&'*+-.^_`|~")]
    InvalidName(String),
    /// The host the application was reached at cannot be parsed.
    #[error("invalid request host {0:?}")]
    InvalidRequestHost(String),
    /// The hub's path contains a character that breaks the `Path` attribute.
    #[error("the hub path {0:?} cannot be used as a cookie Path")]
    InvalidPath(String),
    /// The application and the hub are on different sites: the browser would
    /// never send a cookie set by the application to the hub.
    #[error(
        "the hub host {hub_host:?} and the request host {request_host:?} share no registrable domain: \
         a browser would never send the authorization cookie to the hub \
         (serve both under one registrable domain, or pass the token another way)"
    )]
    CrossSite {
        /// The host the application was reached at.
        request_host: String,
        /// The hub's host.
        hub_host: String,
    },
    /// The cookie must be `Secure` (a `__Secure-` or `__Host-` name, or
    /// `SameSite=None`), but the hub is reached over plain HTTP on a host
    /// that is not loopback.
    #[error("the {requirement} requires a Secure cookie, but the hub {hub_url} is plain http")]
    InsecureHub {
        /// What requires `Secure`.
        requirement: &'static str,
        /// The hub's public URL.
        hub_url: String,
    },
    /// No hub of that name is registered.
    #[error("no hub named {0:?} is registered")]
    UnknownHub(String),
    /// The cookie is `Secure` (the hub is https, or its name or `SameSite`
    /// requires it) but the application was reached over plain http on a
    /// host that is not loopback: browsers refuse to set a `Secure` cookie
    /// from an insecure page.
    #[error(
        "the authorization cookie is Secure, but the application was reached over plain http at {0:?}: \
         browsers refuse Secure cookies from insecure pages (serve the application over https)"
    )]
    InsecureOrigin(String),
    /// A `__Host-` cookie must have `Path=/` and no `Domain`.
    #[error("a __Host- cookie needs Path=/ and no Domain, but would get {0}")]
    HostPrefix(String),
}

/// How authorization cookies are shaped: the name, `SameSite` and lifetime.
///
/// ```
/// use std::time::Duration;
/// use mercure_web::{CookieOptions, SameSite};
///
/// let options = CookieOptions::new()
///     .with_same_site(SameSite::Lax)
///     .with_lifetime(Duration::from_secs(600));
/// assert_eq!(options.same_site(), SameSite::Lax);
/// assert_eq!(options.lifetime(), Some(Duration::from_secs(600)));
/// assert_eq!(options.name(), None);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[must_use]
pub struct CookieOptions {
    name: Option<String>,
    same_site: SameSite,
    lifetime: Option<Duration>,
}

impl CookieOptions {
    /// The defaults: the dialect's cookie name, `SameSite=Strict`, the token
    /// factory's lifetime.
    pub fn new() -> Self {
        Self::default()
    }

    /// Overrides the dialect's cookie name (for hubs configured with another
    /// cookie name).
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets `SameSite` (default `Strict`).
    pub fn with_same_site(mut self, same_site: SameSite) -> Self {
        self.same_site = same_site;
        self
    }

    /// Mints tokens (and sets `Max-Age`) for this long instead of the token
    /// factory's lifetime.
    pub fn with_lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = Some(lifetime);
        self
    }

    /// The overriding cookie name, if any.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The `SameSite` attribute.
    pub fn same_site(&self) -> SameSite {
        self.same_site
    }

    /// The overriding lifetime, if any.
    pub fn lifetime(&self) -> Option<Duration> {
        self.lifetime
    }
}

/// An authorization cookie for a hub, as neutral data: the name, the value
/// and the attributes, plus the rendered `Set-Cookie` header value.
///
/// Framework adapters convert it into their own cookie or header types.
/// `Debug` never shows the token.
///
/// * `Path` is the hub's path, so the cookie only travels to the hub;
/// * `Secure` unless the hub is plain `http`;
/// * `HttpOnly`, always: scripts have no business reading it;
/// * `SameSite` from [`CookieOptions`] (`Strict` by default);
/// * `Max-Age` is the token's lifetime;
/// * `Domain` is absent when the application and the hub share a host
///   (a host-only cookie), the closest common parent domain when they share
///   a registrable domain (decided with the Public Suffix List), and an
///   error otherwise.
///
/// ```
/// use mercure_web::{AuthorizationCookie, CookieOptions, HubInfo};
/// use mercure_web::token::{Grants, SigningKey, TokenFactory};
///
/// let factory = TokenFactory::builder(SigningKey::hs256(b"secret").unwrap()).build().unwrap();
/// let hub = HubInfo::builder("http://mercure:3000/.well-known/mercure")
///     .public_url("https://hub.example.com/.well-known/mercure")
///     .token_factory(factory)
///     .build()
///     .unwrap();
/// let grants = Grants::new().subscribe(["https://example.com/books/1"]);
/// let cookie = AuthorizationCookie::mint(&hub, "www.example.com", &grants, &CookieOptions::new()).unwrap();
/// assert_eq!(cookie.name(), "mercureAuthorization");
/// assert_eq!(cookie.domain(), Some("example.com"));
/// assert_eq!(cookie.path(), "/.well-known/mercure");
/// assert!(cookie.set_cookie_header().ends_with(
///     "; HttpOnly; SameSite=Strict; Secure; Path=/.well-known/mercure; Domain=example.com; Max-Age=3600"
/// ));
///
/// // A site that is not the hub's cannot hand it a cookie.
/// assert!(AuthorizationCookie::mint(&hub, "example.org", &grants, &CookieOptions::new()).is_err());
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct AuthorizationCookie {
    name: String,
    value: Token,
    path: String,
    domain: Option<String>,
    secure: bool,
    same_site: SameSite,
    max_age: Duration,
}

impl AuthorizationCookie {
    /// Mints a token carrying `grants` with the hub's token factory and wraps
    /// it in a cookie for an application reached at `request_host`: the
    /// `Host` header (a host name or IP address, with or without a port),
    /// or `scheme://host[:port]` when the scheme is known, so that a
    /// `Secure` cookie that a plain-http page could not set is refused.
    ///
    /// # Errors
    /// [`CookieError::NoTokenFactory`], [`CookieError::Token`], and the
    /// errors of [`AuthorizationCookie::with_token`].
    pub fn mint(
        hub: &HubInfo,
        request_host: &str,
        grants: &Grants,
        options: &CookieOptions,
    ) -> Result<Self, CookieError> {
        let factory = hub.token_factory().ok_or(CookieError::NoTokenFactory)?;
        let lifetime = options.lifetime.unwrap_or_else(|| factory.lifetime());
        // Check the cookie can exist before spending a signature on it.
        let attributes = Attributes::derive(hub, request_host, options)?;
        let token = factory.mint_for(grants, lifetime)?;
        attributes.with_value(token, lifetime)
    }

    /// Wraps an already minted `token`, valid for `max_age`, in a cookie for
    /// an application reached at `request_host`.
    ///
    /// # Errors
    /// [`CookieError::InvalidRequestHost`], [`CookieError::CrossSite`],
    /// [`CookieError::InsecureHub`], [`CookieError::InsecureOrigin`], [`CookieError::HostPrefix`],
    /// [`CookieError::InvalidName`], [`CookieError::InvalidPath`],
    /// [`CookieError::InvalidValue`].
    pub fn with_token(
        hub: &HubInfo,
        request_host: &str,
        token: Token,
        max_age: Duration,
        options: &CookieOptions,
    ) -> Result<Self, CookieError> {
        Attributes::derive(hub, request_host, options)?.with_value(token, max_age)
    }

    /// A cookie that makes the browser forget the authorization cookie (the
    /// same name, `Path` and `Domain`, an empty value, `Max-Age=0`), for
    /// logging out.
    ///
    /// # Errors
    /// As [`AuthorizationCookie::with_token`].
    pub fn clear(
        hub: &HubInfo,
        request_host: &str,
        options: &CookieOptions,
    ) -> Result<Self, CookieError> {
        Attributes::derive(hub, request_host, options)?.with_value(Token::new(""), Duration::ZERO)
    }

    /// The cookie's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The cookie's value: the token (empty for a clearing cookie).
    pub fn value(&self) -> &Token {
        &self.value
    }

    /// The `Path` attribute: the hub's path.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The `Domain` attribute; `None` for a host-only cookie.
    pub fn domain(&self) -> Option<&str> {
        self.domain.as_deref()
    }

    /// Whether the cookie is `Secure`.
    pub fn secure(&self) -> bool {
        self.secure
    }

    /// Whether the cookie is `HttpOnly` (always true).
    pub fn http_only(&self) -> bool {
        true
    }

    /// The `SameSite` attribute.
    pub fn same_site(&self) -> SameSite {
        self.same_site
    }

    /// The `Max-Age` attribute (zero for a clearing cookie).
    pub fn max_age(&self) -> Duration {
        self.max_age
    }

    /// Whether this cookie clears the authorization cookie.
    pub fn is_removal(&self) -> bool {
        self.max_age.is_zero()
    }

    /// The `Set-Cookie` header value. It contains the token: send it to the
    /// browser, never to a log.
    pub fn set_cookie_header(&self) -> String {
        let max_age = i64::try_from(self.max_age.as_secs()).unwrap_or(i64::MAX);
        let mut cookie = cookie::Cookie::build((self.name.as_str(), self.value.expose()))
            .path(self.path.as_str())
            .max_age(cookie::time::Duration::seconds(max_age))
            .secure(self.secure)
            .http_only(true)
            .same_site(match self.same_site {
                SameSite::Strict => cookie::SameSite::Strict,
                SameSite::Lax => cookie::SameSite::Lax,
                SameSite::None => cookie::SameSite::None,
            });
        if let Some(domain) = &self.domain {
            cookie = cookie.domain(domain.as_str());
        }
        if self.is_removal() {
            cookie = cookie.expires(cookie::time::OffsetDateTime::UNIX_EPOCH);
        }
        cookie.build().to_string()
    }
}

impl fmt::Debug for AuthorizationCookie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizationCookie")
            .field("name", &self.name)
            .field("value", &"<redacted>")
            .field("path", &self.path)
            .field("domain", &self.domain)
            .field("secure", &self.secure)
            .field("http_only", &true)
            .field("same_site", &self.same_site)
            .field("max_age", &self.max_age)
            .finish()
    }
}

/// Everything but the value, derived and checked.
struct Attributes {
    name: String,
    path: String,
    domain: Option<String>,
    secure: bool,
    same_site: SameSite,
}

impl Attributes {
    fn derive(
        hub: &HubInfo,
        request_host: &str,
        options: &CookieOptions,
    ) -> Result<Self, CookieError> {
        let url = hub.public_url();
        let name = options
            .name
            .clone()
            .unwrap_or_else(|| hub.protocol().dialect().cookie_name.to_owned());
        if name.is_empty() || !name.bytes().all(is_token_byte) {
            return Err(CookieError::InvalidName(name));
        }
        let path = url.path().to_owned();
        if path
            .bytes()
            .any(|b| b == b';' || !(0x21..0x7f).contains(&b))
        {
            return Err(CookieError::InvalidPath(path));
        }
        let domain = cookie_domain(request_host, url)?;

        let secure_prefix = starts_with_ignore_case(&name, "__Secure-");
        let host_prefix = starts_with_ignore_case(&name, "__Host-");
        let requirement = if host_prefix {
            Some("__Host- cookie name prefix")
        } else if secure_prefix {
            Some("__Secure- cookie name prefix")
        } else if options.same_site == SameSite::None {
            Some("SameSite=None attribute")
        } else {
            None
        };
        let mut secure = url.scheme() != "http";
        if let Some(requirement) = requirement
            && !secure
        {
            // Browsers treat loopback as a secure context and accept Secure
            // cookies from, and send them to, plain-http loopback origins.
            if url.host().is_some_and(|host| is_loopback_host(&host)) {
                secure = true;
            } else {
                return Err(CookieError::InsecureHub {
                    requirement,
                    hub_url: url.to_string(),
                });
            }
        }
        let request = parse_request(request_host)?;
        if secure && request.secure == Some(false) && !is_loopback_host(&request.host) {
            return Err(CookieError::InsecureOrigin(request.host.to_string()));
        }
        if host_prefix {
            if let Some(domain) = &domain {
                return Err(CookieError::HostPrefix(format!("Domain={domain}")));
            }
            if path != "/" {
                return Err(CookieError::HostPrefix(format!("Path={path}")));
            }
        }
        Ok(Self {
            name,
            path,
            domain,
            secure,
            same_site: options.same_site,
        })
    }

    fn with_value(
        self,
        value: Token,
        max_age: Duration,
    ) -> Result<AuthorizationCookie, CookieError> {
        if !value.expose().bytes().all(is_cookie_octet) {
            return Err(CookieError::InvalidValue);
        }
        Ok(AuthorizationCookie {
            name: self.name,
            value,
            path: self.path,
            domain: self.domain,
            secure: self.secure,
            same_site: self.same_site,
            max_age,
        })
    }
}

/// The `Domain` attribute a cookie set by an application reached at
/// `request_host` (`host[:port]` or `scheme://host[:port]`) needs so that
/// the browser sends it to the hub at `hub_url`.
///
/// * the same host (ports do not matter to cookies) → `None`, a host-only
///   cookie;
/// * hosts sharing a registrable domain (per the Public Suffix List) → the
///   closest parent domain both are in (`app.example.com` and
///   `hub.example.com` → `example.com`; `a.eu.example.com` and
///   `hub.eu.example.com` → `eu.example.com`);
/// * otherwise (different sites, IP addresses that differ, a public suffix)
///   → [`CookieError::CrossSite`].
///
/// ```
/// use mercure_web::cookie_domain;
/// use url::Url;
///
/// let hub = Url::parse("https://hub.example.co.uk/.well-known/mercure").unwrap();
/// assert_eq!(cookie_domain("www.example.co.uk:8443", &hub).unwrap().as_deref(), Some("example.co.uk"));
/// assert_eq!(cookie_domain("HUB.example.co.uk", &hub).unwrap(), None);
/// assert!(cookie_domain("other.co.uk", &hub).is_err());
/// ```
///
/// # Errors
/// [`CookieError::InvalidRequestHost`] or [`CookieError::CrossSite`].
pub fn cookie_domain(request_host: &str, hub_url: &Url) -> Result<Option<String>, CookieError> {
    let request = parse_request(request_host)?.host;
    let hub = hub_url
        .host()
        .map(|host| host.to_owned())
        .ok_or_else(|| CookieError::CrossSite {
            request_host: request_host.to_owned(),
            hub_host: String::new(),
        })?;
    let cross_site = || CookieError::CrossSite {
        request_host: request.to_string(),
        hub_host: hub.to_string(),
    };
    match (&request, &hub) {
        (Host::Domain(request_name), Host::Domain(hub_name)) => {
            let request_name = request_name.trim_end_matches('.');
            let hub_name = hub_name.trim_end_matches('.');
            if request_name == hub_name {
                return Ok(None);
            }
            let (Some(request_site), Some(hub_site)) =
                (psl::domain_str(request_name), psl::domain_str(hub_name))
            else {
                return Err(cross_site());
            };
            if request_site != hub_site {
                return Err(cross_site());
            }
            Ok(Some(common_parent(request_name, hub_name).to_owned()))
        }
        _ if request == hub => Ok(None),
        // An IP address never shares a cookie with another host.
        _ => Err(cross_site()),
    }
}

/// The longest common suffix of `a` and `b` made of whole labels. Both
/// share a registrable domain, so the result contains it.
fn common_parent<'a>(a: &'a str, b: &str) -> &'a str {
    let mut start = a.len();
    for (label_a, label_b) in a.rsplit('.').zip(b.rsplit('.')) {
        if label_a != label_b {
            break;
        }
        start -= label_a.len();
        if start == 0 {
            return a;
        }
        start -= 1; // the dot
    }
    // `start` points at the dot before the common part.
    &a[start + 1..]
}

/// Where the application was reached: its host and, when known, whether
/// over https.
struct RequestOrigin {
    host: Host,
    secure: Option<bool>,
}

/// Parses `host[:port]` or `scheme://host[:port]` (the scheme, `http` or
/// `https`, tells whether the page was secure).
fn parse_request(request: &str) -> Result<RequestOrigin, CookieError> {
    let trimmed = request.trim();
    let (secure, authority) = match trimmed.split_once("://") {
        Some((scheme, authority)) if scheme.eq_ignore_ascii_case("https") => {
            (Some(true), authority)
        }
        Some((scheme, authority)) if scheme.eq_ignore_ascii_case("http") => {
            (Some(false), authority)
        }
        Some(_) => return Err(CookieError::InvalidRequestHost(request.to_owned())),
        None => (None, trimmed),
    };
    let host = parse_request_host(authority)
        .map_err(|_| CookieError::InvalidRequestHost(request.to_owned()))?;
    Ok(RequestOrigin { host, secure })
}

/// Parses a `Host` header value (a host with an optional port).
fn parse_request_host(authority: &str) -> Result<Host, CookieError> {
    let invalid = || CookieError::InvalidRequestHost(authority.to_owned());
    let authority = authority.trim();
    if authority.is_empty()
        || authority.bytes().any(|b| {
            matches!(b, b'/' | b'\\' | b'?' | b'#' | b'@') || b.is_ascii_whitespace() || b < 0x20
        })
    {
        return Err(invalid());
    }
    if let Some(rest) = authority.strip_prefix('[') {
        // An IPv6 literal, then an optional port.
        let (address, after) = rest.split_once(']').ok_or_else(invalid)?;
        if !(after.is_empty() || after.strip_prefix(':').is_some_and(valid_port)) {
            return Err(invalid());
        }
        return Host::parse(&format!("[{address}]")).map_err(|_| invalid());
    }
    let host = match authority.rsplit_once(':') {
        Some((host, port)) if valid_port(port) => host,
        Some(_) => return Err(invalid()),
        None => authority,
    };
    Host::parse(host).map_err(|_| invalid())
}

fn valid_port(port: &str) -> bool {
    !port.is_empty() && port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit())
}

fn is_loopback_host<S: AsRef<str>>(host: &Host<S>) -> bool {
    match host {
        Host::Domain(name) => {
            let name = name.as_ref().trim_end_matches('.');
            name == "localhost" || name.ends_with(".localhost")
        }
        Host::Ipv4(ip) => ip.is_loopback(),
        Host::Ipv6(ip) => ip.is_loopback(),
    }
}

fn starts_with_ignore_case(name: &str, prefix: &str) -> bool {
    name.len() >= prefix.len()
        && name.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

/// RFC 6265 `token` (a cookie name).
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// RFC 6265 `cookie-octet` (an unquoted cookie value).
fn is_cookie_octet(b: u8) -> bool {
    matches!(b, 0x21 | 0x23..=0x2B | 0x2D..=0x3A | 0x3C..=0x5B | 0x5D..=0x7E)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_parent_keeps_whole_labels() {
        assert_eq!(
            common_parent("app.example.com", "hub.example.com"),
            "example.com"
        );
        assert_eq!(
            common_parent("example.com", "hub.example.com"),
            "example.com"
        );
        assert_eq!(
            common_parent("a.b.example.com", "hub.b.example.com"),
            "b.example.com"
        );
        assert_eq!(common_parent("xample.com", "example.com"), "com");
    }

    #[test]
    fn request_hosts() {
        let cases: &[(&str, Option<&str>)] = &[
            ("example.com", Some("example.com")),
            ("Example.COM:8080", Some("example.com")),
            ("127.0.0.1:3000", Some("127.0.0.1")),
            ("[::1]:8080", Some("[::1]")),
            ("[::1]", Some("[::1]")),
            ("bücher.example", Some("xn--bcher-kva.example")),
            ("", None),
            ("example.com:", None),
            ("example.com:http", None),
            ("evil.com/x", None),
            ("user@example.com", None),
            ("exa mple.com", None),
            ("[::1", None),
            ("[::1]x", None),
        ];
        for (input, expected) in cases {
            let parsed = parse_request_host(input).ok().map(|h| h.to_string());
            assert_eq!(parsed.as_deref(), *expected, "{input:?}");
        }
    }
}
