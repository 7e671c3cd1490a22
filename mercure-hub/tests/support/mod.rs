//! Shared helpers: a hub on 127.0.0.1 port 0, tokens, raw SSE reading.

#![allow(dead_code, unreachable_pub)]

use std::time::Duration;

use futures_util::StreamExt;
use mercure_core::ProtocolVersion;
use mercure_core::token::{Grants, SigningKey, TokenFactory};
use mercure_hub::{EmbeddedHub, HubConfig, HubConfigBuilder, VerificationKey};

pub const SECRET: &[u8] = b"!ChangeThisMercureHubJWTSecretKey!";
pub const ISSUER: &str = "https://app.example.com";
/// How long a test waits for something that should happen at once.
pub const PATIENCE: Duration = Duration::from_secs(5);

/// A hub served on 127.0.0.1 for one test.
pub struct TestHub {
    pub hub: EmbeddedHub,
    pub url: String,
    pub origin: String,
    pub client: reqwest::Client,
}

/// The config every test starts from: the HMAC secret, and the URL the
/// hub will be reached at (port filled in by [`start`]).
pub fn config() -> HubConfigBuilder {
    HubConfig::builder().key(VerificationKey::hs256(SECRET).unwrap())
}

/// Starts a hub with `builder` (its URL is set to the bound address),
/// served by `mercure_hub::serve_hub` (subscriptions on the lean path).
pub async fn start(builder: HubConfigBuilder) -> TestHub {
    start_with(builder, true).await
}

/// Starts a hub served by the axum router alone (`mercure_hub::serve`).
pub async fn start_router(builder: HubConfigBuilder) -> TestHub {
    start_with(builder, false).await
}

async fn start_with(builder: HubConfigBuilder, lean: bool) -> TestHub {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let origin = format!("http://{addr}");
    let url = format!("{origin}/.well-known/mercure");
    let hub = EmbeddedHub::new(builder.url(&url).build().unwrap());
    let app = hub.router().merge(hub.operations_router());
    if lean {
        tokio::spawn(mercure_hub::serve_hub(
            listener,
            hub.clone(),
            app,
            std::future::pending(),
        ));
    } else {
        tokio::spawn(mercure_hub::serve(listener, app));
    }
    TestHub {
        hub,
        url,
        origin,
        client: reqwest::Client::new(),
    }
}

impl TestHub {
    /// A factory minting tokens of `version` this hub accepts.
    pub fn factory(&self, version: ProtocolVersion) -> TokenFactory {
        factory(version, &self.url)
    }

    /// A token of `version` carrying `grants`.
    pub fn token(&self, version: ProtocolVersion, grants: &Grants) -> String {
        self.factory(version)
            .mint(grants)
            .unwrap()
            .expose()
            .to_owned()
    }

    /// Publishes a form with a token; returns (status, body).
    pub async fn publish(&self, token: &str, form: &[(&str, &str)]) -> (u16, String) {
        let response = self
            .client
            .post(&self.url)
            .bearer_auth(token)
            .form(form)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    }

    /// Publishes with a token allowed everywhere, in `version`; returns the id.
    pub async fn publish_ok(&self, version: ProtocolVersion, form: &[(&str, &str)]) -> String {
        let token = self.token(version, &Grants::publish_all());
        let (status, body) = self.publish(&token, form).await;
        assert_eq!(status, 200, "publish failed: {body}");
        body
    }

    /// Opens a subscription: `query` is the raw query string.
    pub async fn subscribe(&self, query: &str, token: Option<&str>) -> reqwest::Response {
        let mut request = self.client.get(format!("{}?{query}", self.url));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }

    /// Opens a subscription that must succeed.
    pub async fn stream(&self, query: &str, token: Option<&str>) -> SseReader {
        let response = self.subscribe(query, token).await;
        assert_eq!(response.status(), 200, "subscription refused");
        SseReader::new(response).await
    }

    /// Waits until the hub counts `n` connected subscribers.
    pub async fn wait_subscribers(&self, n: u64) {
        tokio::time::timeout(PATIENCE, async {
            while self.hub.metrics().subscribers_connected != n {
                tokio::task::yield_now().await;
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
        .await
        .expect("subscriber count never reached");
    }
}

pub fn factory(version: ProtocolVersion, audience: &str) -> TokenFactory {
    let builder = TokenFactory::builder(SigningKey::hs256(SECRET).unwrap()).protocol(version);
    match version {
        ProtocolVersion::V0 => builder.build().unwrap(),
        ProtocolVersion::V1 => builder.issuer(ISSUER).audience(audience).build().unwrap(),
    }
}

/// One parsed server-sent event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sse {
    pub id: Option<String>,
    pub event: Option<String>,
    pub retry: Option<String>,
    pub data: Vec<String>,
}

impl Sse {
    pub fn data(&self) -> String {
        self.data.join("\n")
    }
}

/// Reads a `text/event-stream` body: raw bytes, blocks split on blank lines.
pub struct SseReader {
    pub headers: reqwest::header::HeaderMap,
    stream:
        std::pin::Pin<Box<dyn futures_util::Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>,
    buffer: String,
    pub raw: String,
    pub ended: bool,
}

impl SseReader {
    pub async fn new(response: reqwest::Response) -> Self {
        let headers = response.headers().clone();
        Self {
            headers,
            stream: Box::pin(response.bytes_stream()),
            buffer: String::new(),
            raw: String::new(),
            ended: false,
        }
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    }

    /// The next block (event or comment), raw; `None` at the end of the stream.
    pub async fn next_block(&mut self) -> Option<String> {
        loop {
            if let Some(pos) = self.buffer.find("\n\n") {
                let block = self.buffer[..pos].to_owned();
                self.buffer.drain(..pos + 2);
                return Some(block);
            }
            match tokio::time::timeout(PATIENCE, self.stream.next())
                .await
                .expect("no data from the hub in time")
            {
                Some(Ok(chunk)) => {
                    let text = std::str::from_utf8(&chunk).unwrap();
                    self.raw.push_str(text);
                    self.buffer.push_str(text);
                }
                Some(Err(e)) => panic!("stream error: {e}"),
                None => {
                    self.ended = true;
                    return None;
                }
            }
        }
    }

    /// The next event, skipping comments; `None` at the end of the stream.
    pub async fn next_event(&mut self) -> Option<Sse> {
        loop {
            let block = self.next_block().await?;
            let mut event = Sse::default();
            let mut is_event = false;
            for line in block.split('\n') {
                if line.starts_with(':') || line.is_empty() {
                    continue;
                }
                is_event = true;
                let (field, value) = line.split_once(": ").unwrap_or((line, ""));
                match field {
                    "id" => event.id = Some(value.to_owned()),
                    "event" => event.event = Some(value.to_owned()),
                    "retry" => event.retry = Some(value.to_owned()),
                    "data" => event.data.push(value.to_owned()),
                    other => panic!("unexpected field {other:?} in {block:?}"),
                }
            }
            if is_event {
                return Some(event);
            }
        }
    }
}
