//! Handler-level tests of every helper, driven with `tower::ServiceExt::oneshot`.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{FromRef, Path, State};
use axum::http::{Method, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use mercure_axum::client::clock::ManualClock;
use mercure_axum::client::token::{Grants, SigningKey, TokenFactory};
use mercure_axum::client::{Hub, HubRegistry};
use mercure_axum::web::{CookieOptions, FnTopicAuthorizer, SameSite, TopicSelector};
use mercure_axum::{AuthorizationCookieLayer, DiscoveryLayer, Mercure, MercureCookies};
use tower::ServiceExt as _;

const SECRET: &[u8] = b"!ChangeThisMercureHubJWTSecretKey!";

fn hub(public_url: &str) -> Hub {
    let factory = TokenFactory::builder(SigningKey::hs256(SECRET).expect("key"))
        .lifetime(Duration::from_secs(600))
        .clock(Arc::new(ManualClock::at_unix(1_700_000_000)))
        .build()
        .expect("factory");
    Hub::builder("http://mercure.internal:3000/.well-known/mercure")
        .public_url(public_url)
        .token_factory(factory, Grants::publish_all())
        .build()
        .expect("hub")
}

fn mercure() -> Mercure {
    Mercure::new(hub("https://hub.example.com/.well-known/mercure"))
}

fn get_request(uri: &str, host: Option<&str>) -> Request<Body> {
    let mut builder = Request::builder().uri(uri);
    if let Some(host) = host {
        builder = builder.header(header::HOST, host);
    }
    builder.body(Body::empty()).expect("request")
}

fn preflight(uri: &str) -> Request<Body> {
    Request::builder()
        .method(Method::OPTIONS)
        .uri(uri)
        .header(header::HOST, "www.example.com")
        .header(header::ORIGIN, "https://www.example.com")
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "GET")
        .body(Body::empty())
        .expect("request")
}

fn set_cookies(response: &Response) -> Vec<String> {
    response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().expect("ascii").to_owned())
        .collect()
}

/// Decodes the token of a `Set-Cookie` header.
fn claims(set_cookie: &str) -> serde_json::Value {
    let token = set_cookie
        .split(';')
        .next()
        .and_then(|pair| pair.split_once('='))
        .map(|(_, value)| value)
        .expect("a value");
    mercure_core::crypto::install_default_provider();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.validate_exp = false;
    validation.required_spec_claims.clear();
    jsonwebtoken::decode::<serde_json::Value>(
        token,
        &jsonwebtoken::DecodingKey::from_secret(SECRET),
        &validation,
    )
    .expect("a token signed with the secret")
    .claims
}

/// The attributes of a `Set-Cookie` header, sorted (their order is not
/// part of the contract).
fn attributes(set_cookie: &str) -> Vec<String> {
    let mut attributes: Vec<String> = set_cookie.split("; ").skip(1).map(str::to_owned).collect();
    attributes.sort();
    attributes
}

async fn body_text(response: Response) -> String {
    let bytes = http_body_util::BodyExt::collect(response.into_body())
        .await
        .expect("body")
        .to_bytes();
    String::from_utf8(bytes.to_vec()).expect("utf-8")
}

async fn book(
    Path(id): Path<u32>,
    mut cookies: MercureCookies,
) -> mercure_axum::Result<(MercureCookies, String)> {
    cookies.subscribe([format!("https://example.com/books/{id}")])?;
    Ok((cookies, format!("book {id}")))
}

#[tokio::test]
async fn a_handler_sets_the_cookie_for_its_topics() {
    let app = Router::new()
        .route("/books/{id}", get(book))
        .with_state(mercure());
    let response = app
        .oneshot(get_request("/books/7", Some("www.example.com")))
        .await
        .expect("response");
    assert_eq!(response.status(), StatusCode::OK);
    let cookies = set_cookies(&response);
    assert_eq!(cookies.len(), 1);
    assert!(cookies[0].starts_with("mercureAuthorization="));
    assert_eq!(
        attributes(&cookies[0]),
        [
            "Domain=example.com",
            "HttpOnly",
            "Max-Age=600",
            "Path=/.well-known/mercure",
            "SameSite=Strict",
            "Secure"
        ]
    );
    assert!(
        response
            .headers()
            .get(header::SET_COOKIE)
            .expect("header")
            .is_sensitive()
    );
    let claims = claims(&cookies[0]);
    assert_eq!(
        claims["mercure"]["subscribe"],
        serde_json::json!(["https://example.com/books/7"])
    );
    assert_eq!(claims["exp"], 1_700_000_600);
    assert_eq!(body_text(response).await, "book 7");
}

