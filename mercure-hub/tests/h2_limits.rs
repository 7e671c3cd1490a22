//! HTTP/2 with prior knowledge (h2c) held to the bounds of HTTP/1: the
//! preface and the first request within the head timeout, idle connections
//! closed, streams per connection capped, and every stream beyond a
//! connection's first counted against its address's connections. Raw
//! frames on loopback, bounded in count and time.

mod support;

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use support::{TestHub, config, start, start_router};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// The longest any step of these tests may take.
const BOUND: Duration = Duration::from_secs(10);
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// The streams one connection may have open (the hub's setting).
const MAX_STREAMS: u32 = 16;

const DATA: u8 = 0x0;
const HEADERS: u8 = 0x1;
const RST_STREAM: u8 = 0x3;
const SETTINGS: u8 = 0x4;
const PING: u8 = 0x6;
const GOAWAY: u8 = 0x7;
const END_STREAM: u8 = 0x1;
const ACK: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const REFUSED_STREAM: u32 = 0x7;
const CANCEL: u32 = 0x8;

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

#[derive(Debug)]
struct Frame {
    kind: u8,
    flags: u8,
    stream: u32,
    payload: Vec<u8>,
}

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let length = u32::try_from(payload.len()).unwrap();
    let mut bytes = length.to_be_bytes()[1..].to_vec();
    bytes.push(kind);
    bytes.push(flags);
    bytes.extend_from_slice(&stream.to_be_bytes());
    bytes.extend_from_slice(payload);
    bytes
}

/// An HPACK string literal, not Huffman-coded (short values only).
fn literal(value: &str) -> Vec<u8> {
    let length = u8::try_from(value.len()).unwrap();
    assert!(length < 127);
    let mut bytes = vec![length];
    bytes.extend_from_slice(value.as_bytes());
    bytes
}

/// A raw HTTP/2 client: frames written and read one by one.
struct H2 {
    stream: TcpStream,
    buffer: Vec<u8>,
    /// Frames read while looking for others.
    held: Vec<Frame>,
}

impl H2 {
    /// Sends the preface and an empty SETTINGS frame.
    async fn handshake(mut stream: TcpStream) -> Self {
        let mut hello = PREFACE.to_vec();
        hello.extend(frame(SETTINGS, 0, 0, &[]));
        stream.write_all(&hello).await.unwrap();
        Self {
            stream,
            buffer: Vec::new(),
            held: Vec::new(),
        }
    }

    /// Opens stream `id` with a `GET` of `path` (no body).
    async fn get(&mut self, id: u32, path: &str) {
        // :method GET, :scheme http (static table), :path and :authority
        // (literals without indexing, indexed names).
        let mut block = vec![0x82, 0x86, 0x04];
        block.extend(literal(path));
        block.push(0x01);
        block.extend(literal("localhost"));
        let bytes = frame(HEADERS, END_HEADERS | END_STREAM, id, &block);
        self.stream.write_all(&bytes).await.unwrap();
    }

    /// Cancels stream `id`.
    async fn cancel(&mut self, id: u32) {
        let bytes = frame(RST_STREAM, 0, id, &CANCEL.to_be_bytes());
        self.stream.write_all(&bytes).await.unwrap();
    }

    /// The next frame, `None` once the hub closed the connection; SETTINGS
    /// and PINGs are acknowledged on the way (and returned).
    async fn next(&mut self) -> Option<Frame> {
        loop {
            if self.buffer.len() >= 9 {
                let length = u32::from_be_bytes([0, self.buffer[0], self.buffer[1], self.buffer[2]])
                    as usize;
                if self.buffer.len() >= 9 + length {
                    let stream =
                        u32::from_be_bytes(self.buffer[5..9].try_into().unwrap()) & 0x7fff_ffff;
                    let frame = Frame {
                        kind: self.buffer[3],
                        flags: self.buffer[4],
                        stream,
                        payload: self.buffer[9..9 + length].to_vec(),
                    };
                    self.buffer.drain(..9 + length);
                    self.acknowledge(&frame).await;
                    return Some(frame);
                }
            }
            let mut chunk = [0u8; 16 * 1024];
            match tokio::time::timeout(BOUND, self.stream.read(&mut chunk))
                .await
                .expect("nothing from the hub in time")
            {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buffer.extend_from_slice(&chunk[..n]),
            }
        }
    }

    async fn acknowledge(&mut self, received: &Frame) {
        let ack = match received.kind {
            SETTINGS if received.flags & ACK == 0 => frame(SETTINGS, ACK, 0, &[]),
            PING if received.flags & ACK == 0 => frame(PING, ACK, 0, &received.payload),
            _ => return,
        };
        // The hub may have closed already.
        let _ = self.stream.write_all(&ack).await;
    }

