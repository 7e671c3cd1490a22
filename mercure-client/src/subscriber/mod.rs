//! Subscribing to a hub: a resilient server-sent events stream.

mod item;
mod retry;

mod timer;

pub use item::{Connected, EventsLost, ReconnectReason, Reconnecting, SubscriberEvent};
pub use mercure_core::sse::{DEFAULT_MAX_EVENT_SIZE, EventTooLarge, ReceivedUpdate, SseDecoder};
pub use retry::{
    DEFAULT_INITIAL_DELAY, DEFAULT_MAX_DELAY, DEFAULT_RESET_AFTER, ExponentialBackoff,
    RetryStrategy,
};
pub use timer::{ManualTimer, Timer, TokioTimer};

use std::collections::VecDeque;
use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use futures_util::future::{Either, select};
use futures_util::stream::{BoxStream, Stream, StreamExt};
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, CACHE_CONTROL, CONTENT_TYPE, COOKIE, HeaderValue, RETRY_AFTER};
use url::Url;

use crate::body::{encoding_error, unexpected_encoding};
use crate::error::bearer_challenge;
use crate::hub::authorization_value;
use crate::{
    Error, EventId, Hub, HubRejection, MAX_EVENT_ID_LEN, ProtocolVersion, Result, Token,
    TokenProvider, TopicSelector,
};

/// How long a stream may stay silent (not even a heartbeat) before the
/// subscriber reconnects, unless configured otherwise: 90 s (the official
/// hub sends a heartbeat every 40 s).
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(90);

/// The shortest delay before a reconnection, unless configured otherwise:
/// 250 ms. Neither the retry strategy, its jitter, nor the stream's
/// `retry:` go below it.
pub const DEFAULT_MIN_RETRY: Duration = Duration::from_millis(250);

/// The longest wait a `Retry-After` can impose (in seconds or as an HTTP
/// date): 10 minutes. A longer one is cut to this.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(600);

/// How much of a refusal's body is read.
const MAX_REFUSAL_BODY: usize = 1024;

/// How a subscriber presents its token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum AuthorizationMethod {
    /// `Authorization: Bearer <token>` (the default).
    #[default]
    Header,
    /// The dialect's authorization cookie (`mercureAuthorization` or
    /// `__Secure-mercure_access_token`).
    Cookie,
    /// The `authorization` query parameter (0.x only). The token then sits
    /// in the URL: errors carry no URL in this mode, and the client must
    /// send no `Referer` nor follow redirects to another origin, which the
    /// clients of this crate never do (see
    /// [`http_client`](crate::http_client); a client you give keeps its own
    /// policies).
    QueryParameter,
}

/// A subscription to a hub: a [`Stream`] of [`SubscriberEvent`]s that
/// reconnects by itself.
///
/// It resends the last event id on every reconnection (up to
/// [`MAX_EVENT_ID_LEN`] bytes: a longer id is not sent back, the stream
/// resumes from the last id that fit, so updates after it may arrive
/// twice), asks the token provider for a token before every attempt, backs
/// off exponentially with jitter on 408, 429, 5xx and network failures
/// (honouring `Retry-After`, in seconds or as an HTTP date, up to
/// [`MAX_RETRY_AFTER`]), honours the stream's `retry:`, never waits less
/// than the [floor](SubscriberBuilder::min_retry), reconnects when the
/// stream stays silent longer than the read timeout, and reports when the
/// hub's history did not reach back to the id asked for.
///
/// A refused token (401 or 403) is [refreshed](TokenProvider::refresh)
/// once and the hub asked again at once. The subscription then ends with
/// that refusal ([`Error::Unauthorized`] or [`Error::Forbidden`]) when the
/// provider gives back the very token that was refused (a fixed token
/// always does), or when the refreshed token is refused too before a
/// connection succeeds: asking again with what the hub refused would only
/// loop. A successful connection starts the rule over.
///
/// A 204 ends the stream; any other refusal (and a 401 or 403 to a
/// subscriber without a token), a redirect it does not follow (see
/// [`http_client`](crate::http_client)), an answer that is not an event
/// stream or that is encoded (`Content-Encoding`) without being asked, an
/// event above the size limit and a failing token provider end it with an
/// error (the stream yields `Err` once, then ends).
///
/// ```no_run
/// use futures_util::StreamExt;
/// use mercure_client::{Hub, Subscriber, SubscriberEvent, TopicSelector};
///
/// # async fn run() -> mercure_client::Result<()> {
/// let hub = Hub::builder("http://hub.internal:3000/.well-known/mercure").build()?;
/// let mut subscriber = Subscriber::for_hub(&hub)
///     .topic(TopicSelector::pattern("https://example.com/books/{id}"))
///     .build()?;
/// while let Some(event) = subscriber.next().await {
///     match event? {
///         SubscriberEvent::Update(update) => println!("{}: {}", update.event_type(), update.data()),
///         SubscriberEvent::EventsLost(lost) => println!("missed updates after {}", lost.requested),
///         _ => {}
///     }
/// }
/// # Ok(()) }
/// ```
pub struct Subscriber {
    stream: BoxStream<'static, Result<SubscriberEvent>>,
    url: Url,
}

