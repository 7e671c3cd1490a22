//! Handler-level tests of every helper, driven with `actix_web::test`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use actix_web::dev::ServiceResponse;
use actix_web::http::{Method, StatusCode, header};
use actix_web::{App, FromRequest, HttpRequest, HttpResponse, test, web};
use mercure_actix::client::clock::ManualClock;
use mercure_actix::client::token::{Grants, SigningKey, TokenFactory};
use mercure_actix::client::{Hub, HubRegistry};
use mercure_actix::web::{CookieOptions, FnTopicAuthorizer, SameSite, TopicSelector};
use mercure_actix::{
    AuthorizationCookieLayer, DiscoveryLayer, Mercure, MercureCookies, MercureResponseExt,
};

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

fn get(uri: &str, host: Option<&str>) -> test::TestRequest {
    let request = test::TestRequest::get().uri(uri);
    match host {
        Some(host) => request.insert_header((header::HOST, host)),
        None => request,
    }
}

fn preflight(uri: &str) -> test::TestRequest {
    test::TestRequest::default()
        .method(Method::OPTIONS)
        .uri(uri)
        .insert_header((header::HOST, "www.example.com"))
        .insert_header((header::ORIGIN, "https://www.example.com"))
        .insert_header((header::ACCESS_CONTROL_REQUEST_METHOD, "GET"))
}

fn set_cookies<B>(response: &ServiceResponse<B>) -> Vec<String> {
    response
        .headers()
        .get_all(header::SET_COOKIE)
        .map(|v| v.to_str().expect("ascii").to_owned())
        .collect()
}

/// The attributes of a `Set-Cookie` header, sorted (actix orders them its own way).
fn attributes(set_cookie: &str) -> Vec<String> {
    let mut attributes: Vec<String> = set_cookie.split("; ").skip(1).map(str::to_owned).collect();
    attributes.sort();
    attributes
}

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

async fn book(
    id: web::Path<u32>,
    mut cookies: MercureCookies,
) -> mercure_actix::Result<HttpResponse> {
    cookies.subscribe([format!("https://example.com/books/{id}")])?;
    Ok(HttpResponse::Ok()
        .mercure_cookies(&cookies)
        .body(format!("book {id}")))
}

#[actix_web::test]
async fn a_handler_sets_the_cookie_for_its_topics() {
    let app = test::init_service(
        App::new()
            .app_data(web::Data::new(mercure()))
            .route("/books/{id}", web::get().to(book)),
    )
    .await;
    let response =
        test::call_service(&app, get("/books/7", Some("www.example.com")).to_request()).await;
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
    let claims = claims(&cookies[0]);
    assert_eq!(
        claims["mercure"]["subscribe"],
        serde_json::json!(["https://example.com/books/7"])
    );
    assert_eq!(claims["exp"], 1_700_000_600);
    assert_eq!(test::read_body(response).await, "book 7");
}

#[actix_web::test]
async fn mercure_may_be_plain_app_data_and_must_be_registered() {
    let app = test::init_service(
        App::new()
            .app_data(mercure())
            .route("/books/{id}", web::get().to(book)),
    )
    .await;
    let response =
        test::call_service(&app, get("/books/1", Some("hub.example.com")).to_request()).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        !attributes(&set_cookies(&response)[0])
            .iter()
            .any(|a| a.starts_with("Domain="))
    );

    let app = test::init_service(App::new().route("/books/{id}", web::get().to(book))).await;
    let response =
        test::call_service(&app, get("/books/1", Some("example.com")).to_request()).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
}

