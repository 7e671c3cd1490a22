//! The `mercure_hub_url` function for minijinja.

use minijinja::value::{Kwargs, Value, ValueKind};
use minijinja::{Environment, Error, ErrorKind};

use crate::{HubRegistry, HubUrl, TopicSelector};

/// Registers `mercure_hub_url` in `env`: the subscription URL of a hub of
/// `registry` (the default one unless `hub=` names another) for the given
/// topics, spelled in the hub's dialect.
///
/// * the first argument is a topic or a list of topics (exact selectors);
/// * `patterns=` adds pattern selectors (URI templates in 0.x, URL
///   patterns in 1.0);
/// * `last_event_id=` asks for the updates published after that id;
/// * `hub=` names the hub.
///
/// The function returns the URL as a plain string, so minijinja escapes it
/// for where it lands: in an HTML attribute `{{ mercure_hub_url(...) }}`
/// (entities the browser decodes), inside `<script>`
/// `{{ mercure_hub_url(...)|tojson }}` (a JavaScript string literal; this
/// crate enables minijinja's `json` feature for `tojson`). Both give the
/// browser the same URL, every topic and the last event id included.
///
/// ```
/// use mercure_web::{HubInfo, HubRegistry};
/// use mercure_web::templates::add_minijinja_functions;
///
/// let hub = HubInfo::builder("https://example.com/.well-known/mercure").build().unwrap();
/// let mut env = minijinja::Environment::new();
/// add_minijinja_functions(&mut env, HubRegistry::new(hub));
/// env.add_template(
///     "page.html",
///     r#"<div data-src="{{ mercure_hub_url(["/a", "/b"]) }}"></div><script>new EventSource({{ mercure_hub_url(["/a", "/b"], last_event_id="x")|tojson }})</script>"#,
/// )
/// .unwrap();
/// let html = env.get_template("page.html").unwrap().render(()).unwrap();
/// assert_eq!(
///     html,
///     concat!(
///         r#"<div data-src="https:&#x2f;&#x2f;example.com&#x2f;.well-known&#x2f;mercure?topic=%2Fa&amp;topic=%2Fb"></div>"#,
///         r#"<script>new EventSource("https://example.com/.well-known/mercure?topic=%2Fa\u0026topic=%2Fb\u0026lastEventID=x")</script>"#,
///     )
/// );
/// ```
pub fn add_minijinja_functions(env: &mut Environment<'_>, registry: HubRegistry) {
    env.add_function(
        "mercure_hub_url",
        move |topics: Option<Value>, kwargs: Kwargs| -> Result<Value, Error> {
            let hub_name: Option<String> = kwargs.get("hub")?;
            let last_event_id: Option<String> = kwargs.get("last_event_id")?;
            let patterns: Option<Value> = kwargs.get("patterns")?;
            kwargs.assert_all_used()?;
            let hub = match &hub_name {
                Some(name) => registry.get(name).map_err(|e| invalid(e.to_string()))?,
                None => registry.hub(),
            };
            let mut url = HubUrl::new(hub);
            if let Some(topics) = topics {
                url = url.topics(
                    strings(&topics, "topics")?
                        .into_iter()
                        .map(TopicSelector::exact),
                );
            }
            if let Some(patterns) = patterns {
                url = url.topics(
                    strings(&patterns, "patterns")?
                        .into_iter()
                        .map(TopicSelector::pattern),
                );
            }
            if let Some(id) = last_event_id {
                url = url.last_event_id(id);
            }
            let url = url.build().map_err(|e| invalid(e.to_string()))?;
            // A plain string: the template's auto-escaping (or `tojson`)
            // fits it to its context. A string marked safe here would be
            // escaped for HTML once and for all, which breaks it inside a
            // script.
            Ok(Value::from(url.as_str()))
        },
    );
}

/// A string or a sequence of strings.
fn strings(value: &Value, what: &str) -> Result<Vec<String>, Error> {
    match value.kind() {
        ValueKind::Undefined | ValueKind::None => Ok(Vec::new()),
        ValueKind::String => Ok(vec![value.to_string()]),
        ValueKind::Seq | ValueKind::Iterable => value
            .try_iter()?
            .map(|item| match item.as_str() {
                Some(topic) => Ok(topic.to_owned()),
                None => Err(invalid(format!(
                    "{what} must be strings, not {}",
                    item.kind()
                ))),
            })
            .collect(),
        kind => Err(invalid(format!(
            "{what} must be a string or a list of strings, not {kind}"
        ))),
    }
}

fn invalid(message: String) -> Error {
    Error::new(ErrorKind::InvalidOperation, message)
}
