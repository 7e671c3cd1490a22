//! A deliberately plain SSE reader (reqwest + line splitting) used to check
//! what hubs put on the wire, independently of the crate's own parser.

use std::time::Duration;

/// One event as read off the wire.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawEvent {
    /// `id:`.
    pub id: Option<String>,
    /// `event:`.
    pub event: Option<String>,
    /// `data:` lines joined with `\n`.
    pub data: String,
}

/// An open SSE response.
#[derive(Debug)]
pub struct RawStream {
    response: reqwest::Response,
    buffer: Vec<u8>,
    /// The response headers.
    pub headers: reqwest::header::HeaderMap,
}

impl RawStream {
    /// Opens `url` with optional `Authorization: Bearer` and `Last-Event-ID`
    /// headers, with [`crate::stream_client`] (connection and every read
    /// bounded); the response head must arrive within
    /// [`crate::STREAM_READ_TIMEOUT`].
    ///
    /// # Errors
    /// The transport error, the status when not 200, or the time-out.
    pub async fn open(
        url: &str,
        bearer: Option<&str>,
        last_event_id: Option<&str>,
    ) -> Result<Self, String> {
        let mut request = crate::stream_client().get(url);
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id);
        }
        let response = tokio::time::timeout(crate::STREAM_READ_TIMEOUT, request.send())
            .await
            .map_err(|_| {
                format!(
                    "no response head from {url} within {:?}",
                    crate::STREAM_READ_TIMEOUT
                )
            })?
            .map_err(|e| e.to_string())?;
        if response.status() != 200 {
            return Err(format!("status {}", response.status()));
        }
        Ok(Self {
            headers: response.headers().clone(),
            response,
            buffer: Vec::new(),
        })
    }

    /// The next event with data (comments and empty events skipped), or
    /// `None` when the stream ends or nothing arrives within `timeout`.
    /// [`RawStream::expect_event`] tells the two apart.
    pub async fn next_event(&mut self, timeout: Duration) -> Option<RawEvent> {
        tokio::time::timeout(timeout, self.next_event_inner())
            .await
            .ok()
            .flatten()
    }

    /// The next event with data, which must arrive within `timeout`.
    ///
    /// # Panics
    /// When nothing arrives in time or the stream ends (or fails) first;
    /// the message names what was awaited, `what`.
    pub async fn expect_event(&mut self, timeout: Duration, what: &str) -> RawEvent {
        match tokio::time::timeout(timeout, self.next_event_inner()).await {
            Ok(Some(event)) => event,
            Ok(None) => panic!("the stream ended or failed before {what}"),
            Err(_) => panic!("{what} did not arrive within {timeout:?}"),
        }
    }

    async fn next_event_inner(&mut self) -> Option<RawEvent> {
        loop {
            let normalized = normalize_line_ends(&self.buffer);
            if let Some(end) = normalized.windows(2).position(|w| w == b"\n\n") {
                let block = String::from_utf8_lossy(&normalized[..end]).into_owned();
                self.buffer = normalized[end + 2..].to_vec();
                let mut event = RawEvent::default();
                let mut data = Vec::new();
                for line in block.lines() {
                    if line.starts_with(':') {
                        continue;
                    }
                    let (field, value) = line.split_once(':').unwrap_or((line, ""));
                    let value = value.strip_prefix(' ').unwrap_or(value);
                    match field {
                        "id" => event.id = Some(value.to_owned()),
                        "event" => event.event = Some(value.to_owned()),
                        "data" => data.push(value.to_owned()),
                        _ => {}
                    }
                }
                if data.is_empty() {
                    continue;
                }
                event.data = data.join("\n");
                return Some(event);
            }
            let chunk = self.response.chunk().await.ok()??;
            self.buffer.extend_from_slice(&chunk);
        }
    }
}

/// CRLF and lone CR become LF. A CR at the very end is kept: its LF may be
/// in the next chunk.
fn normalize_line_ends(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\r' if i + 1 == bytes.len() => out.push(b'\r'),
            b'\r' if bytes[i + 1] == b'\n' => {
                out.push(b'\n');
                i += 1;
            }
            b'\r' => out.push(b'\n'),
            byte => out.push(byte),
        }
        i += 1;
    }
    out
}
