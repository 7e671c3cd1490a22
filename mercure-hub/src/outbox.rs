//! A subscriber's outbox: the events dispatched to it and not yet written.
//!
//! Two ways out. A [`Subscription`](crate::Subscription) served as a
//! stream (through hyper or in-process) pops events from its task, woken
//! by each push. A subscription on the lean HTTP/1.1 path attaches its
//! socket instead: then the publishing side writes each event to the
//! socket itself, right after dispatching it, with one non-blocking
//! `write`, and the subscriber's task only wakes when the socket is full
//! (it waits until it drains), when the subscriber is closed, or for its
//! heartbeats. A fan-out thus costs one system call per subscriber and no
//! task wake-up, queue hop or copy (see docs/decisions.md).
//!
//! Order: events are pushed under the hub's lock, in publishing order, and
//! written under this outbox's lock from the front of the queue, whoever
//! writes them.

use std::collections::VecDeque;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use tokio::net::TcpStream;

use crate::Event;

/// An item of the queue.
#[derive(Debug)]
pub(crate) enum Item {
    /// A published event.
    Event(Arc<Event>),
    /// A heartbeat comment (direct mode only).
    Heartbeat,
}

/// The heartbeat comment as one HTTP/1.1 chunk.
const HEARTBEAT_CHUNK: &[u8] = b"3\r\n:\n\n\r\n";

impl Item {
    /// The bytes on the wire of a lean (chunked HTTP/1.1) subscription.
    fn chunk(&self) -> &[u8] {
        match self {
            Item::Event(event) => event.chunk(),
            Item::Heartbeat => HEARTBEAT_CHUNK,
        }
    }
}

/// What a push did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Pushed {
    /// Queued; the subscriber's task was woken if it needed to be.
    Queued,
    /// Queued for a subscriber with a socket attached: call
    /// [`Outbox::flush`] once the hub's lock is released.
    Flush,
    /// The queue is full: the subscriber fell too far behind.
    Full,
    /// The stream has ended (closed, or its connection is gone): nothing
    /// more is queued; the subscriber is about to be unregistered.
    Ended,
}

/// What a lean subscription's task is woken for.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Wake {
    /// The socket took only part of the queue: wait until it is writable,
    /// then [`Outbox::resume`].
    Stalled,
    /// The hub closed the subscriber.
    Closed,
    /// A write failed: the connection is gone.
    Broken,
}

/// A subscriber's outbox.
#[derive(Debug)]
pub(crate) struct Outbox {
    state: Mutex<State>,
    capacity: usize,
    max_bytes: usize,
}

#[derive(Debug, Default)]
struct State {
    queue: VecDeque<Item>,
    /// Events in `queue` (heartbeats are not counted against the capacity).
    events: usize,
    /// Their [`Event::size`] in total.
    bytes: usize,
    /// Bytes of the front item already written (direct mode).
    written: usize,
    waker: Option<Waker>,
    closed: bool,
    /// The socket events are written to, once attached, and the runtime
    /// serving it (where publishers' batched writes are spawned).
    sink: Option<(Arc<TcpStream>, tokio::runtime::Handle)>,
    /// A flush is due (a publisher was told to call [`Outbox::flush`]):
    /// later pushes need not ask for another.
    flush_pending: bool,
    /// The socket is full: only the task writes until it drains.
    stalled: bool,
    broken: bool,
}

