//! Slow and numerous clients: request heads and bodies within their
//! timeouts, connections within their caps per address and in total. All
//! on loopback (several source addresses of 127.0.0.0/8), bounded in
//! count and time.

mod support;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use mercure_core::ProtocolVersion;
use mercure_core::token::Grants;
use support::{TestHub, config, start, start_router};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// The longest any step of these tests may take.
const BOUND: Duration = Duration::from_secs(10);

fn address(hub: &TestHub) -> SocketAddr {
    hub.origin.trim_start_matches("http://").parse().unwrap()
}

/// A connection to the hub from the loopback address `127.0.0.{last}`.
async fn connect_from(hub: &TestHub, last: u8) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket
        .bind(SocketAddr::new(Ipv4Addr::new(127, 0, 0, last).into(), 0))
        .unwrap();
    socket.connect(address(hub)).await.unwrap()
}

/// Everything the hub sends until it closes the connection.
async fn read_all(stream: &mut TcpStream) -> String {
    let mut answer = Vec::new();
    tokio::time::timeout(BOUND, async {
        let mut buffer = [0u8; 4096];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(n) => answer.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await
    .expect("the hub never closed the connection");
    String::from_utf8_lossy(&answer).into_owned()
}

/// Writes `bytes` one at a time, `every` apart, until done or refused.
fn trickle(mut writer: tokio::net::tcp::OwnedWriteHalf, bytes: Vec<u8>, every: Duration) {
    tokio::spawn(async move {
        for byte in bytes {
            if writer.write_all(&[byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(every).await;
        }
    });
}

#[tokio::test]
async fn a_trickled_head_is_cut_at_the_head_timeout() {
    let hub = start(
        config()
            .anonymous(true)
            .head_timeout(Duration::from_millis(500)),
    )
    .await;
    // On the lean path: the first head of a connection.
    let started = Instant::now();
    let stream = TcpStream::connect(address(&hub)).await.unwrap();
    let (mut reader, writer) = stream.into_split();
    let head = b"GET /.well-known/mercure?topic=t HTTP/1.1\r\nhost: x\r\n\r\n".to_vec();
    trickle(writer, head, Duration::from_millis(100));
    let mut answer = Vec::new();
    tokio::time::timeout(BOUND, reader.read_to_end(&mut answer))
        .await
        .expect("never closed")
        .unwrap();
    let elapsed = started.elapsed();
    assert!(
        answer.starts_with(b"HTTP/1.1 408 "),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    assert!(
        elapsed >= Duration::from_millis(400) && elapsed < Duration::from_secs(3),
        "{elapsed:?}"
    );
    // Through hyper: the next head of a kept-alive connection, and an idle
    // kept-alive connection.
    for next_head in [&b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n"[..], b""] {
        let mut stream = TcpStream::connect(address(&hub)).await.unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .unwrap();
        let mut first = [0u8; 512];
        let n = tokio::time::timeout(BOUND, stream.read(&mut first))
            .await
            .unwrap()
            .unwrap();
        assert!(first[..n].starts_with(b"HTTP/1.1 200"));
        let started = Instant::now();
        let (mut reader, writer) = stream.into_split();
        trickle(writer, next_head.to_vec(), Duration::from_millis(100));
        let mut rest = Vec::new();
        tokio::time::timeout(BOUND, reader.read_to_end(&mut rest))
            .await
            .expect("never closed")
            .ok();
        let elapsed = started.elapsed();
        assert!(!String::from_utf8_lossy(&rest).contains("200 OK"));
        assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
    }
}

#[tokio::test]
async fn a_trickled_body_is_cut_at_the_body_timeout() {
    for lean in [true, false] {
        let builder = config().body_timeout(Duration::from_millis(500));
        let hub = if lean {
            start(builder).await
        } else {
            start_router(builder).await
        };
        let token = hub.token(ProtocolVersion::V0, &Grants::publish_all());
        let stream = TcpStream::connect(address(&hub)).await.unwrap();
        let (mut reader, mut writer) = stream.into_split();
        let started = Instant::now();
        writer
            .write_all(
                format!(
                    "POST /.well-known/mercure HTTP/1.1\r\nhost: x\r\n\
                     authorization: Bearer {token}\r\n\
                     content-type: application/x-www-form-urlencoded\r\n\
                     content-length: 100\r\n\r\n"
                )
                .as_bytes(),
            )
            .await
            .unwrap();
        trickle(writer, vec![b'x'; 100], Duration::from_millis(100));
        let mut answer = Vec::new();
        tokio::time::timeout(BOUND, reader.read_to_end(&mut answer))
            .await
            .expect("never closed")
            .ok();
        let elapsed = started.elapsed();
        let answer = String::from_utf8_lossy(&answer);
        assert!(
            answer.starts_with("HTTP/1.1 408 "),
            "lean: {lean}: {answer}"
        );
        assert!(
            elapsed >= Duration::from_millis(400) && elapsed < Duration::from_secs(3),
            "lean: {lean}: {elapsed:?}"
        );
        assert_eq!(hub.hub.metrics().updates_published, 0);
    }
}

#[tokio::test]
async fn connections_beyond_the_caps_are_answered_429_and_503() {
    let hub = start(
        config()
            .anonymous(true)
            .max_connections_per_address(3)
            .max_connections(5),
    )
    .await;
    // Three silent connections from 127.0.0.1: the fourth gets 429.
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(connect_from(&hub, 1).await);
    }
    let mut refused = connect_from(&hub, 1).await;
    let answer = read_all(&mut refused).await;
    assert!(
        answer.starts_with("HTTP/1.1 429 Too Many Requests\r\n"),
        "{answer}"
    );
    assert!(answer.contains("retry-after: "), "{answer}");
    // Two more from 127.0.0.2 fill the hub: the next, from 127.0.0.3, gets 503.
    for _ in 0..2 {
        held.push(connect_from(&hub, 2).await);
    }
    let mut refused = connect_from(&hub, 3).await;
    let answer = read_all(&mut refused).await;
    assert!(
        answer.starts_with("HTTP/1.1 503 Service Unavailable\r\n"),
        "{answer}"
    );
    assert!(answer.contains("retry-after: "), "{answer}");
    // Once they go, there is room again.
    drop(held);
    tokio::time::timeout(BOUND, async {
        loop {
            let mut stream = connect_from(&hub, 1).await;
            stream
                .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
                .await
                .unwrap();
            if read_all(&mut stream).await.starts_with("HTTP/1.1 200") {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the connections were never released");
}

#[tokio::test]
async fn a_few_hundred_slow_clients_do_not_hold_the_hub() {
    let hub = start(
        config()
            .anonymous(true)
            .head_timeout(Duration::from_secs(2))
            .max_connections_per_address(50),
    )
    .await;
    // 200 clients from one address each send a byte of a head, then stall.
    let mut slow = Vec::new();
    for _ in 0..200 {
        let mut stream = connect_from(&hub, 1).await;
        let _ = stream.write_all(b"G").await;
        slow.push(stream);
    }
    // Meanwhile another client is served at once, publishing included.
    let client = reqwest::Client::builder()
        .local_address(IpAddr::from(Ipv4Addr::new(127, 0, 0, 2)))
        .build()
        .unwrap();
    let started = Instant::now();
    let response = client
        .get(format!("{}?topic=t", hub.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut reader = support::SseReader::new(response).await;
    let token = hub.token(ProtocolVersion::V0, &Grants::publish_all());
    let published = client
        .post(&hub.url)
        .bearer_auth(token)
        .form(&[("topic", "t"), ("data", "served")])
        .send()
        .await
        .unwrap();
    assert_eq!(published.status(), 200);
    assert_eq!(reader.next_event().await.unwrap().data(), "served");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    // The slow clients: 50 held (until the head timeout: 408), 150 refused
    // at once (429).
    let answers = futures_util::future::join_all(slow.iter_mut().map(read_all)).await;
    let count = |status: &str| answers.iter().filter(|a| a.starts_with(status)).count();
    assert_eq!(count("HTTP/1.1 429 "), 150);
    assert_eq!(count("HTTP/1.1 408 "), 50);
}
