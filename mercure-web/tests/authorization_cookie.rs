//! Authorization cookies: attributes derived from the hub and the request
//! host, as tables of cases.

use std::sync::Arc;
use std::time::Duration;

use mercure_core::clock::ManualClock;
use mercure_web::token::{Grants, SigningKey, Token, TokenFactory};
use mercure_web::{
    AuthorizationCookie, CookieError, CookieOptions, HubInfo, ProtocolVersion, SameSite,
    cookie_domain,
};
use url::Url;

const SECRET: &[u8] = b"!ChangeThisMercureHubJWTSecretKey!";

fn hub(public_url: &str, version: ProtocolVersion) -> HubInfo {
    let mut factory = TokenFactory::builder(SigningKey::hs256(SECRET).expect("key"))
        .protocol(version)
        .lifetime(Duration::from_secs(900))
        .clock(Arc::new(ManualClock::at_unix(1_700_000_000)));
    if version == ProtocolVersion::V1 {
        factory = factory
            .issuer("https://app.example.com")
            .audience(public_url);
    }
    HubInfo::builder("http://mercure.internal:3000/.well-known/mercure")
        .public_url(public_url)
        .token_factory(factory.build().expect("factory"))
        .build()
        .expect("hub")
}

#[test]
fn domain_table() {
    // (request host, hub public URL, expected Domain or None for host-only, or Err)
    type Expected = Result<Option<&'static str>, ()>;
    let cases: &[(&str, &str, Expected)] = &[
        // Same host: host-only, whatever the ports and case.
        (
            "example.com",
            "https://example.com/.well-known/mercure",
            Ok(None),
        ),
        ("example.com:8080", "https://example.com:8443/hub", Ok(None)),
        ("EXAMPLE.com", "https://example.COM/hub", Ok(None)),
        ("example.com.", "https://example.com/hub", Ok(None)),
        (
            "localhost:8000",
            "http://localhost:3000/.well-known/mercure",
            Ok(None),
        ),
        ("127.0.0.1:8000", "http://127.0.0.1:3000/hub", Ok(None)),
        ("[::1]:8000", "http://[::1]:3000/hub", Ok(None)),
        // A shared registrable domain: the closest common parent.
        (
            "www.example.com",
            "https://hub.example.com/hub",
            Ok(Some("example.com")),
        ),
        (
            "example.com",
            "https://hub.example.com/hub",
            Ok(Some("example.com")),
        ),
        (
            "hub.example.com",
            "https://example.com/hub",
            Ok(Some("example.com")),
        ),
        (
            "app.eu.example.com",
            "https://hub.eu.example.com/hub",
            Ok(Some("eu.example.com")),
        ),
        (
            "a.b.example.com",
            "https://example.com/hub",
            Ok(Some("example.com")),
        ),
        (
            "shop.example.co.uk",
            "https://hub.example.co.uk/hub",
            Ok(Some("example.co.uk")),
        ),
        (
            "bücher.example.de",
            "https://hub.xn--bcher-kva.example.de/hub",
            Ok(Some("xn--bcher-kva.example.de")),
        ),
        (
            "bücher.example.de",
            "https://hub.example.de/hub",
            Ok(Some("example.de")),
        ),
        // Different registrable domains: the browser would never send it.
        ("example.org", "https://example.com/hub", Err(())),
        ("example.com", "https://example.co.uk/hub", Err(())),
        ("xample.com", "https://example.com/hub", Err(())),
        // Public suffixes, ICANN and private: siblings are different sites.
        ("a.co.uk", "https://b.co.uk/hub", Err(())),
        ("alice.github.io", "https://bob.github.io/hub", Err(())),
        (
            "app.herokuapp.com",
            "https://hub.herokuapp.com/hub",
            Err(()),
        ),
        ("co.uk", "https://hub.co.uk/hub", Err(())),
        // IP addresses share cookies with nobody else.
        ("127.0.0.1", "http://localhost/hub", Err(())),
        ("localhost", "http://127.0.0.1/hub", Err(())),
        ("10.0.0.1", "http://10.0.0.2/hub", Err(())),
        // Single-label hosts.
        ("app", "http://hub/hub", Err(())),
        ("app.localhost", "http://hub.localhost/hub", Err(())),
    ];
    for (request_host, hub_url, expected) in cases {
        let got = cookie_domain(request_host, &Url::parse(hub_url).expect("url"));
        match (expected, &got) {
            (Ok(domain), Ok(got)) => {
                assert_eq!(got.as_deref(), *domain, "{request_host} -> {hub_url}")
            }
            (Err(()), Err(CookieError::CrossSite { .. })) => {}
            _ => panic!("{request_host} -> {hub_url}: expected {expected:?}, got {got:?}"),
        }
    }
}

