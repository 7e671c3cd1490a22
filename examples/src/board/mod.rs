//! The status board shared by the axum and actix-web apps: users and their
//! statuses, login sessions, the Mercure topics, the page template and the
//! publishing of status changes and private notes. Nothing here knows a web
//! framework; [`crate::status_board`] and [`crate::status_board_actix`] are
//! thin layers over it.

mod error;
mod page;
mod session;
mod settings;
mod store;
mod topics;

pub use error::BoardError;
pub use page::Viewer;
pub use session::{SESSION_COOKIE, session_cookie, session_from_cookie_header};
pub use settings::{BoardSettings, DEMO_SECRET};
pub use store::{Board, Note, StatusChange, User};
pub use topics::Topics;