impl fmt::Debug for Subscriber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscriber")
            .field("url", &self.url.as_str())
            .finish_non_exhaustive()
    }
}

impl Subscriber {
    /// Starts configuring a subscription to the hub at `url` (0.x unless
    /// [`SubscriberBuilder::protocol`] says otherwise).
    pub fn builder(url: impl AsRef<str>) -> SubscriberBuilder {
        let url = url.as_ref();
        SubscriberBuilder::new(Url::parse(url).map_err(|source| Error::InvalidUrl {
            url: url.to_owned(),
            source,
        }))
    }

    /// Starts configuring a subscription to `hub`: its URL, dialect, HTTP
    /// client and token provider (which must grant subscribing to the
    /// private topics wanted; a publisher-only token still receives public
    /// updates). A client given to the hub must not set a total request
    /// timeout, or streams are cut at it.
    pub fn for_hub(hub: &Hub) -> SubscriberBuilder {
        let mut builder = SubscriberBuilder::new(Ok(hub.url().clone()));
        builder.version = hub.protocol();
        builder.provider = hub.token_provider().cloned();
        builder.client = Some(hub.http_client().clone());
        builder
    }

    /// The subscription URL (topic selectors included, no token).
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// Only the updates; connection events are dropped.
    pub fn updates(self) -> impl Stream<Item = Result<ReceivedUpdate>> + Send + Unpin {
        self.filter_map(|event| {
            std::future::ready(match event {
                Ok(SubscriberEvent::Update(update)) => Some(Ok(update)),
                Ok(_) => None,
                Err(error) => Some(Err(error)),
            })
        })
    }
}

impl Hub {
    /// Starts configuring a subscription to this hub; same as
    /// [`Subscriber::for_hub`].
    ///
    /// ```
    /// use mercure_client::Hub;
    ///
    /// let hub = Hub::builder("http://127.0.0.1:3000/.well-known/mercure").build().unwrap();
    /// let subscriber = hub.subscriber().topic("https://example.com/books/1").build().unwrap();
    /// assert_eq!(subscriber.url().query(), Some("topic=https%3A%2F%2Fexample.com%2Fbooks%2F1"));
    /// ```
    pub fn subscriber(&self) -> SubscriberBuilder {
        Subscriber::for_hub(self)
    }
}

impl Stream for Subscriber {
    type Item = Result<SubscriberEvent>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.stream.poll_next_unpin(cx)
    }
}

/// Configures a [`Subscriber`]; see [`Subscriber::builder`] and
/// [`Subscriber::for_hub`]. Keeps the first error and returns it from
/// [`SubscriberBuilder::build`].
#[must_use]
pub struct SubscriberBuilder {
    url: Result<Url>,
    version: ProtocolVersion,
    selectors: Vec<TopicSelector>,
    method: AuthorizationMethod,
    provider: Option<Arc<dyn TokenProvider>>,
    last_event_id: Option<EventId>,
    client: Option<reqwest::Client>,
    retry: Option<Box<dyn RetryStrategy>>,
    min_retry: Duration,
    read_timeout: Option<Duration>,
    max_retries: Option<u32>,
    max_event_size: usize,
    timer: Arc<dyn Timer>,
}

impl fmt::Debug for SubscriberBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SubscriberBuilder")
            .field("url", &self.url.as_ref().map(Url::as_str))
            .field("version", &self.version)
            .field("selectors", &self.selectors)
            .field("method", &self.method)
            .field("provider", &self.provider)
            .field("last_event_id", &self.last_event_id)
            .field("retry", &self.retry)
            .field("read_timeout", &self.read_timeout)
            .field("max_retries", &self.max_retries)
            .finish_non_exhaustive()
    }
}