#[actix_web::test]
async fn the_host_decides_the_cookie_or_the_refusal() {
    let app = test::init_service(
        App::new()
            .app_data(web::Data::new(mercure()))
            .route("/books/{id}", web::get().to(book)),
    )
    .await;
    let response = test::call_service(&app, get("/books/1", None).to_request()).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(set_cookies(&response).is_empty());

    let response =
        test::call_service(&app, get("/books/1", Some("example.org")).to_request()).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(set_cookies(&response).is_empty());
    assert_eq!(
        test::read_body(response).await,
        "cannot prepare the Mercure authorization"
    );

    let response =
        test::call_service(&app, get("/books/1", Some("exa mple.com")).to_request()).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

#[actix_web::test]
async fn cookies_for_several_hubs_and_logout() {
    let registry = HubRegistry::new(hub("https://hub.example.com/.well-known/mercure"))
        .with("chat", hub("https://chat.example.com/hub"));
    let mercure = Mercure::with_registry(registry)
        .cookie_options(CookieOptions::new().with_same_site(SameSite::Lax));
    async fn both(mut cookies: MercureCookies) -> mercure_actix::Result<HttpResponse> {
        cookies.subscribe(["/news"])?.authorize_hub(
            "chat",
            &Grants::new().subscribe(["/rooms/1"]).publish(["/rooms/1"]),
        )?;
        Ok(HttpResponse::Ok().mercure_cookies(&cookies).finish())
    }
    async fn logout(mut cookies: MercureCookies) -> mercure_actix::Result<HttpResponse> {
        cookies.clear()?.clear_hub("chat")?;
        Ok(HttpResponse::Ok().mercure_cookies(&cookies).body("bye"))
    }
    async fn unknown(mut cookies: MercureCookies) -> mercure_actix::Result<HttpResponse> {
        cookies.authorize_hub("nope", &Grants::subscribe_all())?;
        Ok(HttpResponse::Ok().mercure_cookies(&cookies).finish())
    }
    let app = test::init_service(
        App::new()
            .app_data(web::Data::new(mercure))
            .route("/", web::get().to(both))
            .route("/logout", web::get().to(logout))
            .route("/unknown", web::get().to(unknown)),
    )
    .await;
    let response = test::call_service(&app, get("/", Some("www.example.com")).to_request()).await;
    let cookies = set_cookies(&response);
    assert_eq!(cookies.len(), 2);
    assert!(attributes(&cookies[0]).contains(&"Path=/.well-known/mercure".to_owned()));
    assert!(attributes(&cookies[0]).contains(&"SameSite=Lax".to_owned()));
    assert!(attributes(&cookies[1]).contains(&"Path=/hub".to_owned()));
    assert_eq!(
        claims(&cookies[1])["mercure"]["publish"],
        serde_json::json!(["/rooms/1"])
    );

    let response =
        test::call_service(&app, get("/logout", Some("www.example.com")).to_request()).await;
    let cookies = set_cookies(&response);
    assert_eq!(cookies.len(), 2);
    for cookie in &cookies {
        assert!(cookie.starts_with("mercureAuthorization=;"), "{cookie}");
        let attributes = attributes(cookie);
        assert!(attributes.contains(&"Max-Age=0".to_owned()), "{cookie}");
        assert!(
            attributes.contains(&"Domain=example.com".to_owned()),
            "{cookie}"
        );
        assert!(
            attributes.iter().any(|a| a.starts_with("Expires=")),
            "{cookie}"
        );
    }

    let response =
        test::call_service(&app, get("/unknown", Some("www.example.com")).to_request()).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
}

#[actix_web::test]
async fn the_authorizer_is_consulted_when_minting() {
    let mercure = mercure().authorizer(FnTopicAuthorizer::new(
        |user: Option<&str>, topic: &TopicSelector| match topic.expression().strip_prefix("/users/")
        {
            Some(rest) => user.is_some_and(|user| rest.starts_with(&format!("{user}/"))),
            None => true,
        },
    ));
    async fn inbox(
        user: web::Path<String>,
        mut cookies: MercureCookies,
    ) -> mercure_actix::Result<HttpResponse> {
        cookies.authorize(
            &Grants::new()
                .with_subject("42")
                .subscribe([format!("/users/{user}/inbox"), "/news".to_owned()]),
        )?;
        Ok(HttpResponse::Ok().mercure_cookies(&cookies).finish())
    }
    let app = test::init_service(
        App::new()
            .app_data(web::Data::new(mercure))
            .route("/inbox/{user}", web::get().to(inbox)),
    )
    .await;
    let response =
        test::call_service(&app, get("/inbox/42", Some("www.example.com")).to_request()).await;
    assert_eq!(
        claims(&set_cookies(&response)[0])["mercure"]["subscribe"],
        serde_json::json!(["/users/42/inbox", "/news"])
    );
    let response =
        test::call_service(&app, get("/inbox/7", Some("www.example.com")).to_request()).await;
    assert_eq!(
        claims(&set_cookies(&response)[0])["mercure"]["subscribe"],
        serde_json::json!(["/news"])
    );
}

#[actix_web::test]
async fn a_middleware_with_static_topics() {
    let app = test::init_service(
        App::new()
            .service(
                web::resource("/books")
                    .wrap(AuthorizationCookieLayer::subscribe(
                        mercure(),
                        ["https://example.com/books"],
                    ))
                    .route(web::get().to(|| async { "books" }))
                    .route(web::post().to(HttpResponse::Created))
                    .route(web::method(Method::OPTIONS).to(HttpResponse::NoContent)),
            )
            .route("/elsewhere", web::get().to(|| async { "no cookie" })),
    )
    .await;
    for request in [
        get("/books", Some("www.example.com")).to_request(),
        test::TestRequest::post()
            .uri("/books")
            .insert_header((header::HOST, "www.example.com"))
            .to_request(),
    ] {
        let response = test::call_service(&app, request).await;
        let cookies = set_cookies(&response);
        assert_eq!(cookies.len(), 1, "{}", response.status());
        assert_eq!(
            claims(&cookies[0])["mercure"]["subscribe"],
            serde_json::json!(["https://example.com/books"])
        );
    }
    let response = test::call_service(
        &app,
        get("/elsewhere", Some("www.example.com")).to_request(),
    )
    .await;
    assert!(set_cookies(&response).is_empty());
    let response = test::call_service(&app, preflight("/books").to_request()).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(
        set_cookies(&response).is_empty(),
        "preflights get no cookie"
    );
    let response = test::call_service(&app, get("/books", Some("example.org")).to_request()).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(set_cookies(&response).is_empty());
}

/// The logged-in user, as an authentication middleware would leave it.
#[derive(Clone, Debug)]
struct User(String);

impl FromRequest for User {
    type Error = actix_web::Error;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        std::future::ready(
            request
                .headers()
                .get("x-user")
                .and_then(|v| v.to_str().ok())
                .map(|user| User(user.to_owned()))
                .ok_or_else(|| actix_web::error::ErrorUnauthorized("log in first")),
        )
    }
}

