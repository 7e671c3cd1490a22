//! End to end with axum: a browser-like client gets the authorization
//! cookie from the application, discovers the embedded hub mounted in the
//! same router, subscribes with the cookie and receives a private update
//! that an anonymous client does not.

use std::time::Duration;

use axum::Router;
use axum::response::Html;
use axum::routing::get;
use futures_util::StreamExt as _;
use mercure_axum::client::Update;
use mercure_axum::client::token::{SigningKey, TokenFactory};
use mercure_axum::hub::{EmbeddedHub, HubConfig, VerificationKey};
use mercure_axum::{DiscoveryLayer, Mercure, MercureCookies};
use mercure_integration_tests::private_delivery::{assert_private_delivery, read_until};

const SECRET: &[u8] = b"!ChangeThisMercureHubJWTSecretKey!";
const INBOX: &str = "https://example.com/users/ada/inbox";

async fn inbox(
    mut cookies: MercureCookies,
) -> mercure_axum::Result<(MercureCookies, Html<&'static str>)> {
    cookies.subscribe([INBOX])?;
    Ok((cookies, Html("<h1>Inbox</h1>")))
}

#[tokio::test]
async fn the_cookie_from_the_app_opens_private_updates_on_the_mounted_hub() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let hub = EmbeddedHub::new(
        HubConfig::builder()
            .url(format!("{base}/.well-known/mercure"))
            .key(VerificationKey::hs256(SECRET).expect("key"))
            .anonymous(true)
            .heartbeat(None)
            .build()
            .expect("hub config"),
    );
    let factory = TokenFactory::builder(SigningKey::hs256(SECRET).expect("key"))
        .build()
        .expect("factory");
    let mercure = Mercure::embedded(hub.clone(), factory).expect("mercure");
    let app = Router::new()
        .route("/inbox", get(inbox))
        .layer(DiscoveryLayer::new(&mercure))
        .with_state(mercure.clone())
        .merge(hub.router());
    let server = tokio::spawn(mercure_hub::serve(listener, app));

    // The browser loads the page: it gets the cookie and the hub's address.
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .expect("client");
    let page = browser
        .get(format!("{base}/inbox"))
        .send()
        .await
        .expect("page");
    assert_eq!(page.status(), 200);
    let link = page.headers()["link"].to_str().expect("ascii").to_owned();
    assert_eq!(
        link,
        format!("<{base}/.well-known/mercure>; rel=\"mercure\"")
    );
    let set_cookie = page.headers()["set-cookie"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(
        set_cookie.contains("; Path=/.well-known/mercure;"),
        "{set_cookie}"
    );
    assert!(!set_cookie.contains("Domain="), "{set_cookie}");

    assert_private_delivery(&browser, |request| request, mercure.hub(), INBOX).await;

    server.abort();
}

/// Mercure 1.0: the `__Secure-mercure_access_token` cookie (Secure even on
/// plain-http loopback, which browsers treat as a secure context) carries
/// an RFC 9068 access token the hub accepts.
#[tokio::test]
async fn the_1_0_cookie_opens_private_updates_too() {
    use mercure_axum::client::ProtocolVersion;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let hub_url = format!("{base}/.well-known/mercure");
    let hub = EmbeddedHub::new(
        HubConfig::builder()
            .url(hub_url.clone())
            .key(VerificationKey::hs256(SECRET).expect("key"))
            .anonymous(true)
            .heartbeat(None)
            .build()
            .expect("hub config"),
    );
    let factory = TokenFactory::builder(SigningKey::hs256(SECRET).expect("key"))
        .protocol(ProtocolVersion::V1)
        .issuer("https://app.example.com")
        .audience(hub_url)
        .build()
        .expect("factory");
    let mercure = Mercure::embedded(hub.clone(), factory).expect("mercure");
    assert_eq!(mercure.hub().protocol(), ProtocolVersion::V1);
    let app = Router::new()
        .route("/inbox", get(inbox))
        .with_state(mercure.clone())
        .merge(hub.router());
    let server = tokio::spawn(mercure_hub::serve(listener, app));

    let client = reqwest::Client::new();
    let page = client
        .get(format!("{base}/inbox"))
        .send()
        .await
        .expect("page");
    let set_cookie = page.headers()["set-cookie"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(
        set_cookie.starts_with("__Secure-mercure_access_token="),
        "{set_cookie}"
    );
    assert!(set_cookie.contains("; Secure;"), "{set_cookie}");
    // What a browser sends back to the hub (loopback is a secure context).
    let cookie = set_cookie.split(';').next().expect("name=value").to_owned();

    let url = mercure.hub_url().topic(INBOX).build().expect("url");
    assert_eq!(
        url.query(),
        Some("match=https%3A%2F%2Fexample.com%2Fusers%2Fada%2Finbox")
    );
    assert_private_delivery(
        &client,
        |request| request.header("cookie", cookie),
        mercure.hub(),
        INBOX,
    )
    .await;

    server.abort();
}

/// `permission_changed` closes the stream a browser opened with the cookie
/// of that subject; other subjects' streams stay open.
#[tokio::test]
async fn permission_changed_closes_a_cookie_subscribers_stream() {
    use axum::extract::Path;
    use mercure_axum::client::token::Grants;

    async fn login(
        Path(user): Path<String>,
        mut cookies: MercureCookies,
    ) -> mercure_axum::Result<MercureCookies> {
        cookies.authorize(&Grants::new().with_subject(user).subscribe([INBOX]))?;
        Ok(cookies)
    }

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let hub = EmbeddedHub::new(
        HubConfig::builder()
            .url(format!("{base}/.well-known/mercure"))
            .key(VerificationKey::hs256(SECRET).expect("key"))
            .heartbeat(None)
            .build()
            .expect("hub config"),
    );
    let factory = TokenFactory::builder(SigningKey::hs256(SECRET).expect("key"))
        .build()
        .expect("factory");
    let mercure = Mercure::embedded(hub.clone(), factory).expect("mercure");
    let app = Router::new()
        .route("/login/{user}", get(login))
        .with_state(mercure.clone())
        .merge(hub.router());
    let server = tokio::spawn(mercure_hub::serve(listener, app));

    let url = mercure.hub_url().topic(INBOX).build().expect("url");
    let mut streams = Vec::new();
    for user in ["ada", "bob"] {
        let browser = reqwest::Client::builder()
            .cookie_store(true)
            .build()
            .expect("client");
        let page = browser
            .get(format!("{base}/login/{user}"))
            .send()
            .await
            .expect("login");
        assert_eq!(page.status(), 200);
        let stream = browser.get(url.clone()).send().await.expect("subscribe");
        assert_eq!(stream.status(), 200, "the cookie authorizes {user}");
        let mut stream = stream.bytes_stream();
        read_until(&mut stream, ":").await;
        streams.push(stream);
    }
    let mut bob = streams.pop().expect("bob");
    let mut ada = streams.pop().expect("ada");

    assert_eq!(
        mercure
            .permission_changed("ada", INBOX)
            .expect("embedded hub"),
        1
    );
    let end = tokio::time::timeout(Duration::from_secs(10), ada.next())
        .await
        .expect("the hub answers within 10 s");
    assert!(end.is_none(), "ada's stream ends");

    let update = Update::builder(INBOX)
        .data("still here")
        .private(true)
        .build()
        .expect("update");
    mercure.hub().publish(&update).await.expect("publish");
    read_until(&mut bob, "data: still here").await;

    server.abort();
}
