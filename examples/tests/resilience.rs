//! The publisher service and the subscriber daemon against real hubs that
//! go down and come back on the same port.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use mercure_client::token::{Grants, SigningKey, TokenFactory};
use mercure_client::{Hub, ProtocolVersion, TopicSelector, Update};
use mercure_examples::board::DEMO_SECRET;
use mercure_examples::publisher_service::{Accepted, OrderService, ServiceSettings};
use mercure_examples::subscriber_daemon::{DaemonConfig, run, subscriber};
use mercure_hub::{EmbeddedHub, HubConfig, SubscribeRequest, VerificationKey};
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use url::Url;

/// Bounds every wait: the tests never depend on how long something takes,
/// only on its happening.
const WAIT: Duration = Duration::from_secs(30);

fn hub_config(addr: SocketAddr) -> HubConfig {
    HubConfig::builder()
        .url(format!("http://{addr}/.well-known/mercure"))
        .key(VerificationKey::hs256(DEMO_SECRET).expect("key"))
        .anonymous(true)
        .build()
        .expect("hub config")
}

/// A hub served on `listener` until `stop` fires.
struct RunningHub {
    hub: EmbeddedHub,
    stop: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

impl RunningHub {
    fn serve(listener: TcpListener, hub: EmbeddedHub) -> Self {
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(mercure_hub::serve_with_shutdown(
            listener,
            hub.router(),
            async {
                let _ = stopped.await;
            },
        ));
        Self { hub, stop, task }
    }

    /// Stops accepting, ends every stream, and waits for the server to end.
    async fn stop(self) {
        let _ = self.stop.send(());
        self.hub.close_subscribers(|_| true);
        tokio::time::timeout(WAIT, self.task)
            .await
            .expect("the hub stops")
            .expect("the server task")
            .expect("the server");
    }
}

/// A client for requests whose answer ends: connecting and the whole
/// exchange bounded.
fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(WAIT)
        .build()
        .expect("HTTP client")
}

/// A socket bound to `addr` (port 0: any) with `SO_REUSEPORT`, so that a
/// second one may hold the same port. Bound but not listening, it refuses
/// connections.
fn reusable_socket(addr: SocketAddr) -> TcpSocket {
    let socket = TcpSocket::new_v4().expect("a TCP socket");
    socket.set_reuseport(true).expect("SO_REUSEPORT");
    socket.bind(addr).expect("bind on 127.0.0.1");
    socket
}

/// A hub that is down behind a port that stays open: every connection is
/// accepted and closed at once, and counted, until [`Cutting::stop`]
/// hands the listener back.
struct Cutting {
    stop: oneshot::Sender<()>,
    task: JoinHandle<TcpListener>,
    cut: Arc<AtomicU64>,
}

impl Cutting {
    fn start(listener: TcpListener) -> Self {
        let (stop, mut stopped) = oneshot::channel::<()>();
        let cut = Arc::new(AtomicU64::new(0));
        let count = Arc::clone(&cut);
        let task = tokio::spawn(async move {
            loop {
                tokio::select! {
                    biased;
                    _ = &mut stopped => return listener,
                    accepted = listener.accept() => {
                        if let Ok((stream, _)) = accepted {
                            count.fetch_add(1, Ordering::SeqCst);
                            drop(stream);
                        }
                    }
                }
            }
        });
        Self { stop, task, cut }
    }

    /// Connections cut so far.
    fn cut(&self) -> u64 {
        self.cut.load(Ordering::SeqCst)
    }