impl SubscriberBuilder {
    fn new(url: Result<Url>) -> Self {
        Self {
            url,
            version: ProtocolVersion::default(),
            selectors: Vec::new(),
            method: AuthorizationMethod::default(),
            provider: None,
            last_event_id: None,
            client: None,
            retry: None,
            min_retry: DEFAULT_MIN_RETRY,
            read_timeout: Some(DEFAULT_READ_TIMEOUT),
            max_retries: None,
            max_event_size: DEFAULT_MAX_EVENT_SIZE,
            timer: Arc::new(TokioTimer),
        }
    }

    /// The dialect of the hub.
    pub fn protocol(mut self, version: ProtocolVersion) -> Self {
        self.version = version;
        self
    }

    /// Listens to topics matching `selector` (repeat for several); a bare
    /// string is an exact topic, `*` every topic.
    pub fn topic(mut self, selector: impl Into<TopicSelector>) -> Self {
        self.selectors.push(selector.into());
        self
    }

    /// Listens to every selector of `selectors`.
    pub fn topics<I>(mut self, selectors: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<TopicSelector>,
    {
        self.selectors.extend(selectors.into_iter().map(Into::into));
        self
    }

    /// Presents a fixed token.
    pub fn token(mut self, token: Token) -> Self {
        self.provider = Some(Arc::new(token));
        self
    }

    /// Presents the tokens of `provider`, asked before every attempt.
    pub fn token_provider(mut self, provider: impl TokenProvider + 'static) -> Self {
        self.provider = Some(Arc::new(provider));
        self
    }

    /// Presents the tokens of a shared provider.
    pub fn shared_token_provider(mut self, provider: Arc<dyn TokenProvider>) -> Self {
        self.provider = Some(provider);
        self
    }

    /// Subscribes anonymously (drops the hub's provider).
    pub fn anonymous(mut self) -> Self {
        self.provider = None;
        self
    }

    /// How the token is presented (default: the `Authorization` header).
    pub fn authorization_method(mut self, method: AuthorizationMethod) -> Self {
        self.method = method;
        self
    }

    /// Resumes after this id (`EventId::earliest()` asks for the whole
    /// history the hub keeps); at most [`MAX_EVENT_ID_LEN`] bytes.
    pub fn last_event_id(mut self, id: impl Into<EventId>) -> Self {
        self.last_event_id = Some(id.into());
        self
    }

    /// Uses this HTTP client. It must not set a total request timeout:
    /// the stream is meant to stay open. Its redirect and `Referer`
    /// policies are its own: build it from
    /// [`http_client::builder`](crate::http_client::builder) to keep the
    /// token on the hub's origin.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.client = Some(client);
        self
    }

    /// Decides the reconnection delays (default: [`ExponentialBackoff::new`]).
    pub fn retry_strategy(mut self, strategy: impl RetryStrategy + 'static) -> Self {
        self.retry = Some(Box::new(strategy));
        self
    }

    /// The shortest delay before any reconnection (default
    /// [`DEFAULT_MIN_RETRY`]): whatever the retry strategy, its jitter or
    /// the stream's `retry:` say, no delay is shorter. The one exception is
    /// the immediate retry with a refreshed token after a 401 or 403.
    pub fn min_retry(mut self, floor: Duration) -> Self {
        self.min_retry = floor;
        self
    }

