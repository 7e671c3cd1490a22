//! Subscription URLs from templates (features `minijinja` and `askama`).

use mercure_web::{HubInfo, HubRegistry, ProtocolVersion};

fn registry() -> HubRegistry {
    HubRegistry::new(
        HubInfo::builder("http://mercure:3000/.well-known/mercure")
            .public_url("https://example.com/.well-known/mercure")
            .build()
            .expect("hub"),
    )
    .with(
        "v1",
        HubInfo::builder("https://hub.example.com/hub")
            .protocol(ProtocolVersion::V1)
            .build()
            .expect("hub"),
    )
}

#[cfg(feature = "minijinja")]
mod minijinja_function {
    use super::registry;

    fn render(name: &str, source: &str) -> Result<String, minijinja::Error> {
        let mut env = minijinja::Environment::new();
        mercure_web::templates::add_minijinja_functions(&mut env, registry());
        env.add_template_owned(name.to_owned(), source.to_owned())?;
        env.get_template(name)?.render(())
    }

    #[test]
    fn cases() {
        let cases = [
            (
                "a.txt",
                r#"{{ mercure_hub_url("/books/1") }}"#,
                "https://example.com/.well-known/mercure?topic=%2Fbooks%2F1",
            ),
            (
                "b.txt",
                r#"{{ mercure_hub_url(["/a", "/b"], last_event_id="urn:1") }}"#,
                "https://example.com/.well-known/mercure?topic=%2Fa&topic=%2Fb&lastEventID=urn%3A1",
            ),
            (
                "c.html",
                r#"<a href="{{ mercure_hub_url(["/a", "/b"]) }}">"#,
                r#"<a href="https:&#x2f;&#x2f;example.com&#x2f;.well-known&#x2f;mercure?topic=%2Fa&amp;topic=%2Fb">"#,
            ),
            (
                // In a script, `tojson` gives a JavaScript string holding
                // the URL itself: every `&` survives.
                "c2.html",
                r#"<script>new EventSource({{ mercure_hub_url(["/a", "/b"], last_event_id="urn:1")|tojson }})</script>"#,
                r#"<script>new EventSource("https://example.com/.well-known/mercure?topic=%2Fa\u0026topic=%2Fb\u0026lastEventID=urn%3A1")</script>"#,
            ),
            (
                "d.txt",
                r#"{{ mercure_hub_url(["/books/1"], patterns=["/users/:id"], hub="v1", last_event_id="earliest") }}"#,
                "https://hub.example.com/hub?match=%2Fbooks%2F1&match_urlpattern=%2Fusers%2F%3Aid&last_event_id=earliest",
            ),
            (
                "e.txt",
                r#"{{ mercure_hub_url() }}"#,
                "https://example.com/.well-known/mercure",
            ),
            (
                "f.txt",
                r#"{{ mercure_hub_url(none, patterns="/x/{id}") }}"#,
                "https://example.com/.well-known/mercure?topic=%2Fx%2F%7Bid%7D",
            ),
        ];
        for (name, source, expected) in cases {
            assert_eq!(render(name, source).expect(source), expected, "{source}");
        }
    }

    #[test]
    fn errors_are_template_errors() {
        for (source, message) in [
            (
                r#"{{ mercure_hub_url(["/a"], hub="nope") }}"#,
                "no hub named \"nope\"",
            ),
            (r#"{{ mercure_hub_url([1, 2]) }}"#, "topics must be strings"),
            (
                r#"{{ mercure_hub_url(42) }}"#,
                "topics must be a string or a list of strings",
            ),
            (
                r#"{{ mercure_hub_url([""]) }}"#,
                "topic selector #0 is empty",
            ),
            (
                r#"{{ mercure_hub_url("/a", lastEventID="x") }}"#,
                "lastEventID",
            ),
        ] {
            let error = render("e.txt", source).expect_err(source);
            assert!(
                format!("{error:#}").contains(message),
                "{source}: {error:#}"
            );
        }
    }
}

#[cfg(feature = "askama")]
mod askama_value {
    use askama::Template;
    use mercure_web::templates::HubUrls;

    use super::registry;

    #[derive(Template)]
    #[template(
        source = r#"{{ mercure.hub_url(["/a", "/b"])? }} {{ mercure.hub_url_after(["/a"], "urn:1")? }} {{ mercure.hub_url_for("v1", ["/a"])? }}"#,
        ext = "txt"
    )]
    struct Page {
        mercure: HubUrls,
    }

    #[derive(Template)]
    #[template(
        source = r#"<a href="{{ mercure_hub_url(["/a", "/b"])? }}">"#,
        ext = "html"
    )]
    struct HtmlPage {
        mercure: HubUrls,
    }

    impl HtmlPage {
        fn mercure_hub_url(&self, topics: &[&str]) -> askama::Result<url::Url> {
            self.mercure.hub_url(topics)
        }
    }

    #[derive(Template)]
    #[template(source = r#"{{ mercure.hub_url_for("nope", ["/a"])? }}"#, ext = "txt")]
    struct Broken {
        mercure: HubUrls,
    }

    #[test]
    fn renders() {
        let page = Page {
            mercure: HubUrls::new(registry()),
        };
        assert_eq!(
            page.render().expect("render"),
            "https://example.com/.well-known/mercure?topic=%2Fa&topic=%2Fb \
             https://example.com/.well-known/mercure?topic=%2Fa&lastEventID=urn%3A1 \
             https://hub.example.com/hub?match=%2Fa"
        );
        let page = HtmlPage {
            mercure: HubUrls::new(registry()),
        };
        assert_eq!(
            page.render().expect("render"),
            r#"<a href="https://example.com/.well-known/mercure?topic=%2Fa&#38;topic=%2Fb">"#
        );
        let error = Broken {
            mercure: HubUrls::new(registry()),
        }
        .render()
        .expect_err("unknown hub");
        assert!(
            error.to_string().contains("no hub named \"nope\""),
            "{error}"
        );
    }
}
