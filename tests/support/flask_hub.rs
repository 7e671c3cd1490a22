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
    /// # Panics
    /// When the virtualenv is missing (run `scripts/setup`) or the hub does
    /// not start within 30 seconds.
    pub async fn start() -> Self {
        let python = venv_python();
        assert!(
            python.exists(),
            "{} is missing: run scripts/setup (scripts/test does) to install the Python peers",
            python.display()
        );
        let port = free_port();
        let child = Command::new(&python)
            .args(["-m", "flask_mercure_sse.server", "--host", "127.0.0.1"])
            .args(["--port", &port.to_string()])
            .args(["--publisher-secret", PUBLISHER_SECRET])
            .args(["--subscriber-secret", SUBSCRIBER_SECRET])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start flask-mercure-sse");
        let hub = Self { port, child };
        let deadline = Instant::now() + Duration::from_secs(30);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(Instant::now() < deadline, "flask-mercure-sse did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        hub
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