    /// Reconnects when nothing arrives for this long, answer headers
    /// included (default [`DEFAULT_READ_TIMEOUT`]); `None` waits forever.
    pub fn read_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.read_timeout = timeout;
        self
    }

    /// Gives up after this many attempts in a row that received nothing
    /// (default: never).
    pub fn max_retries(mut self, retries: Option<u32>) -> Self {
        self.max_retries = retries;
        self
    }

    /// Bounds one event (default [`DEFAULT_MAX_EVENT_SIZE`]): a larger one
    /// ends the stream with [`Error::InvalidResponse`].
    pub fn max_event_size(mut self, bytes: usize) -> Self {
        self.max_event_size = bytes;
        self
    }

    /// Measures and waits with `timer` (default [`TokioTimer`]); tests
    /// pass a [`ManualTimer`].
    pub fn timer(mut self, timer: impl Timer + 'static) -> Self {
        self.timer = Arc::new(timer);
        self
    }

    /// Builds the subscriber; nothing is sent until the stream is polled.
    ///
    /// # Errors
    /// [`Error::InvalidUrl`], and [`Error::Config`] when no topic is
    /// given, the URL is not http(s), the query parameter method is asked
    /// of a 1.0 hub, or the last event id is longer than
    /// [`MAX_EVENT_ID_LEN`].
    pub fn build(self) -> Result<Subscriber> {
        let mut url = self.url?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Error::Config(format!(
                "a hub URL must be http or https, not {:?}",
                url.scheme()
            )));
        }
        if self.selectors.is_empty() {
            return Err(Error::Config(
                "a subscription needs at least one topic selector".into(),
            ));
        }
        let dialect = self.version.dialect();
        let query_param = match self.method {
            AuthorizationMethod::QueryParameter => Some(dialect.authorization_param.ok_or_else(|| {
                Error::Config(format!(
                    "Mercure {} accepts no token in the query string; use the header or the cookie",
                    dialect.name
                ))
            })?),
            _ => None,
        };
        {
            let mut query = url.query_pairs_mut();
            for selector in &self.selectors {
                query.append_pair(selector.query_param(self.version), selector.expression());
            }
        }
        let client = match self.client {
            Some(client) => client,
            None => crate::http_client::default_client()?,
        };
        let mut decoder = SseDecoder::new().max_event_size(self.max_event_size);
        let mut resume = String::new();
        if let Some(id) = &self.last_event_id {
            if id.as_str().len() > MAX_EVENT_ID_LEN {
                return Err(Error::Config(format!(
                    "the last event id is longer than the {MAX_EVENT_ID_LEN} bytes allowed"
                )));
            }
            decoder.set_last_event_id(id.as_str());
            resume.push_str(id.as_str());
        }
        let driver = Driver {
            client,
            url: url.clone(),
            version: self.version,
            method: self.method,
            query_param,
            provider: self.provider,
            timer: self.timer,
            strategy: self
                .retry
                .unwrap_or_else(|| Box::new(ExponentialBackoff::new())),
            min_retry: self.min_retry,
            applied_retry: None,
            read_timeout: self.read_timeout,
            max_retries: self.max_retries,
            decoder,
            resume,
            body: None,
            queue: VecDeque::new(),
            next_attempt: None,
            failures: 0,
            attempt: 0,
            refresh_next: false,
            refreshed: false,
            refused: None,
            received: false,
            delivered: false,
            done: false,
        };
        let stream = futures_util::stream::unfold(driver, |mut driver| async move {
            let item = driver.next().await?;
            Some((item, driver))
        })
        .boxed();
        Ok(Subscriber { stream, url })
    }
}

/// The reconnecting state machine behind a [`Subscriber`].
struct Driver {
    client: reqwest::Client,
    url: Url,
    version: ProtocolVersion,
    method: AuthorizationMethod,
    query_param: Option<&'static str>,
    provider: Option<Arc<dyn TokenProvider>>,
    timer: Arc<dyn Timer>,
    strategy: Box<dyn RetryStrategy>,
    min_retry: Duration,
    applied_retry: Option<Duration>,
    read_timeout: Option<Duration>,
    max_retries: Option<u32>,
    decoder: SseDecoder,
    /// The id sent back when reconnecting: the decoder's last event id
    /// while it fits in [`MAX_EVENT_ID_LEN`].
    resume: String,
    body: Option<BoxStream<'static, reqwest::Result<Bytes>>>,
    queue: VecDeque<Result<SubscriberEvent>>,
    next_attempt: Option<Instant>,
    /// Attempts in a row that received nothing.
    failures: u32,
    /// Attempts since the last connection.
    attempt: u32,
    /// Whether the next attempt refreshes the token.
    refresh_next: bool,
    /// Whether the token was refreshed since the last connection.
    refreshed: bool,
    /// The token the hub refused, and how, while its refresh is pending.
    refused: Option<(Option<Token>, HubRejection)>,
    /// Whether the current connection delivered any bytes.
    received: bool,
    /// Whether the current connection delivered an update.
    delivered: bool,
    done: bool,
}

enum Read {
    Chunk(Bytes),
    End,
    Failed(reqwest::Error),
    TimedOut,
}

