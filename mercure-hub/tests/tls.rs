//! HTTPS: the hub over rustls with a test certificate authority made at
//! test time (rcgen) and reqwest trusting only it. Publishing over HTTP/1.1
//! and HTTP/2 (the version ALPN chose is checked), subscribing over
//! HTTP/2, ten subscriptions on one HTTP/2 connection, the handshake bound
//! by the head timeout and counted against the connection caps, and the
//! certificate replaced without a restart (file change, SIGHUP) while a bad
//! replacement keeps the previous one.

#[path = "support/process.rs"]
mod process;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use mercure_hub::{EmbeddedHub, HubConfig, HubConfigBuilder, TlsConfigSource, VerificationKey};
use process::{Event, HubProcess, SECRET, SseParser, TempDir, publisher_token};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, SerialNumber,
};
use reqwest::Version;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The longest any step of these tests may take.
const BOUND: Duration = Duration::from_secs(10);

/// A certificate authority made for one test.
struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

/// A server certificate (for 127.0.0.1 and localhost) and its key.
struct Leaf {
    cert_pem: String,
    key_pem: String,
    der: Vec<u8>,
}

impl Ca {
    fn new() -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "mercure-hub test CA");
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        Self { issuer }
    }

    fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// A server certificate named `name`, with serial number `serial`.
    fn leaf(&self, name: &str, serial: u64) -> Leaf {
        let mut params =
            CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.serial_number = Some(SerialNumber::from(serial));
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().to_vec(),
        }
    }

    /// A client trusting this authority only, reporting the certificate
    /// each response came with.
    fn client(&self) -> reqwest::ClientBuilder {
        reqwest::Client::builder()
            .no_proxy()
            .connect_timeout(BOUND)
            .tls_certs_only([reqwest::Certificate::from_pem(self.pem().as_bytes()).unwrap()])
            .tls_info(true)
    }
}

/// Writes `contents` to `path` at once (a rename), as deployment tools do.
fn replace(path: &Path, contents: &str) {
    let temporary = path.with_extension("new");
    std::fs::write(&temporary, contents).unwrap();
    std::fs::rename(&temporary, path).unwrap();
}

/// Writes the pair's files in `dir`; returns (cert, key) paths.
fn write_pair(dir: &Path, leaf: &Leaf) -> (std::path::PathBuf, std::path::PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    replace(&cert, &leaf.cert_pem);
    replace(&key, &leaf.key_pem);
    (cert, key)
}

fn config() -> HubConfigBuilder {
    HubConfig::builder()
        .key(VerificationKey::hs256(SECRET.as_bytes()).unwrap())
        .anonymous(true)
}

/// A hub served by `serve_hub_tls` on 127.0.0.1; returns it with its
/// address and hub URL.
async fn start(
    builder: HubConfigBuilder,
    tls: TlsConfigSource,
) -> (EmbeddedHub, SocketAddr, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let url = format!("https://{addr}/.well-known/mercure");
    let hub = EmbeddedHub::new(builder.url(&url).build().unwrap());
    let app = hub.router().merge(hub.operations_router());
    tokio::spawn(mercure_hub::serve_hub_tls(
        listener,
        hub.clone(),
        app,
        tls,
        std::future::pending(),
    ));
    (hub, addr, url)
}

