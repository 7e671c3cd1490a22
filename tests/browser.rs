//! The status board examples in headless Chromium (axum in both dialects,
//! actix-web with its hub on another port): the page loads, the
//! authorization cookie is set, the page's `EventSource` receives the
//! private notes of its user and the public status changes, and another
//! user's page never sees the first user's notes.

use base64::Engine as _;
use mercure_client::ProtocolVersion;
use mercure_examples::board::{Board, BoardSettings};
use mercure_examples::{status_board, status_board_actix};
use mercure_integration_tests::browser::{Browser, Chromedriver, DEFAULT_WAIT, one_at_a_time};
use serde_json::{Value, json};

/// Logs `browser` in as `user` through the page's form and waits for its
/// `EventSource` to be connected.
async fn log_in(browser: &Browser, base: &str, user: &str) {
    browser.goto(base).await;
    browser
        .wait_until(
            "the board page",
            "document.getElementById('board') !== null",
            DEFAULT_WAIT,
        )
        .await;
    browser
        .select_and_click(
            "form[action='/login'] select[name=user]",
            user,
            "form[action='/login'] button",
        )
        .await;
    browser
        .wait_until(
            "the logged-in page",
            "document.getElementById('notes') !== null",
            DEFAULT_WAIT,
        )
        .await;
    browser
        .wait_until(
            "the EventSource to connect",
            "document.body.dataset.connection === 'open'",
            DEFAULT_WAIT,
        )
        .await;
}

/// The texts of the notes shown on the page.
async fn notes(browser: &Browser) -> Vec<String> {
    let value = browser
        .eval("Array.from(document.querySelectorAll('#notes li.note'), li => li.textContent)")
        .await;
    serde_json::from_value(value).expect("a list of strings")
}

/// The status shown for `user`.
async fn status(browser: &Browser, user: &str) -> String {
    browser
        .eval(&format!(
            "document.querySelector('#user-{user} .status').textContent"
        ))
        .await
        .as_str()
        .expect("a status")
        .to_owned()
}

/// The claims of a JWT (the signature is the hub's business).
fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT has a payload");
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url payload");
    serde_json::from_slice(&json).expect("JSON claims")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_notes_reach_their_user_only_and_statuses_reach_everyone() {
    let _turn = one_at_a_time().await;
    let served = Served::axum(ProtocolVersion::V0).await;
    board_in_chromium(&served, "status-board").await;
    served.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_in_the_1_0_dialect() {
    let _turn = one_at_a_time().await;
    let served = Served::axum(ProtocolVersion::V1).await;
    board_in_chromium(&served, "status-board-1.0").await;
    served.stop().await;
}

/// The actix-web board, its hub on another port: the page's
/// `EventSource` is cross-origin, with credentials, through the hub's CORS.
#[actix_web::test]
async fn the_same_on_actix_web_with_the_hub_on_another_port() {
    let _turn = one_at_a_time().await;
    let served = Served::actix(ProtocolVersion::V0).await;
    board_in_chromium(&served, "status-board-actix").await;
    served.stop().await;
}

/// A board being served, and how to stop it.
struct Served {
    settings: BoardSettings,
    board: Board,
    tasks: Vec<tokio::task::JoinHandle<std::io::Result<()>>>,
    actix: Option<actix_web::dev::ServerHandle>,
}

impl Served {
    /// The axum board, its hub in the same router.
    async fn axum(version: ProtocolVersion) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let settings =
            BoardSettings::local(listener.local_addr().expect("address")).protocol(version);
        let app = status_board::app(&settings).expect("the status board");
        let task = tokio::spawn(mercure_hub::serve(listener, app.router));
        Self {
            settings,
            board: app.board,
            tasks: vec![task],
            actix: None,
        }
    }

    /// The actix-web board, its hub on its own port (inside an actix
    /// system).
    async fn actix(version: ProtocolVersion) -> Self {
        let hub_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let app_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let url = |s: String| url::Url::parse(&s).expect("url");
        let settings = BoardSettings::new(
            url(format!(
                "http://{}/",
                app_listener.local_addr().expect("address")
            )),
            url(format!(
                "http://{}/.well-known/mercure",
                hub_listener.local_addr().expect("address")
            )),
        )
        .expect("settings")
        .protocol(version);
        let app = status_board_actix::app(&settings).expect("the status board");
        let hub = tokio::spawn(mercure_hub::serve(hub_listener, app.hub.router()));
        let server = app.server(app_listener).expect("server");
        let handle = server.handle();
        actix_web::rt::spawn(server);
        Self {
            settings,
            board: app.board,
            tasks: vec![hub],
            actix: Some(handle),
        }
    }

    async fn stop(self) {
        if let Some(handle) = self.actix {
            handle.stop(true).await;
        }
        for task in self.tasks {
            task.abort();
        }
    }
}