#[actix_web::test]
async fn a_middleware_with_topics_computed_from_the_request() {
    let runs = Arc::new(AtomicUsize::new(0));
    let counter = runs.clone();
    let app = test::init_service(
        App::new().service(
            web::resource("/books/{id}")
                .wrap(AuthorizationCookieLayer::from_request(
                    mercure(),
                    |(id, User(user)): (web::Path<u32>, User)| {
                        Grants::new()
                            .with_subject(user.clone())
                            .subscribe([
                                format!("https://example.com/books/{id}"),
                                format!("https://example.com/users/{user}"),
                            ])
                            .with_payload(serde_json::json!({ "user": user }))
                    },
                ))
                .to(move |id: web::Path<u32>| {
                    counter.fetch_add(1, Ordering::SeqCst);
                    async move { format!("book {id}") }
                }),
        ),
    )
    .await;
    let request = get("/books/3", Some("www.example.com"))
        .insert_header(("x-user", "ada"))
        .to_request();
    let response = test::call_service(&app, request).await;
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
    assert_eq!(test::read_body(response).await, "book 3");
    assert_eq!(runs.load(Ordering::SeqCst), 1);

    let response =
        test::call_service(&app, get("/books/3", Some("www.example.com")).to_request()).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let request = get("/books/abc", Some("www.example.com"))
        .insert_header(("x-user", "ada"))
        .to_request();
    let response = test::call_service(&app, request).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(runs.load(Ordering::SeqCst), 1, "the handler did not run");
}

