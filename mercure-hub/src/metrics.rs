//! Counters of the hub's activity, read by the Prometheus endpoint.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The live counters.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) subscribers_connected: AtomicU64,
    pub(crate) subscribers_total: AtomicU64,
    pub(crate) subscribers_dropped: AtomicU64,
    pub(crate) updates_published: AtomicU64,
    pub(crate) updates_deduplicated: AtomicU64,
    pub(crate) updates_rejected: AtomicU64,
    pub(crate) publishes_rate_limited: AtomicU64,
    pub(crate) subscribes_rate_limited: AtomicU64,
}

impl Counters {
    pub(crate) fn snapshot(&self) -> Metrics {
        Metrics {
            subscribers_connected: self.subscribers_connected.load(Ordering::Relaxed),
            subscribers_total: self.subscribers_total.load(Ordering::Relaxed),
            subscribers_dropped: self.subscribers_dropped.load(Ordering::Relaxed),
            updates_published: self.updates_published.load(Ordering::Relaxed),
            updates_deduplicated: self.updates_deduplicated.load(Ordering::Relaxed),
            updates_rejected: self.updates_rejected.load(Ordering::Relaxed),
            publishes_rate_limited: self.publishes_rate_limited.load(Ordering::Relaxed),
            subscribes_rate_limited: self.subscribes_rate_limited.load(Ordering::Relaxed),
            rate_limit_keys: 0,
            instance: None,
        }
    }

    pub(crate) fn add(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// A snapshot of the hub's counters.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Metrics {
    /// Subscribers connected now.
    pub subscribers_connected: u64,
    /// Subscribers ever connected.
    pub subscribers_total: u64,
    /// Subscribers disconnected because their queue overflowed.
    pub subscribers_dropped: u64,
    /// Updates published (and dispatched).
    pub updates_published: u64,
    /// Publishes answered from history because their id was already published.
    pub updates_deduplicated: u64,
    /// Publish requests refused (invalid, unauthorized, rate limited).
    pub updates_rejected: u64,
    /// Publish requests refused by the client's rate limit (429).
    pub publishes_rate_limited: u64,
    /// Subscribe and subscriptions API requests refused by the client's
    /// rate limit (429).
    pub subscribes_rate_limited: u64,
    /// Clients whose rate limit state is held now (both limits together).
    pub rate_limit_keys: u64,
    /// The id of this hub instance in a cluster (see
    /// [`Cluster::instance`](crate::Cluster::instance)); `None` for a hub
    /// that is the only one.
    pub instance: Option<Arc<str>>,
}

impl Metrics {
    /// The counters in the Prometheus text exposition format (version
    /// 0.0.4), and in a cluster the instance they count, as the gauge
    /// `mercure_instance_info{instance="..."} 1`.
    ///
    /// ```
    /// let text = mercure_hub::Metrics::default().to_prometheus();
    /// assert!(text.contains("mercure_subscribers_connected 0\n"));
    /// ```
    pub fn to_prometheus(&self) -> String {
        let rows: [(&str, &str, &str, u64); 9] = [
            (
                "mercure_subscribers_connected",
                "gauge",
                "Subscribers connected now.",
                self.subscribers_connected,
            ),
            (
                "mercure_subscribers_total",
                "counter",
                "Subscribers ever connected.",
                self.subscribers_total,
            ),
            (
                "mercure_subscribers_dropped_total",
                "counter",
                "Subscribers disconnected because they fell too far behind.",
                self.subscribers_dropped,
            ),
            (
                "mercure_updates_total",
                "counter",
                "Updates published.",
                self.updates_published,
            ),
            (
                "mercure_updates_deduplicated_total",
                "counter",
                "Publishes of an id already in history, not delivered again.",
                self.updates_deduplicated,
            ),
            (
                "mercure_updates_rejected_total",
                "counter",
                "Publish requests refused.",
                self.updates_rejected,
            ),
            (
                "mercure_publish_rate_limited_total",
                "counter",
                "Publish requests refused by the client's rate limit.",
                self.publishes_rate_limited,
            ),
            (
                "mercure_subscribe_rate_limited_total",
                "counter",
                "Subscribe and subscriptions API requests refused by the client's rate limit.",
                self.subscribes_rate_limited,
            ),
            (
                "mercure_rate_limit_keys",
                "gauge",
                "Clients whose rate limit state is held.",
                self.rate_limit_keys,
            ),
        ];
        let mut text = String::with_capacity(1024);
        for (name, kind, help, value) in rows {
            // Writing to a String cannot fail.
            let _ = write!(
                text,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n"
            );
        }
        if let Some(instance) = &self.instance {
            let mut label = String::with_capacity(instance.len());
            for c in instance.chars() {
                match c {
                    '\\' => label.push_str("\\\\"),
                    '"' => label.push_str("\\\""),
                    '\n' => label.push_str("\\n"),
                    c => label.push(c),
                }
            }
            let _ = write!(
                text,
                "# HELP mercure_instance_info The hub instance these metrics are of.\n\
                 # TYPE mercure_instance_info gauge\n\
                 mercure_instance_info{{instance=\"{label}\"}} 1\n"
            );
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_instance_is_a_label_escaped() {
        assert!(!Metrics::default().to_prometheus().contains("instance"));
        let metrics = Metrics {
            instance: Some(Arc::from("pod-1 \"a\\b\"\n")),
            ..Metrics::default()
        };
        let text = metrics.to_prometheus();
        assert!(
            text.ends_with(
                "# TYPE mercure_instance_info gauge\n\
                 mercure_instance_info{instance=\"pod-1 \\\"a\\\\b\\\"\\n\"} 1\n"
            ),
            "{text}"
        );
    }
}
