//! End to end with actix-web: a browser-like client gets the authorization
//! cookie from the actix-web application, subscribes with it to the
//! embedded hub served alongside on another port of the same host, and
//! receives a private update that an anonymous client does not. The hub
//! lets the application's origin subscribe across origins (CORS with
//! credentials), and no other.

use actix_web::{App, HttpResponse, HttpServer, web};
use mercure_actix::client::token::{SigningKey, TokenFactory};
use mercure_actix::hub::{HubConfig, VerificationKey};
use mercure_actix::{DiscoveryLayer, Mercure, MercureCookies, MercureResponseExt};
use mercure_integration_tests::private_delivery::assert_private_delivery;

const SECRET: &[u8] = b"!ChangeThisMercureHubJWTSecretKey!";
const INBOX: &str = "https://example.com/users/ada/inbox";

async fn inbox(mut cookies: MercureCookies) -> mercure_actix::Result<HttpResponse> {
    cookies.subscribe([INBOX])?;
    Ok(HttpResponse::Ok()
        .mercure_cookies(&cookies)
        .body("<h1>Inbox</h1>"))
}

#[actix_web::test]
async fn the_cookie_from_the_app_opens_private_updates_on_the_hub_alongside() {
    let hub_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let hub_base = format!("http://{}", hub_listener.local_addr().expect("address"));
    let app_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let app_base = format!("http://{}", app_listener.local_addr().expect("address"));

    // The hub, embedded, on its own port; the application's origin may
    // subscribe from its pages.
    let config = HubConfig::builder()
        .url(format!("{hub_base}/.well-known/mercure"))
        .key(VerificationKey::hs256(SECRET).expect("key"))
        .anonymous(true)
        .heartbeat(None);
    let factory = TokenFactory::builder(SigningKey::hs256(SECRET).expect("key"))
        .build()
        .expect("factory");
    let mercure = Mercure::embedded_alongside(&app_base, config, factory).expect("mercure");
    let hub = mercure.embedded_hub().expect("embedded").clone();
    let hub_server = tokio::spawn(mercure_hub::serve(hub_listener, hub.router()));

    // The actix-web application.
    let data = web::Data::new(mercure.clone());
    let app_server = HttpServer::new(move || {
        App::new()
            .wrap(DiscoveryLayer::new(data.get_ref()))
            .app_data(data.clone())
            .route("/inbox", web::get().to(inbox))
    })
    .workers(1)
    .disable_signals()
    .listen(app_listener)
    .expect("listen")
    .run();
    let app_handle = app_server.handle();
    actix_web::rt::spawn(app_server);

    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .expect("client");
    let page = browser
        .get(format!("{app_base}/inbox"))
        .send()
        .await
        .expect("page");
    assert_eq!(page.status(), 200);
    assert_eq!(
        page.headers()["link"].to_str().expect("ascii"),
        format!("<{hub_base}/.well-known/mercure>; rel=\"mercure\"")
    );
    let set_cookie = page.headers()["set-cookie"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(
        set_cookie.contains("Path=/.well-known/mercure"),
        "{set_cookie}"
    );
    assert!(!set_cookie.contains("Domain="), "{set_cookie}");

    // What a browser asks before `new EventSource(url, { withCredentials: true })`.
    let url = mercure.hub_url().topic(INBOX).build().expect("url");
    for (origin, allowed) in [(app_base.as_str(), true), ("http://elsewhere.test", false)] {
        let preflight = reqwest::Client::new()
            .request(reqwest::Method::OPTIONS, url.clone())
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .send()
            .await
            .expect("preflight");
        let header = |name: &str| {
            preflight
                .headers()
                .get(name)
                .map(|v| v.to_str().expect("ascii"))
        };
        if allowed {
            assert_eq!(header("access-control-allow-origin"), Some(origin));
            assert_eq!(header("access-control-allow-credentials"), Some("true"));
        } else {
            assert_eq!(header("access-control-allow-origin"), None, "{origin}");
        }
    }

    assert_private_delivery(&browser, |request| request, mercure.hub(), INBOX).await;

    app_handle.stop(true).await;
    hub_server.abort();
}
