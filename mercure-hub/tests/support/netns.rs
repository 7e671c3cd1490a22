//! A `redis-server` in a network namespace of its own, reached from the
//! host over a veth pair, so that a test can cut the link between the hubs
//! (on the host) and Redis (`ip link set <veth> down`) and restore it,
//! while both processes keep running: the hubs' TCP connections are not
//! closed, their packets go nowhere, as when a network partition happens.
//!
//! Needs iproute2 and the privilege to make network namespaces (root, or
//! `CAP_SYS_ADMIN` and `CAP_NET_ADMIN`): [`NetnsRedis::start`] returns
//! `Err(reason)` when `ip netns add` is refused for lack of it, so that
//! the test can say it did not run.
//!
//! The namespace and the veth pair are named after the test's process id
//! (and a counter), the /30 subnet too (within 10.203.0.0/16); all of it
//! (the server first, by its PID) is removed when the value is dropped,
//! during a panic as well.
//!
//! Include it with `#[path = "support/netns.rs"] mod netns;`.

#![allow(dead_code, unreachable_pub)]

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// How long the server has to answer once started.
const START_PATIENCE: Duration = Duration::from_secs(20);
/// The port the server listens on inside its namespace (its own: no other
/// process can hold it).
pub const PORT: u16 = 6379;

/// A `redis-server` (`appendonly yes`, `appendfsync always`) in a network
/// namespace, reachable at [`NetnsRedis::url`] from the host.
#[derive(Debug)]
pub struct NetnsRedis {
    namespace: String,
    /// The host's end of the veth pair (the one cut).
    host_link: String,
    /// The namespace's end.
    inner_link: String,
    host_addr: Ipv4Addr,
    redis_addr: Ipv4Addr,
    dir: PathBuf,
    child: Option<Child>,
    namespace_made: bool,
    link_made: bool,
}

impl NetnsRedis {
    /// Makes the namespace and the link, and starts the server in the
    /// namespace; waits until it answers `PING` from the host.
    ///
    /// `Err(reason)` when the namespace cannot be made for lack of
    /// privileges; panics on any other failure.
    pub fn start() -> Result<Self, String> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        // A /30 of 10.203.0.0/16 per process and server: 16,384 of them.
        let slot = (pid.wrapping_mul(8).wrapping_add(n)) % 16_384;
        let (third, fourth) = ((slot / 64) as u8, ((slot % 64) * 4) as u8);
        let dir = std::env::temp_dir().join(format!("mercure-netns-redis-{pid}-{n}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a temporary directory for redis-server");
        let mut server = Self {
            namespace: format!("mercure-test-{pid}-{n}"),
            // Interface names: at most 15 bytes.
            host_link: format!("mh{pid}x{n}h"),
            inner_link: format!("mh{pid}x{n}r"),
            host_addr: Ipv4Addr::new(10, 203, third, fourth + 1),
            redis_addr: Ipv4Addr::new(10, 203, third, fourth + 2),
            dir,
            child: None,
            namespace_made: false,
            link_made: false,
        };
        require_tools();
        // Left over by a run that was killed before it could clean up.
        let _ = run_ip(&["netns", "del", &server.namespace]);
        let _ = run_ip(&["link", "del", &server.host_link]);
        if let Err(error) = run_ip(&["netns", "add", &server.namespace]) {
            let denied = ["Operation not permitted", "Permission denied"]
                .iter()
                .any(|reason| error.contains(reason));
            assert!(denied, "ip netns add {} failed: {error}", server.namespace);
            return Err(format!(
                "`ip netns add` was refused ({error}): network namespaces need root or \
                 CAP_SYS_ADMIN + CAP_NET_ADMIN"
            ));
        }
        server.namespace_made = true;
        server.setup_link();
        server.spawn();
        Ok(server)
    }

    fn setup_link(&mut self) {
        let (ns, host, inner) = (
            self.namespace.clone(),
            self.host_link.clone(),
            self.inner_link.clone(),
        );
        ip(&["link", "add", &host, "type", "veth", "peer", "name", &inner]);
        self.link_made = true;
        ip(&["link", "set", &inner, "netns", &ns]);
        ip(&[
            "addr",
            "add",
            &format!("{}/30", self.host_addr),
            "dev",
            &host,
        ]);
        ip(&["link", "set", &host, "up"]);
        let addr = format!("{}/30", self.redis_addr);
        ip(&[
            "netns", "exec", &ns, "ip", "addr", "add", &addr, "dev", &inner,
        ]);
        ip(&["netns", "exec", &ns, "ip", "link", "set", &inner, "up"]);
        ip(&["netns", "exec", &ns, "ip", "link", "set", "lo", "up"]);
    }

