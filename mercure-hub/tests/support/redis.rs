//! A real `redis-server` for one test: a free loopback port, a data
//! directory of its own, stopped (by PID) and removed on drop, and
//! restartable on the same port and data for fault tests.
//!
//! Include it with `#[path = "support/redis.rs"] mod redis_server;`.

#![allow(dead_code, unreachable_pub)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// How long a start (AOF loading included) may take.
const START_PATIENCE: Duration = Duration::from_secs(20);

/// How the server runs.
#[derive(Debug, Clone)]
pub struct RedisServerOptions {
    /// `appendonly yes` (the default) or no.
    pub append_only: bool,
    /// `appendfsync`: `always` by default.
    pub append_fsync: &'static str,
    /// More `--name value` arguments.
    pub extra: Vec<(String, String)>,
}

impl Default for RedisServerOptions {
    fn default() -> Self {
        Self {
            append_only: true,
            append_fsync: "always",
            extra: Vec::new(),
        }
    }
}

impl RedisServerOptions {
    /// Adds `--name value` to the command line.
    pub fn arg(mut self, name: &str, value: &str) -> Self {
        self.extra.push((name.to_owned(), value.to_owned()));
        self
    }
}

/// A running `redis-server`.
#[derive(Debug)]
pub struct RedisServer {
    port: u16,
    dir: PathBuf,
    options: RedisServerOptions,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts a server with the default options.
    pub fn start() -> Self {
        Self::start_with(RedisServerOptions::default())
    }

    /// Starts a server with `options` on a free loopback port.
    pub fn start_with(options: RedisServerOptions) -> Self {
        require_redis_server();
        let dir = temp_dir();
        let mut last_error = String::new();
        // A free port may be taken between the probe and the bind: retry.
        for _ in 0..10 {
            let port = free_port();
            let mut server = Self {
                port,
                dir: dir.clone(),
                options: options.clone(),
                child: None,
            };
            match server.spawn() {
                Ok(()) => return server,
                Err(error) => {
                    last_error = error;
                    // Keep the directory for the next try.
                    server.dir = PathBuf::new();
                }
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
        panic!("redis-server did not start: {last_error}");
    }

    /// `redis://127.0.0.1:<port>/0`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether it is running.
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Kills it (SIGKILL: a crash, nothing flushed beyond what its
    /// `appendfsync` did) and waits for it to exit.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops it cleanly (SIGTERM, by PID) and waits for it to exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again (after [`RedisServer::kill`] or
    /// [`RedisServer::stop`]) on the same port and data directory; waits
    /// until it answers (its AOF loaded).
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "the server is still running");
        let started = Instant::now();
        loop {
            match self.spawn() {
                Ok(()) => return,
                // The port may still be held briefly by the old process.
                Err(error) if started.elapsed() < START_PATIENCE => {
                    eprintln!("redis-server restart failed, retrying: {error}");
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(error) => panic!("redis-server did not restart: {error}"),
            }
        }
    }

    /// Runs a command with `redis-cli`; returns its raw output (trimmed).
    pub fn cli(&self, args: &[&str]) -> String {
        let output = Command::new("redis-cli")
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(args)
            .output()
            .expect("redis-cli runs (installed with redis-server by scripts/setup)");
        assert!(
            output.status.success(),
            "redis-cli {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    /// Whether it answers `PING` with `PONG` now.
    pub fn ping(&self) -> bool {
        answers(self.port, self.password(), None)
    }

    /// The `requirepass` it was started with.
    pub fn password(&self) -> Option<&str> {
        self.options
            .extra
            .iter()
            .find(|(name, _)| name == "requirepass")
            .map(|(_, value)| value.as_str())
    }

    fn spawn(&mut self) -> Result<(), String> {
        let log = self.dir.join("redis.log");
        let mut command = Command::new("redis-server");
        command
            .arg("--port")
            .arg(self.port.to_string())
            .args(["--bind", "127.0.0.1"])
            .arg("--dir")
            .arg(&self.dir)
            .args(["--save", ""])
            .args([
                "--appendonly",
                if self.options.append_only {
                    "yes"
                } else {
                    "no"
                },
            ])
            .args(["--appendfsync", self.options.append_fsync])
            .args(["--daemonize", "no"])
            .arg("--logfile")
            .arg(&log);
        for (name, value) in &self.options.extra {
            command.arg(format!("--{name}")).arg(value);
        }
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run redis-server: {e}"))?;
        let deadline = Instant::now() + START_PATIENCE;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                let mut stderr = String::new();
                if let Some(mut pipe) = child.stderr.take() {
                    let _ = pipe.read_to_string(&mut stderr);
                }
                let logged = std::fs::read_to_string(&log).unwrap_or_default();
                let tail: Vec<&str> = logged.lines().rev().take(5).collect();
                return Err(format!(
                    "redis-server exited ({status}) on port {}: {stderr} {tail:?}",
                    self.port
                ));
            }
            if answers(self.port, self.password(), Some(child.id())) {
                self.child = Some(child);
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        Err(format!(
            "redis-server did not answer PING within {START_PATIENCE:?}"
        ))
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        if !self.dir.as_os_str().is_empty() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Fails the test, naming the fix, when `redis-server` is not installed.
fn require_redis_server() {
    let found = Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    assert!(
        found,
        "redis-server is not installed (or not on PATH): the Redis tests need it; run \
         scripts/setup (it installs the redis-server Debian package)"
    );
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free loopback port")
}

fn temp_dir() -> PathBuf {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "mercure-redis-test-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a temporary directory for redis-server");
    dir
}

/// Whether the server on `port` answers `PING` with `PONG` (not
/// `-LOADING`), and is the process `pid` when given (not another test's
/// server that took the port first).
fn answers(port: u16, password: Option<&str>, pid: Option<u32>) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let mut request = Vec::new();
    if let Some(password) = password {
        request.extend_from_slice(
            format!("*2\r\n$4\r\nAUTH\r\n${}\r\n{password}\r\n", password.len()).as_bytes(),
        );
    }
    request.extend_from_slice(b"PING\r\nINFO server\r\n");
    if stream.write_all(&request).is_err() {
        return false;
    }
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(1);
    // Until the INFO answer's process_id line is complete.
    while Instant::now() < deadline {
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => answer.extend_from_slice(&buffer[..n]),
        }
        let text = String::from_utf8_lossy(&answer);
        if let Some(at) = text.find("process_id:")
            && text[at..].contains("\r\n")
        {
            break;
        }
    }
    let text = String::from_utf8_lossy(&answer);
    if !text.contains("+PONG\r\n") {
        return false;
    }
    match pid {
        None => true,
        Some(pid) => text
            .lines()
            .find_map(|line| line.strip_prefix("process_id:"))
            .is_some_and(|found| found.trim() == pid.to_string()),
    }
}
