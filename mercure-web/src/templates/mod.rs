//! Subscription URLs in templates: a minijinja function and an askama
//! friendly value, each behind its feature.

#[cfg(feature = "askama")]
mod askama;
#[cfg(feature = "minijinja")]
mod minijinja;

#[cfg(feature = "askama")]
pub use self::askama::HubUrls;
#[cfg(feature = "minijinja")]
pub use self::minijinja::add_minijinja_functions;