impl Driver {
    async fn next(&mut self) -> Option<Result<SubscriberEvent>> {
        loop {
            if let Some(item) = self.queue.pop_front() {
                if item.is_err() {
                    self.finish();
                }
                return Some(item);
            }
            if self.done {
                return None;
            }
            if self.body.is_some() {
                if let Some(update) = self.decoder.next_update() {
                    if !self.delivered {
                        // The connection works: the backoff may start over.
                        self.delivered = true;
                        self.strategy.delivered(self.timer.now());
                    }
                    return Some(Ok(SubscriberEvent::Update(update)));
                }
                match self.read().await {
                    Read::Chunk(chunk) => {
                        self.failures = 0;
                        self.received = true;
                        if let Err(error) = self.decoder.feed_bytes(chunk) {
                            self.queue
                                .push_back(Err(Error::InvalidResponse(error.to_string())));
                            continue;
                        }
                        self.track_resume();
                        self.apply_server_retry();
                    }
                    Read::End => {
                        self.body = None;
                        self.schedule(ReconnectReason::Ended, None);
                    }
                    Read::Failed(error) => {
                        self.body = None;
                        let error = self.transport_error(error);
                        self.schedule(ReconnectReason::Network(error), None);
                    }
                    Read::TimedOut => {
                        self.body = None;
                        self.schedule(ReconnectReason::ReadTimeout, None);
                    }
                }
                continue;
            }
            if let Some(deadline) = self.next_attempt.take() {
                self.timer.sleep_until(deadline).await;
            }
            self.connect().await;
        }
    }

    fn finish(&mut self) {
        self.done = true;
        self.body = None;
        self.queue.clear();
    }

    async fn read(&mut self) -> Read {
        let Some(body) = self.body.as_mut() else {
            return Read::End;
        };
        let next = body.next();
        let result = match self.read_timeout {
            None => next.await,
            Some(timeout) => {
                let sleep = self.timer.sleep_until(later(self.timer.now(), timeout));
                match select(next, sleep).await {
                    Either::Left((result, _)) => result,
                    Either::Right(_) => return Read::TimedOut,
                }
            }
        };
        match result {
            Some(Ok(chunk)) => Read::Chunk(chunk),
            Some(Err(error)) => Read::Failed(error),
            None => Read::End,
        }
    }

    /// Moves the resume cursor to the decoder's last event id, unless that
    /// id is too long to send back.
    fn track_resume(&mut self) {
        let id = self.decoder.last_event_id();
        if id == self.resume {
            return;
        }
        if id.len() <= MAX_EVENT_ID_LEN {
            self.resume.clear();
            self.resume.push_str(id);
        } else {
            tracing::debug!(
                hub = %self.url,
                len = id.len(),
                "an event id longer than {MAX_EVENT_ID_LEN} bytes will not be sent back"
            );
        }
    }

    fn apply_server_retry(&mut self) {
        let requested = self.decoder.reconnection_time();
        if requested.is_some() && requested != self.applied_retry {
            self.applied_retry = requested;
            if let Some(retry) = requested {
                self.strategy.change_base_delay(retry.max(self.min_retry));
            }
        }
    }

    fn transport_error(&self, error: reqwest::Error) -> Error {
        // In the query parameter mode the URL holds the token.
        let error = if self.query_param.is_some() {
            error.without_url()
        } else {
            error
        };
        crate::hub::transport_error(error)
    }

    /// Queues a reconnection after a backoff delay (at least `at_least`).
    fn schedule(&mut self, reason: ReconnectReason, at_least: Option<Duration>) {
        // A stream that ended after delivering something is healthy; one
        // that ended at once counts as a failed attempt.
        if !matches!(reason, ReconnectReason::Ended) || !self.received {
            self.failures = self.failures.saturating_add(1);
        }
        self.received = false;
        if let Some(max) = self.max_retries
            && self.failures > max
        {
            let error = match reason {
                ReconnectReason::Refused(error)
                | ReconnectReason::Unavailable(error)
                | ReconnectReason::Network(error) => error,
                ReconnectReason::ReadTimeout => Error::InvalidResponse(format!(
                    "the hub sent nothing within the read timeout, {} times in a row",
                    self.failures
                )),
                ReconnectReason::Ended => {
                    Error::InvalidResponse("the hub keeps ending the stream at once".into())
                }
            };
            self.queue.push_back(Err(error));
            return;
        }
        let now = self.timer.now();
        let mut delay = self.strategy.next_delay(now).max(self.min_retry);
        if let Some(at_least) = at_least {
            delay = delay.max(at_least);
        }
        tracing::debug!(hub = %self.url, ?delay, reason = ?reason_name(&reason), "reconnecting");
        self.next_attempt = Some(later(now, delay));
        self.queue
            .push_back(Ok(SubscriberEvent::Reconnecting(Reconnecting {
                delay,
                reason,
                failures: self.failures,
            })));
    }

