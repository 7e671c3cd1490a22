//! Health and metrics endpoints.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use crate::EmbeddedHub;

pub(super) async fn health() -> &'static str {
    "ok\n"
}

pub(super) async fn metrics(State(hub): State<EmbeddedHub>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        hub.metrics().to_prometheus(),
    )
}
