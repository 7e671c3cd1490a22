//! The Mercure topics of the board.

use mercure_client::{ProtocolVersion, TopicSelector};
use url::Url;

/// The board's topics, all under the application's base URL:
///
/// * `{base}board/status`: public, every status change;
/// * `{base}users/{id}/notifications`: private, the notes sent to a user.
///
/// A page subscribes to the notifications of *every* user with one
/// pattern; the hub delivers a private note only to the subscribers whose
/// token grants its topic, so each user receives their own notes alone.
#[derive(Debug, Clone)]
pub struct Topics {
    base: Url,
    version: ProtocolVersion,
}

impl Topics {
    /// Topics under `base` (a URL ending with `/`), with patterns spelled
    /// for `version`.
    pub fn new(base: Url, version: ProtocolVersion) -> Self {
        Self { base, version }
    }

    /// The public topic of status changes.
    pub fn status(&self) -> String {
        format!("{}board/status", self.base)
    }

    /// The private topic of the notes sent to `user`.
    pub fn notifications(&self, user: &str) -> String {
        format!("{}users/{user}/notifications", self.base)
    }

    /// A pattern matching every user's notification topic: a URI template
    /// in 0.x, a URL pattern in 1.0.
    pub fn all_notifications(&self) -> TopicSelector {
        let placeholder = match self.version {
            ProtocolVersion::V0 => "{user}",
            _ => ":user",
        };
        TopicSelector::pattern(format!("{}users/{placeholder}/notifications", self.base))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_per_dialect() {
        let base = Url::parse("http://127.0.0.1:3000/").unwrap();
        let v0 = Topics::new(base.clone(), ProtocolVersion::V0);
        assert_eq!(v0.status(), "http://127.0.0.1:3000/board/status");
        assert_eq!(
            v0.notifications("alice"),
            "http://127.0.0.1:3000/users/alice/notifications"
        );
        assert_eq!(
            v0.all_notifications().expression(),
            "http://127.0.0.1:3000/users/{user}/notifications"
        );
        let v1 = Topics::new(base, ProtocolVersion::V1);
        assert_eq!(
            v1.all_notifications().expression(),
            "http://127.0.0.1:3000/users/:user/notifications"
        );
    }
}