    /// The next frame of stream `id` of one of `kinds` (others are kept
    /// for later calls).
    async fn next_of(&mut self, id: u32, kinds: &[u8]) -> Frame {
        let wanted = |frame: &Frame| frame.stream == id && kinds.contains(&frame.kind);
        if let Some(at) = self.held.iter().position(wanted) {
            return self.held.remove(at);
        }
        loop {
            let frame = self.next().await.expect("the hub closed the connection");
            if wanted(&frame) {
                return frame;
            }
            self.held.push(frame);
        }
    }

    /// Reads until the hub closes the connection; the kinds of the frames
    /// received.
    async fn until_closed(&mut self) -> Vec<u8> {
        let mut kinds = Vec::new();
        while let Some(frame) = self.next().await {
            kinds.push(frame.kind);
        }
        kinds
    }

    /// The answer to stream `id`: whether it is a 200 (`:status` 200 is
    /// index 8 of the static table), or the RST_STREAM error code.
    async fn answer(&mut self, id: u32) -> Answer {
        let frame = self.next_of(id, &[HEADERS, RST_STREAM]).await;
        match frame.kind {
            HEADERS if frame.payload.first() == Some(&0x88) => Answer::Ok,
            HEADERS => {
                let mut body = Vec::new();
                if frame.flags & END_STREAM == 0 {
                    loop {
                        let data = self.next_of(id, &[DATA]).await;
                        body.extend_from_slice(&data.payload);
                        if data.flags & END_STREAM != 0 {
                            break;
                        }
                    }
                }
                Answer::Other(String::from_utf8_lossy(&body).into_owned())
            }
            _ => Answer::Reset(u32::from_be_bytes(frame.payload[..4].try_into().unwrap())),
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Answer {
    /// 200.
    Ok,
    /// Another status, with this body.
    Other(String),
    /// RST_STREAM with this error code.
    Reset(u32),
}

/// The time until the hub closes `stream`, which sends nothing more.
async fn time_to_close(mut stream: TcpStream) -> Duration {
    let started = Instant::now();
    let mut sink = [0u8; 4096];
    tokio::time::timeout(BOUND, async {
        loop {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .expect("the hub never closed the connection");
    started.elapsed()
}

#[tokio::test]
async fn a_stalled_preface_is_closed_at_the_head_timeout() {
    let hub = start(
        config()
            .anonymous(true)
            .head_timeout(Duration::from_millis(500)),
    )
    .await;
    // Part of the preface (up to where an HTTP/1 head would end), then
    // nothing.
    for part in [&PREFACE[..4], &PREFACE[..18], &PREFACE[..23]] {
        let mut stream = TcpStream::connect(address(&hub)).await.unwrap();
        stream.write_all(part).await.unwrap();
        let elapsed = time_to_close(stream).await;
        assert!(
            elapsed >= Duration::from_millis(400) && elapsed < Duration::from_secs(3),
            "{part:?}: {elapsed:?}"
        );
    }
}

#[tokio::test]
async fn a_connection_without_a_request_is_closed_at_the_head_timeout() {
    let hub = start(
        config()
            .anonymous(true)
            .head_timeout(Duration::from_millis(500)),
    )
    .await;
    // The whole preface, then nothing; then the preface and SETTINGS,
    // then nothing.
    let mut stream = TcpStream::connect(address(&hub)).await.unwrap();
    stream.write_all(PREFACE).await.unwrap();
    let elapsed = time_to_close(stream).await;
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
    let started = Instant::now();
    let mut client = H2::handshake(TcpStream::connect(address(&hub)).await.unwrap()).await;
    let kinds = client.until_closed().await;
    let elapsed = started.elapsed();
    assert!(kinds.contains(&GOAWAY), "{kinds:?}");
    assert!(
        elapsed >= Duration::from_millis(400) && elapsed < Duration::from_secs(3),
        "{elapsed:?}"
    );
}

#[tokio::test]
async fn an_idle_connection_is_closed_and_a_busy_one_is_not() {
    let hub = start(
        config()
            .anonymous(true)
            .head_timeout(Duration::from_millis(500)),
    )
    .await;
    // A request answered, then nothing: closed once idle for the timeout.
    let mut client = H2::handshake(TcpStream::connect(address(&hub)).await.unwrap()).await;
    client.get(1, "/healthz").await;
    assert_eq!(client.answer(1).await, Answer::Ok);
    let started = Instant::now();
    let kinds = client.until_closed().await;
    let elapsed = started.elapsed();
    assert!(kinds.contains(&GOAWAY), "{kinds:?}");
    assert!(
        elapsed >= Duration::from_millis(400) && elapsed < Duration::from_secs(3),
        "{elapsed:?}"
    );
    // A subscription held open: the connection stays, well past the
    // timeout, and delivers.
    let mut client = H2::handshake(TcpStream::connect(address(&hub)).await.unwrap()).await;
    client.get(1, "/.well-known/mercure?topic=t").await;
    assert_eq!(client.answer(1).await, Answer::Ok);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    hub.publish_ok(
        mercure_core::ProtocolVersion::V0,
        &[("topic", "t"), ("data", "still here")],
    )
    .await;
    let mut received = Vec::new();
    while !String::from_utf8_lossy(&received).contains("still here") {
        let data = client.next_of(1, &[DATA]).await;
        received.extend_from_slice(&data.payload);
    }
    // Once the subscription ends, the connection is idle: closed.
    client.cancel(1).await;
    let started = Instant::now();
    client.until_closed().await;
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(400) && elapsed < Duration::from_secs(3),
        "{elapsed:?}"
    );
}

#[tokio::test]
async fn streams_per_connection_are_capped() {
    for lean in [true, false] {
        let builder = config().anonymous(true);
        let hub = if lean {
            start(builder).await
        } else {
            start_router(builder).await
        };
        let mut client = H2::handshake(TcpStream::connect(address(&hub)).await.unwrap()).await;
        // The cap is announced in the hub's SETTINGS (MAX_CONCURRENT_STREAMS).
        let settings = client.next_of(0, &[SETTINGS]).await;
        let announced = settings
            .payload
            .chunks(6)
            .find(|setting| setting[..2] == [0, 3])
            .map(|setting| u32::from_be_bytes(setting[2..].try_into().unwrap()));
        assert_eq!(announced, Some(MAX_STREAMS), "lean: {lean}");
        let ids: Vec<u32> = (0..=MAX_STREAMS).map(|i| 2 * i + 1).collect();
        for id in &ids {
            client.get(*id, "/.well-known/mercure?topic=t").await;
        }
        let mut answers = Vec::new();
        for id in &ids {
            answers.push(client.answer(*id).await);
        }
        let last = answers.pop().unwrap();
        assert!(answers.iter().all(|a| *a == Answer::Ok), "{answers:?}");
        assert_eq!(last, Answer::Reset(REFUSED_STREAM), "lean: {lean}");
        hub.wait_subscribers(u64::from(MAX_STREAMS)).await;
        // Once one ends, there is room for another.
        client.cancel(ids[0]).await;
        hub.wait_subscribers(u64::from(MAX_STREAMS) - 1).await;
        let next = ids.last().unwrap() + 2;
        client.get(next, "/.well-known/mercure?topic=t").await;
        assert_eq!(client.answer(next).await, Answer::Ok, "lean: {lean}");
    }
}

#[tokio::test]
async fn streams_count_against_the_connections_of_their_address() {
    let hub = start(config().anonymous(true).max_connections_per_address(3)).await;
    let mut client = H2::handshake(connect_from(&hub, 1).await).await;
    // The connection's own slot and two more: three subscriptions; the
    // fourth is refused like a fourth connection would be.
    for id in [1, 3, 5] {
        client.get(id, "/.well-known/mercure?topic=t").await;
        assert_eq!(client.answer(id).await, Answer::Ok, "stream {id}");
    }
    client.get(7, "/.well-known/mercure?topic=t").await;
    match client.answer(7).await {
        Answer::Other(body) => assert!(body.contains("too many"), "{body}"),
        other => panic!("{other:?}"),
    }
    // So is another connection from the same address, not from another.
    let mut other = connect_from(&hub, 1).await;
    let mut answer = Vec::new();
    tokio::time::timeout(BOUND, other.read_to_end(&mut answer))
        .await
        .unwrap()
        .ok();
    assert!(
        answer.starts_with(b"HTTP/1.1 429 "),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    let mut elsewhere = H2::handshake(connect_from(&hub, 2).await).await;
    elsewhere.get(1, "/.well-known/mercure?topic=t").await;
    assert_eq!(elsewhere.answer(1).await, Answer::Ok);
    // A stream ended gives its slot back.
    client.cancel(3).await;
    tokio::time::timeout(BOUND, async {
        let mut id = 9;
        loop {
            client.get(id, "/.well-known/mercure?topic=t").await;
            if client.answer(id).await == Answer::Ok {
                return;
            }
            id += 2;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the stream's slot was never released");
}
