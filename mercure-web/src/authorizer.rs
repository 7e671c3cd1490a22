//! Deciding which topics a subscriber may be granted.

use std::fmt;

use mercure_core::TopicSelector;
use mercure_core::token::Grants;

/// Decides, when a token is minted for a browser, which topics its holder
/// may receive private updates of (and publish to), like a channel
/// manager's `can_read_channel`.
///
/// The subscriber is the token's subject ([`Grants::subject`]); `None`
/// for an anonymous visitor. Framework adapters consult the authorizer for
/// every cookie they mint and leave denied selectors out of the token.
///
/// ```
/// use mercure_web::{FnTopicAuthorizer, TopicAuthorizer, TopicSelector};
/// use mercure_web::token::Grants;
///
/// // Users may only read their own inbox.
/// let authorizer = FnTopicAuthorizer::new(|user: Option<&str>, selector: &TopicSelector| {
///     match (user, selector.expression().strip_prefix("/users/")) {
///         (Some(user), Some(rest)) => rest.split('/').next() == Some(user),
///         (_, Some(_)) => false,
///         (_, None) => true,
///     }
/// });
/// let asked = Grants::new().with_subject("42").subscribe(["/users/42/inbox", "/users/7/inbox", "/news"]);
/// let outcome = authorizer.filter(&asked);
/// assert_eq!(outcome.grants.subscribe_selectors().len(), 2);
/// assert_eq!(outcome.denied_subscribe, vec![TopicSelector::exact("/users/7/inbox")]);
/// ```
pub trait TopicAuthorizer: Send + Sync + fmt::Debug {
    /// Whether `subscriber` may receive the private updates of the topics
    /// `selector` matches.
    fn can_subscribe(&self, subscriber: Option<&str>, selector: &TopicSelector) -> bool;

    /// Whether `subscriber` may publish to the topics `selector` matches.
    /// Denies by default: publishing from browsers is rare and must be
    /// allowed explicitly.
    fn can_publish(&self, subscriber: Option<&str>, selector: &TopicSelector) -> bool {
        let _ = (subscriber, selector);
        false
    }

    /// `grants` without the selectors this authorizer denies, plus what was
    /// denied.
    fn filter(&self, grants: &Grants) -> AuthorizedGrants {
        let subscriber = grants.subject();
        let (subscribe, denied_subscribe): (Vec<_>, Vec<_>) = grants
            .subscribe_selectors()
            .iter()
            .cloned()
            .partition(|selector| self.can_subscribe(subscriber, selector));
        let (publish, denied_publish): (Vec<_>, Vec<_>) = grants
            .publish_selectors()
            .iter()
            .cloned()
            .partition(|selector| self.can_publish(subscriber, selector));
        let mut allowed = Grants::new().subscribe(subscribe).publish(publish);
        if let Some(payload) = grants.payload() {
            allowed = allowed.with_payload(payload.clone());
        }
        if let Some(subject) = subscriber {
            allowed = allowed.with_subject(subject);
        }
        AuthorizedGrants {
            grants: allowed,
            denied_subscribe,
            denied_publish,
        }
    }
}

/// What a [`TopicAuthorizer`] made of some grants.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct AuthorizedGrants {
    /// The grants, without the denied selectors.
    pub grants: Grants,
    /// The subscribe selectors that were denied.
    pub denied_subscribe: Vec<TopicSelector>,
    /// The publish selectors that were denied.
    pub denied_publish: Vec<TopicSelector>,
}

impl AuthorizedGrants {
    /// Whether anything was denied.
    pub fn is_restricted(&self) -> bool {
        !self.denied_subscribe.is_empty() || !self.denied_publish.is_empty()
    }
}

/// A [`TopicAuthorizer`] deciding subscriptions with a closure (publishing
/// stays denied).
pub struct FnTopicAuthorizer<F> {
    can_subscribe: F,
}

impl<F> FnTopicAuthorizer<F>
where
    F: Fn(Option<&str>, &TopicSelector) -> bool + Send + Sync,
{
    /// Wraps `can_subscribe`.
    pub fn new(can_subscribe: F) -> Self {
        Self { can_subscribe }
    }
}

impl<F> fmt::Debug for FnTopicAuthorizer<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FnTopicAuthorizer(..)")
    }
}

impl<F> TopicAuthorizer for FnTopicAuthorizer<F>
where
    F: Fn(Option<&str>, &TopicSelector) -> bool + Send + Sync,
{
    fn can_subscribe(&self, subscriber: Option<&str>, selector: &TopicSelector) -> bool {
        (self.can_subscribe)(subscriber, selector)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Everything;

    impl TopicAuthorizer for Everything {
        fn can_subscribe(&self, _: Option<&str>, _: &TopicSelector) -> bool {
            true
        }
    }

    #[test]
    fn publishing_is_denied_unless_allowed() {
        let grants = Grants::new()
            .with_subject("u")
            .with_payload(serde_json::json!({"a": 1}))
            .subscribe(["/a"])
            .publish(["/b"]);
        let outcome = Everything.filter(&grants);
        assert!(outcome.is_restricted());
        assert_eq!(outcome.denied_publish, vec![TopicSelector::exact("/b")]);
        assert_eq!(
            outcome.grants,
            Grants::new()
                .subscribe(["/a"])
                .with_payload(serde_json::json!({"a": 1}))
                .with_subject("u")
        );
    }
}