/// What the authorization cookie must look like, and grant, in `version`.
fn expect_cookie(version: ProtocolVersion, cookie: &Value, alice_topic: &str) {
    assert_eq!(cookie["path"], "/.well-known/mercure");
    assert_eq!(cookie["httpOnly"], true);
    assert_eq!(cookie["sameSite"], "Strict");
    assert_eq!(cookie["domain"], "127.0.0.1");
    let token = cookie["value"].as_str().expect("a token");
    let claims = claims(token);
    assert_eq!(claims["sub"], "alice");
    match version {
        ProtocolVersion::V0 => {
            assert_eq!(cookie["secure"], false);
            assert_eq!(claims["mercure"]["subscribe"], json!([alice_topic]));
        }
        _ => {
            // `__Secure-` requires Secure; browsers accept it from
            // loopback over plain HTTP.
            assert_eq!(cookie["secure"], true);
            assert_eq!(
                claims["authorization_details"],
                json!([{
                    "type": "https://mercure.rocks/authorization-detail",
                    "actions": ["subscribe"],
                    "topics": [{ "match": alice_topic }],
                }])
            );
        }
    }
}

async fn board_in_chromium(served: &Served, artifact: &str) {
    let settings = &served.settings;
    let version = settings.protocol_version();
    let board = &served.board;
    let base = settings.base_url().to_string();

    let driver = Chromedriver::start().await;
    let alice = driver.browser().await;
    let bob = driver.browser().await;

    // A visitor's page: the board, a login form, and a cookie that clears
    // any authorization left over.
    alice.goto(&base).await;
    let title = alice.eval("document.title").await;
    assert_eq!(title, "Status board");
    assert_eq!(status(&alice, "carol").await, "available");

    log_in(&alice, &base, "alice").await;
    log_in(&bob, &base, "bob").await;

    // The app set the authorization cookie: scoped to the hub's path,
    // HttpOnly, SameSite=Strict, host-only, granting Alice's notes only.
    let cookie_name = version.dialect().cookie_name;
    let cookies = alice.all_cookies().await;
    let cookie = cookies
        .iter()
        .find(|cookie| cookie["name"] == cookie_name)
        .unwrap_or_else(|| panic!("no {cookie_name} cookie among {cookies:#?}"));
    expect_cookie(version, cookie, &board.topics().notifications("alice"));
    // Scripts cannot read it.
    assert_eq!(
        alice
            .eval(&format!("document.cookie.includes('{cookie_name}')"))
            .await,
        false
    );

    // The server sends each a private note. Both pages subscribe to every
    // user's notes; the hub delivers each only their own. Bob's note is
    // published after Alice's: once it arrives, Alice's would have too.
    board
        .notify("alice", "server", "for Alice only")
        .await
        .expect("publish Alice's note");
    board
        .notify("bob", "server", "for Bob only")
        .await
        .expect("publish Bob's note");
    alice
        .wait_until(
            "Alice's note",
            "document.querySelectorAll('#notes li.note').length >= 1",
            DEFAULT_WAIT,
        )
        .await;
    bob.wait_until(
        "Bob's note",
        "document.querySelectorAll('#notes li.note').length >= 1",
        DEFAULT_WAIT,
    )
    .await;
    assert_eq!(notes(&alice).await, ["server: for Alice only"]);
    assert_eq!(notes(&bob).await, ["server: for Bob only"]);

    // A public status change reaches both pages.
    board
        .set_status("carol", "in a meeting")
        .await
        .expect("publish Carol's status");
    for browser in [&alice, &bob] {
        browser
            .wait_until(
                "Carol's new status",
                "document.querySelector('#user-carol .status').textContent === 'in a meeting'",
                DEFAULT_WAIT,
            )
            .await;
    }

    // A note Bob sends Alice through the page's form.
    bob.client()
        .find(fantoccini::Locator::Css(
            "form[action='/notes'] input[name=message]",
        ))
        .await
        .expect("the note field")
        .send_keys("lunch at noon?")
        .await
        .expect("type");
    bob.select_and_click(
        "form[action='/notes'] select[name=to]",
        "alice",
        "form[action='/notes'] button",
    )
    .await;
    alice
        .wait_until(
            "Bob's note to Alice",
            "document.querySelectorAll('#notes li.note').length >= 2",
            DEFAULT_WAIT,
        )
        .await;
    assert_eq!(
        notes(&alice).await,
        ["Bob: lunch at noon?", "server: for Alice only"]
    );
    // Bob's page reloaded after the form: the server renders his own
    // latest notes, and still none of Alice's.
    bob.wait_until(
        "Bob's page to reconnect",
        "document.getElementById('notes') !== null && document.body.dataset.connection === 'open'",
        DEFAULT_WAIT,
    )
    .await;
    assert_eq!(notes(&bob).await, ["server: for Bob only"]);

    // Let the status highlight finish before the pictures.
    for browser in [&alice, &bob] {
        browser
            .wait_until(
                "the highlight to end",
                "document.getAnimations().length === 0",
                DEFAULT_WAIT,
            )
            .await;
    }
    let shot = alice.screenshot(&format!("{artifact}-alice.png")).await;
    assert!(std::fs::metadata(&shot).expect("screenshot").len() > 1000);
    bob.screenshot(&format!("{artifact}-bob.png")).await;

    alice.close().await;
    bob.close().await;
}

