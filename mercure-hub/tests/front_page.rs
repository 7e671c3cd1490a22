//! The standalone binary's front page at `/`, and the documentation it
//! generates (`--completions`, `--man`).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

/// The HMAC key given to hubs that must never show it.
const KEY: &str = "front-page-secret-key-0123456789";

struct Hub {
    child: Child,
    /// `http://ADDR`, where the hub listens.
    origin: String,
    _dir: WorkDir,
}

impl Drop for Hub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fresh working directory for one hub, removed when dropped.
struct WorkDir(PathBuf);

impl WorkDir {
    fn new() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "mercure-hub-front-page-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// How long the binary has to print its "listening" line.
const STARTUP: Duration = Duration::from_secs(30);

/// The lines of `stdout`, read by a thread of their own.
fn lines_of(stdout: ChildStdout) -> Receiver<String> {
    let (sender, receiver) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if sender.send(line).is_err() {
                return;
            }
        }
    });
    receiver
}

/// Starts the binary on a free port, history in memory, in a fresh
/// working directory, and waits for its "listening" log line.
fn spawn(args: &[&str], env: &[(&str, &str)]) -> Hub {
    let dir = WorkDir::new();
    let mut command = Command::new(env!("CARGO_BIN_EXE_mercure-hub"));
    command
        .current_dir(&dir.0)
        .args(["--addr", "127.0.0.1:0", "--history", "memory"])
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("MERCURE_JWT_KEY")
        .env_remove("MERCURE_URL")
        .env_remove("MERCURE_METRICS")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command.spawn().unwrap();
    let lines = lines_of(child.stdout.take().unwrap());
    let mut hub = Hub {
        child,
        origin: String::new(),
        _dir: dir,
    };
    let deadline = Instant::now() + STARTUP;
    let addr = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = match lines.recv_timeout(left) {
            Ok(line) => line,
            Err(RecvTimeoutError::Timeout) => panic!("the hub printed nothing in time"),
            Err(RecvTimeoutError::Disconnected) => panic!("the hub exited"),
        };
        if line.contains("Mercure hub listening") {
            let start = line.find("addr=").unwrap() + 5;
            break line[start..].split_whitespace().next().unwrap().to_owned();
        }
    };
    hub.origin = format!("http://{addr}");
    hub
}

/// The answer to `GET {origin}/`: status, headers, body.
async fn front_page(hub: &Hub) -> (reqwest::StatusCode, reqwest::header::HeaderMap, String) {
    let response = reqwest::get(format!("{}/", hub.origin)).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    (status, headers, response.text().await.unwrap())
}