impl Outbox {
    /// An outbox of at most `capacity` events and `max_bytes` of them (an
    /// event larger than `max_bytes` is taken when the queue is empty).
    pub(crate) fn new(capacity: usize, max_bytes: usize) -> Self {
        Self {
            state: Mutex::new(State::default()),
            capacity: capacity.max(1),
            max_bytes,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `event`; see [`Pushed`].
    pub(crate) fn push(&self, event: Arc<Event>) -> Pushed {
        let mut state = self.lock();
        if state.closed || state.broken {
            return Pushed::Ended;
        }
        let size = event.size();
        if state.events >= self.capacity
            || (state.events > 0 && state.bytes.saturating_add(size) > self.max_bytes)
        {
            return Pushed::Full;
        }
        state.queue.push_back(Item::Event(event));
        state.events += 1;
        state.bytes += size;
        if state.sink.is_some() {
            if std::mem::replace(&mut state.flush_pending, true) {
                return Pushed::Queued;
            }
            return Pushed::Flush;
        }
        let waker = state.waker.take();
        drop(state);
        if let Some(waker) = waker {
            waker.wake();
        }
        Pushed::Queued
    }

    /// Writes what is queued to the attached socket without blocking, from
    /// the caller's thread; when the socket is full, leaves the rest to the
    /// subscriber's task (woken to wait for it to drain).
    pub(crate) fn flush(&self) {
        let mut state = self.lock();
        state.flush_pending = false;
        if state.sink.is_none() || state.stalled || state.closed || state.broken {
            return;
        }
        match state.write_queued() {
            Ok(true) => {}
            Ok(false) => {
                state.stalled = true;
                state.wake();
            }
            Err(_) => {
                state.broken = true;
                state.wake();
            }
        }
    }

    /// Closes the outbox: a stream ends, a lean task is woken to end it.
    pub(crate) fn close(&self) {
        let mut state = self.lock();
        state.closed = true;
        state.wake();
    }

    /// Stream mode: pops up to `max_events` events (fewer once `max_bytes`
    /// of frames are taken); `None` once closed.
    pub(crate) fn poll_pop(
        &self,
        cx: &mut Context<'_>,
        max_events: usize,
        max_bytes: usize,
    ) -> Poll<Option<Vec<Arc<Event>>>> {
        let mut state = self.lock();
        if state.closed {
            return Poll::Ready(None);
        }
        if state.queue.is_empty() {
            state.register(cx.waker());
            return Poll::Pending;
        }
        let mut taken = Vec::with_capacity(state.queue.len().min(max_events));
        let mut bytes = 0;
        while taken.len() < max_events && bytes < max_bytes {
            match state.queue.pop_front() {
                Some(Item::Event(event)) => {
                    bytes += event.frame().len();
                    state.events -= 1;
                    state.bytes -= event.size();
                    taken.push(event);
                }
                Some(Item::Heartbeat) => {}
                None => break,
            }
        }
        Poll::Ready(Some(taken))
    }

    /// Direct mode: from now on, events are written to `sink` by whoever
    /// publishes them. The caller has written everything sent before (the
    /// response head, replayed events); what was queued meanwhile is
    /// written now, or the task is told to wait ([`Wake::Stalled`]).
    ///
    /// Call it from a task of the runtime serving the connection: batches
    /// of publishers' writes are spawned there.
    pub(crate) fn attach(&self, sink: Arc<TcpStream>) {
        let mut state = self.lock();
        state.sink = Some((sink, tokio::runtime::Handle::current()));
        drop(state);
        self.flush();
    }

    /// The runtime serving the attached socket.
    pub(crate) fn runtime(&self) -> Option<tokio::runtime::Handle> {
        self.lock()
            .sink
            .as_ref()
            .map(|(_, runtime)| runtime.clone())
    }

    /// Direct mode: queues a heartbeat behind the events and writes it.
    pub(crate) fn heartbeat(&self) {
        let mut state = self.lock();
        if state.queue.is_empty() {
            state.queue.push_back(Item::Heartbeat);
        }
        drop(state);
        self.flush();
    }

    /// Direct mode: resolves when the task has something to do.
    pub(crate) fn poll_wake(&self, cx: &mut Context<'_>) -> Poll<Wake> {
        let mut state = self.lock();
        if state.closed {
            Poll::Ready(Wake::Closed)
        } else if state.broken {
            Poll::Ready(Wake::Broken)
        } else if state.stalled {
            Poll::Ready(Wake::Stalled)
        } else {
            state.register(cx.waker());
            Poll::Pending
        }
    }

    /// Direct mode, when the stream ends: closes the outbox (publishers
    /// write no more) and returns the unwritten rest of an item already
    /// partly written, to be completed before the last chunk so that the
    /// client does not see a torn chunk.
    pub(crate) fn finish(&self) -> Option<Bytes> {
        let mut state = self.lock();
        state.closed = true;
        if state.written == 0 {
            return None;
        }
        let written = std::mem::take(&mut state.written);
        let item = state.queue.pop_front()?;
        Some(Bytes::copy_from_slice(&item.chunk()[written..]))
    }

    /// Direct mode, after the socket became writable: writes on; `Ok(true)`
    /// once the queue is drained (publishers write again), `Ok(false)` if
    /// the socket is full again.
    ///
    /// # Errors
    /// The write's error: the connection is gone.
    pub(crate) fn resume(&self) -> io::Result<bool> {
        let mut state = self.lock();
        if state.closed || state.broken {
            // Ending: only a partly written item is completed (`finish`).
            return Ok(true);
        }
        let drained = state.write_queued()?;
        state.stalled = !drained;
        Ok(drained)
    }
}

impl State {
    fn register(&mut self, waker: &Waker) {
        match &self.waker {
            Some(current) if current.will_wake(waker) => {}
            _ => self.waker = Some(waker.clone()),
        }
    }

    fn wake(&mut self) {
        if let Some(waker) = self.waker.take() {
            waker.wake();
        }
    }

    /// Writes queued items to the sink until the queue is empty (`true`)
    /// or the socket would block (`false`): up to [`WRITE_BATCH`] items per
    /// system call, so that the lock is held for few calls even when a
    /// long queue drains.
    fn write_queued(&mut self) -> io::Result<bool> {
        let Some((sink, _)) = self.sink.clone() else {
            return Ok(self.queue.is_empty());
        };
        while let Some(front) = self.queue.front() {
            // One item (the usual case of a live stream): a plain `write`.
            let written = if self.queue.len() == 1 {
                match sink.try_write(&front.chunk()[self.written..]) {
                    Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                    Ok(n) => n,
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                    Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                    Err(error) => return Err(error),
                }
            } else {
                let mut slices = Vec::with_capacity(self.queue.len().min(WRITE_BATCH));
                for (i, item) in self.queue.iter().take(WRITE_BATCH).enumerate() {
                    let bytes = item.chunk();
                    slices.push(io::IoSlice::new(if i == 0 {
                        &bytes[self.written..]
                    } else {
                        bytes
                    }));
                }
                match sink.try_write_vectored(&slices) {
                    Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                    Ok(n) => n,
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                    Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                    Err(error) => return Err(error),
                }
            };
            self.advance(written);
        }
        Ok(true)
    }

    /// Counts `n` more bytes of the queue as written, popping whole items.
    fn advance(&mut self, mut n: usize) {
        while n > 0 {
            let Some(front) = self.queue.front() else {
                return;
            };
            let left = front.chunk().len() - self.written;
            if n < left {
                self.written += n;
                return;
            }
            n -= left;
            self.written = 0;
            if let Some(Item::Event(event)) = self.queue.pop_front() {
                self.events -= 1;
                self.bytes -= event.size();
            }
        }
    }
}

/// Most queued items written by one system call.
const WRITE_BATCH: usize = 64;

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tokio::io::AsyncReadExt;
    use tokio::net::{TcpListener, TcpSocket, TcpStream};

    use super::{Outbox, Pushed, Wake};
    use crate::Event;

    fn chunk_of(frame: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        crate::chunk::put_http_chunk(&mut out, frame);
        out
    }

    fn event(id: &str, data: &str) -> Arc<Event> {
        let frame = mercure_core::sse::encode_event(id, None, None, data);
        Arc::new(Event::new(
            Arc::from(id),
            Arc::from(vec!["t".to_owned()]),
            false,
            frame,
        ))
    }

    /// A loopback connection whose writing side has small buffers.
    async fn pair() -> (Arc<TcpStream>, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let socket = TcpSocket::new_v4().unwrap();
        socket.set_send_buffer_size(4096).unwrap();
        let writer = socket
            .connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (reader, _) = listener.accept().await.unwrap();
        (Arc::new(writer), reader)
    }

    fn poll_wake(outbox: &Outbox) -> std::task::Poll<Wake> {
        let waker = futures_util::task::noop_waker();
        outbox.poll_wake(&mut std::task::Context::from_waker(&waker))
    }

    #[tokio::test]
    async fn publishers_write_in_order_and_a_full_socket_stalls_until_resumed() {
        let (writer, mut reader) = pair().await;
        let outbox = Outbox::new(1000, usize::MAX);
        // Queued before the socket is attached, written when it is.
        assert_eq!(outbox.push(event("a", "before")), Pushed::Queued);
        outbox.attach(Arc::clone(&writer));
        let data = "x".repeat(16 * 1024);
        let mut expected = chunk_of(event("a", "before").frame());
        let mut stalled_at = None;
        for i in 0..200 {
            let event = event(&format!("e{i}"), &data);
            expected.extend_from_slice(&chunk_of(event.frame()));
            assert_eq!(outbox.push(event), Pushed::Flush);
            outbox.flush();
            if stalled_at.is_none() && poll_wake(&outbox).is_ready() {
                stalled_at = Some(i);
            }
        }
        let stalled_at = stalled_at.expect("the socket never filled");
        assert!(stalled_at < 199, "stalled at {stalled_at}");
        assert_eq!(poll_wake(&outbox), std::task::Poll::Ready(Wake::Stalled));
        // The task's part: wait for room, write on, until drained.
        let task = tokio::spawn({
            let writer = Arc::clone(&writer);
            async move {
                loop {
                    writer.writable().await.unwrap();
                    if outbox.resume().unwrap() {
                        return outbox;
                    }
                }
            }
        });
        let mut received = vec![0u8; expected.len()];
        reader.read_exact(&mut received).await.unwrap();
        assert!(received == expected, "bytes arrived out of order or torn");
        let outbox = task.await.unwrap();
        assert!(
            poll_wake(&outbox).is_pending(),
            "drained: publishers write again"
        );
        outbox.push(event("z", "after"));
        outbox.flush();
        let after = chunk_of(event("z", "after").frame());
        let mut received = vec![0u8; after.len()];
        reader.read_exact(&mut received).await.unwrap();
        assert_eq!(received, after);
    }

    #[tokio::test]
    async fn a_full_queue_refuses_and_finish_returns_the_rest_of_a_torn_event() {
        let (writer, _reader) = pair().await;
        let outbox = Outbox::new(3, usize::MAX);
        outbox.attach(writer);
        let data = "y".repeat(1024 * 1024);
        // The first event is larger than the socket buffers: it is torn.
        let mut pushed = 0;
        while outbox.push(event(&format!("e{pushed}"), &data)) == Pushed::Flush {
            outbox.flush();
            pushed += 1;
        }
        // The socket took part of the first event; three were queued.
        assert_eq!(pushed, 3);
        outbox.heartbeat();
        let rest = outbox.finish().expect("a partly written event");
        let whole = chunk_of(event("e0", &data).frame());
        assert!(!rest.is_empty() && rest.len() < whole.len());
        assert!(whole.ends_with(&rest));
        assert_eq!(poll_wake(&outbox), std::task::Poll::Ready(Wake::Closed));
        // Closed: nothing more is written by publishers.
        outbox.flush();
    }

    #[tokio::test]
    async fn an_ended_outbox_takes_nothing_more() {
        // Closed by the hub: pushes are refused, a resume writes nothing.
        let (writer, _reader) = pair().await;
        let outbox = Outbox::new(10, usize::MAX);
        outbox.attach(writer);
        outbox.close();
        assert_eq!(outbox.push(event("a", "x")), Pushed::Ended);
        assert!(outbox.resume().unwrap());
        assert_eq!(poll_wake(&outbox), std::task::Poll::Ready(Wake::Closed));
        assert!(outbox.finish().is_none());

        // The client went away: a write fails, the task is told, pushes stop.
        let (writer, reader) = pair().await;
        let outbox = Outbox::new(1000, usize::MAX);
        outbox.attach(writer);
        drop(reader);
        let mut pushes = 0;
        while poll_wake(&outbox).is_pending() {
            assert!(
                pushes < 100,
                "writes to a closed connection kept succeeding"
            );
            assert_eq!(
                outbox.push(event(&format!("e{pushes}"), "x")),
                Pushed::Flush
            );
            outbox.flush();
            pushes += 1;
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        assert_eq!(poll_wake(&outbox), std::task::Poll::Ready(Wake::Broken));
        assert_eq!(outbox.push(event("late", "x")), Pushed::Ended);
    }

    #[test]
    fn the_queue_is_bounded_in_bytes_and_a_large_event_fits_when_alone() {
        let small = event("a", &"s".repeat(100));
        let size = small.size();
        let outbox = Outbox::new(1000, 3 * size);
        for id in ["a", "b", "c"] {
            assert_eq!(outbox.push(event(id, &"s".repeat(100))), Pushed::Queued);
        }
        assert_eq!(outbox.push(event("d", "s")), Pushed::Full);
        // Popping frees room, counted in bytes.
        let waker = futures_util::task::noop_waker();
        let mut cx = std::task::Context::from_waker(&waker);
        assert!(
            matches!(outbox.poll_pop(&mut cx, 64, usize::MAX), std::task::Poll::Ready(Some(events)) if events.len() == 3)
        );
        // An event larger than the bound is taken when nothing is queued.
        let huge = event("h", &"h".repeat(10 * size));
        assert_eq!(outbox.push(huge), Pushed::Queued);
        assert_eq!(outbox.push(event("e", "s")), Pushed::Full);
    }

    #[tokio::test]
    async fn a_pending_flush_is_asked_for_once() {
        let (writer, mut reader) = pair().await;
        let outbox = Outbox::new(10, usize::MAX);
        outbox.attach(writer);
        // Until a flush runs, later pushes ride on the one already due.
        assert_eq!(outbox.push(event("a", "1")), Pushed::Flush);
        assert_eq!(outbox.push(event("b", "2")), Pushed::Queued);
        outbox.flush();
        assert_eq!(outbox.push(event("c", "3")), Pushed::Flush);
        outbox.flush();
        // A heartbeat goes out when nothing is queued.
        outbox.heartbeat();
        let mut expected = Vec::new();
        for (id, data) in [("a", "1"), ("b", "2"), ("c", "3")] {
            expected.extend_from_slice(&chunk_of(event(id, data).frame()));
        }
        expected.extend_from_slice(super::HEARTBEAT_CHUNK);
        let mut received = vec![0u8; expected.len()];
        reader.read_exact(&mut received).await.unwrap();
        assert_eq!(received, expected);
    }
}