#[test]
fn invalid_request_hosts() {
    let url = Url::parse("https://example.com/hub").expect("url");
    for host in [
        "",
        " ",
        "example.com:abc",
        "a/b",
        "a@b",
        "[::1",
        "a\r\nb",
        "exa mple.com",
    ] {
        assert!(
            matches!(
                cookie_domain(host, &url),
                Err(CookieError::InvalidRequestHost(_))
            ),
            "{host:?}"
        );
    }
}

#[test]
fn header_table() {
    use ProtocolVersion::{V0, V1};
    // (hub public URL, dialect, request host, options, expected Set-Cookie without the value)
    let cases: Vec<(&str, ProtocolVersion, &str, CookieOptions, &str)> = vec![
        (
            "https://example.com/.well-known/mercure",
            V0,
            "example.com",
            CookieOptions::new(),
            "mercureAuthorization=; Path=/.well-known/mercure; Max-Age=900; Secure; HttpOnly; SameSite=Strict",
        ),
        (
            "https://hub.example.com/.well-known/mercure",
            V1,
            "www.example.com",
            CookieOptions::new(),
            "__Secure-mercure_access_token=; Path=/.well-known/mercure; Domain=example.com; Max-Age=900; Secure; HttpOnly; SameSite=Strict",
        ),
        (
            "http://localhost:3000/.well-known/mercure",
            V0,
            "localhost:8000",
            CookieOptions::new().with_same_site(SameSite::Lax),
            "mercureAuthorization=; Path=/.well-known/mercure; Max-Age=900; HttpOnly; SameSite=Lax",
        ),
        (
            // __Secure- over plain-http loopback: browsers accept Secure there.
            "http://127.0.0.1:3000/.well-known/mercure",
            V1,
            "127.0.0.1:8000",
            CookieOptions::new(),
            "__Secure-mercure_access_token=; Path=/.well-known/mercure; Max-Age=900; Secure; HttpOnly; SameSite=Strict",
        ),
        (
            "https://example.com/hub",
            V0,
            "example.com",
            CookieOptions::new()
                .with_name("hubCookie")
                .with_same_site(SameSite::None)
                .with_lifetime(Duration::from_secs(60)),
            "hubCookie=; Path=/hub; Max-Age=60; Secure; HttpOnly; SameSite=None",
        ),
        (
            "https://example.com/",
            V0,
            "example.com",
            CookieOptions::new().with_name("__Host-mercure"),
            "__Host-mercure=; Path=/; Max-Age=900; Secure; HttpOnly; SameSite=Strict",
        ),
    ];
    for (url, version, host, options, expected) in cases {
        let hub = hub(url, version);
        let grants = Grants::new().subscribe(["https://example.com/books/1"]);
        let cookie = AuthorizationCookie::mint(&hub, host, &grants, &options).expect(url);
        let token = cookie.value().expose().to_owned();
        assert_eq!(token.split('.').count(), 3, "{url}");
        let header = cookie.set_cookie_header();
        assert_eq!(
            attributes(&header.replacen(&token, "", 1)),
            attributes(expected),
            "{url}"
        );
        assert!(cookie.http_only());
        assert!(
            !format!("{cookie:?}").contains(&token),
            "Debug leaks the token"
        );

        let cleared = AuthorizationCookie::clear(&hub, host, &options).expect("clear");
        assert!(cleared.is_removal());
        assert_eq!(cleared.value().expose(), "");
        let expected_clear = expected.replace(
            &format!("Max-Age={}", cookie.max_age().as_secs()),
            "Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
        );
        assert_eq!(
            attributes(&cleared.set_cookie_header()),
            attributes(&expected_clear),
            "clear {url}"
        );
    }
}