#[tokio::test]
async fn serves_a_self_contained_page_naming_the_hub() {
    let hub = spawn(
        &[
            "--url",
            "https://hub.example.com/.well-known/mercure",
            "--metrics",
        ],
        &[("MERCURE_JWT_KEY", KEY)],
    );
    let (status, headers, body) = front_page(&hub).await;
    assert_eq!(status, 200);
    let header = |name: &str| {
        headers
            .get(name)
            .unwrap_or_else(|| panic!("no {name} header"))
            .to_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(header("content-type"), "text/html; charset=utf-8");
    assert_eq!(
        header("content-security-policy"),
        "default-src 'none'; style-src 'unsafe-inline'"
    );
    assert_eq!(header("x-content-type-options"), "nosniff");
    assert_eq!(header("cache-control"), "no-cache");
    assert!(body.starts_with("<!DOCTYPE html>"), "{body}");
    assert!(
        body.contains(concat!("mercure-hub ", env!("CARGO_PKG_VERSION"))),
        "{body}"
    );
    assert!(
        body.contains("https://hub.example.com/.well-known/mercure"),
        "{body}"
    );
    assert!(body.contains("0.x") && body.contains("1.0"), "{body}");
    assert!(body.contains(r#"href="/healthz""#), "{body}");
    assert!(body.contains(r#"href="/metrics""#), "{body}");
    // Nothing loaded from elsewhere, nothing run.
    assert!(
        !body.contains("<script") && !body.contains("src="),
        "{body}"
    );
    // No key material.
    assert!(!body.contains(KEY), "{body}");
    assert!(!body.contains("front-page-secret"), "{body}");

    // The hub and the operational routes are still served.
    let client = reqwest::Client::new();
    let health = client
        .get(format!("{}/healthz", hub.origin))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let subscribe = client
        .get(format!("{}/.well-known/mercure", hub.origin))
        .send()
        .await
        .unwrap();
    assert_ne!(subscribe.status(), 404);
}

#[tokio::test]
async fn follows_the_configuration() {
    // 0.x only, without metrics: neither 1.0 nor a /metrics link.
    let hub = spawn(&["--protocol", "0.x"], &[]);
    let (status, _, body) = front_page(&hub).await;
    assert_eq!(status, 200);
    assert!(body.contains("Mercure 0.x"), "{body}");
    assert!(!body.contains("match="), "{body}");
    assert!(body.contains(r#"href="/healthz""#), "{body}");
    assert!(!body.contains("/metrics"), "{body}");
    // The default URL, built from the address.
    assert!(body.contains("/.well-known/mercure</code>"), "{body}");
}

#[tokio::test]
async fn head_works_and_other_paths_are_still_404() {
    let hub = spawn(&[], &[]);
    let client = reqwest::Client::new();
    let head = client
        .head(format!("{}/", hub.origin))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(
        head.headers()["content-type"].to_str().unwrap(),
        "text/html; charset=utf-8"
    );
    assert!(head.headers().contains_key("content-security-policy"));
    assert!(head.text().await.unwrap().is_empty());
    for path in ["/nope", "/index.html", "/favicon.ico", "/.well-known/nope"] {
        let response = client
            .get(format!("{}{path}", hub.origin))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "{path}");
    }
}

#[tokio::test]
async fn what_comes_from_the_configuration_is_escaped() {
    let hub = spawn(
        &[
            "--url",
            "http://127.0.0.1/o'hub/.well-known/mercure?x=<script>alert(1)</script>&y=\"q\"",
        ],
        &[],
    );
    let (status, _, body) = front_page(&hub).await;
    assert_eq!(status, 200);
    assert!(!body.contains("<script"), "{body}");
    assert!(!body.contains("\"q\""), "{body}");
    // `'` and `&` kept by the URL are escaped; `<`, `>` and `"` were
    // already percent-encoded by it.
    assert!(body.contains("/o&#39;hub/"), "{body}");
    assert!(!body.contains("o'hub"), "{body}");
    assert!(body.contains("&amp;y="), "{body}");
    assert!(!body.contains("</script>&y"), "{body}");
}

#[tokio::test]
async fn a_hub_at_the_origin_root_is_not_shadowed() {
    let hub = spawn(
        &["--url", "http://127.0.0.1/", "--anonymous"],
        &[("MERCURE_JWT_KEY", KEY)],
    );
    let client = reqwest::Client::new();
    // `/` is the hub: without a selector, a 400 rather than the page.
    let response = client.get(format!("{}/", hub.origin)).send().await.unwrap();
    assert_eq!(response.status(), 400);
    let body = response.text().await.unwrap();
    assert!(!body.contains("<!DOCTYPE html>"), "{body}");
    // And it subscribes.
    let response = client
        .get(format!("{}/?topic=https://example.com/books/1", hub.origin))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
}

/// Runs the binary with `args` (no hub started) and returns its output.
fn generate(args: &[&str]) -> String {
    let dir = WorkDir::new();
    let output = Command::new(env!("CARGO_BIN_EXE_mercure-hub"))
        .current_dir(&dir.0)
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // Nothing else happened: no history file was created.
    assert!(std::fs::read_dir(&dir.0).unwrap().next().is_none());
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn prints_shell_completions() {
    let bash = generate(&["--completions", "bash"]);
    assert!(bash.contains("mercure-hub"), "{bash}");
    for flag in ["--addr", "--url", "--history", "--metrics", "--man"] {
        assert!(bash.contains(flag), "{flag} missing:\n{bash}");
    }
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let script = generate(&["--completions", shell]);
        assert!(script.contains("jwt-key-file"), "{shell}:\n{script}");
    }
}

#[test]
fn prints_the_manual_page() {
    let man = generate(&["--man"]);
    let header = man
        .lines()
        .find(|line| line.starts_with(".TH "))
        .expect("a .TH header");
    assert!(header.starts_with(".TH mercure-hub 1"), "{header}");
    // Only roff requests come before the header.
    for line in man.lines().take_while(|line| !line.starts_with(".TH ")) {
        assert!(line.starts_with('.'), "{line}");
    }
    assert!(man.contains(".SH NAME\nmercure\\-hub"), "{man}");
    assert!(man.contains("MERCURE_ADDR"), "{man}");
    assert!(man.contains("history"), "{man}");
}

#[tokio::test]
async fn the_debugger_page_is_served_with_ui_only() {
    let client = reqwest::Client::new();
    let without = spawn(&[], &[]);
    for path in [
        "/.well-known/mercure/ui/",
        "/.well-known/mercure/ui/debugger.js",
    ] {
        let response = client
            .get(format!("{}{path}", without.origin))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "{path} without --ui");
    }

    let hub = spawn(&["--ui"], &[("MERCURE_JWT_KEY", KEY)]);
    let page = client
        .get(format!("{}/.well-known/mercure/ui/", hub.origin))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(
        page.headers()["content-security-policy"].to_str().unwrap(),
        "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; connect-src 'self'; \
         form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
    );
    assert_eq!(page.headers()["referrer-policy"], "no-referrer");
    let body = page.text().await.unwrap();
    assert!(
        body.contains(r#"<body data-hub="/.well-known/mercure">"#),
        "{body}"
    );
    assert!(
        body.contains(r#"<script src="/.well-known/mercure/ui/debugger.js"></script>"#),
        "{body}"
    );
    assert!(!body.contains(KEY), "{body}");
    let script = client
        .get(format!("{}/.well-known/mercure/ui/debugger.js", hub.origin))
        .send()
        .await
        .unwrap();
    assert_eq!(script.status(), 200);
    assert_eq!(
        script.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    let script = script.text().await.unwrap();
    assert!(script.contains("new EventSource("), "{script}");
    assert!(!script.contains(KEY));
    // The hub is served as before beside it (it asks for a token: the hub
    // is not anonymous).
    let subscribe = client
        .get(format!("{}/.well-known/mercure?topic=x", hub.origin))
        .send()
        .await
        .unwrap();
    assert_eq!(subscribe.status(), 401);
}