    async fn connect(&mut self) {
        self.attempt = self.attempt.saturating_add(1);
        let token = match &self.provider {
            None => None,
            Some(provider) => {
                let provider = Arc::clone(provider);
                let token = if std::mem::take(&mut self.refresh_next) {
                    provider.refresh().await
                } else {
                    provider.token().await
                };
                match token {
                    Ok(token) => Some(token),
                    Err(error) => {
                        self.queue.push_back(Err(Error::Token(error)));
                        return;
                    }
                }
            }
        };
        if let Some((refused, rejection)) = self.refused.take()
            && refused == token
        {
            // The provider has nothing better than what the hub refused.
            tracing::debug!(hub = %self.url, status = rejection.status, "the refreshed token is the refused one; giving up");
            self.queue.push_back(Err(rejection.into_error()));
            return;
        }
        let request = match self.request(token.as_ref()) {
            Ok(request) => request,
            Err(error) => {
                self.queue.push_back(Err(error));
                return;
            }
        };
        let requested = (!self.resume.is_empty()).then(|| EventId::new(self.resume.as_str()));
        let send = request.send();
        let response = match self.read_timeout {
            None => send.await,
            Some(timeout) => {
                let sleep = self.timer.sleep_until(later(self.timer.now(), timeout));
                match select(send, sleep).await {
                    Either::Left((result, _)) => result,
                    Either::Right(_) => {
                        self.schedule(ReconnectReason::ReadTimeout, None);
                        return;
                    }
                }
            }
        };
        let response = match response {
            Ok(response) => response,
            Err(error) => {
                let error = self.transport_error(error);
                self.schedule(ReconnectReason::Network(error), None);
                return;
            }
        };
        if let Err(error) = crate::http_client::check_origin(&response, &self.url) {
            self.queue.push_back(Err(error));
            return;
        }
        let status = response.status();
        if status.is_redirection() {
            let error = crate::http_client::redirect_error(&response, &self.url);
            tracing::debug!(hub = %self.url, status = status.as_u16(), "redirect not followed");
            self.queue.push_back(Err(error));
            return;
        }
        if status == StatusCode::OK {
            self.opened(response, requested);
            return;
        }
        if status == StatusCode::NO_CONTENT {
            tracing::debug!(hub = %self.url, "the hub ended the subscription (204)");
            self.done = true;
            return;
        }
        let retry_after = retry_after(&response);
        let error = refusal(response, Arc::clone(&self.timer), self.read_timeout).await;
        match status.as_u16() {
            // Without credentials, nothing will change by asking again.
            401 | 403 if self.provider.is_none() => self.queue.push_back(Err(error)),
            401 | 403 => {
                if self.refreshed {
                    // The refreshed token was refused too.
                    tracing::debug!(hub = %self.url, status = status.as_u16(), "the refreshed token was refused; giving up");
                    self.queue.push_back(Err(error));
                    return;
                }
                // Refresh the token and try again at once.
                self.refreshed = true;
                self.refresh_next = true;
                self.refused = error.rejection().cloned().map(|r| (token, r));
                self.failures = self.failures.saturating_add(1);
                self.queue
                    .push_back(Ok(SubscriberEvent::Reconnecting(Reconnecting {
                        delay: Duration::ZERO,
                        reason: ReconnectReason::Refused(error),
                        failures: self.failures,
                    })));
            }
            408 | 429 | 500..=599 => {
                self.schedule(ReconnectReason::Unavailable(error), retry_after)
            }
            _ => self.queue.push_back(Err(error)),
        }
    }