#[tokio::test]
async fn the_host_decides_the_cookie_or_the_refusal() {
    let app = Router::new()
        .route("/books/{id}", get(book))
        .with_state(mercure());
    // No Host at all: the client's fault.
    let response = app
        .clone()
        .oneshot(get_request("/books/1", None))
        .await
        .expect("response");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(set_cookies(&response).is_empty());
    // An absolute URI carries the authority (HTTP/2 style).
    let response = app
        .clone()
        .oneshot(get_request("https://hub.example.com/books/1", None))
        .await
        .expect("response");
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        !attributes(&set_cookies(&response)[0])
            .iter()
            .any(|a| a.starts_with("Domain="))
    );
    // A site the hub is not on: a configuration problem, nothing leaks.
    let response = app
        .clone()
        .oneshot(get_request("/books/1", Some("example.org")))
        .await
        .expect("response");
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(set_cookies(&response).is_empty());
    assert_eq!(
        body_text(response).await,
        "cannot prepare the Mercure authorization"
    );
    // A malformed host.
    let response = app
        .oneshot(get_request("/books/1", Some("exa mple.com")))
        .await
        .expect("response");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn cookies_for_several_hubs_and_logout() {
    let registry = HubRegistry::new(hub("https://hub.example.com/.well-known/mercure"))
        .with("chat", hub("https://chat.example.com/hub"));
    let mercure = Mercure::with_registry(registry)
        .cookie_options(CookieOptions::new().with_same_site(SameSite::Lax));
    async fn both(mut cookies: MercureCookies) -> mercure_axum::Result<MercureCookies> {
        cookies.subscribe(["/news"])?.authorize_hub(
            "chat",
            &Grants::new().subscribe(["/rooms/1"]).publish(["/rooms/1"]),
        )?;
        Ok(cookies)
    }
    async fn logout(
        mut cookies: MercureCookies,
    ) -> mercure_axum::Result<(MercureCookies, &'static str)> {
        cookies.clear()?.clear_hub("chat")?;
        Ok((cookies, "bye"))
    }
    async fn unknown(mut cookies: MercureCookies) -> mercure_axum::Result<MercureCookies> {
        cookies.authorize_hub("nope", &Grants::subscribe_all())?;
        Ok(cookies)
    }
    let app = Router::new()
        .route("/", get(both))
        .route("/logout", get(logout))
        .route("/unknown", get(unknown))
        .with_state(mercure);

    let response = app
        .clone()
        .oneshot(get_request("/", Some("www.example.com")))
        .await
        .expect("response");
    let cookies = set_cookies(&response);
    assert_eq!(cookies.len(), 2);
    for (cookie, path) in cookies
        .iter()
        .zip(["Path=/.well-known/mercure", "Path=/hub"])
    {
        assert_eq!(
            attributes(cookie),
            [
                "Domain=example.com",
                "HttpOnly",
                "Max-Age=600",
                path,
                "SameSite=Lax",
                "Secure"
            ]
        );
    }
    assert_eq!(
        claims(&cookies[1])["mercure"]["publish"],
        serde_json::json!(["/rooms/1"])
    );

    let response = app
        .clone()
        .oneshot(get_request("/logout", Some("www.example.com")))
        .await
        .expect("response");
    let cookies = set_cookies(&response);
    assert_eq!(cookies.len(), 2);
    for (cookie, path) in cookies
        .iter()
        .zip(["Path=/.well-known/mercure", "Path=/hub"])
    {
        assert!(cookie.starts_with("mercureAuthorization=;"), "{cookie}");
        assert_eq!(
            attributes(cookie),
            [
                "Domain=example.com",
                "Expires=Thu, 01 Jan 1970 00:00:00 GMT",
                "HttpOnly",
                "Max-Age=0",
                path,
                "SameSite=Lax",
                "Secure"
            ]
        );
    }

    let response = app
        .oneshot(get_request("/unknown", Some("www.example.com")))
        .await
        .expect("response");
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
}

