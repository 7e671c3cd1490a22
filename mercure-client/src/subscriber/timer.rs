//! Waiting as a dependency: the subscriber's backoff and read timeout run
//! on a [`Timer`], so tests move time by hand instead of sleeping.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;

/// A monotonic clock that can wait.
pub trait Timer: Send + Sync + fmt::Debug {
    /// The current time.
    fn now(&self) -> Instant;
    /// Completes once [`Timer::now`] reaches `deadline`.
    fn sleep_until(&self, deadline: Instant) -> BoxFuture<'static, ()>;
}

/// Tokio's timer (the default).
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioTimer;

impl Timer for TokioTimer {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn sleep_until(&self, deadline: Instant) -> BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep_until(deadline.into()))
    }
}

/// A timer that only moves when told to; clones share the same time.
///
/// ```
/// use std::time::Duration;
/// use futures_util::FutureExt;
/// use mercure_client::subscriber::{ManualTimer, Timer};
///
/// let timer = ManualTimer::new();
/// let mut sleep = timer.sleep_until(timer.now() + Duration::from_secs(5));
/// assert!((&mut sleep).now_or_never().is_none());
/// timer.advance(Duration::from_secs(5));
/// assert!(sleep.now_or_never().is_some());
/// ```
#[derive(Debug, Clone)]
pub struct ManualTimer {
    state: Arc<Mutex<ManualState>>,
}

#[derive(Debug)]
struct ManualState {
    now: Instant,
    wakers: Vec<Waker>,
}

impl Default for ManualTimer {
    fn default() -> Self {
        Self::new()
    }
}

impl ManualTimer {
    /// A timer stopped at the current instant.
    pub fn new() -> Self {
        Self {
            state: Arc::new(Mutex::new(ManualState {
                now: Instant::now(),
                wakers: Vec::new(),
            })),
        }
    }

    /// How many sleeps have been polled since time last moved (some may
    /// have been dropped since): lets a test wait until the code under
    /// test is waiting before it moves time.
    pub fn waiting(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .wakers
            .len()
    }

    /// Moves time forward, completing the sleeps that are due.
    pub fn advance(&self, by: Duration) {
        let wakers = {
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            state.now += by;
            std::mem::take(&mut state.wakers)
        };
        for waker in wakers {
            waker.wake();
        }
    }
}

impl Timer for ManualTimer {
    fn now(&self) -> Instant {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .now
    }

    fn sleep_until(&self, deadline: Instant) -> BoxFuture<'static, ()> {
        Box::pin(ManualSleep {
            state: Arc::clone(&self.state),
            deadline,
        })
    }
}

struct ManualSleep {
    state: Arc<Mutex<ManualState>>,
    deadline: Instant,
}

impl Future for ManualSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.now >= self.deadline {
            Poll::Ready(())
        } else {
            if !state.wakers.iter().any(|w| w.will_wake(cx.waker())) {
                state.wakers.push(cx.waker().clone());
            }
            Poll::Pending
        }
    }
}