#[actix_web::test]
async fn a_middleware_for_a_named_hub() {
    let mercure = Mercure::with_registry(
        HubRegistry::new(hub("https://hub.example.com/.well-known/mercure"))
            .with("chat", hub("https://www.example.com/chat-hub")),
    );
    let app = test::init_service(
        App::new().service(
            web::resource("/")
                .wrap(AuthorizationCookieLayer::subscribe(mercure, ["/rooms/1"]).hub("chat"))
                .to(|| async { "ok" }),
        ),
    )
    .await;
    let response = test::call_service(&app, get("/", Some("www.example.com")).to_request()).await;
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

#[actix_web::test]
async fn the_discovery_middleware_links_the_hub_except_on_preflights() {
    let mercure = mercure();
    let link = mercure
        .discovery_link()
        .parameter("content-type", "application/ld+json")
        .expect("link");
    let app = test::init_service(
        App::new().wrap(DiscoveryLayer::from_link(&link)).service(
            web::resource("/books/1")
                .route(web::get().to(|| async {
                    HttpResponse::Ok()
                        .append_header((header::LINK, "</books/1>; rel=\"self\""))
                        .body("a book")
                }))
                .route(web::method(Method::OPTIONS).to(HttpResponse::NoContent)),
        ),
    )
    .await;
    let response =
        test::call_service(&app, get("/books/1", Some("www.example.com")).to_request()).await;
    let links: Vec<_> = response
        .headers()
        .get_all(header::LINK)
        .map(|v| v.to_str().expect("ascii").to_owned())
        .collect();
    assert_eq!(
        links,
        [
            "</books/1>; rel=\"self\"",
            "<https://hub.example.com/.well-known/mercure>; rel=\"mercure\"; content-type=\"application/ld+json\"",
        ]
    );
    let response = test::call_service(&app, preflight("/books/1").to_request()).await;
    assert!(response.headers().get(header::LINK).is_none());
    let response = test::call_service(
        &app,
        test::TestRequest::default()
            .method(Method::OPTIONS)
            .uri("/books/1")
            .to_request(),
    )
    .await;
    assert!(
        response.headers().get(header::LINK).is_some(),
        "a plain OPTIONS is no preflight"
    );

    let app = test::init_service(
        App::new()
            .wrap(DiscoveryLayer::new(&mercure))
            .route("/", web::get().to(|| async { "x" })),
    )
    .await;
    let response = test::call_service(&app, get("/", None).to_request()).await;
    assert_eq!(
        response.headers().get(header::LINK).expect("link"),
        "<https://hub.example.com/.well-known/mercure>; rel=\"mercure\""
    );
}

#[actix_web::test]
async fn the_response_builder_extension_links_the_hub() {
    async fn page(mercure: web::Data<Mercure>) -> HttpResponse {
        HttpResponse::Ok()
            .mercure_link(&mercure.discovery_link())
            .body("page")
    }
    let app = test::init_service(
        App::new()
            .app_data(web::Data::new(mercure()))
            .route("/", web::get().to(page)),
    )
    .await;
    let response = test::call_service(&app, get("/", None).to_request()).await;
    assert_eq!(
        response.headers().get(header::LINK).expect("link"),
        "<https://hub.example.com/.well-known/mercure>; rel=\"mercure\""
    );
}

#[actix_web::test]
async fn configuration_types_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Mercure>();
    assert_send_sync::<MercureCookies>();
    assert_send_sync::<mercure_actix::Error>();
    assert_send_sync::<AuthorizationCookieLayer>();
    assert_send_sync::<DiscoveryLayer>();
}

#[actix_web::test]
async fn forwarding_headers_name_the_host_only_when_trusted() {
    for trust in [false, true] {
        let app = test::init_service(
            App::new()
                .app_data(web::Data::new(mercure().trust_forwarded_host(trust)))
                .route("/books/{id}", web::get().to(book)),
        )
        .await;
        let request = get("/books/1", Some("app.internal:8080"))
            .insert_header(("x-forwarded-host", "www.example.com"))
            .to_request();
        let response = test::call_service(&app, request).await;
        if trust {
            assert_eq!(response.status(), StatusCode::OK);
            assert!(
                attributes(&set_cookies(&response)[0]).contains(&"Domain=example.com".to_owned())
            );
            let request = get("/books/1", Some("app.internal:8080"))
                .insert_header(("x-forwarded-host", "www.example.com"))
                .insert_header(("forwarded", "for=192.0.2.1;host=\"hub.example.com\""))
                .to_request();
            let response = test::call_service(&app, request).await;
            assert!(
                !attributes(&set_cookies(&response)[0])
                    .iter()
                    .any(|a| a.starts_with("Domain="))
            );
        } else {
            // The internal Host is on another site than the hub.
            assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        }
    }
}

#[actix_web::test]
async fn a_plain_http_page_cannot_set_the_secure_cookie() {
    for (trust, proto, status) in [
        (true, "http", StatusCode::INTERNAL_SERVER_ERROR),
        (true, "https", StatusCode::OK),
        (false, "http", StatusCode::OK),
    ] {
        let app = test::init_service(
            App::new()
                .app_data(web::Data::new(mercure().trust_forwarded_host(trust)))
                .route("/books/{id}", web::get().to(book)),
        )
        .await;
        let request = get("/books/1", Some("www.example.com"))
            .insert_header(("x-forwarded-proto", proto))
            .to_request();
        let response = test::call_service(&app, request).await;
        assert_eq!(response.status(), status, "trusted: {trust}, {proto}");
    }
}