#[tokio::test]
async fn the_authorizer_is_consulted_when_minting() {
    // Users read their own inbox only; the subject is the user.
    let mercure = mercure().authorizer(FnTopicAuthorizer::new(
        |user: Option<&str>, topic: &TopicSelector| match topic.expression().strip_prefix("/users/")
        {
            Some(rest) => user.is_some_and(|user| rest.starts_with(&format!("{user}/"))),
            None => true,
        },
    ));
    async fn inbox(
        Path(user): Path<String>,
        mut cookies: MercureCookies,
    ) -> mercure_axum::Result<MercureCookies> {
        cookies.authorize(
            &Grants::new()
                .with_subject("42")
                .subscribe([format!("/users/{user}/inbox"), "/news".to_owned()]),
        )?;
        Ok(cookies)
    }
    let app = Router::new()
        .route("/inbox/{user}", get(inbox))
        .with_state(mercure);
    let response = app
        .clone()
        .oneshot(get_request("/inbox/42", Some("www.example.com")))
        .await
        .expect("ok");
    assert_eq!(
        claims(&set_cookies(&response)[0])["mercure"]["subscribe"],
        serde_json::json!(["/users/42/inbox", "/news"])
    );
    let response = app
        .oneshot(get_request("/inbox/7", Some("www.example.com")))
        .await
        .expect("ok");
    assert_eq!(
        claims(&set_cookies(&response)[0])["mercure"]["subscribe"],
        serde_json::json!(["/news"])
    );
}

#[tokio::test]
async fn a_route_layer_with_static_topics() {
    let app = Router::new()
        .route(
            "/books",
            get(|| async { "books" }).post(|| async { StatusCode::CREATED }),
        )
        .route_layer(AuthorizationCookieLayer::subscribe(
            mercure(),
            ["https://example.com/books"],
        ))
        .route("/elsewhere", get(|| async { "no cookie" }));

    for request in [
        get_request("/books", Some("www.example.com")),
        Request::post("/books")
            .header(header::HOST, "www.example.com")
            .body(Body::empty())
            .expect("request"),
    ] {
        let response = app.clone().oneshot(request).await.expect("response");
        let cookies = set_cookies(&response);
        assert_eq!(cookies.len(), 1, "{}", response.status());
        assert_eq!(
            claims(&cookies[0])["mercure"]["subscribe"],
            serde_json::json!(["https://example.com/books"])
        );
    }
    let response = app
        .clone()
        .oneshot(get_request("/elsewhere", Some("www.example.com")))
        .await
        .expect("ok");
    assert!(set_cookies(&response).is_empty());
    let response = app
        .clone()
        .oneshot(preflight("/books"))
        .await
        .expect("response");
    assert!(
        set_cookies(&response).is_empty(),
        "preflights get no cookie"
    );
    // A misconfiguration answers before the handler runs.
    let response = app
        .oneshot(get_request("/books", Some("example.org")))
        .await
        .expect("response");
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
}

/// The logged-in user, as an authentication middleware would leave it.
#[derive(Clone, Debug)]
struct User(String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for User {
    type Rejection = StatusCode;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        parts
            .headers
            .get("x-user")
            .and_then(|v| v.to_str().ok())
            .map(|user| User(user.to_owned()))
            .ok_or(StatusCode::UNAUTHORIZED)
    }
}

