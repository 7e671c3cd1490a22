//! Template helpers in actix-web handlers: a minijinja function and an askama value.

use actix_web::{App, HttpResponse, test, web};
use askama::Template;
use mercure_actix::Mercure;
use mercure_actix::client::{Hub, ProtocolVersion};
use mercure_actix::web::templates::{HubUrls, add_minijinja_functions};

fn mercure(version: ProtocolVersion) -> Mercure {
    let hub = Hub::builder("http://mercure:3000/.well-known/mercure")
        .public_url("https://example.com/.well-known/mercure")
        .protocol(version)
        .build()
        .expect("hub");
    Mercure::new(hub)
}

fn templates(mercure: &Mercure) -> minijinja::Environment<'static> {
    let mut env = minijinja::Environment::new();
    add_minijinja_functions(&mut env, mercure.state().registry().clone());
    env.add_template(
        "book.html",
        r#"<div data-sse="{{ mercure_hub_url(["/books/" ~ id, "/authors/1"]) }}">{{ id }}</div>"#,
    )
    .expect("template");
    env
}

async fn minijinja_book(
    templates: web::Data<minijinja::Environment<'static>>,
    id: web::Path<u32>,
) -> actix_web::Result<HttpResponse> {
    let id = id.into_inner();
    let html = templates
        .get_template("book.html")
        .and_then(|template| template.render(minijinja::context! { id }))
        .map_err(actix_web::error::ErrorInternalServerError)?;
    Ok(HttpResponse::Ok().content_type("text/html").body(html))
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
    mercure: web::Data<Mercure>,
    id: web::Path<u32>,
) -> actix_web::Result<HttpResponse> {
    let id = id.into_inner();
    let html = BookPage {
        mercure: HubUrls::new(mercure.state().registry().clone()),
        topics: vec![format!("/books/{id}"), "/authors/1".to_owned()],
        id,
    }
    .render()
    .map_err(actix_web::error::ErrorInternalServerError)?;
    Ok(HttpResponse::Ok().content_type("text/html").body(html))
}

#[actix_web::test]
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
        let mercure = mercure(version);
        let app = test::init_service(
            App::new()
                .app_data(web::Data::new(templates(&mercure)))
                .app_data(web::Data::new(mercure))
                .route("/books/{id}", web::get().to(minijinja_book)),
        )
        .await;
        let body =
            test::call_and_read_body(&app, test::TestRequest::get().uri("/books/5").to_request())
                .await;
        assert_eq!(body, expected);
    }
}

#[actix_web::test]
async fn askama_renders_the_hub_url() {
    let app = test::init_service(
        App::new()
            .app_data(web::Data::new(mercure(ProtocolVersion::V0)))
            .route("/books/{id}", web::get().to(askama_book)),
    )
    .await;
    let body =
        test::call_and_read_body(&app, test::TestRequest::get().uri("/books/5").to_request()).await;
    assert_eq!(
        body,
        r#"<div data-sse="https://example.com/.well-known/mercure?topic=%2Fbooks%2F5&#38;topic=%2Fauthors%2F1">5</div>"#
    );
}

/// The adapter's own shortcuts, with its `minijinja` and `askama` features.
#[cfg(all(feature = "minijinja", feature = "askama"))]
#[actix_web::test]
async fn the_mercure_shortcuts_render_the_same_urls() {
    let mercure = mercure(ProtocolVersion::V0);
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
