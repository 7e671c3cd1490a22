//! The front page of a standalone hub: a small HTML page at the origin
//! root saying what is served there.

use axum::Router;
use axum::http::{HeaderName, header};
use axum::routing::get;
use bytes::Bytes;
use mercure_core::ProtocolVersion;

use crate::{DialectSupport, EmbeddedHub};

/// The headers of the page: HTML, nothing loaded or run beyond its own
/// inline style, never cached without asking.
const HEADERS: [(HeaderName, &str); 4] = [
    (header::CONTENT_TYPE, "text/html; charset=utf-8"),
    (
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; style-src 'unsafe-inline'",
    ),
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::CACHE_CONTROL, "no-cache"),
];

impl EmbeddedHub {
    /// A front page for the origin root: `GET /` (and `HEAD /`) answer a
    /// small, self-contained HTML page naming the hub and its version, the
    /// dialects it speaks, its URL, and how to subscribe and publish. The
    /// standalone `mercure-hub` binary serves it; browsers opening the
    /// origin (as the Mercure conformance suite does before each case) get
    /// a page instead of an empty 404. [`router`](Self::router) never
    /// includes it.
    ///
    /// `operations` tells whether [`operations_router`](Self::operations_router)
    /// is served beside it: the page then links to `/healthz`, and to
    /// `/metrics` when metrics are enabled.
    ///
    /// The page is rendered once, here. Everything it shows from the
    /// configuration is HTML-escaped, and it shows no key, token or
    /// password (the hub URL's user and password are left out). It is sent
    /// with `Content-Security-Policy: default-src 'none'; style-src
    /// 'unsafe-inline'`, `X-Content-Type-Options: nosniff` and
    /// `Cache-Control: no-cache`.
    ///
    /// A hub served at the origin root (hub URL path `/`) owns `/`: the
    /// router returned is then empty, and the hub is not shadowed.
    ///
    /// ```
    /// use mercure_hub::{EmbeddedHub, HubConfig};
    ///
    /// let hub = EmbeddedHub::new(HubConfig::builder().anonymous(true).build().unwrap());
    /// let app: axum::Router = hub
    ///     .router()
    ///     .merge(hub.operations_router())
    ///     .merge(hub.front_page_router(true));
    /// # let _ = app;
    /// ```
    pub fn front_page_router(&self, operations: bool) -> Router {
        if self.config().path().trim_end_matches('/').is_empty() {
            return Router::new();
        }
        let page = Bytes::from(render(self, operations));
        Router::new().route(
            "/",
            get(move || {
                let page = page.clone();
                async move { (HEADERS, page) }
            }),
        )
    }
}

/// The page's HTML.
fn render(hub: &EmbeddedHub, operations: bool) -> String {
    let config = hub.config();
    let mut url = config.url().clone();
    // Neither is expected in a hub URL; a password is a secret.
    let _ = url.set_password(None);
    let _ = url.set_username("");
    let url = escape(url.as_str());
    let support = config.support();
    let dialects = match support {
        DialectSupport::V0Only => "Mercure 0.x (draft-07)",
        DialectSupport::V1Only => "Mercure 1.0 (draft-08)",
        DialectSupport::Both => {
            "Mercure 0.x (draft-07) and 1.0 (draft-08), each request in the dialect it speaks"
        }
    };
    let mut subscribe = String::new();
    if support.accepts(ProtocolVersion::V0) {
        subscribe.push_str(&format!(
            "<li>0.x: <code>GET {url}?topic=TOPIC</code> (repeatable; URI templates too)</li>\n"
        ));
    }
    if support.accepts(ProtocolVersion::V1) {
        subscribe.push_str(&format!(
            "<li>1.0: <code>GET {url}?match=TOPIC</code> (or <code>match_urlpattern=</code>, \
             <code>match_exact=</code>; <code>QUERY</code> with a form body too)</li>\n"
        ));
    }
    let who = if config.anonymous {
        "Subscribers without a token receive public updates; a subscriber token \
         (<code>Authorization: Bearer</code> or the dialect&#39;s cookie) opens private ones."
    } else {
        "Subscribers need a token: <code>Authorization: Bearer</code> or the dialect&#39;s cookie."
    };
    let publish_keys = if config.publisher_keys.is_empty()
        && config.publisher_jwks.is_empty()
        && config.issuer_jwks.is_empty()
    {
        " No publisher key is configured: publishing over HTTP is refused."
    } else {
        ""
    };
    let subscriptions = if config.subscriptions {
        format!("<p>The subscriptions API answers at <code>{url}/subscriptions</code>.</p>\n")
    } else {
        String::new()
    };
    let mut links = String::new();
    if operations {
        links.push_str("<li><a href=\"/healthz\">/healthz</a>: liveness</li>\n");
        if config.metrics {
            links.push_str("<li><a href=\"/metrics\">/metrics</a>: Prometheus metrics</li>\n");
        }
    }
    let links = if links.is_empty() {
        String::new()
    } else {
        format!("<h2>Operations</h2>\n<ul>\n{links}</ul>\n")
    };
    let version = env!("CARGO_PKG_VERSION");
    format!(
        "<!DOCTYPE html>
<html lang=\"en\">
<head>
<meta charset=\"utf-8\">
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">
<meta name=\"color-scheme\" content=\"light dark\">
<title>Mercure hub</title>
<style>
body {{ font-family: system-ui, sans-serif; line-height: 1.5; max-width: 48rem; margin: 2rem auto; padding: 0 1rem; }}
code {{ font-family: ui-monospace, monospace; overflow-wrap: anywhere; }}
dt {{ font-weight: bold; }}
dd {{ margin: 0 0 0.5rem 1.5rem; }}
</style>
</head>
<body>
<main>
<h1>Mercure hub</h1>
<p>mercure-hub {version}: real-time updates pushed to subscribers over server-sent events.</p>
<dl>
<dt>Hub URL</dt>
<dd><code>{url}</code></dd>
<dt>Dialects</dt>
<dd>{dialects}</dd>
</dl>
<h2>Subscribe</h2>
<ul>
{subscribe}</ul>
<p>{who}</p>
<h2>Publish</h2>
<p><code>POST {url}</code> with a publisher token (<code>Authorization: Bearer</code>) and a form body: \
<code>topic</code> (repeatable), <code>data</code>, and optionally <code>private</code>, <code>id</code>, \
<code>type</code>, <code>retry</code>.{publish_keys}</p>
{subscriptions}{links}<p>The protocol: <a href=\"https://mercure.rocks/spec\">mercure.rocks/spec</a>.</p>
</main>
</body>
</html>
"
    )
}

/// `text` with the characters special to HTML (in text and in quoted
/// attribute values) replaced by references.
pub(super) fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            _ => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::HubConfig;

    #[test]
    fn escapes_html() {
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn leaves_out_credentials_of_the_url() {
        let hub = EmbeddedHub::new(
            HubConfig::builder()
                .url("https://user:hunter2@example.com/.well-known/mercure?a=1&b='2'")
                .build()
                .unwrap(),
        );
        let page = render(&hub, false);
        assert!(
            !page.contains("hunter2") && !page.contains("user@"),
            "{page}"
        );
        assert!(
            page.contains("https://example.com/.well-known/mercure?a=1&amp;b=%272%27"),
            "{page}"
        );
        assert!(!page.contains("/healthz"));
    }
}
