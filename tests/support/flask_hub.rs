//! flask-mercure-sse's hub (from PyPI, installed by `scripts/setup` into
//! `.tools/venv`), run as a real external peer on 127.0.0.1.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

/// A running flask-mercure-sse hub; killed when dropped.
#[derive(Debug)]
pub struct FlaskHub {
    port: u16,
    child: Child,
}

/// The secret its publishers sign with (HS256).
pub const PUBLISHER_SECRET: &str = "flask-peer-publisher-secret";
/// The secret its subscribers sign with (HS256).
pub const SUBSCRIBER_SECRET: &str = "flask-peer-subscriber-secret";

impl FlaskHub {
    /// Starts the hub on a free port and waits until it accepts connections.
    ///
    /// The port is chosen by binding port 0 and letting it go, so another
    /// process may take it before the hub binds it: a hub that exits at
    /// once is started again on another port (three attempts).
    ///
    /// # Panics
    /// When the virtualenv is missing (run `scripts/setup`), or the hub
    /// exits or does not listen within 30 seconds; the panic shows what it
    /// wrote to stderr.
    pub async fn start() -> Self {
        let python = venv_python();
        assert!(
            python.exists(),
            "{} is missing: run scripts/setup (scripts/test does) to install the Python peers",
            python.display()
        );
        let mut last_stderr = String::new();
        for _ in 0..3 {
            match Self::try_start(&python).await {
                Ok(hub) => return hub,
                Err(stderr) => last_stderr = stderr,
            }
        }
        panic!("flask-mercure-sse did not start; its stderr:\n{last_stderr}");
    }

    /// One attempt: the hub, or what it wrote to stderr before it exited.
    async fn try_start(python: &std::path::Path) -> Result<Self, String> {
        let port = free_port();
        let stderr = tempfile::NamedTempFile::new().expect("a file for the hub's stderr");
        let mut child = Command::new(python)
            .args(["-m", "flask_mercure_sse.server", "--host", "127.0.0.1"])
            .args(["--port", &port.to_string()])
            .args(["--publisher-secret", PUBLISHER_SECRET])
            .args(["--subscriber-secret", SUBSCRIBER_SECRET])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr.reopen().expect("the stderr file"))
            .kill_on_drop(true)
            .spawn()
            .expect("start flask-mercure-sse");
        let read_stderr = || std::fs::read_to_string(stderr.path()).unwrap_or_default();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = child.try_wait().expect("the hub's status") {
                return Err(format!("(exited with {status})\n{}", read_stderr()));
            }
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return Ok(Self { port, child });
            }
            if Instant::now() >= deadline {
                let _ = child.start_kill();
                panic!(
                    "flask-mercure-sse did not listen within 30 s; its stderr:\n{}",
                    read_stderr()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The hub URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/.well-known/mercure", self.port)
    }
}

impl Drop for FlaskHub {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

fn venv_python() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(".tools/venv/bin/python")
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("free port")
}