/// The certificate a new connection to `addr` is served, as DER.
async fn served_certificate(ca: &Ca, addr: &str) -> Vec<u8> {
    let client = ca.client().build().unwrap();
    let response = client
        .get(format!("https://{addr}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response
        .extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|info| info.peer_certificate())
        .expect("the server's certificate")
        .to_vec()
}

/// Waits (within [`BOUND`]) until new connections to `addr` are served
/// `expected`.
async fn wait_for_certificate(ca: &Ca, addr: &str, expected: &[u8]) {
    let deadline = Instant::now() + BOUND;
    while served_certificate(ca, addr).await != expected {
        assert!(
            Instant::now() < deadline,
            "the new certificate was never served"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Publishes `data` on `topic` with `client`; returns the HTTP version.
async fn publish(client: &reqwest::Client, url: &str, topic: &str, data: &str) -> Version {
    let response = client
        .post(url)
        .bearer_auth(publisher_token())
        .form(&[("topic", topic), ("data", data)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.version()
}

/// An open subscription's events, read as they come.
struct Stream {
    body: futures_util::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    parser: SseParser,
    events: Vec<Event>,
}

impl Stream {
    async fn open(client: &reqwest::Client, url: &str, topic: &str) -> (Self, Version) {
        let response = client
            .get(format!("{url}?topic={topic}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let version = response.version();
        let stream = Self {
            body: response.bytes_stream().boxed(),
            parser: SseParser::default(),
            events: Vec::new(),
        };
        (stream, version)
    }

    /// The next event, within [`BOUND`].
    async fn next(&mut self) -> Event {
        tokio::time::timeout(BOUND, async {
            loop {
                if !self.events.is_empty() {
                    return self.events.remove(0);
                }
                let chunk = self.body.next().await.expect("the stream ended").unwrap();
                self.events = self.parser.feed(&chunk);
            }
        })
        .await
        .expect("no event in time")
    }
}

#[tokio::test]
async fn publishes_over_http1_and_http2_and_subscribes_over_http2() {
    let ca = Ca::new();
    let leaf = ca.leaf("hub", 1);
    let tls = TlsConfigSource::from_pem(leaf.cert_pem.as_bytes(), leaf.key_pem.as_bytes()).unwrap();
    let (_hub, addr, url) = start(config(), tls).await;
    let h2 = ca.client().build().unwrap();
    let h1 = ca.client().http1_only().build().unwrap();
    let (mut over_h2, version) = Stream::open(&h2, &url, "t").await;
    assert_eq!(version, Version::HTTP_2);
    let (mut over_h1, version) = Stream::open(&h1, &url, "t").await;
    assert_eq!(version, Version::HTTP_11);
    assert_eq!(publish(&h1, &url, "t", "one").await, Version::HTTP_11);
    assert_eq!(publish(&h2, &url, "t", "two").await, Version::HTTP_2);
    for stream in [&mut over_h2, &mut over_h1] {
        assert_eq!(stream.next().await.data, "one");
        assert_eq!(stream.next().await.data, "two");
    }
    assert_eq!(served_certificate(&ca, &addr.to_string()).await, leaf.der);
}

/// Listens on 127.0.0.1 and relays every connection to `target`,
/// counting them.
async fn counting_relay(target: SocketAddr) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&count);
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let Ok(mut outbound) = TcpStream::connect(target).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            });
        }
    });
    (addr, count)
}

#[tokio::test]
async fn ten_subscriptions_share_one_http2_connection() {
    let ca = Ca::new();
    let leaf = ca.leaf("hub", 1);
    let tls = TlsConfigSource::from_pem(leaf.cert_pem.as_bytes(), leaf.key_pem.as_bytes()).unwrap();
    let (hub, addr, _) = start(config(), tls).await;
    let (relay, connections) = counting_relay(addr).await;
    let url = format!("https://{relay}/.well-known/mercure");
    let client = ca.client().build().unwrap();
    // The connection is made once, then every stream goes over it.
    let health = client
        .get(format!("https://{relay}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.version(), Version::HTTP_2);
    let mut streams = Vec::new();
    for _ in 0..10 {
        let (stream, version) = Stream::open(&client, &url, "t").await;
        assert_eq!(version, Version::HTTP_2);
        streams.push(stream);
    }
    assert_eq!(hub.metrics().subscribers_connected, 10);
    assert_eq!(publish(&client, &url, "t", "to all").await, Version::HTTP_2);
    for stream in &mut streams {
        assert_eq!(stream.next().await.data, "to all");
    }
    assert_eq!(connections.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn http2_streams_count_against_the_address_cap_over_tls() {
    let ca = Ca::new();
    let leaf = ca.leaf("hub", 1);
    let tls = TlsConfigSource::from_pem(leaf.cert_pem.as_bytes(), leaf.key_pem.as_bytes()).unwrap();
    let (hub, _, url) = start(config().max_connections_per_address(3), tls).await;
    let client = ca.client().build().unwrap();
    let mut streams = Vec::new();
    for _ in 0..3 {
        let (stream, version) = Stream::open(&client, &url, "t").await;
        assert_eq!(version, Version::HTTP_2);
        streams.push(stream);
    }
    // A fourth stream on the same connection is a fourth connection of
    // the address: 429.
    let refused = client.get(format!("{url}?topic=t")).send().await.unwrap();
    assert_eq!(refused.version(), Version::HTTP_2);
    assert_eq!(refused.status(), 429);
    assert_eq!(refused.headers()["retry-after"], "1");
    assert_eq!(hub.metrics().subscribers_connected, 3);
    // One ends: room for another.
    streams.pop();
    let deadline = Instant::now() + BOUND;
    while hub.metrics().subscribers_connected != 2 {
        assert!(Instant::now() < deadline, "the stream never ended");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (_again, _) = Stream::open(&client, &url, "t").await;
}

/// Reads from `stream` until the server closes it; how long that took.
async fn until_closed(stream: &mut TcpStream, started: Instant) -> Duration {
    let mut buffer = [0u8; 1024];
    tokio::time::timeout(BOUND, async {
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .expect("the connection was not closed");
    started.elapsed()
}

#[tokio::test]
async fn handshakes_are_bounded_by_the_head_timeout_and_count_against_the_caps() {
    const HEAD_TIMEOUT: Duration = Duration::from_secs(1);
    let ca = Ca::new();
    let leaf = ca.leaf("hub", 1);
    let tls = TlsConfigSource::from_pem(leaf.cert_pem.as_bytes(), leaf.key_pem.as_bytes()).unwrap();
    let (_hub, addr, _) = start(
        config()
            .head_timeout(HEAD_TIMEOUT)
            .max_connections_per_address(2),
        tls,
    )
    .await;
    // Two clients that send nothing hold both of the address's slots.
    let started = Instant::now();
    let mut silent = [
        TcpStream::connect(addr).await.unwrap(),
        TcpStream::connect(addr).await.unwrap(),
    ];
    let client = ca.client().build().unwrap();
    let health = format!("https://{addr}/healthz");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        client.get(&health).send().await.is_err(),
        "a third connection is refused"
    );
    for stream in &mut silent {
        let elapsed = until_closed(stream, started).await;
        assert!(elapsed >= HEAD_TIMEOUT, "cut after {elapsed:?}");
    }
    // A ClientHello trickled a byte at a time is cut at the head timeout
    // too, however steadily it comes.
    let mut trickling = TcpStream::connect(addr).await.unwrap();
    let started = Instant::now();
    let (mut reading, mut writing) = trickling.split();
    let hello = [
        0x16u8, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
    ];
    let trickle = async {
        for byte in hello.iter().cycle().take(100) {
            if writing.write_all(&[*byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let closed = async {
        let mut buffer = [0u8; 1024];
        loop {
            match reading.read(&mut buffer).await {
                Ok(0) | Err(_) => return started.elapsed(),
                Ok(_) => {}
            }
        }
    };
    let elapsed = tokio::time::timeout(BOUND, async {
        tokio::pin!(closed);
        tokio::select! {
            elapsed = &mut closed => elapsed,
            () = trickle => closed.await,
        }
    })
    .await
    .expect("the trickling connection was not closed");
    assert!(elapsed >= HEAD_TIMEOUT, "cut after {elapsed:?}");
    // The slots are free again.
    let response = client.get(&health).send().await.unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn certificate_files_are_reloaded_on_change_and_a_bad_pair_is_refused() {
    let ca = Ca::new();
    let dir = TempDir::new("mercure-tls-files");
    let first = ca.leaf("first", 1);
    let (cert, key) = write_pair(dir.path(), &first);
    let tls = TlsConfigSource::from_pem_files(&cert, &key).unwrap();
    tokio::spawn(tls.clone().watch(Duration::from_millis(50)));
    let (_hub, addr, _) = start(config(), tls.clone()).await;
    let addr = addr.to_string();
    assert_eq!(served_certificate(&ca, &addr).await, first.der);
    // A new pair on disk is served to new connections.
    let second = ca.leaf("second", 2);
    write_pair(dir.path(), &second);
    wait_for_certificate(&ca, &addr, &second.der).await;
    // A key that is not PEM, then a key of another certificate: refused,
    // without their content in the message, and the second pair stays.
    replace(
        &key,
        "-----BEGIN PRIVATE KEY-----\nbm90LWEta2V5LWJ1dC1zZWNyZXQ\n",
    );
    let error = tls.reload().unwrap_err().to_string();
    assert!(
        error.contains("the private key is not valid PEM"),
        "{error}"
    );
    assert!(!error.contains("bm90"), "{error}");
    let third = ca.leaf("third", 3);
    replace(&cert, &third.cert_pem);
    replace(&key, &first.key_pem);
    let error = tls.reload().unwrap_err().to_string();
    assert!(error.starts_with("unusable certificate and key"), "{error}");
    // Several looks at the files later, still the second pair.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(served_certificate(&ca, &addr).await, second.der);
    // Files missing: refused too.
    std::fs::remove_file(&key).unwrap();
    let error = tls.reload().unwrap_err().to_string();
    assert!(error.starts_with("cannot read the key file"), "{error}");
    assert_eq!(served_certificate(&ca, &addr).await, second.der);
}

/// Waits (within [`BOUND`]) for a line of the hub's output containing
/// `text`, and returns the whole output.
fn wait_for_log(hub: &HubProcess, text: &str) -> String {
    let deadline = Instant::now() + BOUND;
    loop {
        let output = hub.output();
        if output.contains(text) {
            return output;
        }
        assert!(
            Instant::now() < deadline,
            "no {text:?} in the hub's output:\n{output}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_serves_https_and_reloads_its_certificate_on_sighup() {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;

    let ca = Ca::new();
    let dir = TempDir::new("mercure-tls-binary");
    let first = ca.leaf("first", 1);
    let (cert, key) = write_pair(dir.path(), &first);
    let hub = HubProcess::start(
        dir.path(),
        &[
            "--history",
            "memory",
            "--anonymous",
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    let url = format!("https://{}/.well-known/mercure", hub.addr);
    assert_eq!(served_certificate(&ca, &hub.addr).await, first.der);
    // A subscriber connected before the reload keeps its connection.
    let client = ca.client().build().unwrap();
    let (mut early, version) = Stream::open(&client, &url, "t").await;
    assert_eq!(version, Version::HTTP_2);

    let second = ca.leaf("second", 2);
    write_pair(dir.path(), &second);
    kill(
        Pid::from_raw(i32::try_from(hub.pid()).unwrap()),
        Signal::SIGHUP,
    )
    .unwrap();
    wait_for_log(&hub, "SIGHUP: TLS certificate reloaded");
    wait_for_certificate(&ca, &hub.addr, &second.der).await;
    assert_eq!(publish(&client, &url, "t", "after").await, Version::HTTP_2);
    assert_eq!(early.next().await.data, "after");

    // A key that does not belong to the certificate: logged, and the
    // second pair stays (the key is never logged).
    let third = ca.leaf("third", 3);
    replace(&cert, &third.cert_pem);
    replace(&key, &first.key_pem);
    kill(
        Pid::from_raw(i32::try_from(hub.pid()).unwrap()),
        Signal::SIGHUP,
    )
    .unwrap();
    let output = wait_for_log(&hub, "SIGHUP: the TLS certificate cannot be used");
    assert!(!output.contains("PRIVATE KEY"), "{output}");
    let key_body = first.key_pem.lines().nth(1).unwrap();
    assert!(!output.contains(key_body), "{output}");
    assert_eq!(served_certificate(&ca, &hub.addr).await, second.der);
    assert!(
        hub.output()
            .contains("TLS: HTTP/2 and HTTP/1.1 over rustls")
    );
}

#[test]
fn the_binary_needs_both_the_certificate_and_the_key() {
    let dir = TempDir::new("mercure-tls-args");
    let output = process::command(dir.path(), &["--history", "memory", "--tls-cert", "x.pem"])
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--tls-key"), "{stderr}");
    // A certificate file that does not exist stops the hub with a message.
    let output = process::command(
        dir.path(),
        &[
            "--history",
            "memory",
            "--tls-cert",
            "x.pem",
            "--tls-key",
            "y.pem",
        ],
    )
    .stderr(std::process::Stdio::piped())
    .output()
    .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot read the certificate file x.pem"),
        "{stderr}"
    );
}