    /// Stops cutting; connections not accepted yet wait for the next
    /// owner of the listener.
    async fn stop(self) -> (TcpListener, u64) {
        let _ = self.stop.send(());
        let listener = tokio::time::timeout(WAIT, self.task)
            .await
            .expect("the cutting task stops")
            .expect("the cutting task");
        (listener, self.cut.load(Ordering::SeqCst))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_are_accepted_while_the_hub_is_down_and_published_once_it_is_back() {
    // The hub's port, open but cutting every connection: the hub is down.
    let hub_listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = hub_listener.local_addr().expect("address");
    let hub_url = format!("http://{addr}/.well-known/mercure");
    let down = Cutting::start(hub_listener);

    let service_listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = Url::parse(&format!(
        "http://{}/",
        service_listener.local_addr().expect("address")
    ))
    .expect("base");
    let factory = TokenFactory::builder(SigningKey::hs256(DEMO_SECRET).expect("key"))
        .build()
        .expect("factory");
    let publisher = Hub::builder(&hub_url)
        .token_factory(factory, Grants::publish_all())
        .build()
        .expect("hub client");
    let mut settings = ServiceSettings::new(base.clone());
    settings.step_delay = Duration::ZERO;
    settings.initial_backoff = Duration::from_millis(50);
    settings.max_backoff = Duration::from_millis(400);
    settings.max_attempts = 200;
    let service = OrderService::start(publisher, &settings);
    let server = tokio::spawn(mercure_hub::serve(service_listener, service.router()));

    // The hub is down: the order is accepted all the same.
    let http = http_client();
    let response = http
        .post(format!("{base}orders"))
        .form(&[("item", "a book")])
        .send()
        .await
        .expect("POST /orders");
    assert_eq!(response.status(), 202);
    let accepted: Accepted = response.json().await.expect("JSON");
    assert_eq!(accepted.topic, format!("{base}orders/{}", accepted.id));

    // Bad input is refused without touching the queue.
    let refused = http
        .post(format!("{base}orders"))
        .form(&[("item", "  ")])
        .send()
        .await
        .expect("POST /orders");
    assert_eq!(refused.status(), 422);

    // The first attempt to publish fails.
    tokio::time::timeout(WAIT, async {
        while down.cut() == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the service tries to publish the order's first update");

    // The hub comes up; a subscription opened before it serves sees the
    // queued updates arrive, in order.
    let hub = EmbeddedHub::new(hub_config(addr));
    let mut stream = hub
        .subscribe(SubscribeRequest::new([TopicSelector::exact(
            accepted.topic.clone(),
        )]))
        .await
        .expect("subscribe");
    let (hub_listener, failed_attempts) = down.stop().await;
    let running = RunningHub::serve(hub_listener, hub);
    let mut received = String::new();
    tokio::time::timeout(WAIT, async {
        while !received.contains("shipped") {
            let chunk = stream
                .next()
                .await
                .expect("the stream goes on")
                .expect("bytes");
            received.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await
    .unwrap_or_else(|_| panic!("the order's updates did not arrive; got {received:?}"));
    let statuses: Vec<&str> = ["received", "preparing", "shipped"]
        .into_iter()
        .filter(|status| received.contains(&format!("\"status\":\"{status}\"")))
        .collect();
    assert_eq!(statuses, ["received", "preparing", "shipped"]);
    let positions: Vec<usize> = ["received", "preparing", "shipped"]
        .iter()
        .map(|status| {
            received
                .find(&format!("\"status\":\"{status}\""))
                .expect("present")
        })
        .collect();
    assert!(
        positions.windows(2).all(|pair| pair[0] < pair[1]),
        "{received}"
    );

    // Every attempt cut while the hub was down was retried, and no other.
    let stats = service.queue().stats();
    assert!(failed_attempts >= 1);
    assert_eq!(stats.retries, failed_attempts, "{stats:?}");
    assert_eq!(stats.failed, 0);

    // The hub delivers before the worker has counted its answer.
    tokio::time::timeout(WAIT, async {
        while service.queue().stats().published < 3 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the queue counts the three updates");
    let counters: serde_json::Value = http
        .get(format!("{base}stats"))
        .send()
        .await
        .expect("GET /stats")
        .json()
        .await
        .expect("JSON");
    assert_eq!(
        counters,
        serde_json::json!({
            "published": 3,
            "retries": failed_attempts,
            "failed": 0,
            "pending": 0,
        })
    );

    service.shutdown().await;
    server.abort();
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_survives_a_hub_restart() {
    let first_socket = reusable_socket("127.0.0.1:0".parse().expect("address"));
    let addr = first_socket.local_addr().expect("address");
    // The second hub's socket holds the port from the start: while the
    // first hub is down it refuses connections, and no other process can
    // take the port.
    let second_socket = reusable_socket(addr);
    let listener = first_socket.listen(128).expect("listen");
    let topic = "https://example.com/books/1";
    let first = RunningHub::serve(listener, EmbeddedHub::new(hub_config(addr)));

    let config = DaemonConfig {
        hub_url: format!("http://{addr}/.well-known/mercure"),
        topics: vec![TopicSelector::exact(topic)],
        secret: Some(DEMO_SECRET.as_bytes().to_vec()),
        protocol: ProtocolVersion::V0,
        initial_delay: Duration::from_millis(50),
        max_delay: Duration::from_millis(400),
    };
    let (lines, mut printed) = mpsc::unbounded_channel::<String>();
    let daemon = tokio::spawn(run(subscriber(&config).expect("subscriber"), move |line| {
        let _ = lines.send(line);
    }));
    let mut next_line = async move |what: &str| -> String {
        tokio::time::timeout(WAIT, async {
            loop {
                let line = printed.recv().await.expect("the daemon goes on");
                if line.starts_with(what) {
                    return line;
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("the daemon never printed a line starting with {what:?}"))
    };

    next_line("connected").await;
    // A private update: the daemon's token grants its topic.
    let update = Update::builder(topic)
        .data("first")
        .private(true)
        .build()
        .expect("update");
    let id = first.hub.publish(&update).await.expect("publish");
    let line = next_line("update").await;
    assert!(
        line.contains(id.as_str()) && line.ends_with("first"),
        "{line}"
    );

    first.stop().await;
    next_line("reconnecting").await;

    // A new hub on the same port, without the old one's history.
    let second = RunningHub::serve(
        second_socket.listen(128).expect("listen"),
        EmbeddedHub::new(hub_config(addr)),
    );
    let line = next_line("connected").await;
    assert!(line.contains(&format!("resuming after {id}")), "{line}");
    // It tells the daemon it could not replay from that id.
    let line = next_line("the hub could not replay").await;
    assert!(line.contains(id.as_str()), "{line}");
    let update = Update::new(topic, "second").expect("update");
    second.hub.publish(&update).await.expect("publish");
    let line = next_line("update").await;
    assert!(line.ends_with("second"), "{line}");

    daemon.abort();
    second.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_answers_503_at_once_instead_of_waiting() {
    // A hub that is never up (its port, held, refuses connections), a
    // queue of one update, a backend job that takes its time: orders pile
    // up.
    let hub_socket = reusable_socket("127.0.0.1:0".parse().expect("address"));
    let addr = hub_socket.local_addr().expect("address");
    let publisher = Hub::builder(format!("http://{addr}/.well-known/mercure"))
        .token(mercure_client::token::Token::new("unused"))
        .build()
        .expect("hub client");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = Url::parse(&format!(
        "http://{}/",
        listener.local_addr().expect("address")
    ))
    .expect("base");
    let mut settings = ServiceSettings::new(base.clone());
    settings.queue_capacity = 1;
    settings.step_delay = Duration::from_secs(3600);
    settings.max_attempts = 1000;
    let service = OrderService::start(publisher, &settings);
    let server = tokio::spawn(mercure_hub::serve(listener, service.router()));

    let http = http_client();
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let response = http
            .post(format!("{base}orders"))
            .form(&[("item", "a book")])
            .send()
            .await
            .expect("POST /orders");
        let status = response.status().as_u16();
        if status == 503 {
            assert_eq!(response.headers()["retry-after"], "1");
        }
        statuses.push(status);
    }
    // The first is always taken; by the third, the job's or the queue's
    // room is exhausted. The second depends on whether the job and the
    // queue's worker have taken the first order yet.
    assert_eq!(statuses[0], 202, "{statuses:?}");
    assert!(matches!(statuses[1], 202 | 503), "{statuses:?}");
    assert_eq!(statuses[2], 503, "{statuses:?}");
    server.abort();
    drop(hub_socket);
}
