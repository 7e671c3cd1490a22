//! The status board on actix-web, with the Mercure hub embedded in the
//! same process and served alongside on its own 127.0.0.1 port (the hub's
//! routes are an axum router; cookies do not care about ports, and the hub
//! lets the board's origin subscribe with credentials).
//!
//! The routes are those of [`crate::status_board`].
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use mercure_examples::board::BoardSettings;
//! use mercure_examples::status_board_actix;
//! use url::Url;
//!
//! let hub_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let app_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
//! let settings = BoardSettings::new(
//!     Url::parse(&format!("http://{}/", app_listener.local_addr()?))?,
//!     Url::parse(&format!("http://{}/.well-known/mercure", hub_listener.local_addr()?))?,
//! )?;
//! let app = status_board_actix::app(&settings)?;
//! tokio::spawn(mercure_hub::serve(hub_listener, app.hub.router()));
//! app.server(app_listener)?.await?;
//! # Ok(()) }
//! ```

use std::fmt;
use std::net::TcpListener;

use actix_web::dev::Server;
use actix_web::http::StatusCode;
use actix_web::http::header::{LOCATION, SET_COOKIE};
use actix_web::{HttpRequest, HttpResponse, HttpServer, ResponseError, web};
use mercure_actix::{DiscoveryLayer, Mercure, MercureCookies, MercureResponseExt};
use mercure_hub::EmbeddedHub;
use serde::Deserialize;

use crate::board::{Board, BoardError, BoardSettings, SESSION_COOKIE, User, session_cookie};

/// The board, its Mercure configuration and the embedded hub.
#[derive(Debug, Clone)]
pub struct App {
    /// The board, to change statuses and send notes from outside a request.
    pub board: Board,
    /// The Mercure configuration (app data of the actix application).
    pub mercure: Mercure,
    /// The embedded hub: serve [`EmbeddedHub::router`] at the settings'
    /// hub URL.
    pub hub: EmbeddedHub,
}

/// Builds the board and its embedded hub for `settings`.
///
/// # Errors
/// [`BoardError::Hub`] for a hub configuration problem, and the errors of
/// [`Board::new`].
pub fn app(settings: &BoardSettings) -> Result<App, BoardError> {
    let hub = EmbeddedHub::new(settings.hub_config()?);
    let mercure = Mercure::new(settings.hub()?).with_embedded_hub(hub.clone());
    let board = Board::new(settings, mercure.hub().clone(), |env| {
        mercure.add_to_minijinja(env);
    })?;
    Ok(App {
        board,
        mercure,
        hub,
    })
}

impl App {
    /// An actix-web server for the board on `listener` (two workers,
    /// without signal handling: stop it through its handle).
    ///
    /// # Errors
    /// When the listener cannot be used.
    pub fn server(&self, listener: TcpListener) -> std::io::Result<Server> {
        let board = web::Data::new(self.board.clone());
        let mercure = web::Data::new(self.mercure.clone());
        Ok(HttpServer::new(move || {
            actix_web::App::new()
                .wrap(DiscoveryLayer::new(mercure.get_ref()))
                .app_data(board.clone())
                .app_data(mercure.clone())
                .configure(routes)
        })
        .workers(2)
        .disable_signals()
        .listen(listener)?
        .run())
    }
}

/// The board's routes; the application must hold a `web::Data<Board>` and
/// a `web::Data<Mercure>`.
pub fn routes(config: &mut web::ServiceConfig) {
    config
        .route("/", web::get().to(index))
        .route("/login", web::post().to(login))
        .route("/logout", web::post().to(logout))
        .route("/status", web::post().to(set_status))
        .route("/notes", web::post().to(send_note))
        .route("/api/users/{id}/status", web::post().to(api_set_status));
}

/// A failed request: the board's error, or the Mercure adapter's.
#[derive(Debug)]
enum AppError {
    Board(BoardError),
    Mercure(mercure_actix::Error),
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AppError::Board(error) => error.fmt(f),
            AppError::Mercure(error) => error.fmt(f),
        }
    }
}

