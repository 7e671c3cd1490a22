//! The connection that carries a Redis transport's commands (appends,
//! history reads, trimming, presence and cluster commands): redis-rs's
//! `ConnectionManager`, replaced by a new one when a command gets no
//! answer in time.
//!
//! The manager reconnects by itself when its connection reports an error
//! (reset, refused, closed), but a response timeout is not such an error:
//! after the network between the hub and Redis went silent (a cut link, a
//! lost route, a host that vanished without a reset), the kernel keeps the
//! old TCP connection and retransmits on it with a growing back-off, and
//! every command sent meanwhile times out on it, even after the network
//! is back (a 60 s cut gave 48 s more of refused publishes). So a command
//! that timed out, or was abandoned by its caller after half the time
//! limit, retires the connection it was sent on: the next command opens a
//! new one (lazily, bounded by the connection time-out), which works as
//! soon as Redis can be reached again. Only the first such command of a
//! connection replaces it, so a burst of timeouts opens one connection.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use ::redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use ::redis::{Client, Cmd, Pipeline, RedisFuture, RedisResult, Value};

/// The transport's command connection; clones share it.
#[derive(Clone)]
pub(super) struct Commands {
    inner: Arc<Inner>,
    db: i64,
}

struct Inner {
    client: Client,
    /// How long a command may wait for its answer.
    limit: Duration,
    /// The Redis URL as it may be shown.
    shown: Arc<str>,
    current: Mutex<Current>,
    /// Commands answered (successfully or with an error from Redis).
    answers: AtomicU64,
}

struct Current {
    /// Counts the connections opened: which one a command was sent on.
    generation: u64,
    manager: ConnectionManager,
}

impl fmt::Debug for Commands {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Commands")
            .field("redis", &self.inner.shown)
            .field("generation", &self.inner.lease().0)
            .finish_non_exhaustive()
    }
}

/// A manager that connects on first use, with `limit` for connecting and
/// for each answer.
fn manager(client: &Client, limit: Duration) -> RedisResult<ConnectionManager> {
    ConnectionManager::new_lazy_with_config(
        client.clone(),
        ConnectionManagerConfig::new()
            .set_connection_timeout(Some(limit))
            .set_response_timeout(Some(limit))
            .set_min_delay(super::MIN_BACKOFF)
            .set_max_delay(Duration::from_millis(500))
            .set_number_of_retries(8),
    )
}

impl Commands {
    /// A connection to the Redis of `client`, opened by the first command.
    pub(super) fn new(client: &Client, limit: Duration, shown: Arc<str>) -> RedisResult<Self> {
        let manager = manager(client, limit)?;
        let db = client.get_connection_info().redis_settings().db();
        Ok(Self {
            inner: Arc::new(Inner {
                client: client.clone(),
                limit,
                shown,
                current: Mutex::new(Current {
                    generation: 0,
                    manager,
                }),
                answers: AtomicU64::new(0),
            }),
            db,
        })
    }

    /// How many connections were retired for not answering.
    #[cfg(test)]
    fn replaced(&self) -> u64 {
        self.inner.lease().0
    }

    /// Runs one command (or pipeline) on the current connection, and
    /// retires that connection if the command does not complete in time.
    async fn send<T>(
        &self,
        request: impl AsyncFnOnce(&mut ConnectionManager) -> RedisResult<T>,
    ) -> RedisResult<T> {
        let (generation, mut manager) = self.inner.lease();
        let mut pending = Pending {
            inner: &self.inner,
            generation,
            sent: Instant::now(),
            answers: self.inner.answers.load(Ordering::Relaxed),
            done: false,
        };
        let result = request(&mut manager).await;
        pending.done = true;
        match &result {
            Err(error) if error.is_timeout() => self.inner.retire(generation),
            Err(error) if error.is_io_error() => {}
            _ => {
                self.inner.answers.fetch_add(1, Ordering::Relaxed);
            }
        }
        result
    }
}

impl Inner {
    fn lease(&self) -> (u64, ConnectionManager) {
        let current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        (current.generation, current.manager.clone())
    }

    /// Replaces connection `generation` with a new one, unless that was
    /// done already.
    fn retire(&self, generation: u64) {
        let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        if current.generation != generation {
            return;
        }
        match manager(&self.client, self.limit) {
            Ok(manager) => {
                current.manager = manager;
                current.generation = generation.wrapping_add(1);
                drop(current);
                tracing::warn!(
                    redis = %self.shown,
                    limit = ?self.limit,
                    "Redis did not answer in time; the next command opens a new connection"
                );
            }
            // Only a URL it cannot use fails here, and the first manager
            // was made from the same one: keep it.
            Err(error) => {
                drop(current);
                tracing::warn!(redis = %self.shown, %error, "cannot open a new Redis connection");
            }
        }
    }
}