    fn spawn(&mut self) {
        let log = self.dir.join("redis.log");
        // `ip netns exec` enters the namespace and execs the command: the
        // child's PID is the server's.
        let mut child = Command::new("ip")
            .args(["netns", "exec", &self.namespace, "redis-server"])
            .args(["--bind", &self.redis_addr.to_string()])
            .args(["--port", &PORT.to_string()])
            .args(["--protected-mode", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .args(["--save", ""])
            .args(["--appendonly", "yes", "--appendfsync", "always"])
            .args(["--daemonize", "no"])
            .arg("--logfile")
            .arg(&log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot run `ip netns exec ... redis-server`");
        let deadline = Instant::now() + START_PATIENCE;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                let mut stderr = String::new();
                if let Some(mut pipe) = child.stderr.take() {
                    let _ = pipe.read_to_string(&mut stderr);
                }
                let logged = std::fs::read_to_string(&log).unwrap_or_default();
                panic!(
                    "redis-server exited ({status}) in {}: {stderr} {logged}",
                    self.namespace
                );
            }
            if self.ping() {
                break;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("redis-server did not answer PING within {START_PATIENCE:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let pid = child.id();
        self.child = Some(child);
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        assert!(
            comm.trim() == "redis-server",
            "the child of `ip netns exec` is {comm:?}, not redis-server: it cannot be stopped by PID"
        );
    }

    /// `redis://ADDR:6379/0`, ADDR being the server's address in its
    /// namespace.
    pub fn url(&self) -> String {
        format!("redis://{}:{PORT}/0", self.redis_addr)
    }

    /// The namespace's name.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The host's end of the link.
    pub fn host_link(&self) -> &str {
        &self.host_link
    }

    /// Cuts the link (`ip link set <host end> down`): packets between the
    /// host and Redis are dropped; no connection is closed.
    pub fn cut(&self) {
        ip(&["link", "set", &self.host_link, "down"]);
    }

    /// Restores the link (`ip link set <host end> up`); returns once Redis
    /// answers `PING` from the host again (at most [`START_PATIENCE`]).
    pub fn restore(&self) {
        ip(&["link", "set", &self.host_link, "up"]);
        let deadline = Instant::now() + START_PATIENCE;
        while !self.ping() {
            assert!(
                Instant::now() < deadline,
                "Redis did not answer from the host within {START_PATIENCE:?} of the link coming back"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Whether Redis answers `PING` from the host now.
    pub fn ping(&self) -> bool {
        let addr = SocketAddr::from((self.redis_addr, PORT));
        let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
        if stream.write_all(b"PING\r\n").is_err() {
            return false;
        }
        let mut answer = [0u8; 64];
        matches!(stream.read(&mut answer), Ok(n) if answer[..n].starts_with(b"+PONG"))
    }

    /// Runs a command with `redis-cli` from the host; its output (trimmed).
    pub fn cli(&self, args: &[&str]) -> String {
        let output = Command::new("redis-cli")
            .args(["-h", &self.redis_addr.to_string(), "-p", &PORT.to_string()])
            .args(args)
            .output()
            .expect("redis-cli runs");
        assert!(
            output.status.success(),
            "redis-cli {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }
}

impl Drop for NetnsRedis {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SIGKILL, by PID.
            let _ = child.kill();
            let _ = child.wait();
        }
        if self.link_made {
            let _ = run_ip(&["link", "del", &self.host_link]);
        }
        if self.namespace_made {
            let _ = run_ip(&["netns", "del", &self.namespace]);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Fails the test, naming what is missing, without iproute2 or Redis.
fn require_tools() {
    for (tool, package) in [("ip", "iproute2"), ("redis-server", "redis-server")] {
        let found = Command::new(tool)
            .arg(if tool == "ip" { "-V" } else { "--version" })
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        assert!(
            found,
            "`{tool}` is not installed: install the {package} package"
        );
    }
}

/// Runs `ip ARGS`; its stderr when it fails.
fn run_ip(args: &[&str]) -> Result<(), String> {
    let output = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run ip: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{} ({})",
            String::from_utf8_lossy(&output.stderr).trim(),
            output.status
        ))
    }
}

/// Runs `ip ARGS`; panics when it fails.
fn ip(args: &[&str]) {
    if let Err(error) = run_ip(args) {
        panic!("ip {}: {error}", args.join(" "));
    }
}