/// `mercure_hub_url` in a minijinja page, in an attribute and in a script
/// (`tojson`), with two topics and a last event id: Chromium's
/// `EventSource` opens the URL the template wrote and receives what was
/// published on both topics after that id, and nothing before it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn template_hub_urls_keep_every_topic_and_the_last_event_id_in_a_browser() {
    use mercure_client::Update;
    use mercure_web::templates::add_minijinja_functions;
    use mercure_web::{HubInfo, HubRegistry};

    let _turn = one_at_a_time().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let hub_url = format!("{base}/.well-known/mercure");
    let hub = mercure_hub::EmbeddedHub::new(
        mercure_hub::HubConfig::builder()
            .url(&hub_url)
            .anonymous(true)
            .build()
            .expect("hub"),
    );
    let before = hub
        .publish(&Update::new("https://example.com/a", "before").unwrap())
        .await
        .expect("publish");

    let mut env = minijinja::Environment::new();
    add_minijinja_functions(
        &mut env,
        HubRegistry::new(HubInfo::builder(&hub_url).build().expect("hub info")),
    );
    env.add_template_owned(
        "page.html",
        r#"<!doctype html><html><body>
<a id="link" href="{{ mercure_hub_url(["https://example.com/a", "https://example.com/b"], last_event_id=last) }}">stream</a>
<ul id="events"></ul>
<script>
  const url = {{ mercure_hub_url(["https://example.com/a", "https://example.com/b"], last_event_id=last)|tojson }};
  document.body.dataset.url = url;
  const source = new EventSource(url);
  source.onopen = () => { document.body.dataset.connection = 'open'; };
  source.onmessage = (event) => {
    const li = document.createElement('li');
    li.textContent = event.data;
    document.getElementById('events').appendChild(li);
  };
</script>
</body></html>"#
            .to_owned(),
    )
    .expect("template");
    let page = env
        .get_template("page.html")
        .expect("template")
        .render(minijinja::context! { last => before.as_str() })
        .expect("render");
    let app = axum::Router::new()
        .route(
            "/",
            axum::routing::get(move || {
                let page = page.clone();
                async move { axum::response::Html(page) }
            }),
        )
        .merge(hub.router());
    let server = tokio::spawn(mercure_hub::serve(listener, app));

    let chromedriver = Chromedriver::start().await;
    let browser = chromedriver.browser().await;
    browser.goto(&format!("{base}/")).await;
    browser
        .wait_until(
            "the EventSource to connect",
            "document.body.dataset.connection === 'open'",
            DEFAULT_WAIT,
        )
        .await;
    // The attribute and the script give the browser the same URL.
    let expected = format!(
        "{hub_url}?topic=https%3A%2F%2Fexample.com%2Fa&topic=https%3A%2F%2Fexample.com%2Fb&lastEventID={}",
        mercure_integration_tests::served_hub::encode_component(before.as_str())
    );
    assert_eq!(
        browser.eval("document.body.dataset.url").await,
        json!(expected)
    );
    assert_eq!(
        browser.eval("document.getElementById('link').href").await,
        json!(expected)
    );
    hub.publish(&Update::new("https://example.com/b", "on b").unwrap())
        .await
        .expect("publish");
    hub.publish(&Update::new("https://example.com/a", "on a").unwrap())
        .await
        .expect("publish");
    browser
        .wait_until(
            "both updates",
            "document.querySelectorAll('#events li').length >= 2",
            DEFAULT_WAIT,
        )
        .await;
    let events = browser
        .eval("Array.from(document.querySelectorAll('#events li'), li => li.textContent)")
        .await;
    assert_eq!(
        events,
        json!(["on b", "on a"]),
        "nothing from before the id"
    );
    browser.screenshot("template-hub-url").await;
    browser.close().await;
    server.abort();
}

