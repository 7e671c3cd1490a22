//! Helpers for tests that run the `mercure-hub` binary as a child process:
//! starting it in a directory, killing it by PID, reading its memory, a
//! scratch directory, an incremental server-sent events parser, tokens and
//! a seeded PRNG.

#![allow(dead_code, unreachable_pub)]

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mercure_core::ProtocolVersion;
use mercure_core::token::{Grants, SigningKey, TokenFactory};

/// The HMAC secret the hub is started with (`MERCURE_JWT_KEY`).
pub const SECRET: &str = "!ChangeThisMercureHubJWTSecretKey!";
/// How long the binary has to print its "listening" line.
pub const STARTUP: Duration = Duration::from_secs(30);
/// Log lines kept for error messages.
const KEPT_LINES: usize = 40;

/// A publisher token (0.x, allowed to publish anywhere).
pub fn publisher_token() -> String {
    TokenFactory::builder(SigningKey::hs256(SECRET.as_bytes()).unwrap())
        .protocol(ProtocolVersion::V0)
        .build()
        .unwrap()
        .mint(&Grants::publish_all())
        .unwrap()
        .expose()
        .to_owned()
}

/// The binary run in `dir` with `args` (after `--addr 127.0.0.1:0`): no
/// `MERCURE_*` variable of the test's environment is passed on but
/// `MERCURE_JWT_KEY` = [`SECRET`]; its output goes nowhere.
pub fn command(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mercure-hub"));
    command
        .current_dir(dir)
        .args(["--addr", "127.0.0.1:0"])
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("MERCURE_") {
            command.env_remove(name);
        }
    }
    command.env("MERCURE_JWT_KEY", SECRET);
    command
}

/// A running `mercure-hub` binary; killed (SIGKILL, by its PID) when
/// dropped.
pub struct HubProcess {
    child: Child,
    /// `127.0.0.1:PORT`, from the "listening" line.
    pub addr: String,
    /// `http://ADDR/.well-known/mercure`.
    pub url: String,
    output: Arc<Mutex<VecDeque<String>>>,
    killed: bool,
}

impl HubProcess {
    /// Starts the binary ([`command`]) and waits (at most [`STARTUP`]) for
    /// its "Mercure hub listening" line.
    pub fn start(dir: &Path, args: &[&str]) -> Self {
        let mut command = command(dir, args);
        command.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the mercure-hub binary: {e}"));
        let output = Arc::new(Mutex::new(VecDeque::new()));
        // stdout (the log) and stderr are read to the end by threads of
        // their own, so that the hub never blocks on a full pipe; the last
        // lines are kept for error messages.
        let (ready, listening) = channel();
        let stdout = child.stdout.take().unwrap();
        let kept = Arc::clone(&output);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if line.contains("Mercure hub listening") {
                    let _ = ready.send(line.clone());
                }
                keep(&kept, line);
            }
        });
        let stderr = child.stderr.take().unwrap();
        let kept = Arc::clone(&output);
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = BufReader::new(stderr).read_to_string(&mut text);
            for line in text.lines() {
                keep(&kept, format!("stderr: {line}"));
            }
        });
        let mut hub = Self {
            child,
            addr: String::new(),
            url: String::new(),
            output,
            killed: false,
        };
        let deadline = Instant::now() + STARTUP;
        let line = loop {
            match listening.recv_timeout(Duration::from_millis(50)) {
                Ok(line) => break line,
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {
                    if let Ok(Some(status)) = hub.child.try_wait() {
                        hub.killed = true;
                        // Let the readers collect the last words.
                        std::thread::sleep(Duration::from_millis(100));
                        panic!(
                            "the hub exited ({status}) before listening; its output:\n{}",
                            hub.output()
                        );
                    }
                    if Instant::now() > deadline {
                        panic!(
                            "the hub did not print its listening line within {STARTUP:?}; \
                             its output:\n{}",
                            hub.output()
                        );
                    }
                }
            }
        };
        let start = line
            .find("addr=")
            .unwrap_or_else(|| panic!("no addr= in {line:?}"))
            + 5;
        hub.addr = line[start..]
            .split_whitespace()
            .next()
            .unwrap()
            .trim_matches('"')
            .to_owned();
        hub.url = format!("http://{}/.well-known/mercure", hub.addr);
        hub
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILLs the hub (by its PID) and reaps it.
    pub fn kill(&mut self) -> ExitStatus {
        self.killed = true;
        let _ = self.child.kill();
        self.child.wait().expect("cannot reap the hub")
    }

    /// Whether the process has exited on its own (it is reaped then).
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// The last lines of the hub's output.
    pub fn output(&self) -> String {
        let lines = self.output.lock().unwrap();
        lines.iter().cloned().collect::<Vec<_>>().join("\n")
    }

    /// The hub's resident set size in KiB (`VmRSS` of /proc/PID/status).
    pub fn rss_kib(&self) -> u64 {
        rss_kib(self.pid())
    }
}

