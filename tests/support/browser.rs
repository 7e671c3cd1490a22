//! Headless Chromium (Debian's `chromium` and `chromium-driver` packages,
//! installed by `scripts/setup`) driven over WebDriver with fantoccini.
//!
//! One [`Chromedriver`] process serves any number of [`Browser`] sessions,
//! each a separate Chromium with a fresh profile (its own cookie jar), so
//! two sessions behave like two people on two machines.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use axum::http::Method;
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The Chromium binary of the Debian package.
pub const CHROMIUM: &str = "/usr/bin/chromium";
/// The WebDriver of the Debian package.
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Serializes the browser tests of a test binary (see [`one_at_a_time`]).
static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Waits for the other browser tests of this binary to finish; hold the
/// guard for the test's duration. Several Chromiums at once on a 2-core
/// machine only make every test slower and less predictable.
pub async fn one_at_a_time() -> tokio::sync::MutexGuard<'static, ()> {
    TURN.lock().await
}

/// How long [`Browser::wait_until`] waits unless told otherwise.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(20);

/// A running `chromedriver`, listening on 127.0.0.1; killed when dropped.
#[derive(Debug)]
pub struct Chromedriver {
    port: u16,
    child: Child,
}

impl Chromedriver {
    /// Starts `chromedriver` on a free port and waits until it listens.
    ///
    /// # Panics
    /// When Chromium or its driver is missing (run `scripts/setup`), or the
    /// driver does not start within 30 seconds.
    pub async fn start() -> Self {
        for binary in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                Path::new(binary).exists(),
                "{binary} is missing: run scripts/setup (scripts/test does) to install Debian's chromium and chromium-driver"
            );
        }
        // Port 0: the driver picks a free port and says which, so no other
        // process can take it between our choice and its bind.
        let mut child = Command::new(CHROMEDRIVER)
            .arg("--port=0")
            .arg("--allowed-ips=127.0.0.1")
            // Its own process group, which the Chromiums it starts join:
            // dropping the driver ends them all, even after a failed test
            // left sessions open.
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start chromedriver");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let mut said = Vec::new();
        let port = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = lines.next_line().await.expect("read chromedriver's output") {
                if let Some(port) = line
                    .split("started successfully on port ")
                    .nth(1)
                    .and_then(|rest| rest.trim_end_matches('.').trim().parse::<u16>().ok())
                {
                    return Some(port);
                }
                said.push(line);
            }
            None
        })
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("chromedriver did not start; it said: {said:#?}"));
        // Keep reading, so the driver never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Self { port, child }
    }

    /// The WebDriver endpoint.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    /// Opens a new headless Chromium with a fresh profile.
    ///
    /// # Panics
    /// When the session cannot be created.
    pub async fn browser(&self) -> Browser {
        self.browser_with_args(&[]).await
    }

    /// Opens a new headless Chromium with a fresh profile and `extra`
    /// command line flags (say `--ignore-certificate-errors` for a test
    /// server's own certificate: test browsers only).
    ///
    /// # Panics
    /// When the session cannot be created.
    pub async fn browser_with_args(&self, extra: &[&str]) -> Browser {
        let profile = tempfile::Builder::new()
            .prefix("mercure-chromium-")
            .tempdir()
            .expect("profile directory");
        let args = [
            "--headless".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-quic".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--no-proxy-server".to_owned(),
            "--disable-crash-reporter".to_owned(),
            "--disable-breakpad".to_owned(),
            "--window-size=900,760".to_owned(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let args: Vec<String> = args
            .into_iter()
            .chain(extra.iter().map(|flag| (*flag).to_owned()))
            .collect();
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!("a JSON object literal")
        };
        let client = ClientBuilder::rustls()
            .expect("TLS roots for the WebDriver client")
            .capabilities(capabilities)
            .connect(&self.url())
            .await
            .expect("start a Chromium session");
        Browser {
            client,
            _profile: profile,
        }
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        if let Some(pid) = self.child.id() {
            // The whole group: the driver and the browsers it started.
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        let _ = self.child.start_kill();
    }
}

/// One headless Chromium session.
#[derive(Debug)]
pub struct Browser {
    client: Client,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// The WebDriver client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Loads `url`.
    ///
    /// # Panics
    /// When navigation fails.
    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("navigate");
    }

    /// Evaluates `expression` in the page.
    ///
    /// # Panics
    /// When the script throws.
    pub async fn eval(&self, expression: &str) -> Value {
        self.try_eval(expression)
            .await
            .unwrap_or_else(|error| panic!("evaluating {expression}: {error}"))
    }

    /// Evaluates `expression` in the page, or says why it could not be
    /// (the page is navigating, the script threw).
    ///
    /// # Errors
    /// The WebDriver error.
    pub async fn try_eval(&self, expression: &str) -> Result<Value, fantoccini::error::CmdError> {
        self.client
            .execute(&format!("return ({expression});"), Vec::new())
            .await
    }

    /// Waits until `expression` is true in the page, polling the page's
    /// state (the page changes when events arrive from the network). While
    /// a page is loading the expression may not be evaluable: that counts
    /// as not yet true.
    ///
    /// # Panics
    /// After `timeout`, with `what` and the last error, if any, in the
    /// message.
    pub async fn wait_until(&self, what: &str, expression: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let last_error = match self.try_eval(expression).await {
                Ok(Value::Bool(true)) => return,
                Ok(_) => None,
                Err(error) => Some(error),
            };
            assert!(
                Instant::now() < deadline,
                "timed out after {timeout:?} waiting for {what} ({expression}); last error: {last_error:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Picks `value` in the `<select>` matching `select` and clicks the
    /// element matching `button`.
    ///
    /// # Panics
    /// When an element is missing.
    pub async fn select_and_click(&self, select: &str, value: &str, button: &str) {
        self.client
            .find(Locator::Css(select))
            .await
            .unwrap_or_else(|error| panic!("finding {select}: {error}"))
            .select_by_value(value)
            .await
            .expect("select");
        self.client
            .find(Locator::Css(button))
            .await
            .unwrap_or_else(|error| panic!("finding {button}: {error}"))
            .click()
            .await
            .expect("click");
    }

    /// Every cookie the browser holds, whatever its path (through the
    /// DevTools protocol: WebDriver only shows the cookies of the current
    /// page's path, and `HttpOnly` cookies are invisible to scripts).
    ///
    /// # Panics
    /// When the command fails.
    pub async fn all_cookies(&self) -> Vec<Value> {
        let result = self
            .client
            .issue_cmd(Cdp {
                cmd: "Network.getAllCookies",
                params: json!({}),
            })
            .await
            .expect("Network.getAllCookies");
        match result.get("cookies") {
            Some(Value::Array(cookies)) => cookies.clone(),
            _ => panic!("unexpected Network.getAllCookies result: {result}"),
        }
    }

    /// Saves a PNG screenshot of the page as `name` under
    /// `target/test-artifacts/`, returning its path.
    ///
    /// # Panics
    /// When the screenshot cannot be taken or written.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.expect("screenshot");
        let dir = artifacts_dir();
        std::fs::create_dir_all(&dir).expect("create target/test-artifacts");
        let path = dir.join(name);
        std::fs::write(&path, png).expect("write the screenshot");
        path
    }

    /// Ends the session (Chromium exits).
    pub async fn close(self) {
        let _ = self.client.close().await;
    }
}

/// `target/test-artifacts/` of the workspace.
pub fn artifacts_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("target")
        .join("test-artifacts")
}

/// A DevTools protocol command sent through chromedriver's
/// `goog/cdp/execute` extension.
#[derive(Debug)]
struct Cdp {
    cmd: &'static str,
    params: Value,
}

impl WebDriverCompatibleCommand for Cdp {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/goog/cdp/execute",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (Method, Option<String>) {
        let body = json!({ "cmd": self.cmd, "params": self.params });
        (Method::POST, Some(body.to_string()))
    }
}