    fn request(&self, token: Option<&Token>) -> Result<reqwest::RequestBuilder> {
        let mut url = self.url.clone();
        // The id goes back as UTF-8 in `Last-Event-ID`; one holding bytes a
        // header cannot carry (controls) goes in the query parameter.
        let last_event_id = self.resume.as_str();
        let mut resume = None;
        if !last_event_id.is_empty() {
            match HeaderValue::from_bytes(last_event_id.as_bytes()) {
                Ok(value) => resume = Some(value),
                Err(_) => {
                    url.query_pairs_mut()
                        .append_pair(self.version.dialect().last_event_id_param, last_event_id);
                }
            }
        }
        if let (Some(param), Some(token)) = (self.query_param, token) {
            url.query_pairs_mut().append_pair(param, token.expose());
        }
        let mut request = self
            .client
            .get(url)
            .header(ACCEPT, "text/event-stream")
            .header(CACHE_CONTROL, "no-cache");
        if let Some(token) = token {
            match self.method {
                AuthorizationMethod::Header => {
                    request =
                        request.header(reqwest::header::AUTHORIZATION, authorization_value(token)?);
                }
                AuthorizationMethod::Cookie => {
                    let cookie =
                        format!("{}={}", self.version.dialect().cookie_name, token.expose());
                    let mut value = HeaderValue::from_str(&cookie).map_err(|_| {
                        Error::Token(crate::TokenError::Provider(
                            "the token contains characters not allowed in a cookie".into(),
                        ))
                    })?;
                    value.set_sensitive(true);
                    request = request.header(COOKIE, value);
                }
                AuthorizationMethod::QueryParameter => {}
            }
        }
        if let Some(value) = resume {
            request = request.header("Last-Event-ID", value);
        }
        Ok(request)
    }

    fn opened(&mut self, response: reqwest::Response, requested: Option<EventId>) {
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let essence = content_type.split(';').next().unwrap_or("").trim();
        if !essence.eq_ignore_ascii_case("text/event-stream") {
            let content_type = crate::error::printable(content_type, 128);
            self.queue.push_back(Err(Error::InvalidResponse(format!(
                "the hub answered 200 with {content_type:?} instead of text/event-stream"
            ))));
            return;
        }
        if let Some(encoding) = unexpected_encoding(&response) {
            self.queue
                .push_back(Err(encoding_error("the event stream", &encoding)));
            return;
        }
        let own = self.version.dialect().resume_header;
        let resumed_from = [own, "Mercure-Last-Event-ID", "Last-Event-ID"]
            .into_iter()
            .find_map(|name| response.headers().get(name))
            .filter(|v| v.len() <= MAX_EVENT_ID_LEN)
            .map(|v| EventId::new(String::from_utf8_lossy(v.as_bytes()).trim()));
        tracing::debug!(hub = %self.url, attempt = self.attempt, "subscribed");
        self.strategy.reset(self.timer.now());
        self.refreshed = false;
        self.refused = None;
        self.delivered = false;
        self.decoder.restart();
        let lost = match (&requested, &resumed_from) {
            (Some(requested), Some(resumed))
                if !requested.is_earliest() && requested != resumed =>
            {
                Some(EventsLost {
                    requested: requested.clone(),
                    resumed_from: resumed.clone(),
                })
            }
            _ => None,
        };
        self.queue
            .push_back(Ok(SubscriberEvent::Connected(Connected {
                attempt: self.attempt,
                requested,
                resumed_from,
            })));
        if let Some(lost) = lost {
            tracing::debug!(hub = %self.url, requested = %lost.requested, resumed = %lost.resumed_from, "events lost");
            self.queue.push_back(Ok(SubscriberEvent::EventsLost(lost)));
        }
        self.attempt = 0;
        self.body = Some(response.bytes_stream().boxed());
    }
}

/// The error for a refusal, its body read within the read timeout.
async fn refusal(
    response: reqwest::Response,
    timer: Arc<dyn Timer>,
    read_timeout: Option<Duration>,
) -> Error {
    let status = response.status().as_u16();
    let challenge = bearer_challenge(response.headers());
    let mut body = Vec::new();
    if unexpected_encoding(&response).is_some() {
        // Unreadable: the status says enough.
        return HubRejection::new(status, "", challenge).into_error();
    }
    let mut chunks = response.bytes_stream();
    let deadline = read_timeout.map(|timeout| later(timer.now(), timeout));
    loop {
        let next = chunks.next();
        let chunk = match deadline {
            None => next.await,
            Some(deadline) => match select(next, timer.sleep_until(deadline)).await {
                Either::Left((chunk, _)) => chunk,
                Either::Right(_) => None,
            },
        };
        match chunk {
            Some(Ok(chunk)) => {
                let room = MAX_REFUSAL_BODY.saturating_sub(body.len());
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if body.len() >= MAX_REFUSAL_BODY {
                    break;
                }
            }
            _ => break,
        }
    }
    HubRejection::new(status, &String::from_utf8_lossy(&body), challenge).into_error()
}

/// `now + by`, saturating at a year ahead (a configured `Duration::MAX`
/// must not overflow an `Instant`).
fn later(now: Instant, by: Duration) -> Instant {
    const YEAR: Duration = Duration::from_secs(365 * 24 * 3600);
    now.checked_add(by.min(YEAR)).unwrap_or(now)
}

