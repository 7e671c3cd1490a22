//! Admission of connections: how many are served at once, in total and per
//! source address, and the answer given beyond that. A connection holds its
//! [`Permit`] for its whole life (a subscription's too), so a crowd of
//! slow or idle clients fills its own address's share, not the hub. The
//! streams of an HTTP/2 connection count as connections: the connection's
//! permit covers one stream at a time, each other stream takes one more
//! ([`Permit::another`]).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

use crate::HubConfig;

/// The limits a server applies to its connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Limits {
    /// Time to send a request head.
    pub(super) head_timeout: Duration,
    /// Connections at once (0: no limit).
    pub(super) max_connections: usize,
    /// Connections at once from one address (0: no limit).
    pub(super) max_per_address: usize,
}

impl Limits {
    /// The limits `config` sets.
    pub(super) fn of(config: &HubConfig) -> Self {
        Self {
            head_timeout: config.head_timeout,
            max_connections: config.max_connections,
            max_per_address: config.max_connections_per_address,
        }
    }
}

impl Default for Limits {
    /// The defaults of [`HubConfig`].
    fn default() -> Self {
        Self {
            head_timeout: crate::DEFAULT_HEAD_TIMEOUT,
            max_connections: crate::DEFAULT_MAX_CONNECTIONS,
            max_per_address: crate::DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
        }
    }
}

/// Why a connection was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refused {
    /// Its address has as many connections as it may: 429.
    Address,
    /// The server has as many connections as it may: 503.
    Total,
}

impl Refused {
    /// The complete HTTP/1.1 response answering the connection.
    fn response(self) -> &'static [u8] {
        match self {
            Refused::Address => {
                b"HTTP/1.1 429 Too Many Requests\r\n\
                  content-type: text/plain; charset=utf-8\r\n\
                  retry-after: 1\r\n\
                  connection: close\r\n\
                  content-length: 39\r\n\r\n\
                  too many connections from this address\n"
            }
            Refused::Total => {
                b"HTTP/1.1 503 Service Unavailable\r\n\
                  content-type: text/plain; charset=utf-8\r\n\
                  retry-after: 5\r\n\
                  connection: close\r\n\
                  content-length: 35\r\n\r\n\
                  the hub is at its connection limit\n"
            }
        }
    }
}

impl Refused {
    /// The answer to an HTTP/2 stream refused for the same reason as a
    /// connection would be: 429 or 503, with `Retry-After`.
    pub(super) fn into_response(self) -> axum::response::Response {
        use axum::http::{StatusCode, header};
        use axum::response::IntoResponse;
        match self {
            Refused::Address => (
                StatusCode::TOO_MANY_REQUESTS,
                [(header::RETRY_AFTER, "1")],
                "too many requests at once from this address\n",
            )
                .into_response(),
            Refused::Total => (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::RETRY_AFTER, "5")],
                "the hub is at its connection limit\n",
            )
                .into_response(),
        }
    }
}

/// Refused connections being answered at once; more are dropped unanswered.
const MAX_REFUSING: usize = 256;
/// How long a refused connection is given to take its answer.
const REFUSAL_TIME: Duration = Duration::from_secs(1);
/// Bytes of a refused connection's request read (and discarded) so that
/// closing it does not reset the connection before the answer is read.
const REFUSAL_DRAIN: usize = 16 * 1024;

/// The connections a server holds, by address.
#[derive(Debug)]
pub(super) struct Admission {
    limits: Limits,
    held: Mutex<Held>,
    refusing: AtomicUsize,
}

#[derive(Debug, Default)]
struct Held {
    total: usize,
    by_address: HashMap<IpAddr, usize>,
}

/// A connection admitted: released when dropped.
#[derive(Debug)]
pub(super) struct Permit {
    admission: Arc<Admission>,
    address: IpAddr,
}

impl Admission {
    pub(super) fn new(limits: Limits) -> Arc<Self> {
        Arc::new(Self {
            limits,
            held: Mutex::new(Held::default()),
            refusing: AtomicUsize::new(0),
        })
    }

    /// The limits applied.
    pub(super) fn limits(&self) -> &Limits {
        &self.limits
    }

    fn held(&self) -> MutexGuard<'_, Held> {
        self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Admits a connection from `peer`, if there is room for it.
    pub(super) fn admit(self: &Arc<Self>, peer: IpAddr) -> Result<Permit, Refused> {
        self.admit_source(source(peer))
    }

    /// Admits one more connection (or HTTP/2 stream) from the source
    /// `address` (already reduced by [`source`]).
    fn admit_source(self: &Arc<Self>, address: IpAddr) -> Result<Permit, Refused> {
        let mut held = self.held();
        if self.limits.max_connections != 0 && held.total >= self.limits.max_connections {
            return Err(Refused::Total);
        }
        let count = held.by_address.entry(address).or_insert(0);
        if self.limits.max_per_address != 0 && *count >= self.limits.max_per_address {
            return Err(Refused::Address);
        }
        *count += 1;
        held.total += 1;
        Ok(Permit {
            admission: Arc::clone(self),
            address,
        })
    }

