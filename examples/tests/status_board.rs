//! The status board's handlers over real HTTP, on axum (hub in the same
//! router) and on actix-web (hub on its own port): sessions, the
//! authorization cookie, private notes delivered to their recipient only,
//! public statuses delivered to everyone, typed refusals, and logout
//! closing the user's open subscriptions.

use std::pin::Pin;
use std::time::Duration;

use futures_util::{Stream, StreamExt};
use mercure_examples::board::{Board, BoardSettings};
use mercure_examples::{status_board, status_board_actix};
use url::Url;

/// Bounds every wait.
const WAIT: Duration = Duration::from_secs(30);

type ByteStream = Pin<Box<dyn Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>;

/// An open event stream and what it has delivered so far.
struct Events {
    received: String,
    stream: ByteStream,
}

impl Events {
    /// Subscribes with `client` (and its cookies) to the hub URL the page
    /// `html` carries.
    async fn open(client: &reqwest::Client, html: &str) -> Self {
        let response = client
            .get(hub_url_in(html))
            .header("accept", "text/event-stream")
            .send()
            .await
            .expect("subscribe");
        assert_eq!(response.status(), 200);
        Self {
            received: String::new(),
            stream: Box::pin(response.bytes_stream()),
        }
    }

    /// Reads until `needle` has been received.
    async fn until(&mut self, needle: &str) {
        tokio::time::timeout(WAIT, async {
            while !self.received.contains(needle) {
                let chunk = self
                    .stream
                    .next()
                    .await
                    .unwrap_or_else(|| {
                        panic!("the stream ended before {needle:?}: {}", self.received)
                    })
                    .expect("read");
                self.received.push_str(&String::from_utf8_lossy(&chunk));
            }
        })
        .await
        .unwrap_or_else(|_| panic!("{needle:?} never arrived: {}", self.received));
    }

    /// Reads until the hub ends the stream.
    async fn until_end(&mut self) {
        tokio::time::timeout(WAIT, async {
            while let Some(chunk) = self.stream.next().await {
                match chunk {
                    Ok(chunk) => self.received.push_str(&String::from_utf8_lossy(&chunk)),
                    Err(_) => break,
                }
            }
        })
        .await
        .unwrap_or_else(|_| {
            panic!(
                "the hub did not end the stream within {WAIT:?}: {}",
                self.received
            )
        });
    }
}

/// The `data-hub` attribute of the page, its entities decoded as a
/// browser does (minijinja escapes `&`, `/`, `<`, `>`, `"` and `'`).
fn hub_url_in(html: &str) -> String {
    let start = html.find("data-hub=\"").expect("data-hub") + "data-hub=\"".len();
    let end = start + html[start..].find('"').expect("closing quote");
    [
        ("&#x2f;", "/"),
        ("&lt;", "<"),
        ("&gt;", ">"),
        ("&quot;", "\""),
        ("&#x27;", "'"),
        ("&amp;", "&"),
    ]
    .iter()
    .fold(html[start..end].to_owned(), |value, (entity, text)| {
        value.replace(entity, text)
    })
}

/// A browser-like client: cookies kept, redirects not followed. It also
/// reads event streams, which do not end: connecting and every read are
/// bounded rather than the whole exchange.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(10))
        .read_timeout(WAIT)
        .build()
        .expect("client")
}

async fn page(client: &reqwest::Client, base: &Url) -> (reqwest::header::HeaderMap, String) {
    let response = client.get(base.as_str()).send().await.expect("GET /");
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    (headers, response.text().await.expect("body"))
}

async fn post(client: &reqwest::Client, base: &Url, path: &str, form: &[(&str, &str)]) -> u16 {
    client
        .post(base.join(path).expect("url"))
        .form(form)
        .send()
        .await
        .expect("POST")
        .status()
        .as_u16()
}