impl From<BoardError> for AppError {
    fn from(error: BoardError) -> Self {
        Self::Board(error)
    }
}

impl From<mercure_actix::Error> for AppError {
    fn from(error: mercure_actix::Error) -> Self {
        Self::Mercure(error)
    }
}

impl From<mercure_actix::web::WebError> for AppError {
    fn from(error: mercure_actix::web::WebError) -> Self {
        Self::Mercure(error.into())
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::Board(error) => {
                StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            }
            AppError::Mercure(error) => error.status_code(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            AppError::Board(error) => {
                HttpResponse::build(self.status_code()).body(error.to_string())
            }
            AppError::Mercure(error) => error.error_response(),
        }
    }
}

/// The logged-in user and their session id.
fn current_user(board: &Board, request: &HttpRequest) -> Option<(String, User)> {
    let session = request.cookie(SESSION_COOKIE)?.value().to_owned();
    let user = board.session_user(&session)?;
    Some((session, user))
}

fn see_other() -> actix_web::HttpResponseBuilder {
    let mut response = HttpResponse::SeeOther();
    response.insert_header((LOCATION, "/"));
    response
}

async fn index(
    board: web::Data<Board>,
    request: HttpRequest,
    mut cookies: MercureCookies,
) -> Result<HttpResponse, AppError> {
    let user = current_user(&board, &request).map(|(_, user)| user);
    match &user {
        Some(user) => cookies.authorize(&board.subscriber_grants(user))?,
        // No session: make the browser forget any authorization it holds.
        None => cookies.clear()?,
    };
    let page = board.render(user.as_ref())?;
    Ok(HttpResponse::Ok()
        .mercure_cookies(&cookies)
        .content_type("text/html; charset=utf-8")
        .body(page))
}

#[derive(Debug, Deserialize)]
struct LoginForm {
    user: String,
}

async fn login(
    board: web::Data<Board>,
    form: web::Form<LoginForm>,
) -> Result<HttpResponse, AppError> {
    let session = board.login(&form.user)?;
    Ok(see_other()
        .append_header((SET_COOKIE, session_cookie(Some(&session))))
        .finish())
}

async fn logout(
    board: web::Data<Board>,
    mercure: web::Data<Mercure>,
    request: HttpRequest,
    mut cookies: MercureCookies,
) -> Result<HttpResponse, AppError> {
    if let Some((session, user)) = current_user(&board, &request) {
        board.logout(&session);
        // Close the subscriptions of pages still open with the old token.
        mercure.permission_changed(&user.id, &board.topics().notifications(&user.id))?;
    }
    cookies.clear()?;
    Ok(see_other()
        .mercure_cookies(&cookies)
        .append_header((SET_COOKIE, session_cookie(None)))
        .finish())
}

#[derive(Debug, Deserialize)]
struct StatusForm {
    status: String,
}

async fn set_status(
    board: web::Data<Board>,
    request: HttpRequest,
    form: web::Form<StatusForm>,
) -> Result<HttpResponse, AppError> {
    let (_, user) = current_user(&board, &request).ok_or(BoardError::NotLoggedIn)?;
    board.set_status(&user.id, &form.status).await?;
    Ok(see_other().finish())
}

#[derive(Debug, Deserialize)]
struct NoteForm {
    to: String,
    message: String,
}

async fn send_note(
    board: web::Data<Board>,
    request: HttpRequest,
    form: web::Form<NoteForm>,
) -> Result<HttpResponse, AppError> {
    let (_, user) = current_user(&board, &request).ok_or(BoardError::NotLoggedIn)?;
    board.notify(&form.to, &user.name, &form.message).await?;
    Ok(see_other().finish())
}

async fn api_set_status(
    board: web::Data<Board>,
    id: web::Path<String>,
    form: web::Form<StatusForm>,
) -> Result<HttpResponse, AppError> {
    let event = board.set_status(&id, &form.status).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "id": event.as_str() })))
}
