//! Template helpers in axum handlers: a minijinja function and an askama value.
//! minijinja escapes the URL for the attribute it lands in (`/` as `&#x2f;`,
//! which the browser decodes).

use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::body::Body;
use axum::extract::{FromRef, Path, State};
use axum::http::{Request, StatusCode};
use axum::response::Html;
use axum::routing::get;
use mercure_axum::Mercure;
use mercure_axum::client::{Hub, ProtocolVersion};
use mercure_axum::web::templates::{HubUrls, add_minijinja_functions};
use tower::ServiceExt as _;

#[derive(Clone, FromRef)]
struct AppState {
    mercure: Mercure,
    templates: Arc<minijinja::Environment<'static>>,
}

fn state(version: ProtocolVersion) -> AppState {
    let hub = Hub::builder("http://mercure:3000/.well-known/mercure")
        .public_url("https://example.com/.well-known/mercure")
        .protocol(version)
        .build()
        .expect("hub");
    let mercure = Mercure::new(hub);
    let mut env = minijinja::Environment::new();
    add_minijinja_functions(&mut env, mercure.state().registry().clone());
    env.add_template(
        "book.html",
        r#"<div data-sse="{{ mercure_hub_url(["/books/" ~ id, "/authors/1"]) }}">{{ id }}</div>"#,
    )
    .expect("template");
    AppState {
        mercure,
        templates: Arc::new(env),
    }
}

async fn minijinja_book(
    State(templates): State<Arc<minijinja::Environment<'static>>>,
    Path(id): Path<u32>,
) -> Result<Html<String>, (StatusCode, String)> {
    templates
        .get_template("book.html")
        .and_then(|template| template.render(minijinja::context! { id }))
        .map(Html)
        .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}

#[derive(Template)]
#[template(
    source = r#"<div data-sse="{{ mercure.hub_url(topics)? }}">{{ id }}</div>"#,
    ext = "html"
)]
struct BookPage {
    mercure: HubUrls,
    topics: Vec<String>,
    id: u32,
}

async fn askama_book(
    State(mercure): State<Mercure>,
    Path(id): Path<u32>,
) -> Result<Html<String>, StatusCode> {
    BookPage {
        mercure: HubUrls::new(mercure.state().registry().clone()),
        topics: vec![format!("/books/{id}"), "/authors/1".to_owned()],
        id,
    }
    .render()
    .map(Html)
    .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)
}

async fn body(app: Router, uri: &str) -> String {
    let response = app
        .oneshot(Request::get(uri).body(Body::empty()).expect("request"))
        .await
        .expect("response");
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = http_body_util::BodyExt::collect(response.into_body())
        .await
        .expect("body")
        .to_bytes();
    String::from_utf8(bytes.to_vec()).expect("utf-8")
}

#[tokio::test]
async fn minijinja_renders_the_hub_url_in_each_dialect() {
    for (version, expected) in [
        (
            ProtocolVersion::V0,
            r#"<div data-sse="https:&#x2f;&#x2f;example.com&#x2f;.well-known&#x2f;mercure?topic=%2Fbooks%2F5&amp;topic=%2Fauthors%2F1">5</div>"#,
        ),
        (
            ProtocolVersion::V1,
            r#"<div data-sse="https:&#x2f;&#x2f;example.com&#x2f;.well-known&#x2f;mercure?match=%2Fbooks%2F5&amp;match=%2Fauthors%2F1">5</div>"#,
        ),
    ] {
        let app = Router::new()
            .route("/books/{id}", get(minijinja_book))
            .with_state(state(version));
        assert_eq!(body(app, "/books/5").await, expected);
    }
}

#[tokio::test]
async fn askama_renders_the_hub_url() {
    let app = Router::new()
        .route("/books/{id}", get(askama_book))
        .with_state(state(ProtocolVersion::V0));
    assert_eq!(
        body(app, "/books/5").await,
        r#"<div data-sse="https://example.com/.well-known/mercure?topic=%2Fbooks%2F5&#38;topic=%2Fauthors%2F1">5</div>"#
    );
}

/// The adapter's own shortcuts, with its `minijinja` and `askama` features.
#[cfg(all(feature = "minijinja", feature = "askama"))]
#[tokio::test]
async fn the_mercure_shortcuts_render_the_same_urls() {
    let mercure = state(ProtocolVersion::V0).mercure;
    let mut env = minijinja::Environment::new();
    mercure.add_to_minijinja(&mut env);
    let rendered = env
        .render_str(r#"{{ mercure_hub_url("/books/5") }}"#, ())
        .expect("render");
    assert_eq!(
        rendered,
        "https://example.com/.well-known/mercure?topic=%2Fbooks%2F5"
    );
    let url = mercure.hub_urls().hub_url(["/books/5"]).expect("url");
    assert_eq!(url.as_str(), rendered);
}