/// A command on its way: when its caller abandons it after half the time
/// limit (its own time-out fired first) and no command was answered since
/// it was sent, it counts as unanswered. (A client cancelling its request
/// while Redis is merely slow, other commands being answered, does not
/// retire the connection.)
struct Pending<'a> {
    inner: &'a Inner,
    generation: u64,
    sent: Instant,
    /// [`Inner::answers`] when it was sent.
    answers: u64,
    done: bool,
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        if !self.done
            && self.sent.elapsed() >= self.inner.limit / 2
            && self.inner.answers.load(Ordering::Relaxed) == self.answers
        {
            self.inner.retire(self.generation);
        }
    }
}

impl ConnectionLike for Commands {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(async move {
            self.send(async |manager: &mut ConnectionManager| manager.req_packed_command(cmd).await)
                .await
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(async move {
            self.send(async |manager: &mut ConnectionManager| {
                manager.req_packed_commands(pipeline, offset, count).await
            })
            .await
        })
    }

    fn get_db(&self) -> i64 {
        self.db
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// A server that answers `+OK` to every command until `silent` is
    /// set, then reads what it is sent and answers nothing: the silence of
    /// a cut link. Counts the connections it accepted.
    async fn server(silent: Arc<AtomicBool>) -> (std::net::SocketAddr, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&accepted);
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                let silent = Arc::clone(&silent);
                tokio::spawn(async move {
                    let mut read = [0u8; 4096];
                    loop {
                        let n = match socket.read(&mut read).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => n,
                        };
                        if silent.load(Ordering::SeqCst) {
                            continue;
                        }
                        // A command is an array: a line starting with `*`
                        // (the test's commands hold no such line inside).
                        let commands = (0..n)
                            .filter(|&i| read[i] == b'*' && (i == 0 || read[i - 1] == b'\n'))
                            .count();
                        let answer = "+OK\r\n".repeat(commands);
                        if socket.write_all(answer.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        (addr, accepted)
    }

    async fn ping(commands: &Commands, within: Duration) -> RedisResult<Value> {
        let mut commands = commands.clone();
        tokio::time::timeout(
            within,
            ::redis::cmd("PING").query_async::<Value>(&mut commands),
        )
        .await
        .expect("the command ends within its bound")
    }

    #[tokio::test]
    async fn a_command_without_an_answer_retires_its_connection_once() {
        let silent = Arc::new(AtomicBool::new(false));
        let (addr, accepted) = server(Arc::clone(&silent)).await;
        let client = Client::open(format!("redis://{addr}/?protocol=resp2")).unwrap();
        let limit = Duration::from_millis(300);
        let commands = Commands::new(&client, limit, Arc::from("test")).unwrap();
        ping(&commands, limit * 10).await.expect("answered");
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
        // The link goes silent: three commands at once time out, and the
        // connection is retired once.
        silent.store(true, Ordering::SeqCst);
        let tries = (0..3).map(|_| ping(&commands, limit * 10));
        for answer in futures_util::future::join_all(tries).await {
            let error = answer.expect_err("a silent server cannot answer");
            assert!(error.is_timeout(), "{error}");
        }
        assert_eq!(commands.replaced(), 1);
        // The link is back: the next command goes out on a new connection
        // and is answered.
        silent.store(false, Ordering::SeqCst);
        ping(&commands, limit * 10).await.expect("answered again");
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
        assert_eq!(commands.replaced(), 1);
    }

    #[tokio::test]
    async fn a_command_abandoned_late_by_its_caller_retires_its_connection() {
        let (addr, _) = server(Arc::new(AtomicBool::new(true))).await;
        let client = Client::open(format!("redis://{addr}/?protocol=resp2")).unwrap();
        let limit = Duration::from_secs(10);
        let commands = Commands::new(&client, limit, Arc::from("test")).unwrap();
        let mut early = commands.clone();
        // Abandoned well before half the limit: kept.
        let _ = tokio::time::timeout(
            Duration::from_millis(50),
            ::redis::cmd("PING").query_async::<Value>(&mut early),
        )
        .await;
        assert_eq!(commands.replaced(), 0);
        // Abandoned after half the limit (time paused and advanced).
        tokio::time::pause();
        let mut late = commands.clone();
        let _ = tokio::time::timeout(
            limit * 3 / 4,
            ::redis::cmd("PING").query_async::<Value>(&mut late),
        )
        .await;
        tokio::time::resume();
        assert_eq!(commands.replaced(), 1);
    }
}