/// The page of [`ten_event_sources_share_one_http2_connection_over_tls`]:
/// ten `EventSource`s on the hub of the same origin, counting their opens
/// and messages.
const TEN_SOURCES_PAGE: &str = r#"<!doctype html><html><body>
<script>
  document.body.dataset.opened = 0;
  document.body.dataset.received = 0;
  for (let i = 0; i < 10; i++) {
    const source = new EventSource('/.well-known/mercure?topic=https%3A%2F%2Fexample.com%2Ften');
    source.onopen = () => { document.body.dataset.opened = Number(document.body.dataset.opened) + 1; };
    source.onmessage = () => { document.body.dataset.received = Number(document.body.dataset.received) + 1; };
  }
  document.body.dataset.protocol = performance.getEntriesByType('navigation')[0].nextHopProtocol;
</script>
</body></html>"#;

/// Serves [`TEN_SOURCES_PAGE`] and an anonymous hub at one origin, over
/// TLS (`serve_hub_tls`, a self-signed certificate made here) or in clear
/// (`serve_hub`); returns the hub, the origin and the server's task.
async fn ten_sources_server(
    tls: bool,
) -> (
    mercure_hub::EmbeddedHub,
    String,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let scheme = if tls { "https" } else { "http" };
    let origin = format!("{scheme}://{}", listener.local_addr().expect("address"));
    let hub = mercure_hub::EmbeddedHub::new(
        mercure_hub::HubConfig::builder()
            .url(format!("{origin}/.well-known/mercure"))
            .anonymous(true)
            .build()
            .expect("hub"),
    );
    let app = axum::Router::new()
        .route(
            "/",
            axum::routing::get(|| async { axum::response::Html(TEN_SOURCES_PAGE) }),
        )
        .merge(hub.router());
    let server = if tls {
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
            .expect("params")
            .self_signed(&key)
            .expect("certificate");
        let source = mercure_hub::TlsConfigSource::from_pem(
            cert.pem().as_bytes(),
            key.serialize_pem().as_bytes(),
        )
        .expect("TLS");
        tokio::spawn(mercure_hub::serve_hub_tls(
            listener,
            hub.clone(),
            app,
            source,
            std::future::pending(),
        ))
    } else {
        tokio::spawn(mercure_hub::serve_hub(
            listener,
            hub.clone(),
            app,
            std::future::pending(),
        ))
    };
    (hub, origin, server)
}

/// Ten `EventSource`s on one page: over HTTP/2 (TLS, ALPN) they share one
/// connection and all ten receive the update; over HTTP/1.1 Chromium opens
/// at most six connections to a host, so six connect and four wait.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_event_sources_share_one_http2_connection_over_tls() {
    use mercure_client::Update;

    let _turn = one_at_a_time().await;
    let chromedriver = Chromedriver::start().await;
    // The test server's own certificate: accepted by this test browser only.
    let browser = chromedriver
        .browser_with_args(&["--ignore-certificate-errors"])
        .await;

    let (hub, origin, server) = ten_sources_server(true).await;
    browser.goto(&format!("{origin}/")).await;
    assert_eq!(
        browser.eval("document.body.dataset.protocol").await,
        json!("h2")
    );
    browser
        .wait_until(
            "ten EventSources to open",
            "document.body.dataset.opened === '10'",
            DEFAULT_WAIT,
        )
        .await;
    assert_eq!(hub.metrics().subscribers_connected, 10);
    hub.publish(&Update::new("https://example.com/ten", "to all ten").unwrap())
        .await
        .expect("publish");
    browser
        .wait_until(
            "ten messages",
            "document.body.dataset.received === '10'",
            DEFAULT_WAIT,
        )
        .await;
    server.abort();

    // The same page over HTTP/1.1: six connections, six subscribers.
    let (hub, origin, server) = ten_sources_server(false).await;
    browser.goto(&format!("{origin}/")).await;
    assert_eq!(
        browser.eval("document.body.dataset.protocol").await,
        json!("http/1.1")
    );
    browser
        .wait_until(
            "six EventSources to open",
            "document.body.dataset.opened === '6'",
            DEFAULT_WAIT,
        )
        .await;
    hub.publish(&Update::new("https://example.com/ten", "to six").unwrap())
        .await
        .expect("publish");
    browser
        .wait_until(
            "six messages",
            "document.body.dataset.received === '6'",
            DEFAULT_WAIT,
        )
        .await;
    // The other four wait for a connection that never frees up.
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    assert_eq!(
        browser.eval("document.body.dataset.opened").await,
        json!("6")
    );
    assert_eq!(hub.metrics().subscribers_connected, 6);
    browser.close().await;
    server.abort();
}

