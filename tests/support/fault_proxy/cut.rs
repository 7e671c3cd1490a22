//! Cutting a connection: both of its sockets, the client's and the
//! upstream's, closed at once, with a reset or cleanly.

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// How a connection is cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CutKind {
    /// Both sockets closed with `SO_LINGER` 0: each peer gets a TCP
    /// reset (RST), and what was still unsent is discarded.
    Reset,
    /// Both sockets shut down for writing, then closed: each peer reads
    /// a clean end of stream (FIN) in the middle of its exchange.
    Close,
}

/// Cuts the connection between `client` and `upstream`.
pub(super) async fn cut(kind: CutKind, mut client: TcpStream, mut upstream: TcpStream) {
    match kind {
        CutKind::Reset => {
            // Failing leaves a clean close, still a cut; nothing to report.
            let _ = client.set_zero_linger();
            let _ = upstream.set_zero_linger();
        }
        CutKind::Close => {
            // Bounded: a shutdown sends a FIN, it never waits for the peer.
            let _ = client.shutdown().await;
            let _ = upstream.shutdown().await;
        }
    }
    drop((client, upstream));
}
