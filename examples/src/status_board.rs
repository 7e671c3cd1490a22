//! The status board on axum, with the Mercure hub embedded in the same
//! router at `/.well-known/mercure`.
//!
//! * `GET /`: the board. A logged-in user's page carries an authorization
//!   cookie (set by [`MercureCookies`]) granting their own private notes;
//!   a visitor's page clears any leftover cookie.
//! * `POST /login` (`user=`), `POST /logout`: the session. Logging out
//!   also closes the user's open subscriptions on the embedded hub.
//! * `POST /status` (`status=`): sets the user's status, published to
//!   every page.
//! * `POST /notes` (`to=`, `message=`): a private note to another user.
//! * `POST /api/users/{id}/status` (`status=`): sets a status without a
//!   session, for `curl` (the demo listens on 127.0.0.1 only).
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let settings = mercure_examples::board::BoardSettings::local(listener.local_addr()?);
//! let app = mercure_examples::status_board::app(&settings)?;
//! mercure_hub::serve(listener, app.router).await?;
//! # Ok(()) }
//! ```

use axum::extract::{FromRef, Path, State};
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use mercure_axum::{DiscoveryLayer, Mercure, MercureCookies};
use mercure_hub::EmbeddedHub;
use serde::Deserialize;

use crate::board::{
    Board, BoardError, BoardSettings, User, session_cookie, session_from_cookie_header,
};

/// The application: its router (the board and the embedded hub), the
/// board, and the hub.
#[derive(Debug)]
pub struct App {
    /// Serve this.
    pub router: Router,
    /// The board, to change statuses and send notes from outside a request.
    pub board: Board,
    /// The embedded hub.
    pub hub: EmbeddedHub,
}

/// The axum state: the board and the Mercure configuration.
#[derive(Debug, Clone, FromRef)]
struct AppState {
    board: Board,
    mercure: Mercure,
}

/// Builds the app for `settings`: the board's routes and an embedded hub
/// verifying tokens with the board's secret, accepting anonymous
/// subscribers (visitors follow the public statuses).
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
    let router = router(board.clone(), mercure).merge(hub.router());
    Ok(App { router, board, hub })
}

/// The board's routes alone (for a board whose hub runs elsewhere, pass a
/// `mercure` without an embedded hub).
pub fn router(board: Board, mercure: Mercure) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/login", post(login))
        .route("/logout", post(logout))
        .route("/status", post(set_status))
        .route("/notes", post(send_note))
        .route("/api/users/{id}/status", post(api_set_status))
        .layer(DiscoveryLayer::new(&mercure))
        .with_state(AppState { board, mercure })
}

/// A failed request: the board's error, or the Mercure adapter's.
#[derive(Debug)]
enum AppError {
    Board(BoardError),
    Mercure(mercure_axum::Error),
}

impl From<BoardError> for AppError {
    fn from(error: BoardError) -> Self {
        Self::Board(error)
    }
}

impl From<mercure_axum::Error> for AppError {
    fn from(error: mercure_axum::Error) -> Self {
        Self::Mercure(error)
    }
}

impl From<mercure_axum::web::WebError> for AppError {
    fn from(error: mercure_axum::web::WebError) -> Self {
        Self::Mercure(error.into())
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        match self {
            AppError::Board(error) => {
                let status = StatusCode::from_u16(error.status())
                    .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                (status, error.to_string()).into_response()
            }
            AppError::Mercure(error) => error.into_response(),
        }
    }
}

/// The logged-in user and their session id, from the `Cookie` header.
fn current_user(board: &Board, headers: &HeaderMap) -> Option<(String, User)> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(session_from_cookie_header)
        .and_then(|session| Some((session.to_owned(), board.session_user(session)?)))
}

fn with_session_cookie(response: impl IntoResponse, session: Option<&str>) -> Response {
    let mut response = response.into_response();
    if let Ok(value) = HeaderValue::from_str(&session_cookie(session)) {
        response.headers_mut().append(SET_COOKIE, value);
    }
    response
}

async fn index(
    State(board): State<Board>,
    headers: HeaderMap,
    mut cookies: MercureCookies,
) -> Result<(MercureCookies, Html<String>), AppError> {
    let user = current_user(&board, &headers).map(|(_, user)| user);
    match &user {
        Some(user) => cookies.authorize(&board.subscriber_grants(user))?,
        // No session (never logged in, logged out, or the server restarted):
        // make the browser forget any authorization it still holds.
        None => cookies.clear()?,
    };
    Ok((cookies, Html(board.render(user.as_ref())?)))
}

#[derive(Debug, Deserialize)]
struct LoginForm {
    user: String,
}

async fn login(
    State(board): State<Board>,
    Form(form): Form<LoginForm>,
) -> Result<Response, AppError> {
    let session = board.login(&form.user)?;
    Ok(with_session_cookie(Redirect::to("/"), Some(&session)))
}

async fn logout(
    State(board): State<Board>,
    State(mercure): State<Mercure>,
    headers: HeaderMap,
    mut cookies: MercureCookies,
) -> Result<Response, AppError> {
    if let Some((session, user)) = current_user(&board, &headers) {
        board.logout(&session);
        // Pages still open (other tabs) hold a token that would receive
        // the user's notes until it expires: the embedded hub closes their
        // subscriptions, and they reconnect without the cleared cookie.
        mercure.permission_changed(&user.id, &board.topics().notifications(&user.id))?;
    }
    cookies.clear()?;
    Ok(with_session_cookie((cookies, Redirect::to("/")), None))
}

#[derive(Debug, Deserialize)]
struct StatusForm {
    status: String,
}

async fn set_status(
    State(board): State<Board>,
    headers: HeaderMap,
    Form(form): Form<StatusForm>,
) -> Result<Redirect, AppError> {
    let (_, user) = current_user(&board, &headers).ok_or(BoardError::NotLoggedIn)?;
    board.set_status(&user.id, &form.status).await?;
    Ok(Redirect::to("/"))
}

#[derive(Debug, Deserialize)]
struct NoteForm {
    to: String,
    message: String,
}

async fn send_note(
    State(board): State<Board>,
    headers: HeaderMap,
    Form(form): Form<NoteForm>,
) -> Result<Redirect, AppError> {
    let (_, user) = current_user(&board, &headers).ok_or(BoardError::NotLoggedIn)?;
    board.notify(&form.to, &user.name, &form.message).await?;
    Ok(Redirect::to("/"))
}

async fn api_set_status(
    State(board): State<Board>,
    Path(id): Path<String>,
    Form(form): Form<StatusForm>,
) -> Result<Json<serde_json::Value>, AppError> {
    let event = board.set_status(&id, &form.status).await?;
    Ok(Json(serde_json::json!({ "id": event.as_str() })))
}