/// The hub's debugger page (`--ui`) in Chromium: subscribe to a topic from
/// the form, publish an update with a pasted token from the other form,
/// and the update appears in the page's list, as text.
#[tokio::test]
async fn the_debugger_page_subscribes_and_publishes_in_a_browser() {
    use mercure_client::token::{Grants, SigningKey, TokenFactory};
    use mercure_hub::VerificationKey;

    const SECRET: &str = "debugger-page-test-secret-of-32-bytes!";
    let _turn = one_at_a_time().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let hub = mercure_hub::EmbeddedHub::new(
        mercure_hub::HubConfig::builder()
            .url(format!("{base}/.well-known/mercure"))
            .anonymous(true)
            .publisher_key(VerificationKey::hs256(SECRET).expect("key"))
            .build()
            .expect("hub"),
    );
    let app = hub.router().merge(hub.debugger_router());
    let server = tokio::spawn(mercure_hub::serve(listener, app));
    let token = TokenFactory::builder(SigningKey::hs256(SECRET).expect("key"))
        .protocol(ProtocolVersion::V0)
        .build()
        .expect("factory")
        .mint(&Grants::publish_all())
        .expect("token")
        .expose()
        .to_owned();

    let chromedriver = Chromedriver::start().await;
    let browser = chromedriver.browser().await;
    browser
        .goto(&format!("{base}/.well-known/mercure/ui/"))
        .await;
    let set = |id: &str, value: &str| {
        format!(
            "(document.getElementById({}).value = {}, true)",
            json!(id),
            json!(value)
        )
    };
    browser.eval(&set("dialect", "0.x")).await;
    browser
        .eval(&set("topics", "https://example.com/debug"))
        .await;
    browser
        .eval("(document.getElementById('subscribe').click(), true)")
        .await;
    browser
        .wait_until(
            "the page's EventSource to connect",
            "document.getElementById('state').textContent === 'Subscribed.'",
            DEFAULT_WAIT,
        )
        .await;
    let data = "<b>not markup</b> & 1";
    browser
        .eval(&set("publish-topics", "https://example.com/debug"))
        .await;
    browser.eval(&set("data", data)).await;
    browser.eval(&set("publisher-token", &token)).await;
    browser
        .eval("(document.getElementById('publish').click(), true)")
        .await;
    browser
        .wait_until(
            "the published update in the list",
            &format!(
                "[...document.querySelectorAll('#events li')].some(li => li.textContent.endsWith({}))",
                json!(format!("\n{data}"))
            ),
            DEFAULT_WAIT,
        )
        .await;
    let published = browser
        .eval("document.getElementById('published').textContent")
        .await;
    assert!(
        published
            .as_str()
            .is_some_and(|t| t.starts_with("Published: urn:uuid:")),
        "{published}"
    );
    // Written as text: no element came from the update's data.
    assert_eq!(
        browser
            .eval("document.querySelectorAll('#events b').length")
            .await,
        json!(0)
    );
    // A publish without a token is refused by the hub, and the page says so.
    browser.eval(&set("publisher-token", "")).await;
    browser
        .eval("(document.getElementById('publish').click(), true)")
        .await;
    browser
        .wait_until(
            "the refusal",
            "document.getElementById('published').textContent.startsWith('401')",
            DEFAULT_WAIT,
        )
        .await;
    browser.close().await;
    server.abort();
}
