//! Operations across the hub instances that share one transport: who is
//! subscribed on every instance (presence), and commands that reach the
//! subscribers of every instance.
//!
//! A [`Transport`](crate::Transport) shared by several instances (such as
//! `RedisTransport`) returns its [`Cluster`] from
//! [`Transport::cluster`](crate::Transport::cluster). The others return
//! `None`: the hub is then the only instance, and the cluster-wide
//! operations of [`EmbeddedHub`] are its local ones.

use std::fmt;
use std::sync::{Arc, Weak};

use crate::hub::Inner;
use crate::transport::TransportFuture;
use crate::{EmbeddedHub, SubscriptionInfo};

/// What a transport shared by several hub instances does for them: it
/// keeps each instance's subscriptions where the others can list them,
/// and carries commands from one instance to the others.
///
/// An instance is one transport object (in practice, one process); the
/// hubs it serves are its [members](Member), and its presence is the union
/// of their subscribers. Methods are called from any task, never under a
/// lock of a hub.
pub trait Cluster: Send + Sync + fmt::Debug {
    /// This instance's id, unique among the instances sharing the storage.
    fn instance(&self) -> &str;

    /// Adds a hub to this instance; called by each hub the transport
    /// serves, once, as it starts. The member goes away with its hub.
    fn join(&self, member: Member);

    /// A subscriber of a member connected or disconnected. Called on the
    /// subscribe path (never on the publish path), holding no lock of the
    /// hub: queue the change and return at once, so that changes are
    /// stored in the order of the calls. The returned future resolves once
    /// the change is visible to the other instances (a hub awaits it
    /// before it publishes the matching subscription event); dropping it
    /// does not cancel the change.
    fn presence_changed(&self, change: PresenceChange) -> TransportFuture<'static, ()>;

    /// The subscriptions of every instance: those of this instance's
    /// members first (read from memory), then the others' as last stored,
    /// each with its [`SubscriptionInfo::instance`]; bounded by the
    /// implementation (see [`ClusterSubscriptions::truncated`]).
    fn subscriptions(&self) -> TransportFuture<'_, ClusterSubscriptions>;

    /// Applies `command` to this instance's members, then sends it to the
    /// other instances, which apply it to theirs; resolves to how many
    /// subscribers this instance's members closed once it was sent. When
    /// it fails, the local subscribers were closed all the same.
    fn broadcast(&self, command: ClusterCommand) -> TransportFuture<'_, usize>;
}

/// A subscriber coming or going, as a hub reports it to its [`Cluster`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum PresenceChange {
    /// A subscriber connected: its subscriptions, one per selector, in
    /// the order of its selectors (never empty).
    Subscribed(Vec<SubscriptionInfo>),
    /// A subscriber disconnected (or was closed).
    Unsubscribed {
        /// Its id (`urn:uuid:...`).
        subscriber: String,
        /// How many selectors it had (as many subscriptions).
        selectors: usize,
    },
}

/// A command that travels to every instance of a cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClusterCommand {
    /// Close the subscribers of `subject` whose selectors pick `topic`
    /// (see [`EmbeddedHub::permission_changed`]).
    PermissionChanged {
        /// The `sub` claim of the subscribers' tokens.
        subject: String,
        /// The topic whose permission changed.
        topic: String,
    },
    /// Close the subscriber with this id.
    CloseSubscriber {
        /// The subscriber's id (`urn:uuid:...`).
        subscriber: String,
    },
}

/// The subscriptions of every instance of a cluster, as
/// [`EmbeddedHub::cluster_subscriptions`] lists them.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct ClusterSubscriptions {
    /// The subscriptions listed: this instance's first.
    pub subscriptions: Vec<SubscriptionInfo>,
    /// Whether some were left out: more were held than the listing's
    /// bound (for `RedisTransport`, `RedisOptions::with_presence_limit`).
    pub truncated: bool,
}

/// A hub of this instance, as its [`Cluster`] holds it: enough to list
/// its subscriptions and apply commands to them, without keeping the hub
/// alive.
#[derive(Clone)]
pub struct Member {
    hub: Weak<Inner>,
}

impl fmt::Debug for Member {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Member")
            .field("gone", &self.is_gone())
            .finish_non_exhaustive()
    }
}

impl Member {
    pub(crate) fn new(hub: &Arc<Inner>) -> Self {
        Self {
            hub: Arc::downgrade(hub),
        }
    }

    fn hub(&self) -> Option<EmbeddedHub> {
        self.hub.upgrade().map(|inner| EmbeddedHub { inner })
    }

    /// Whether its hub was dropped (the member can be forgotten).
    pub fn is_gone(&self) -> bool {
        self.hub.strong_count() == 0
    }

    /// Whether its hub has subscribers now.
    pub fn has_subscribers(&self) -> bool {
        self.hub
            .upgrade()
            .is_some_and(|inner| !inner.snapshot().is_empty())
    }

    /// Its hub's subscriptions now ([`EmbeddedHub::subscriptions`]);
    /// none once the hub is gone.
    pub fn subscriptions(&self) -> Vec<SubscriptionInfo> {
        self.hub()
            .map(|hub| hub.subscriptions())
            .unwrap_or_default()
    }

    /// Applies `command` to its hub's subscribers; returns how many were
    /// closed.
    pub fn apply(&self, command: &ClusterCommand) -> usize {
        let Some(hub) = self.hub() else {
            return 0;
        };
        match command {
            ClusterCommand::PermissionChanged { subject, topic } => {
                hub.permission_changed(subject, topic)
            }
            ClusterCommand::CloseSubscriber { subscriber } => {
                hub.close_subscribers(|info| info.subscriber == *subscriber)
            }
        }
    }
}