#[test]
fn refusals_table() {
    use ProtocolVersion::{V0, V1};
    let cases: Vec<(&str, ProtocolVersion, &str, CookieOptions, CookieError)> = vec![
        (
            "https://example.com/hub",
            V0,
            "example.org",
            CookieOptions::new(),
            CookieError::CrossSite {
                request_host: "example.org".into(),
                hub_host: "example.com".into(),
            },
        ),
        (
            "http://hub.example.com/hub",
            V1,
            "hub.example.com",
            CookieOptions::new(),
            CookieError::InsecureHub {
                requirement: "__Secure- cookie name prefix",
                hub_url: "http://hub.example.com/hub".into(),
            },
        ),
        (
            "http://example.com/hub",
            V0,
            "example.com",
            CookieOptions::new().with_same_site(SameSite::None),
            CookieError::InsecureHub {
                requirement: "SameSite=None attribute",
                hub_url: "http://example.com/hub".into(),
            },
        ),
        (
            "https://example.com/hub",
            V0,
            "example.com",
            CookieOptions::new().with_name("__Host-x"),
            CookieError::HostPrefix("Path=/hub".into()),
        ),
        (
            "https://hub.example.com/",
            V0,
            "example.com",
            CookieOptions::new().with_name("__host-x"),
            CookieError::HostPrefix("Domain=example.com".into()),
        ),
        (
            "https://example.com/hub",
            V0,
            "example.com",
            CookieOptions::new().with_name("bad name"),
            CookieError::InvalidName("bad name".into()),
        ),
        (
            "https://example.com/hub",
            V0,
            "example.com",
            CookieOptions::new().with_name("a=b"),
            CookieError::InvalidName("a=b".into()),
        ),
        (
            "https://example.com/a;b",
            V0,
            "example.com",
            CookieOptions::new(),
            CookieError::InvalidPath("/a;b".into()),
        ),
        (
            "https://example.com/hub",
            V0,
            "example.com",
            CookieOptions::new().with_lifetime(Duration::ZERO),
            CookieError::Token(mercure_web::token::TokenError::InvalidLifetime),
        ),
    ];
    for (url, version, host, options, expected) in cases {
        let hub = hub(url, version);
        let got = AuthorizationCookie::mint(&hub, host, &Grants::subscribe_all(), &options);
        assert_eq!(got, Err(expected), "{url} from {host}");
    }
}

#[test]
fn without_a_factory_or_with_a_bad_token() {
    let hub = HubInfo::builder("https://example.com/hub")
        .build()
        .expect("hub");
    assert_eq!(
        AuthorizationCookie::mint(
            &hub,
            "example.com",
            &Grants::subscribe_all(),
            &CookieOptions::new()
        ),
        Err(CookieError::NoTokenFactory)
    );
    let cookie = AuthorizationCookie::with_token(
        &hub,
        "example.com",
        Token::new("a.b.c"),
        Duration::from_secs(30),
        &CookieOptions::new(),
    )
    .expect("cookie");
    assert_eq!(
        attributes(&cookie.set_cookie_header()),
        attributes(
            "mercureAuthorization=a.b.c; Path=/hub; Max-Age=30; Secure; HttpOnly; SameSite=Strict"
        )
    );
    for bad in ["a b", "a;b", "a\"b", "a,b", "é"] {
        assert_eq!(
            AuthorizationCookie::with_token(
                &hub,
                "example.com",
                Token::new(bad),
                Duration::from_secs(1),
                &CookieOptions::new()
            ),
            Err(CookieError::InvalidValue),
            "{bad:?}"
        );
    }
}

#[test]
fn the_token_carries_the_grants_and_lifetime() {
    let hub = hub(
        "https://example.com/.well-known/mercure",
        ProtocolVersion::V0,
    );
    let grants = Grants::new()
        .subscribe(["https://example.com/books/1"])
        .publish(["https://example.com/chat"])
        .with_subject("user-1");
    let cookie = AuthorizationCookie::mint(&hub, "example.com", &grants, &CookieOptions::new())
        .expect("cookie");
    mercure_core::crypto::install_default_provider();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.validate_exp = false;
    validation.required_spec_claims.clear();
    let claims = jsonwebtoken::decode::<serde_json::Value>(
        cookie.value().expose(),
        &jsonwebtoken::DecodingKey::from_secret(SECRET),
        &validation,
    )
    .expect("decode")
    .claims;
    assert_eq!(
        claims["mercure"]["subscribe"],
        serde_json::json!(["https://example.com/books/1"])
    );
    assert_eq!(
        claims["mercure"]["publish"],
        serde_json::json!(["https://example.com/chat"])
    );
    assert_eq!(claims["sub"], "user-1");
    assert_eq!(claims["exp"].as_u64(), Some(1_700_000_000 + 900));
    assert_eq!(cookie.max_age(), Duration::from_secs(900));
}

