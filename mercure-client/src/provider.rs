//! Supplying tokens: static, computed (synchronously or over the network),
//! or minted and cached.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{PoisonError, RwLock};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use futures_util::future::BoxFuture;

use crate::{Grants, Token, TokenError, TokenFactory};

/// Supplies the token presented to a hub, consulted on every request (so a
/// provider may rotate tokens at will).
///
/// Asynchronous, so that a provider may fetch its token over the network
/// (an OAuth client-credentials grant, a secrets service) without blocking
/// the runtime. Implemented by [`Token`] (a fixed token),
/// [`FnTokenProvider`] (a closure returning a future) and
/// [`CachedTokenProvider`] (minted by a [`TokenFactory`] and reused until
/// shortly before it expires). A provider that answers at once returns
/// [`TokenFuture::ready`], which allocates nothing.
pub trait TokenProvider: Send + Sync + fmt::Debug {
    /// The token to present now.
    ///
    /// The future's error is whatever prevented obtaining a token.
    fn token(&self) -> TokenFuture<'_>;

    /// A token to present after the hub refused the previous one (401):
    /// providers that cache should drop their cached token. Defaults to
    /// [`TokenProvider::token`].
    ///
    /// The future's error is whatever prevented obtaining a token.
    fn refresh(&self) -> TokenFuture<'_> {
        self.token()
    }
}

/// The future a [`TokenProvider`] returns: either a value known at once
/// (no allocation) or a boxed future.
#[must_use = "futures do nothing unless polled"]
pub struct TokenFuture<'a>(FutureState<'a>);

enum FutureState<'a> {
    Ready(Option<Result<Token, TokenError>>),
    Pending(BoxFuture<'a, Result<Token, TokenError>>),
}

impl<'a> TokenFuture<'a> {
    /// A future resolving to `result` at its first poll.
    #[inline]
    pub fn ready(result: Result<Token, TokenError>) -> Self {
        Self(FutureState::Ready(Some(result)))
    }

    /// A future that awaits `future`.
    pub fn new(future: impl Future<Output = Result<Token, TokenError>> + Send + 'a) -> Self {
        Self(FutureState::Pending(Box::pin(future)))
    }
}

impl Future for TokenFuture<'_> {
    type Output = Result<Token, TokenError>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.get_mut().0 {
            FutureState::Ready(result) => Poll::Ready(result.take().unwrap_or_else(|| {
                Err(TokenError::Provider(
                    "the token future was polled after it completed".into(),
                ))
            })),
            FutureState::Pending(future) => future.as_mut().poll(cx),
        }
    }
}

impl fmt::Debug for TokenFuture<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenFuture(..)")
    }
}

impl TokenProvider for Token {
    fn token(&self) -> TokenFuture<'_> {
        TokenFuture::ready(Ok(self.clone()))
    }
}

/// A provider backed by a closure returning a future: each request awaits a
/// fresh call.
///
/// ```
/// use mercure_client::token::{FnTokenProvider, Token, TokenProvider};
///
/// # async fn run() {
/// let provider = FnTokenProvider::new(|| async {
///     // e.g. an OAuth client-credentials request
///     Ok(Token::new(std::env::var("HUB_JWT").unwrap_or_default()))
/// });
/// assert!(provider.token().await.is_ok());
/// # }
/// ```
pub struct FnTokenProvider<F> {
    f: F,
}

impl<F, Fut> FnTokenProvider<F>
where
    F: Fn() -> Fut + Send + Sync,
    Fut: Future<Output = Result<Token, TokenError>> + Send + 'static,
{
    /// Wraps `f`, called for every token.
    pub fn new(f: F) -> Self {
        Self { f }
    }
}

impl<F> fmt::Debug for FnTokenProvider<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FnTokenProvider(..)")
    }
}

impl<F, Fut> TokenProvider for FnTokenProvider<F>
where
    F: Fn() -> Fut + Send + Sync,
    Fut: Future<Output = Result<Token, TokenError>> + Send + 'static,
{
    fn token(&self) -> TokenFuture<'_> {
        TokenFuture::new((self.f)())
    }
}

/// How long before expiry a [`CachedTokenProvider`] mints a new token,
/// unless configured otherwise (capped at half the token lifetime).
pub const DEFAULT_REFRESH_MARGIN: Duration = Duration::from_secs(60);

/// Mints tokens with a [`TokenFactory`] and reuses each until `margin`
/// before it expires, judged by the factory's clock.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use mercure_client::clock::ManualClock;
/// use mercure_client::token::{CachedTokenProvider, Grants, SigningKey, TokenFactory, TokenProvider};
///
/// # futures_util::FutureExt::now_or_never(async {
/// let clock = ManualClock::at_unix(1_700_000_000);
/// let factory = TokenFactory::builder(SigningKey::hs256(b"secret").unwrap())
///     .lifetime(Duration::from_secs(600))
///     .clock(Arc::new(clock.clone()))
///     .build()
///     .unwrap();
/// let provider = CachedTokenProvider::new(factory, Grants::publish_all());
/// let first = provider.token().await.unwrap();
/// assert_eq!(provider.token().await.unwrap(), first); // cached
/// clock.advance(Duration::from_secs(550)); // within the refresh margin
/// assert_ne!(provider.token().await.unwrap(), first);
/// # }).unwrap();
/// ```
#[derive(Debug)]
pub struct CachedTokenProvider {
    factory: TokenFactory,
    grants: Grants,
    margin: Duration,
    cache: RwLock<Option<Cached>>,
}

#[derive(Debug)]
struct Cached {
    token: Token,
    refresh_at: SystemTime,
}

impl CachedTokenProvider {
    /// A provider minting `grants` with `factory`.
    pub fn new(factory: TokenFactory, grants: Grants) -> Self {
        Self {
            factory,
            grants,
            margin: DEFAULT_REFRESH_MARGIN,
            cache: RwLock::new(None),
        }
    }

    /// Mints a new token this long before the cached one expires (capped at
    /// half the lifetime, so a token is always used for a while).
    #[must_use]
    pub fn refresh_margin(mut self, margin: Duration) -> Self {
        self.margin = margin;
        self
    }

    fn mint(&self, now: SystemTime) -> Result<Token, TokenError> {
        let lifetime = self.factory.lifetime();
        let margin = self.margin.min(lifetime / 2);
        let token = self.factory.mint(&self.grants)?;
        let mut cache = self.cache.write().unwrap_or_else(PoisonError::into_inner);
        *cache = Some(Cached {
            token: token.clone(),
            refresh_at: now + (lifetime - margin),
        });
        Ok(token)
    }
}

impl CachedTokenProvider {
    fn cached_or_mint(&self) -> Result<Token, TokenError> {
        let now = self.factory.clock().now();
        {
            let cache = self.cache.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(cached) = &*cache
                && now < cached.refresh_at
            {
                return Ok(cached.token.clone());
            }
        }
        self.mint(now)
    }
}

impl TokenProvider for CachedTokenProvider {
    #[inline]
    fn token(&self) -> TokenFuture<'_> {
        TokenFuture::ready(self.cached_or_mint())
    }

    fn refresh(&self) -> TokenFuture<'_> {
        TokenFuture::ready(self.mint(self.factory.clock().now()))
    }
}
