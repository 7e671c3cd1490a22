//! A hub URL value for askama templates.

use url::Url;

use crate::{HubRegistry, HubUrl, TopicSelector};

/// Subscription URLs for askama templates: put it in the template struct
/// and call it from the template, `?` propagating a bad selector as an
/// askama error.
///
/// ```
/// use askama::Template;
/// use mercure_web::{HubInfo, HubRegistry};
/// use mercure_web::templates::HubUrls;
///
/// #[derive(Template)]
/// #[template(
///     source = r#"<div data-src="{{ mercure.hub_url(["/books/1", "/books/2"])? }}"></div>"#,
///     ext = "html"
/// )]
/// struct Page {
///     mercure: HubUrls,
/// }
///
/// let hub = HubInfo::builder("https://example.com/.well-known/mercure").build().unwrap();
/// let page = Page { mercure: HubUrls::new(HubRegistry::new(hub)) };
/// assert_eq!(
///     page.render().unwrap(),
///     r#"<div data-src="https://example.com/.well-known/mercure?topic=%2Fbooks%2F1&#38;topic=%2Fbooks%2F2"></div>"#
/// );
/// ```
///
/// A template method named `mercure_hub_url` forwarding to it lets the
/// template write `{{ mercure_hub_url(["/books/1"])? }}`.
#[derive(Debug, Clone)]
pub struct HubUrls {
    registry: HubRegistry,
}

impl HubUrls {
    /// URLs for the hubs of `registry`.
    pub fn new(registry: HubRegistry) -> Self {
        Self { registry }
    }

    /// The default hub's subscription URL for `topics`.
    ///
    /// # Errors
    /// An empty topic.
    pub fn hub_url<I, T>(&self, topics: I) -> askama::Result<Url>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        HubUrl::new(self.registry.hub())
            .topics(exact(topics))
            .build()
            .map_err(askama::Error::custom)
    }

    /// The default hub's subscription URL for `topics`, resuming after the
    /// event `last_event_id`.
    ///
    /// # Errors
    /// An empty topic.
    pub fn hub_url_after<I, T>(&self, topics: I, last_event_id: &str) -> askama::Result<Url>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        HubUrl::new(self.registry.hub())
            .topics(exact(topics))
            .last_event_id(last_event_id)
            .build()
            .map_err(askama::Error::custom)
    }

    /// The subscription URL of the hub named `hub` for `topics`.
    ///
    /// # Errors
    /// An unknown hub, an empty topic.
    pub fn hub_url_for<I, T>(&self, hub: &str, topics: I) -> askama::Result<Url>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        let hub = self.registry.get(hub).map_err(askama::Error::custom)?;
        HubUrl::new(hub)
            .topics(exact(topics))
            .build()
            .map_err(askama::Error::custom)
    }
}

/// Template topics are exact selectors (`topic=` in 0.x, `match=` in 1.0).
fn exact<I, T>(topics: I) -> impl Iterator<Item = TopicSelector>
where
    I: IntoIterator<Item = T>,
    T: AsRef<str>,
{
    topics
        .into_iter()
        .map(|topic| TopicSelector::exact(topic.as_ref()))
}