fn reason_name(reason: &ReconnectReason) -> &'static str {
    match reason {
        ReconnectReason::Ended => "ended",
        ReconnectReason::ReadTimeout => "read timeout",
        ReconnectReason::Refused(_) => "refused",
        ReconnectReason::Unavailable(_) => "unavailable",
        ReconnectReason::Network(_) => "network",
    }
}

/// `Retry-After` (RFC 9110 §10.2.3): seconds, or an HTTP date (a date in
/// the past asks for no wait), capped at [`MAX_RETRY_AFTER`]; `None` when
/// absent or unreadable.
fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    parse_retry_after(
        response.headers().get(RETRY_AFTER)?.to_str().ok()?,
        SystemTime::now(),
    )
}

fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    // The longest date form, IMF-fixdate, is 29 bytes.
    if value.is_empty() || value.len() > 64 {
        return None;
    }
    let wait = if value.bytes().all(|b| b.is_ascii_digit()) {
        // More seconds than a u64 holds is still "a long time".
        Duration::from_secs(value.parse().unwrap_or(u64::MAX))
    } else {
        let at = httpdate::parse_http_date(value).ok()?;
        at.duration_since(now).unwrap_or(Duration::ZERO)
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send<T: Send>() {}
    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn thread_safety() {
        assert_send::<Subscriber>();
        assert_send::<SubscriberBuilder>();
        assert_send_sync::<SubscriberEvent>();
        assert_send_sync::<ReceivedUpdate>();
        assert_send_sync::<crate::subscriptions::SubscriptionsApi>();
        assert_send::<crate::subscriptions::SubscriptionEvents>();
        assert_send_sync::<ManualTimer>();
        assert_send::<ExponentialBackoff>();
    }

    #[test]
    fn retry_after_values() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480); // 2015-10-21 07:28:00
        let secs = |s| Some(Duration::from_secs(s));
        assert_eq!(parse_retry_after("120", now), secs(120));
        assert_eq!(parse_retry_after(" 0 ", now), secs(0));
        assert_eq!(
            parse_retry_after("999999999999999999999999", now),
            Some(MAX_RETRY_AFTER)
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now),
            secs(30)
        );
        // The obsolete forms too.
        assert_eq!(
            parse_retry_after("Wednesday, 21-Oct-15 07:29:00 GMT", now),
            secs(60)
        );
        assert_eq!(parse_retry_after("Wed Oct 21 07:28:05 2015", now), secs(5));
        assert_eq!(
            parse_retry_after("Tue, 20 Oct 2015 07:28:00 GMT", now),
            secs(0)
        );
        assert_eq!(
            parse_retry_after("Fri, 21 Oct 2016 07:28:00 GMT", now),
            Some(MAX_RETRY_AFTER)
        );
        for bad in [
            "",
            "-1",
            "1.5",
            "soon",
            "Wed, 32 Oct 2015 07:28:00 GMT",
            &"9 ".repeat(100),
        ] {
            assert_eq!(parse_retry_after(bad, now), None, "{bad:?}");
        }
    }

    #[test]
    fn deadlines_never_overflow() {
        let now = Instant::now();
        assert!(later(now, Duration::MAX) > now);
        assert_eq!(
            later(now, Duration::from_secs(1)),
            now + Duration::from_secs(1)
        );
    }

    #[test]
    fn builder_errors() {
        assert!(matches!(
            Subscriber::builder("not a url").topic("*").build(),
            Err(Error::InvalidUrl { .. })
        ));
        assert!(matches!(
            Subscriber::builder("ftp://example.com/hub")
                .topic("*")
                .build(),
            Err(Error::Config(_))
        ));
        let subscriber = Subscriber::builder("https://example.com/.well-known/mercure")
            .protocol(ProtocolVersion::V1)
            .topics(["https://example.com/a", "https://example.com/b"])
            .topic(TopicSelector::pattern("/books/:id"))
            .token(Token::new("secret.token.value"))
            .build()
            .unwrap();
        assert_eq!(
            subscriber.url().query(),
            Some(
                "match=https%3A%2F%2Fexample.com%2Fa&match=https%3A%2F%2Fexample.com%2Fb&match_urlpattern=%2Fbooks%2F%3Aid"
            )
        );
        assert!(!format!("{subscriber:?}").contains("secret.token.value"));
    }
}