/// Everything a user of the board relies on, against a running board.
async fn check_board(base: &Url, hub_url: &Url, board: &Board) {
    // A visitor: the board, the discovery link, and a cookie clearing any
    // authorization left over.
    let visitor = browser();
    let (headers, html) = page(&visitor, base).await;
    assert!(html.contains("Log in"), "{html}");
    assert_eq!(
        headers["link"].to_str().expect("ascii"),
        format!("<{hub_url}>; rel=\"mercure\"")
    );
    let cleared = headers["set-cookie"].to_str().expect("ascii");
    // Empty, expired at once, for the hub's path: the attributes in
    // whatever order the framework writes them.
    let mut attributes: Vec<&str> = cleared.split("; ").collect();
    attributes.sort_unstable();
    assert_eq!(
        attributes,
        [
            "Expires=Thu, 01 Jan 1970 00:00:00 GMT",
            "HttpOnly",
            "Max-Age=0",
            "Path=/.well-known/mercure",
            "SameSite=Strict",
            "mercureAuthorization=",
        ],
        "{cleared}"
    );

    // Typed refusals.
    assert_eq!(
        post(&visitor, base, "login", &[("user", "mallory")]).await,
        404
    );
    assert_eq!(
        post(&visitor, base, "status", &[("status", "busy")]).await,
        401
    );
    assert_eq!(
        post(&visitor, base, "notes", &[("to", "bob"), ("message", "hi")]).await,
        401
    );

    let alice = browser();
    let bob = browser();
    for (client, user) in [(&alice, "alice"), (&bob, "bob")] {
        assert_eq!(post(client, base, "login", &[("user", user)]).await, 303);
    }
    let (headers, alice_html) = page(&alice, base).await;
    assert!(alice_html.contains("Logged in as <strong>Alice</strong>"));
    let cookie = headers["set-cookie"].to_str().expect("ascii");
    assert!(
        cookie.starts_with("mercureAuthorization=ey"),
        "the token is set"
    );
    // The attributes, in whatever order the framework writes them.
    let mut attributes: Vec<&str> = cookie.split("; ").skip(1).collect();
    attributes.sort_unstable();
    assert_eq!(
        attributes,
        [
            "HttpOnly",
            "Max-Age=3600",
            "Path=/.well-known/mercure",
            "SameSite=Strict"
        ],
        "{cookie}"
    );
    assert_eq!(
        post(&alice, base, "status", &[("status", "   ")]).await,
        422
    );
    assert_eq!(
        post(
            &alice,
            base,
            "notes",
            &[("to", "mallory"), ("message", "hi")]
        )
        .await,
        404
    );
    let (_, bob_html) = page(&bob, base).await;

    let mut alice_events = Events::open(&alice, &alice_html).await;
    let mut bob_events = Events::open(&bob, &bob_html).await;
    let (_, visitor_html) = page(&visitor, base).await;
    let mut visitor_events = Events::open(&visitor, &visitor_html).await;

    // Private notes: each receives their own. Then a public status change,
    // published last, reaches everyone: whatever was published before it
    // would have arrived before it.
    board
        .notify("alice", "server", "for Alice only")
        .await
        .expect("note");
    assert_eq!(
        post(
            &alice,
            base,
            "notes",
            &[("to", "bob"), ("message", "for Bob only")]
        )
        .await,
        303
    );
    assert_eq!(
        post(&alice, base, "status", &[("status", "busy")]).await,
        303
    );
    for events in [&mut alice_events, &mut bob_events, &mut visitor_events] {
        events.until(r#""user":"alice","status":"busy""#).await;
    }
    assert!(alice_events.received.contains("for Alice only"));
    assert!(!alice_events.received.contains("for Bob only"));
    assert!(
        bob_events
            .received
            .contains(r#"{"from":"Alice","message":"for Bob only"}"#)
    );
    assert!(!bob_events.received.contains("for Alice only"));
    assert!(!visitor_events.received.contains("only"));
    assert_eq!(board.user("alice").expect("alice").status, "busy");

    // The notes are on the recipient's page after a reload.
    let (_, bob_html) = page(&bob, base).await;
    assert!(bob_html.contains("Alice: for Bob only"));

    // Logging out clears the cookies and closes Alice's open subscription.
    assert_eq!(post(&alice, base, "logout", &[]).await, 303);
    alice_events.until_end().await;
    let (_, html) = page(&alice, base).await;
    assert!(html.contains("Log in"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axum_board() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let settings = BoardSettings::local(listener.local_addr().expect("address"));
    let app = status_board::app(&settings).expect("app");
    let server = tokio::spawn(mercure_hub::serve(listener, app.router));
    check_board(settings.base_url(), settings.hub_url(), &app.board).await;
    server.abort();
}

#[actix_web::test]
async fn actix_board() {
    let hub_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let app_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let settings = BoardSettings::new(
        Url::parse(&format!(
            "http://{}/",
            app_listener.local_addr().expect("address")
        ))
        .expect("url"),
        Url::parse(&format!(
            "http://{}/.well-known/mercure",
            hub_listener.local_addr().expect("address")
        ))
        .expect("url"),
    )
    .expect("settings");
    let app = status_board_actix::app(&settings).expect("app");
    let hub = tokio::spawn(mercure_hub::serve(hub_listener, app.hub.router()));
    let server = app.server(app_listener).expect("server");
    let handle = server.handle();
    actix_web::rt::spawn(server);
    check_board(settings.base_url(), settings.hub_url(), &app.board).await;
    handle.stop(true).await;
    hub.abort();
}

/// The authorization cookie of a `Set-Cookie` header list, as `name=value`.
fn authorization_cookie(headers: &reqwest::header::HeaderMap, name: &str) -> String {
    headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find(|value| value.starts_with(&format!("{name}=")))
        .and_then(|value| value.split(';').next())
        .unwrap_or_else(|| panic!("no {name} cookie in {headers:?}"))
        .to_owned()
}

/// The 1.0 dialect: a `__Secure-` cookie (Secure, which browsers accept
/// from loopback over plain HTTP), `match=` selectors in the page's hub
/// URL, and RFC 9068 tokens the hub accepts from the board only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axum_board_in_the_1_0_dialect() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let settings = BoardSettings::local(listener.local_addr().expect("address"))
        .protocol(mercure_client::ProtocolVersion::V1);
    let app = status_board::app(&settings).expect("app");
    let board = app.board.clone();
    let server = tokio::spawn(mercure_hub::serve(listener, app.router));
    let base = settings.base_url();

    let mut pages = Vec::new();
    for user in ["alice", "bob"] {
        let client = browser();
        assert_eq!(post(&client, base, "login", &[("user", user)]).await, 303);
        let (headers, html) = page(&client, base).await;
        let set_cookie = headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .find(|value| value.starts_with("__Secure-mercure_access_token="))
            .expect("the 1.0 cookie")
            .to_owned();
        assert!(set_cookie.contains("; Secure"), "{set_cookie}");
        let hub_url = hub_url_in(&html);
        assert!(hub_url.contains("?match="), "{hub_url}");
        assert!(hub_url.contains("&match_urlpattern="), "{hub_url}");
        let cookie = authorization_cookie(&headers, "__Secure-mercure_access_token");
        // Sent by hand: HTTP clients other than browsers keep Secure
        // cookies for HTTPS.
        let response = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(WAIT)
            .build()
            .expect("client")
            .get(&hub_url)
            .header("cookie", cookie)
            .send()
            .await
            .expect("subscribe");
        assert_eq!(response.status(), 200);
        pages.push(Events {
            received: String::new(),
            stream: Box::pin(response.bytes_stream()),
        });
    }
    board
        .notify("alice", "server", "for Alice only")
        .await
        .expect("note");
    board
        .notify("bob", "server", "for Bob only")
        .await
        .expect("note");
    board.set_status("carol", "away").await.expect("status");
    for events in &mut pages {
        events.until(r#""user":"carol","status":"away""#).await;
    }
    assert!(pages[0].received.contains("for Alice only"));
    assert!(!pages[0].received.contains("for Bob only"));
    assert!(pages[1].received.contains("for Bob only"));
    assert!(!pages[1].received.contains("for Alice only"));
    server.abort();
}