impl Drop for HubProcess {
    fn drop(&mut self) {
        if !self.killed {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn keep(kept: &Mutex<VecDeque<String>>, line: String) {
    let mut lines = kept.lock().unwrap();
    if lines.len() == KEPT_LINES {
        lines.pop_front();
    }
    lines.push_back(line);
}

/// `VmRSS` of /proc/`pid`/status, in KiB.
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("cannot read /proc/{pid}/status: {e}"));
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmRSS in /proc/{pid}/status"))
}

/// A directory under the system's temporary directory, removed when
/// dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(prefix: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let path = std::env::temp_dir().join(format!("{prefix}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
        Self(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One server-sent event: its id and data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub id: Option<String>,
    pub data: String,
}

/// Splits a `text/event-stream` body into events as bytes arrive; comments
/// are skipped, an event cut short by the end of the stream is never
/// returned.
#[derive(Debug, Default)]
pub struct SseParser {
    buffer: Vec<u8>,
    /// Bytes of `buffer` known to hold no blank line.
    scanned: usize,
}

impl SseParser {
    /// The events completed by `bytes`.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<Event> {
        self.buffer.extend_from_slice(bytes);
        let mut events = Vec::new();
        let mut start = 0;
        // Resume the search where the last one stopped (one byte back: a
        // blank line may straddle two pieces).
        let mut from = self.scanned.saturating_sub(1);
        while let Some(found) = find_blank_line(&self.buffer[from..]) {
            let end = from + found - start;
            let block = std::str::from_utf8(&self.buffer[start..start + end])
                .expect("the event stream is not UTF-8");
            let mut event = Event {
                id: None,
                data: String::new(),
            };
            let mut has_field = false;
            let mut data_lines = 0;
            for line in block.split('\n') {
                if line.is_empty() || line.starts_with(':') {
                    continue;
                }
                has_field = true;
                let (field, value) = line.split_once(':').unwrap_or((line, ""));
                let value = value.strip_prefix(' ').unwrap_or(value);
                match field {
                    "id" => event.id = Some(value.to_owned()),
                    "data" => {
                        if data_lines > 0 {
                            event.data.push('\n');
                        }
                        event.data.push_str(value);
                        data_lines += 1;
                    }
                    _ => {}
                }
            }
            if has_field {
                events.push(event);
            }
            start += end + 2;
            from = start;
        }
        self.buffer.drain(..start);
        self.scanned = self.buffer.len();
        events
    }
}

fn find_blank_line(bytes: &[u8]) -> Option<usize> {
    bytes.windows(2).position(|pair| pair == b"\n\n")
}

/// SplitMix64: a small seeded PRNG.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `low..=high`.
    pub fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.next_u64() % (high - low + 1)
    }
}

/// A reqwest client that never goes through a proxy.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .connect_timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}
