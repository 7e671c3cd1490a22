//! The board: users, statuses, sessions, and the publishing of changes.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use mercure_client::token::Grants;
use mercure_client::{EventId, Hub, Update};
use minijinja::Environment;
use serde::Serialize;

use crate::board::page::{Page, Viewer};
use crate::board::{BoardError, BoardSettings, Topics};

/// The longest status, in characters.
const MAX_STATUS: usize = 80;
/// The longest note, in characters.
const MAX_NOTE: usize = 280;
/// How many notes per user the page shows after a reload.
const KEPT_NOTES: usize = 20;
/// The status everyone starts with.
const INITIAL_STATUS: &str = "available";

/// A user of the board.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    /// The id, used in URLs and topics.
    pub id: String,
    /// The display name.
    pub name: String,
    /// The current status.
    pub status: String,
}

/// The data of a status change update (public, event type `status`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct StatusChange {
    /// Whose status changed.
    pub user: String,
    /// The new status.
    pub status: String,
}

/// The data of a private note (event type `note`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Note {
    /// Who sent it (a user's name, or `server`).
    pub from: String,
    /// The text.
    pub message: String,
}

/// The status board: a fixed list of users whose statuses change, the
/// login sessions, and the hub changes are published to. Cheap to clone.
#[derive(Clone)]
pub struct Board {
    inner: Arc<Inner>,
}

struct Inner {
    users: Mutex<Vec<User>>,
    sessions: Mutex<HashMap<String, String>>,
    notes: Mutex<HashMap<String, VecDeque<Note>>>,
    topics: Topics,
    hub: Hub,
    page: Page,
}

