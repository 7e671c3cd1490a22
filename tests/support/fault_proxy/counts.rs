//! What a fault proxy did, counted as it happens, for tests to assert on.

use std::sync::atomic::{AtomicU64, Ordering};

use super::cut::CutKind;

/// A snapshot of a proxy's counters; see
/// [`FaultProxy::counts`](super::FaultProxy::counts).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FaultCounts {
    /// Connections accepted from clients.
    pub connections: u64,
    /// Connections the upstream refused or did not accept in time (the
    /// client's was closed).
    pub upstream_failures: u64,
    /// Connections cut at their planned offset (resets and closes).
    pub cuts: u64,
    /// Of the cuts, those made with a reset.
    pub resets: u64,
    /// Chunks held back (stalls).
    pub stalls: u64,
    /// Chunks written after a delay.
    pub delays: u64,
    /// Pieces written (a chunk written whole is one piece).
    pub pieces: u64,
    /// Bytes forwarded from clients to the upstream.
    pub request_bytes: u64,
    /// Bytes forwarded from the upstream to clients.
    pub response_bytes: u64,
}

/// The live counters behind [`FaultCounts`].
#[derive(Debug, Default)]
pub(super) struct Counters {
    connections: AtomicU64,
    upstream_failures: AtomicU64,
    cuts: AtomicU64,
    resets: AtomicU64,
    stalls: AtomicU64,
    delays: AtomicU64,
    pieces: AtomicU64,
    request_bytes: AtomicU64,
    response_bytes: AtomicU64,
}

fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::SeqCst);
}

impl Counters {
    pub(super) fn connection(&self) {
        add(&self.connections, 1);
    }

    pub(super) fn upstream_failure(&self) {
        add(&self.upstream_failures, 1);
    }

    pub(super) fn cut(&self, kind: CutKind) {
        if kind == CutKind::Reset {
            add(&self.resets, 1);
        }
        // Counted last: a test that sees the cut sees its kind.
        add(&self.cuts, 1);
    }

    pub(super) fn stall(&self) {
        add(&self.stalls, 1);
    }

    pub(super) fn delay(&self) {
        add(&self.delays, 1);
    }

    /// A piece of `len` bytes written, in the response direction or not.
    pub(super) fn piece(&self, response: bool, len: usize) {
        add(&self.pieces, 1);
        let len = u64::try_from(len).unwrap_or(u64::MAX);
        if response {
            add(&self.response_bytes, len);
        } else {
            add(&self.request_bytes, len);
        }
    }

    pub(super) fn snapshot(&self) -> FaultCounts {
        let get = |counter: &AtomicU64| counter.load(Ordering::SeqCst);
        FaultCounts {
            connections: get(&self.connections),
            upstream_failures: get(&self.upstream_failures),
            cuts: get(&self.cuts),
            resets: get(&self.resets),
            stalls: get(&self.stalls),
            delays: get(&self.delays),
            pieces: get(&self.pieces),
            request_bytes: get(&self.request_bytes),
            response_bytes: get(&self.response_bytes),
        }
    }
}
