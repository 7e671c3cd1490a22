//! One proxied connection: connect upstream, forward both directions as
//! planned, cut when the response direction reaches the cut offset.

use std::net::SocketAddr;

use tokio::net::TcpStream;

use super::counts::Counters;
use super::cut::cut;
use super::pipe::{End, pipe};
use super::plan::Plan;

/// Serves `client` by forwarding it to `upstream` under `plan`; returns
/// once both directions ended, one failed, or the connection was cut.
pub(super) async fn serve(
    mut client: TcpStream,
    upstream: SocketAddr,
    mut plan: Plan,
    counters: &Counters,
) {
    let connect = tokio::time::timeout(crate::CONNECT_TIMEOUT, TcpStream::connect(upstream));
    let Ok(Ok(mut upstream)) = connect.await else {
        counters.upstream_failure();
        return;
    };
    // Each piece leaves as written: splits reach the peer as splits.
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    let limit = plan.cut.map(|cut| cut.after);
    let reached = {
        let (mut client_read, mut client_write) = client.split();
        let (mut upstream_read, mut upstream_write) = upstream.split();
        let request = pipe(
            &mut client_read,
            &mut upstream_write,
            None,
            &mut plan.request,
            counters,
            false,
        );
        let response = pipe(
            &mut upstream_read,
            &mut client_write,
            limit,
            &mut plan.response,
            counters,
            true,
        );
        tokio::pin!(request, response);
        let (mut request_open, mut response_open) = (true, true);
        loop {
            let end = tokio::select! {
                end = &mut request, if request_open => {
                    request_open = false;
                    end
                }
                end = &mut response, if response_open => {
                    response_open = false;
                    end
                }
            };
            match end {
                End::Limit => break true,
                End::Failed => break false,
                // A half-close was passed on; the other way goes on.
                End::Eof if request_open || response_open => {}
                End::Eof => break false,
            }
        }
    };
    match plan.cut {
        Some(planned) if reached => {
            cut(planned.kind, client, upstream).await;
            counters.cut(planned.kind);
        }
        // Dropped: closed as any socket.
        _ => {}
    }
}
