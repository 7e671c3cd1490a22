//! The server-rendered page: a minijinja template whose hub URL comes from
//! the `mercure_hub_url` template function the web framework's adapter
//! registers.

use minijinja::Environment;
use minijinja::value::{Serde, Value};
use serde::Serialize;

use crate::board::{BoardError, Note, Topics, User};

/// The logged-in user a page is rendered for.
#[derive(Debug, Clone, Serialize)]
pub struct Viewer {
    /// The user's id.
    pub id: String,
    /// The user's display name.
    pub name: String,
    /// The user's latest notes, newest first.
    pub notes: Vec<Note>,
}

/// What the template sees.
#[derive(Serialize)]
struct Context<'a> {
    users: &'a [User],
    viewer: Option<&'a Viewer>,
    recipients: Vec<&'a User>,
    topics: Vec<String>,
    patterns: Vec<String>,
}

/// The template environment.
#[derive(Debug)]
pub(crate) struct Page {
    env: Environment<'static>,
}

impl Page {
    pub(crate) fn new(
        templates: impl FnOnce(&mut Environment<'static>),
    ) -> Result<Self, BoardError> {
        let mut env = Environment::new();
        templates(&mut env);
        env.add_template("board.html", include_str!("../../templates/board.html"))?;
        Ok(Self { env })
    }

    pub(crate) fn render(
        &self,
        users: &[User],
        viewer: Option<&Viewer>,
        topics: &Topics,
    ) -> Result<String, BoardError> {
        // Visitors follow the statuses; users also follow the notes of
        // every user, of which the hub delivers them their own only.
        let patterns: Vec<String> = viewer
            .map(|_| topics.all_notifications().expression().to_owned())
            .into_iter()
            .collect();
        let recipients: Vec<&User> = users
            .iter()
            .filter(|user| viewer.is_some_and(|viewer| viewer.id != user.id))
            .collect();
        let template = self.env.get_template("board.html")?;
        let context = Context {
            users,
            viewer,
            recipients,
            topics: vec![topics.status()],
            patterns,
        };
        Ok(template.render(Value::from(Serde(&context)))?)
    }
}
