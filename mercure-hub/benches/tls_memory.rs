//! Memory of idle subscribers over TLS: the `mercure-hub` binary (release)
//! on loopback, with a certificate made here (rcgen), holds
//! `BENCH_TLS_SUBSCRIBERS` idle subscriptions (default 1,000) in three
//! ways, each on a fresh hub:
//!
//! 1. HTTP/1.1 in clear (one connection each, the lean path);
//! 2. HTTP/1.1 over TLS (one connection each, hyper);
//! 3. HTTP/2 over TLS, `BENCH_TLS_CONNECTIONS` connections (default 100)
//!    each carrying as many streams.
//!
//! The hub's resident memory is read from /proc before and after, and the
//! difference divided by the subscriptions (and, for HTTP/2, by the
//! connections). `cargo test --benches` runs a small version (20
//! subscriptions over 2 connections) so the code stays exercised.
//! Loopback only, bounded in count and in time.

#![allow(missing_docs)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};

/// How long opening all the subscriptions of one way may take.
const LIMIT: Duration = Duration::from_secs(120);

struct Hub {
    child: Child,
    addr: SocketAddr,
}

impl Hub {
    fn spawn(tls: Option<&(PathBuf, PathBuf)>) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_mercure-hub"));
        command
            .args(["--addr", "127.0.0.1:0", "--anonymous", "--heartbeat", "0"])
            .args(["--history", "memory", "--log", "warn,mercure_hub=info"])
            .args([
                "--max-connections",
                "0",
                "--max-connections-per-address",
                "0",
            ])
            // Thousands of subscriptions a second from one address.
            .args(["--subscribe-rate", "0"])
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("MERCURE_") {
                command.env_remove(name);
            }
        }
        if let Some((cert, key)) = tls {
            command
                .arg("--tls-cert")
                .arg(cert)
                .arg("--tls-key")
                .arg(key);
        }
        let mut child = command
            .spawn()
            .expect("cannot start the mercure-hub binary");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let addr = loop {
            let line = lines.next().expect("the hub exited").expect("log line");
            if let Some(start) = line.find("addr=") {
                let addr = line[start + 5..].split_whitespace().next().expect("addr");
                break addr.parse().expect("socket address");
            }
        };
        std::thread::spawn(move || for _ in lines {});
        Self { child, addr }
    }

    fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("/proc status");
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|value| value.split_whitespace().next()?.parse().ok())
            .expect("VmRSS")
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A CA and a server certificate for 127.0.0.1, written in a directory of
/// their own; returns (cert, key) paths and the CA's PEM.
fn certificate(dir: &std::path::Path) -> ((PathBuf, PathBuf), String) {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(DnType::CommonName, "bench CA");
    let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
    let params = CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &ca).unwrap();
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    ((cert_path, key_path), ca.pem())
}

#[derive(Clone, Copy)]
enum Way {
    Clear,
    Http1Tls,
    Http2Tls,
}

impl Way {
    fn label(self) -> &'static str {
        match self {
            Way::Clear => "HTTP/1.1 in clear (lean path)",
            Way::Http1Tls => "HTTP/1.1 over TLS",
            Way::Http2Tls => "HTTP/2 over TLS",
        }
    }
}

/// Holds `subscribers` idle subscriptions to `hub` over `clients` clients
/// (each one HTTP/2 connection; over HTTP/1.1 one client opens a
/// connection per subscription); prints the hub's memory per subscription.
async fn measure(way: Way, hub: &Hub, ca: &str, subscribers: usize, connections: usize) {
    let scheme = if matches!(way, Way::Clear) {
        "http"
    } else {
        "https"
    };
    let url = format!("{scheme}://{}/.well-known/mercure?topic=idle", hub.addr);
    let client = || {
        let mut builder = reqwest::Client::builder()
            .no_proxy()
            .pool_max_idle_per_host(usize::MAX)
            .tls_certs_only([reqwest::Certificate::from_pem(ca.as_bytes()).unwrap()]);
        if !matches!(way, Way::Http2Tls) {
            builder = builder.http1_only();
        }
        builder.build().unwrap()
    };
    let clients: Vec<reqwest::Client> = (0..connections.max(1)).map(|_| client()).collect();
    let health = format!("{scheme}://{}/healthz", hub.addr);
    // A first connection warms the hub up (its first handshake), and goes.
    let warm = client();
    let response = warm.get(&health).send().await.expect("healthz");
    assert_eq!(response.status(), 200);
    drop((response, warm));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = hub.rss_kib();
    let started = Instant::now();
    // One request per client first: the HTTP/2 connection is made once
    // (counted in the figure, as its share of each subscription).
    if matches!(way, Way::Http2Tls) {
        for client in &clients {
            let response = client.get(&health).send().await.expect("healthz");
            assert_eq!(response.status(), 200);
        }
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let connected = hub.rss_kib();
    let mut held = Vec::with_capacity(subscribers);
    while held.len() < subscribers {
        assert!(started.elapsed() < LIMIT, "subscriptions took too long");
        let batch = 100.min(subscribers - held.len());
        let mut opening = Vec::with_capacity(batch);
        for i in 0..batch {
            let client = clients[(held.len() + i) % clients.len()].clone();
            let url = url.clone();
            opening.push(tokio::spawn(async move {
                let response = client.get(url).send().await.expect("subscribe");
                assert_eq!(response.status(), 200);
                let version = response.version();
                let mut body = response.bytes_stream();
                // The opening comment: the subscription is in place.
                body.next().await.expect("opening").expect("opening");
                (body, version)
            }));
        }
        for task in opening {
            held.push(task.await.expect("task"));
        }
    }
    let version = held[0].1;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = hub.rss_kib();
    let grown = after.saturating_sub(before) as f64;
    let mut line = format!(
        "{}: {subscribers} idle subscriptions ({version:?}) in {:.2} s; hub RSS {before} KiB -> {after} KiB = {:.2} KiB per subscription",
        way.label(),
        started.elapsed().as_secs_f64(),
        grown / subscribers as f64,
    );
    if matches!(way, Way::Http2Tls) {
        line.push_str(&format!(
            " ({:.2} KiB per connection of {} streams, of which {:.2} KiB for the idle connection itself)",
            grown / connections as f64,
            subscribers / connections,
            connected.saturating_sub(before) as f64 / connections as f64,
        ));
    }
    println!("{line}");
    drop(held);
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let smoke = !std::env::args().any(|a| a == "--bench");
    let env = |name: &str, default: usize, small: usize| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(if smoke { small } else { default })
    };
    let subscribers = env("BENCH_TLS_SUBSCRIBERS", 1_000, 20);
    let connections = env("BENCH_TLS_CONNECTIONS", 100, 2).clamp(1, subscribers.max(1));
    let dir = std::env::temp_dir().join(format!("mercure-tls-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (files, ca) = certificate(&dir);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        for way in [Way::Clear, Way::Http1Tls, Way::Http2Tls] {
            let hub = Hub::spawn((!matches!(way, Way::Clear)).then_some(&files));
            let clients = if matches!(way, Way::Http2Tls) {
                connections
            } else {
                1
            };
            measure(way, &hub, &ca, subscribers, clients).await;
        }
    });
    let _ = std::fs::remove_dir_all(&dir);
}
