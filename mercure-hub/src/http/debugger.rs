//! The debugger page of a standalone hub (`--ui`): subscribe to topics and
//! watch their events arrive, publish an update with a pasted token.
//!
//! Safe to leave on: the page and its script are static (the hub's path
//! and dialects are all they hold from the configuration, escaped), they
//! carry no key or token, and everything they do goes through the hub's
//! own endpoints, which check the token the user gives as they check any
//! client's. The script writes what it receives as text, never as HTML.

use axum::Router;
use axum::http::{HeaderName, header};
use axum::routing::get;
use bytes::Bytes;
use mercure_core::ProtocolVersion;

use super::front::escape;
use crate::EmbeddedHub;

/// The script, served beside the page (the policy allows no inline
/// script).
const SCRIPT: &str = include_str!("debugger.js");

/// The page runs its own script only and talks to its own origin only.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; \
                      connect-src 'self'; form-action 'none'; frame-ancestors 'none'; \
                      base-uri 'none'";

const PAGE_HEADERS: [(HeaderName, &str); 5] = [
    (header::CONTENT_TYPE, "text/html; charset=utf-8"),
    (header::CONTENT_SECURITY_POLICY, POLICY),
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::CACHE_CONTROL, "no-cache"),
    (header::REFERRER_POLICY, "no-referrer"),
];

const SCRIPT_HEADERS: [(HeaderName, &str); 3] = [
    (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::CACHE_CONTROL, "no-cache"),
];

impl EmbeddedHub {
    /// The debugger page at `{hub path}/ui/` and its script at
    /// `{hub path}/ui/debugger.js`: a form that subscribes to topics with
    /// an `EventSource` and lists the events received, and one that
    /// publishes an update with a pasted publisher token. The standalone
    /// binary serves it with `--ui`; [`router`](Self::router) never
    /// includes it.
    ///
    /// The page holds no secret, and can do nothing a token does not
    /// allow: subscriptions carry the browser's cookies (and, on a 0.x
    /// hub, a pasted token as the `authorization` query parameter);
    /// publishing sends the pasted token as `Authorization: Bearer`. It is
    /// sent with a `Content-Security-Policy` that runs only its own script
    /// and connects only to its own origin.
    ///
    /// ```
    /// use mercure_hub::{EmbeddedHub, HubConfig};
    ///
    /// let hub = EmbeddedHub::new(HubConfig::builder().anonymous(true).build().unwrap());
    /// let app: axum::Router = hub.router().merge(hub.debugger_router());
    /// # let _ = app;
    /// ```
    pub fn debugger_router(&self) -> Router {
        let base = self.config().path().trim_end_matches('/').to_owned();
        let page = Bytes::from(render(self, &base));
        Router::new()
            .route(
                &format!("{base}/ui/"),
                get(move || {
                    let page = page.clone();
                    async move { (PAGE_HEADERS, page) }
                }),
            )
            .route(
                &format!("{base}/ui/debugger.js"),
                get(|| async { (SCRIPT_HEADERS, SCRIPT) }),
            )
    }
}

/// The page's HTML: the hub's path and dialects as data attributes.
fn render(hub: &EmbeddedHub, base: &str) -> String {
    let support = hub.config().support();
    let mut dialects = Vec::new();
    if support.accepts(ProtocolVersion::V1) {
        dialects.push("1.0");
    }
    if support.accepts(ProtocolVersion::V0) {
        dialects.push("0.x");
    }
    let options: String = dialects
        .iter()
        .map(|d| format!("<option value=\"{d}\">{d}</option>"))
        .collect();
    let hub_path = escape(if base.is_empty() { "/" } else { base });
    let script = escape(&format!("{base}/ui/debugger.js"));
    format!(
        "<!DOCTYPE html>
<html lang=\"en\">
<head>
<meta charset=\"utf-8\">
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">
<meta name=\"color-scheme\" content=\"light dark\">
<title>Mercure hub debugger</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 60rem; margin: 1rem auto; padding: 0 1rem; }}
fieldset {{ margin-bottom: 1rem; }}
label {{ display: block; margin: 0.4rem 0; }}
textarea, input[type=text] {{ width: 100%; box-sizing: border-box; font-family: ui-monospace, monospace; }}
#events li, #published {{ font-family: ui-monospace, monospace; white-space: pre-wrap; overflow-wrap: anywhere; }}
</style>
</head>
<body data-hub=\"{hub_path}\">
<main>
<h1>Mercure hub debugger</h1>
<p>Everything here goes through the hub at <code>{hub_path}</code> as any client&#39;s requests do: \
a token you paste is used for that request only and is not stored.</p>
<fieldset>
<legend>Subscribe</legend>
<label>Dialect <select id=\"dialect\">{options}</select></label>
<label>Topics or selectors, one per line <textarea id=\"topics\" rows=\"3\">*</textarea></label>
<label>Last event id (optional) <input type=\"text\" id=\"last-event-id\"></label>
<label>Event types to show besides <code>message</code>, comma-separated (the <code>type</code> of typed updates) \
<input type=\"text\" id=\"types\"></label>
<label>Subscriber token (0.x only, sent as the <code>authorization</code> query parameter; \
otherwise the browser&#39;s cookie is used) <input type=\"text\" id=\"subscriber-token\" autocomplete=\"off\"></label>
<button id=\"subscribe\" type=\"button\">Subscribe</button>
<button id=\"unsubscribe\" type=\"button\" disabled>Stop</button>
<p id=\"state\">Not subscribed.</p>
<ol id=\"events\" reversed></ol>
</fieldset>
<fieldset>
<legend>Publish</legend>
<label>Topics, one per line <textarea id=\"publish-topics\" rows=\"2\"></textarea></label>
<label>Data <textarea id=\"data\" rows=\"3\"></textarea></label>
<label>Id (optional) <input type=\"text\" id=\"id\"></label>
<label>Type (optional) <input type=\"text\" id=\"type\"></label>
<label><input type=\"checkbox\" id=\"private\"> Private</label>
<label>Publisher token <input type=\"text\" id=\"publisher-token\" autocomplete=\"off\"></label>
<button id=\"publish\" type=\"button\">Publish</button>
<p id=\"published\"></p>
</fieldset>
</main>
<script src=\"{script}\"></script>
</body>
</html>
"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DialectSupport, HubConfig};

    #[test]
    fn the_page_offers_the_dialects_served_and_holds_no_secret() {
        let hub = EmbeddedHub::new(
            HubConfig::builder()
                .url("https://user:hunter2@example.com/.well-known/mercure")
                .support(DialectSupport::V0Only)
                .build()
                .unwrap(),
        );
        let page = render(&hub, "/.well-known/mercure");
        assert!(
            page.contains("<option value=\"0.x\">0.x</option>"),
            "{page}"
        );
        assert!(!page.contains("1.0</option>"), "{page}");
        assert!(
            !page.contains("hunter2") && !page.contains("user"),
            "{page}"
        );
        assert!(
            page.contains("<script src=\"/.well-known/mercure/ui/debugger.js\"></script>"),
            "{page}"
        );
        assert!(!page.contains("<script>"), "no inline script: {page}");
    }

    #[test]
    fn the_script_writes_text_not_html() {
        assert!(!SCRIPT.contains("innerHTML") && !SCRIPT.contains("eval("));
        assert!(SCRIPT.contains("textContent"));
    }
}
