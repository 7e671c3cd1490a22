//! The axum status board example in headless Chromium: the page loads, the
//! authorization cookie is set, the page's `EventSource` receives the
//! private notes of its user and the public status changes, and another
//! user's page never sees the first user's notes.

use base64::Engine as _;
use mercure_examples::board::BoardSettings;
use mercure_examples::status_board;
use mercure_integration_tests::browser::{Browser, Chromedriver, DEFAULT_WAIT};
use serde_json::Value;

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
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let settings = BoardSettings::local(listener.local_addr().expect("address"));
    let app = status_board::app(&settings).expect("the status board");
    let board = app.board.clone();
    let server = tokio::spawn(mercure_hub::serve(listener, app.router));
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
    let cookies = alice.all_cookies().await;
    let cookie = cookies
        .iter()
        .find(|cookie| cookie["name"] == "mercureAuthorization")
        .unwrap_or_else(|| panic!("no authorization cookie among {cookies:#?}"));
    assert_eq!(cookie["path"], "/.well-known/mercure");
    assert_eq!(cookie["httpOnly"], true);
    assert_eq!(cookie["sameSite"], "Strict");
    assert_eq!(cookie["domain"], "127.0.0.1");
    let token = cookie["value"].as_str().expect("a token");
    let alice_topic = board.topics().notifications("alice");
    assert_eq!(
        claims(token)["mercure"]["subscribe"],
        serde_json::json!([alice_topic])
    );
    // Scripts cannot read it.
    assert_eq!(
        alice
            .eval("document.cookie.includes('mercureAuthorization')")
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
    let shot = alice.screenshot("status-board-alice.png").await;
    assert!(std::fs::metadata(&shot).expect("screenshot").len() > 1000);
    bob.screenshot("status-board-bob.png").await;

    alice.close().await;
    bob.close().await;
    server.abort();
}
