//! Supplying tokens: static, computed, or minted and cached.

use std::fmt;
use std::sync::{PoisonError, RwLock};
use std::time::{Duration, SystemTime};

use super::{Grants, Token, TokenError, TokenFactory};

/// Supplies the token presented to a hub, consulted on every request (so a
/// provider may rotate tokens at will).
///
/// Implemented by [`Token`] (a fixed token), [`FnTokenProvider`] (a
/// closure) and [`CachedTokenProvider`] (minted by a [`TokenFactory`] and
/// reused until shortly before it expires).
pub trait TokenProvider: Send + Sync + fmt::Debug {
    /// The token to present now.
    ///
    /// # Errors
    /// Whatever prevented obtaining a token.
    fn token(&self) -> Result<Token, TokenError>;

    /// A token to present after the hub refused the previous one (401):
    /// providers that cache should drop their cached token. Defaults to
    /// [`TokenProvider::token`].
    ///
    /// # Errors
    /// Whatever prevented obtaining a token.
    fn refresh(&self) -> Result<Token, TokenError> {
        self.token()
    }
}

impl TokenProvider for Token {
    fn token(&self) -> Result<Token, TokenError> {
        Ok(self.clone())
    }
}

/// A provider backed by a closure.
///
/// ```
/// use mercure_client::{FnTokenProvider, Token, TokenProvider};
///
/// let provider = FnTokenProvider::new(|| Ok(Token::new(std::env::var("HUB_JWT").unwrap_or_default())));
/// assert!(provider.token().is_ok());
/// ```
pub struct FnTokenProvider<F> {
    f: F,
}

impl<F> FnTokenProvider<F>
where
    F: Fn() -> Result<Token, TokenError> + Send + Sync,
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

impl<F> TokenProvider for FnTokenProvider<F>
where
    F: Fn() -> Result<Token, TokenError> + Send + Sync,
{
    fn token(&self) -> Result<Token, TokenError> {
        (self.f)()
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
/// use mercure_client::{CachedTokenProvider, Grants, ManualClock, SigningKey, TokenFactory, TokenProvider};
///
/// let clock = ManualClock::at_unix(1_700_000_000);
/// let factory = TokenFactory::builder(SigningKey::hs256(b"secret").unwrap())
///     .lifetime(Duration::from_secs(600))
///     .clock(Arc::new(clock.clone()))
///     .build()
///     .unwrap();
/// let provider = CachedTokenProvider::new(factory, Grants::publish_all());
/// let first = provider.token().unwrap();
/// assert_eq!(provider.token().unwrap(), first); // cached
/// clock.advance(Duration::from_secs(550)); // within the refresh margin
/// assert_ne!(provider.token().unwrap(), first);
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

impl TokenProvider for CachedTokenProvider {
    fn token(&self) -> Result<Token, TokenError> {
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

    fn refresh(&self) -> Result<Token, TokenError> {
        self.mint(self.factory.clock().now())
    }
}