    /// Answers a connection that was not admitted and closes it, in a task
    /// of at most [`REFUSAL_TIME`]; beyond [`MAX_REFUSING`] such tasks, the
    /// connection is closed unanswered.
    pub(super) fn refuse(self: &Arc<Self>, stream: TcpStream, why: Refused) {
        if self.refusing.fetch_add(1, Ordering::AcqRel) >= MAX_REFUSING {
            self.refusing.fetch_sub(1, Ordering::AcqRel);
            return;
        }
        let admission = Arc::clone(self);
        tokio::spawn(async move {
            let _ = tokio::time::timeout(REFUSAL_TIME, answer(stream, why)).await;
            admission.refusing.fetch_sub(1, Ordering::AcqRel);
        });
    }

    #[cfg(test)]
    fn total(&self) -> usize {
        self.held().total
    }
}

impl Permit {
    /// Another permit for the same source, if there is room for it: what
    /// each HTTP/2 stream beyond a connection's first takes, so that the
    /// streams multiplexed on one connection count against their source's
    /// share like as many connections.
    pub(super) fn another(&self) -> Result<Permit, Refused> {
        self.admission.admit_source(self.address)
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut held = self.admission.held();
        held.total = held.total.saturating_sub(1);
        if let Some(count) = held.by_address.get_mut(&self.address) {
            *count -= 1;
            if *count == 0 {
                held.by_address.remove(&self.address);
            }
        }
    }
}

/// Writes the refusal, ends the response and reads what the client sent
/// meanwhile, so that the close is a clean one.
async fn answer(mut stream: TcpStream, why: Refused) {
    use tokio::io::AsyncWriteExt;
    if stream.write_all(why.response()).await.is_err() {
        return;
    }
    let _ = stream.shutdown().await;
    let mut sink = [0u8; 1024];
    let mut drained = 0;
    while drained < REFUSAL_DRAIN {
        match stream.read(&mut sink).await {
            Ok(0) | Err(_) => return,
            Ok(n) => drained += n,
        }
    }
}

/// The source a connection is counted against: its IPv4 address, or the
/// /64 network of its IPv6 address (one host commonly holds a whole /64);
/// the rate limits key clients the same way.
fn source(peer: IpAddr) -> IpAddr {
    crate::rate::source(peer)
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    fn limits(total: usize, per_address: usize) -> Limits {
        Limits {
            head_timeout: Duration::from_secs(1),
            max_connections: total,
            max_per_address: per_address,
        }
    }

    #[test]
    fn counts_per_address_and_in_total() {
        let admission = Admission::new(limits(3, 2));
        let a: IpAddr = Ipv4Addr::new(192, 0, 2, 1).into();
        let b: IpAddr = Ipv4Addr::new(192, 0, 2, 2).into();
        let a1 = admission.admit(a).unwrap();
        let a2 = admission.admit(a).unwrap();
        assert_eq!(admission.admit(a).unwrap_err(), Refused::Address);
        let b1 = admission.admit(b).unwrap();
        assert_eq!(admission.admit(b).unwrap_err(), Refused::Total);
        drop(a1);
        let _b2 = admission.admit(b).unwrap();
        drop((a2, b1));
        assert_eq!(admission.total(), 1);
        assert!(!admission.held().by_address.contains_key(&a));
        // No limits at all.
        let open = Admission::new(limits(0, 0));
        let permits: Vec<_> = (0..100).map(|_| open.admit(a).unwrap()).collect();
        assert_eq!(open.total(), 100);
        drop(permits);
        assert_eq!(open.total(), 0);
    }

    #[test]
    fn ipv6_hosts_count_by_network_and_mapped_addresses_as_ipv4() {
        let admission = Admission::new(limits(0, 1));
        let one: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let same_network: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let other_network: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        let _one = admission.admit(one).unwrap();
        assert_eq!(admission.admit(same_network).unwrap_err(), Refused::Address);
        let _other = admission.admit(other_network).unwrap();
        let v4: IpAddr = Ipv4Addr::new(198, 51, 100, 7).into();
        let mapped: IpAddr = "::ffff:198.51.100.7".parse().unwrap();
        let _v4 = admission.admit(v4).unwrap();
        assert_eq!(admission.admit(mapped).unwrap_err(), Refused::Address);
    }

    #[test]
    fn refusals_are_complete_responses() {
        for (why, status) in [(Refused::Address, 429), (Refused::Total, 503)] {
            let response = why.response();
            let mut headers = [httparse::EMPTY_HEADER; 8];
            let mut parsed = httparse::Response::new(&mut headers);
            let httparse::Status::Complete(head) = parsed.parse(response).unwrap() else {
                panic!("incomplete head");
            };
            assert_eq!(parsed.code, Some(status));
            let length: usize = parsed
                .headers
                .iter()
                .find(|h| h.name == "content-length")
                .map(|h| std::str::from_utf8(h.value).unwrap().parse().unwrap())
                .unwrap();
            assert_eq!(response.len() - head, length, "{status}");
            assert!(parsed.headers.iter().any(|h| h.name == "retry-after"));
        }
    }
}