#[tokio::test]
async fn a_route_layer_with_topics_computed_from_the_request() {
    #[derive(Clone, FromRef)]
    struct AppState {
        mercure: Mercure,
        greeting: &'static str,
    }
    let state = AppState {
        mercure: mercure(),
        greeting: "hello",
    };
    let handler_runs = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = handler_runs.clone();
    let app = Router::new()
        .route(
            "/books/{id}",
            get(
                move |State(greeting): State<&'static str>, Path(id): Path<u32>| {
                    counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    async move { format!("{greeting} {id}") }
                },
            ),
        )
        .route_layer(AuthorizationCookieLayer::from_request(
            state.clone(),
            |(Path(id), User(user)): (Path<u32>, User)| {
                Grants::new()
                    .with_subject(user.clone())
                    .subscribe([
                        format!("https://example.com/books/{id}"),
                        format!("https://example.com/users/{user}"),
                    ])
                    .with_payload(serde_json::json!({ "user": user }))
            },
        ))
        .with_state(state);

    let mut request = get_request("/books/3", Some("www.example.com"));
    request
        .headers_mut()
        .insert("x-user", "ada".parse().expect("value"));
    let response = app.clone().oneshot(request).await.expect("response");
    assert_eq!(response.status(), StatusCode::OK);
    let claims = claims(&set_cookies(&response)[0]);
    assert_eq!(
        claims["mercure"]["subscribe"],
        serde_json::json!([
            "https://example.com/books/3",
            "https://example.com/users/ada"
        ])
    );
    assert_eq!(
        claims["mercure"]["payload"],
        serde_json::json!({"user": "ada"})
    );
    assert_eq!(claims["sub"], "ada");
    assert_eq!(body_text(response).await, "hello 3");
    assert_eq!(handler_runs.load(std::sync::atomic::Ordering::SeqCst), 1);

    // The extractor's rejection is the answer; the handler does not run.
    let response = app
        .clone()
        .oneshot(get_request("/books/3", Some("www.example.com")))
        .await
        .expect("ok");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let mut request = get_request("/books/abc", Some("www.example.com"));
    request
        .headers_mut()
        .insert("x-user", "ada".parse().expect("value"));
    let response = app.oneshot(request).await.expect("response");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(handler_runs.load(std::sync::atomic::Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_route_layer_for_a_named_hub() {
    let mercure = Mercure::with_registry(
        HubRegistry::new(hub("https://hub.example.com/.well-known/mercure"))
            .with("chat", hub("https://www.example.com/chat-hub")),
    );
    let app = Router::new()
        .route("/", get(|| async { "ok" }))
        .route_layer(AuthorizationCookieLayer::subscribe(mercure, ["/rooms/1"]).hub("chat"));
    let response = app
        .oneshot(get_request("/", Some("www.example.com")))
        .await
        .expect("ok");
    assert_eq!(
        attributes(&set_cookies(&response)[0]),
        [
            "HttpOnly",
            "Max-Age=600",
            "Path=/chat-hub",
            "SameSite=Strict",
            "Secure"
        ]
    );
}

#[tokio::test]
async fn the_discovery_layer_links_the_hub_except_on_preflights() {
    let mercure = mercure();
    let link = mercure
        .discovery_link()
        .parameter("content-type", "application/ld+json")
        .expect("link");
    let app = Router::new()
        .route(
            "/books/1",
            get(|| async { ([(header::LINK, "</books/1>; rel=\"self\"")], "a book") })
                .options(|| async { "options" }),
        )
        .layer(DiscoveryLayer::from_link(&link));

    let response = app
        .clone()
        .oneshot(get_request("/books/1", Some("www.example.com")))
        .await
        .expect("ok");
    let links: Vec<_> = response
        .headers()
        .get_all(header::LINK)
        .iter()
        .map(|v| v.to_str().expect("ascii").to_owned())
        .collect();
    assert_eq!(
        links,
        [
            "</books/1>; rel=\"self\"",
            "<https://hub.example.com/.well-known/mercure>; rel=\"mercure\"; content-type=\"application/ld+json\"",
        ]
    );
    let response = app
        .clone()
        .oneshot(preflight("/books/1"))
        .await
        .expect("ok");
    assert!(response.headers().get(header::LINK).is_none());
    // A plain OPTIONS request is no preflight.
    let response = app
        .oneshot(
            Request::options("/books/1")
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("ok");
    assert!(response.headers().get(header::LINK).is_some());

    let default = Router::new()
        .route("/", get(|| async { "x" }))
        .layer(DiscoveryLayer::new(&mercure));
    let response = default.oneshot(get_request("/", None)).await.expect("ok");
    assert_eq!(
        response.headers()[header::LINK],
        "<https://hub.example.com/.well-known/mercure>; rel=\"mercure\""
    );
}

#[tokio::test]
async fn hubs_come_out_of_the_state() {
    async fn urls(
        State(hub): State<Hub>,
        State(registry): State<HubRegistry>,
    ) -> impl IntoResponse {
        Json(serde_json::json!({
            "default": hub.public_url().as_str(),
            "names": registry.names().collect::<Vec<_>>(),
        }))
    }
    let mercure = Mercure::with_registry(
        HubRegistry::new(hub("https://hub.example.com/.well-known/mercure"))
            .with("chat", hub("https://chat.example.com/hub")),
    );
    let app = Router::new().route("/", get(urls)).with_state(mercure);
    let response = app.oneshot(get_request("/", None)).await.expect("ok");
    assert_eq!(
        body_text(response).await,
        r#"{"default":"https://hub.example.com/.well-known/mercure","names":["chat"]}"#
    );
}

#[test]
fn public_types_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Mercure>();
    assert_send_sync::<MercureCookies>();
    assert_send_sync::<mercure_axum::Error>();
    assert_send_sync::<AuthorizationCookieLayer>();
    assert_send_sync::<DiscoveryLayer>();
}

#[tokio::test]
async fn forwarding_headers_name_the_host_only_when_trusted() {
    let behind_proxy = |trust: bool| {
        Router::new()
            .route("/books/{id}", get(book))
            .with_state(mercure().trust_forwarded_host(trust))
    };
    let request = || {
        let mut request = get_request("/books/1", Some("app.internal:8080"));
        request.headers_mut().insert(
            "x-forwarded-host",
            "www.example.com".parse().expect("value"),
        );
        request
    };
    // Not trusted: the internal Host is on another site than the hub.
    let response = behind_proxy(false)
        .oneshot(request())
        .await
        .expect("response");
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let response = behind_proxy(true)
        .oneshot(request())
        .await
        .expect("response");
    assert_eq!(response.status(), StatusCode::OK);
    assert!(attributes(&set_cookies(&response)[0]).contains(&"Domain=example.com".to_owned()));
    // RFC 7239 wins over X-Forwarded-Host.
    let mut forwarded = request();
    forwarded.headers_mut().insert(
        "forwarded",
        "for=192.0.2.1;host=\"hub.example.com\""
            .parse()
            .expect("value"),
    );
    let response = behind_proxy(true)
        .oneshot(forwarded)
        .await
        .expect("response");
    assert!(!set_cookies(&response)[0].contains("Domain="));
}

#[tokio::test]
async fn a_plain_http_page_cannot_set_the_secure_cookie() {
    let app = |trust: bool| {
        Router::new()
            .route("/books/{id}", get(book))
            .with_state(mercure().trust_forwarded_host(trust))
    };
    // The scheme of an absolute request URI is known.
    let response = app(false)
        .oneshot(get_request("http://www.example.com/books/1", None))
        .await
        .expect("response");
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(set_cookies(&response).is_empty());
    // Behind a trusted proxy, X-Forwarded-Proto tells.
    for (proto, status) in [
        ("http", StatusCode::INTERNAL_SERVER_ERROR),
        ("https", StatusCode::OK),
    ] {
        let mut request = get_request("/books/1", Some("www.example.com"));
        request
            .headers_mut()
            .insert("x-forwarded-proto", proto.parse().expect("value"));
        let response = app(true).oneshot(request).await.expect("response");
        assert_eq!(response.status(), status, "{proto}");
    }
    // Untrusted, the header is ignored and the scheme unknown.
    let mut request = get_request("/books/1", Some("www.example.com"));
    request
        .headers_mut()
        .insert("x-forwarded-proto", "http".parse().expect("value"));
    let response = app(false).oneshot(request).await.expect("response");
    assert_eq!(response.status(), StatusCode::OK);
}