#[test]
fn public_types_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<AuthorizationCookie>();
    assert_send_sync::<CookieError>();
    assert_send_sync::<mercure_web::Authorization>();
    assert_send_sync::<mercure_web::HubUrl>();
    assert_send_sync::<mercure_web::DiscoveryLink>();
    assert_send_sync::<
        mercure_web::FnTopicAuthorizer<fn(Option<&str>, &mercure_web::TopicSelector) -> bool>,
    >();
}

#[test]
fn errors_convert_into_the_crate_error() {
    fn cookie(hub: &HubInfo, host: &str) -> Result<AuthorizationCookie, mercure_web::WebError> {
        Ok(AuthorizationCookie::mint(
            hub,
            host,
            &Grants::subscribe_all(),
            &CookieOptions::new(),
        )?)
    }
    let hub = hub("https://example.com/hub", ProtocolVersion::V0);
    assert!(cookie(&hub, "example.com").is_ok());
    let error = cookie(&hub, "example.org").expect_err("cross-site");
    assert!(matches!(
        error,
        mercure_web::WebError::Cookie(CookieError::CrossSite { .. })
    ));
    assert!(
        error.to_string().contains("share no registrable domain"),
        "{error}"
    );
}

#[test]
fn a_known_origin_scheme_is_checked() {
    use ProtocolVersion::{V0, V1};
    // (hub public URL, dialect, request origin, expected: Ok(Domain) or Err)
    type Case = (
        &'static str,
        ProtocolVersion,
        &'static str,
        Result<Option<&'static str>, CookieError>,
    );
    let cases: Vec<Case> = vec![
        (
            "https://hub.example.com/hub",
            V0,
            "https://www.example.com",
            Ok(Some("example.com")),
        ),
        (
            "https://hub.example.com/hub",
            V0,
            "HTTPS://www.example.com:8443",
            Ok(Some("example.com")),
        ),
        (
            "https://hub.example.com/hub",
            V0,
            "http://www.example.com",
            Err(CookieError::InsecureOrigin("www.example.com".into())),
        ),
        // Not Secure: a plain-http page may set it.
        (
            "http://hub.example.com/hub",
            V0,
            "http://www.example.com",
            Ok(Some("example.com")),
        ),
        // Loopback pages are secure contexts.
        (
            "https://localhost:3000/hub",
            V0,
            "http://localhost:8000",
            Ok(None),
        ),
        (
            "http://127.0.0.1:3000/hub",
            V1,
            "http://127.0.0.1:8000",
            Ok(None),
        ),
        (
            "https://example.com/hub",
            V0,
            "ftp://example.com",
            Err(CookieError::InvalidRequestHost("ftp://example.com".into())),
        ),
        (
            "https://example.com/hub",
            V0,
            "https://example.com/page",
            Err(CookieError::InvalidRequestHost(
                "https://example.com/page".into(),
            )),
        ),
    ];
    for (url, version, origin, expected) in cases {
        let hub = hub(url, version);
        let got = AuthorizationCookie::mint(
            &hub,
            origin,
            &Grants::subscribe_all(),
            &CookieOptions::new(),
        );
        match (&expected, got) {
            (Ok(domain), Ok(cookie)) => assert_eq!(cookie.domain(), *domain, "{origin} -> {url}"),
            (Err(expected), Err(got)) => assert_eq!(&got, expected, "{origin} -> {url}"),
            (_, got) => panic!("{origin} -> {url}: expected {expected:?}, got {got:?}"),
        }
    }
}

/// A `Set-Cookie` value's name-value pair first, then its attributes in
/// any order (the order carries no meaning).
fn attributes(header: &str) -> (String, std::collections::BTreeSet<String>) {
    let mut parts = header.split("; ");
    let pair = parts.next().unwrap_or_default().to_owned();
    (pair, parts.map(str::to_owned).collect())
}
