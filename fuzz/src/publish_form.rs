//! `publish_form`: the hub's publish form parser and its validation of
//! the update, in both dialects (`mercure_hub::fuzzing::publish_form`,
//! which runs exactly what a `POST` body reaches once the token is
//! checked: `http/publish.rs`'s `parse_form`, then the hub's `validate`).
//!
//! Input: the body, as is. Two hubs read it, one speaking 0.x only and one
//! speaking 1.0 only (whose rules are stricter: no `*` topic, no `mercure`
//! type, no topic in the hub's reserved namespace). Checks:
//!
//! - no panic;
//! - what the 1.0 hub accepts, the 0.x hub accepts, as the same update;
//! - an accepted update's fields are what the WHATWG form parser
//!   (`url::form_urlencoded`) reads from the same body (the hub differs
//!   from it only by refusing what is not UTF-8 once decoded): every
//!   `topic` in order, the first `data`, the last `id` and `type`;
//! - `Update::to_form` of an accepted update (what the client sends) is
//!   read back as the same update by the same hub.

use std::sync::OnceLock;

use mercure_hub::{DialectSupport, EmbeddedHub, HubConfig};

use crate::shown;

struct Hubs {
    /// Keeps the hubs' runtime (their background tasks never run here).
    _runtime: tokio::runtime::Runtime,
    v0: EmbeddedHub,
    v1: EmbeddedHub,
}

fn hubs() -> &'static Hubs {
    static HUBS: OnceLock<Hubs> = OnceLock::new();
    HUBS.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let _entered = runtime.enter();
        let hub = |support| {
            EmbeddedHub::new(
                HubConfig::builder()
                    .url("https://example.com/.well-known/mercure")
                    .support(support)
                    .anonymous(true)
                    .build()
                    .expect("hub configuration"),
            )
        };
        Hubs {
            v0: hub(DialectSupport::V0Only),
            v1: hub(DialectSupport::V1Only),
            _runtime: runtime,
        }
    })
}

/// Runs one input.
pub fn run(body: &[u8]) {
    use mercure_hub::fuzzing::publish_form;
    let hubs = hubs();
    let v0 = publish_form(&hubs.v0, body);
    let v1 = publish_form(&hubs.v1, body);
    if let Ok(v1) = &v1 {
        assert_eq!(
            v0.as_ref(),
            Ok(v1),
            "the 1.0 hub accepts what the 0.x hub does not: \"{}\"",
            shown(body)
        );
    }
    let Ok(update) = v0 else { return };
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(body)
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect();
    let all = |name: &'static str| {
        pairs
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let topics: Vec<&str> = all("topic").collect();
    assert_eq!(
        update.topics(),
        topics.as_slice(),
        "topics: \"{}\"",
        shown(body)
    );
    assert_eq!(
        update.data(),
        all("data").next().unwrap_or(""),
        "data: \"{}\"",
        shown(body)
    );
    assert_eq!(
        update.id(),
        all("id").next_back(),
        "id: \"{}\"",
        shown(body)
    );
    assert_eq!(
        update.event_type(),
        all("type").next_back(),
        "type: \"{}\"",
        shown(body)
    );
    assert_eq!(
        update.is_private(),
        all("private").next().is_some(),
        "private: \"{}\"",
        shown(body)
    );
    for (hub, accepted) in [(&hubs.v0, true), (&hubs.v1, v1.is_ok())] {
        if accepted {
            let form = update.to_form();
            assert_eq!(
                publish_form(hub, form.as_bytes()).as_ref(),
                Ok(&update),
                "{update:?} sent as \"{form}\" reads otherwise (from \"{}\")",
                shown(body)
            );
        }
    }
}