impl fmt::Debug for Board {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Board")
            .field("topics", &self.inner.topics)
            .field("hub", &self.inner.hub)
            .finish_non_exhaustive()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Trims `text` and checks its length.
fn checked(text: &str, what: &'static str, max: usize) -> Result<String, BoardError> {
    let text = text.trim();
    let len = text.chars().count();
    if len == 0 || len > max {
        return Err(BoardError::InvalidText { what, max });
    }
    Ok(text.to_owned())
}

impl Board {
    /// A board with the users Alice, Bob and Carol, publishing through
    /// `hub` (see [`BoardSettings::hub`]); `templates` registers the
    /// `mercure_hub_url` template function (an adapter's
    /// `Mercure::add_to_minijinja`, or [`mercure_web::templates::add_minijinja_functions`]).
    ///
    /// # Errors
    /// [`BoardError::Template`].
    pub fn new(
        settings: &BoardSettings,
        hub: Hub,
        templates: impl FnOnce(&mut Environment<'static>),
    ) -> Result<Self, BoardError> {
        let users = [("alice", "Alice"), ("bob", "Bob"), ("carol", "Carol")]
            .into_iter()
            .map(|(id, name)| User {
                id: id.to_owned(),
                name: name.to_owned(),
                status: INITIAL_STATUS.to_owned(),
            })
            .collect();
        let page = Page::new(templates)?;
        Ok(Self {
            inner: Arc::new(Inner {
                users: Mutex::new(users),
                sessions: Mutex::new(HashMap::new()),
                notes: Mutex::new(HashMap::new()),
                topics: settings.topics(),
                hub,
                page,
            }),
        })
    }

    /// The hub the board publishes to and mints cookies for.
    pub fn hub(&self) -> &Hub {
        &self.inner.hub
    }

    /// The board's topics.
    pub fn topics(&self) -> &Topics {
        &self.inner.topics
    }

    /// The users and their statuses.
    pub fn users(&self) -> Vec<User> {
        lock(&self.inner.users).clone()
    }

    /// The user `id`.
    ///
    /// # Errors
    /// [`BoardError::UnknownUser`].
    pub fn user(&self, id: &str) -> Result<User, BoardError> {
        lock(&self.inner.users)
            .iter()
            .find(|user| user.id == id)
            .cloned()
            .ok_or_else(|| BoardError::UnknownUser(id.to_owned()))
    }

    /// Logs `user` in, returning a new session id for the session cookie.
    ///
    /// # Errors
    /// [`BoardError::UnknownUser`].
    pub fn login(&self, user: &str) -> Result<String, BoardError> {
        let user = self.user(user)?;
        let session = uuid::Uuid::new_v4().simple().to_string();
        lock(&self.inner.sessions).insert(session.clone(), user.id);
        Ok(session)
    }

    /// Ends the session `session`.
    pub fn logout(&self, session: &str) {
        lock(&self.inner.sessions).remove(session);
    }

    /// The user logged in with session `session`, if the session exists.
    pub fn session_user(&self, session: &str) -> Option<User> {
        let id = lock(&self.inner.sessions).get(session).cloned()?;
        self.user(&id).ok()
    }

    /// What `user`'s authorization cookie grants: receiving the private
    /// notes sent to them, nothing else.
    pub fn subscriber_grants(&self, user: &User) -> Grants {
        Grants::new()
            .subscribe([self.inner.topics.notifications(&user.id)])
            .with_subject(user.id.clone())
    }

    /// The latest notes sent to `user`, newest first.
    pub fn notes(&self, user: &str) -> Vec<Note> {
        lock(&self.inner.notes)
            .get(user)
            .map(|notes| notes.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Renders the board page as seen by `viewer` (`None`: not logged in):
    /// the statuses, and the viewer's latest notes.
    ///
    /// # Errors
    /// [`BoardError::Template`].
    pub fn render(&self, viewer: Option<&User>) -> Result<String, BoardError> {
        let users = self.users();
        let viewer = viewer.map(|user| Viewer {
            id: user.id.clone(),
            name: user.name.clone(),
            notes: self.notes(&user.id),
        });
        self.inner
            .page
            .render(&users, viewer.as_ref(), &self.inner.topics)
    }

    /// Sets `user`'s status and publishes the change (public).
    ///
    /// # Errors
    /// [`BoardError::UnknownUser`], [`BoardError::InvalidText`],
    /// [`BoardError::Publish`].
    pub async fn set_status(&self, user: &str, status: &str) -> Result<EventId, BoardError> {
        let status = checked(status, "status", MAX_STATUS)?;
        // The board is the source of truth: the status changes even when
        // the hub cannot be told (the error says so, and reloaded pages
        // show it).
        {
            let mut users = lock(&self.inner.users);
            let entry = users
                .iter_mut()
                .find(|entry| entry.id == user)
                .ok_or_else(|| BoardError::UnknownUser(user.to_owned()))?;
            entry.status.clone_from(&status);
        }
        let update = Update::builder(self.inner.topics.status())
            .event_type("status")
            .json(&StatusChange {
                user: user.to_owned(),
                status,
            })?
            .build()?;
        Ok(self.inner.hub.publish(&update).await?)
    }

    /// Sends `to` a private note from `from`: only pages logged in as `to`
    /// receive it.
    ///
    /// # Errors
    /// [`BoardError::UnknownUser`], [`BoardError::InvalidText`],
    /// [`BoardError::Publish`].
    pub async fn notify(&self, to: &str, from: &str, message: &str) -> Result<EventId, BoardError> {
        let to = self.user(to)?;
        let message = checked(message, "message", MAX_NOTE)?;
        let note = Note {
            from: from.to_owned(),
            message,
        };
        let update = Update::builder(self.inner.topics.notifications(&to.id))
            .event_type("note")
            .private(true)
            .json(&note)?
            .build()?;
        let id = self.inner.hub.publish(&update).await?;
        let mut notes = lock(&self.inner.notes);
        let kept = notes.entry(to.id).or_default();
        kept.push_front(note);
        kept.truncate(KEPT_NOTES);
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn board_at(settings: &BoardSettings) -> Board {
        let hub = settings.hub().unwrap();
        let registry = mercure_web::HubRegistry::new(hub.info().clone());
        Board::new(settings, hub, |env| {
            mercure_web::templates::add_minijinja_functions(env, registry);
        })
        .unwrap()
    }

    fn board() -> Board {
        board_at(&BoardSettings::local("127.0.0.1:3000".parse().unwrap()))
    }

    #[test]
    fn sessions() {
        let board = board();
        assert!(matches!(
            board.login("mallory"),
            Err(BoardError::UnknownUser(_))
        ));
        let session = board.login("alice").unwrap();
        assert_eq!(board.session_user(&session).unwrap().id, "alice");
        board.logout(&session);
        assert!(board.session_user(&session).is_none());
    }

    #[test]
    fn text_is_checked() {
        assert_eq!(checked("  busy ", "status", 80).unwrap(), "busy");
        assert!(checked("   ", "status", 80).is_err());
        assert!(checked(&"x".repeat(81), "status", 80).is_err());
        assert!(checked(&"é".repeat(80), "status", 80).is_ok());
    }

    #[test]
    fn grants_name_only_the_users_own_topic() {
        let board = board();
        let alice = board.user("alice").unwrap();
        let grants = board.subscriber_grants(&alice);
        let selectors: Vec<_> = grants
            .subscribe_selectors()
            .iter()
            .map(|s| s.expression().to_owned())
            .collect();
        assert_eq!(
            selectors,
            ["http://127.0.0.1:3000/users/alice/notifications"]
        );
    }

    #[tokio::test]
    async fn notes_are_kept_for_their_recipient_only_when_published() {
        let board = board();
        // Nothing listens on port 9 of 127.0.0.1: publishing fails, and a
        // note the hub never got is not shown either.
        let offline = board_at(&BoardSettings::local("127.0.0.1:9".parse().unwrap()));
        assert!(matches!(
            offline.notify("alice", "bob", "hi").await,
            Err(BoardError::Publish(_))
        ));
        assert!(offline.notes("alice").is_empty());
        assert!(matches!(
            board.notify("alice", "bob", "   ").await,
            Err(BoardError::InvalidText { .. })
        ));
        assert!(matches!(
            board.notify("mallory", "bob", "hi").await,
            Err(BoardError::UnknownUser(_))
        ));
    }

    #[test]
    fn page_renders_for_visitors_and_users() {
        let board = board();
        let anonymous = board.render(None).unwrap();
        assert!(anonymous.contains("Log in"));
        assert!(!anonymous.contains("notifications"));
        let alice = board.user("alice").unwrap();
        let page = board.render(Some(&alice)).unwrap();
        // The hub URL subscribes to the status topic and every user's notes
        // (escaped for the attribute: `/` as `&#x2f;`, `&` as `&amp;`).
        assert!(page.contains(
            "http:&#x2f;&#x2f;127.0.0.1:3000&#x2f;.well-known&#x2f;mercure?topic=http%3A%2F%2F127.0.0.1%3A3000%2Fboard%2Fstatus&amp;topic=http%3A%2F%2F127.0.0.1%3A3000%2Fusers%2F%7Buser%7D%2Fnotifications"
        ));
        assert!(page.contains("Logged in as <strong>Alice</strong>"));
    }
}
