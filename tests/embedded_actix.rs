//! End to end with actix-web: a browser-like client gets the authorization
//! cookie from the actix-web application, subscribes with it to the
//! embedded hub served alongside on another port of the same host, and
//! receives a private update that an anonymous client does not.

use std::time::Duration;

use actix_web::{App, HttpResponse, HttpServer, web};
use futures_util::StreamExt as _;
use mercure_actix::client::{HubUrl, SigningKey, TokenFactory, Update};
use mercure_actix::{Discovery, Mercure, MercureCookies, MercureResponseExt};
use mercure_hub::{EmbeddedHub, HubConfig, VerificationKey};

const SECRET: &[u8] = b"!ChangeThisMercureHubJWTSecretKey!";
const INBOX: &str = "https://example.com/users/ada/inbox";

async fn inbox(cookies: MercureCookies) -> mercure_actix::Result<HttpResponse> {
    let cookies = cookies.subscribe([INBOX])?;
    Ok(HttpResponse::Ok()
        .mercure_cookies(&cookies)
        .body("<h1>Inbox</h1>"))
}

async fn read_until(
    stream: &mut (impl futures_util::Stream<Item = reqwest::Result<bytes::Bytes>> + Unpin),
    needle: &str,
) -> String {
    let mut seen = String::new();
    while !seen.contains(needle) {
        let chunk = tokio::time::timeout(Duration::from_secs(10), stream.next())
            .await
            .expect("the hub answers within 10 s")
            .expect("the stream goes on")
            .expect("a chunk");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    seen
}

#[actix_web::test]
async fn the_cookie_from_the_app_opens_private_updates_on_the_hub_alongside() {
    // The hub, on its own port.
    let hub_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let hub_base = format!("http://{}", hub_listener.local_addr().expect("address"));
    let hub = EmbeddedHub::new(
        HubConfig::builder()
            .url(format!("{hub_base}/.well-known/mercure"))
            .key(VerificationKey::hs256(SECRET).expect("key"))
            .anonymous(true)
            .heartbeat(None)
            .build()
            .expect("hub config"),
    );
    let hub_server = tokio::spawn(mercure_hub::serve(hub_listener, hub.router()));

    // The actix-web application.
    let factory = TokenFactory::builder(SigningKey::hs256(SECRET).expect("key"))
        .build()
        .expect("factory");
    let mercure = Mercure::embedded(hub.clone(), factory).expect("mercure");
    let app_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let app_base = format!("http://{}", app_listener.local_addr().expect("address"));
    let data = web::Data::new(mercure.clone());
    let app_server = HttpServer::new(move || {
        App::new()
            .wrap(Discovery::new(data.get_ref()))
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

    let url = HubUrl::new(mercure.hub())
        .topic(INBOX)
        .build()
        .expect("url");
    let authorized = browser.get(url.clone()).send().await.expect("subscribe");
    assert_eq!(authorized.status(), 200);
    let anonymous = reqwest::get(url).await.expect("subscribe");
    assert_eq!(anonymous.status(), 200);
    let mut authorized = authorized.bytes_stream();
    let mut anonymous = anonymous.bytes_stream();
    read_until(&mut authorized, ":").await;
    read_until(&mut anonymous, ":").await;

    let private = Update::builder(INBOX)
        .data("for ada only")
        .private(true)
        .build()
        .expect("update");
    mercure
        .hub()
        .publish(&private)
        .await
        .expect("publish private");
    let public = Update::builder(INBOX)
        .data("for everyone")
        .build()
        .expect("update");
    mercure
        .hub()
        .publish(&public)
        .await
        .expect("publish public");

    let seen = read_until(&mut authorized, "data: for everyone").await;
    assert!(seen.contains("data: for ada only"), "{seen}");
    let seen = read_until(&mut anonymous, "data: for everyone").await;
    assert!(!seen.contains("for ada only"), "{seen}");

    app_handle.stop(true).await;
    hub_server.abort();
}
