//! The `mercure_hub_url` function for minijinja.

use minijinja::value::{Kwargs, Value, ValueKind};
use minijinja::{AutoEscape, Environment, Error, ErrorKind, State};

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
/// In HTML templates the URL comes out escaped for an attribute (`&` as
/// `&amp;`); inside `<script>`, use `|tojson` on it.
///
/// ```
/// use mercure_web::{HubInfo, HubRegistry};
/// use mercure_web::templates::add_minijinja_functions;
///
/// let hub = HubInfo::builder("https://example.com/.well-known/mercure").build().unwrap();
/// let mut env = minijinja::Environment::new();
/// add_minijinja_functions(&mut env, HubRegistry::new(hub));
/// env.add_template("page.html", r#"<div data-src="{{ mercure_hub_url(["/books/1", "/books/2"]) }}">"#)
///     .unwrap();
/// let html = env.get_template("page.html").unwrap().render(()).unwrap();
/// assert_eq!(
///     html,
///     r#"<div data-src="https://example.com/.well-known/mercure?topic=%2Fbooks%2F1&amp;topic=%2Fbooks%2F2">"#
/// );
/// ```
pub fn add_minijinja_functions(env: &mut Environment<'_>, registry: HubRegistry) {
    env.add_function(
        "mercure_hub_url",
        move |state: &State<'_, '_>,
              topics: Option<Value>,
              kwargs: Kwargs|
              -> Result<Value, Error> {
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
            Ok(match state.auto_escape() {
                // Escaped here, leaving the slashes alone.
                AutoEscape::Html => Value::from_safe_string(html_escape(url.as_str())),
                _ => Value::from(url.as_str()),
            })
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

fn html_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#x27;"),
            c => escaped.push(c),
        }
    }
    escaped
}

fn invalid(message: String) -> Error {
    Error::new(ErrorKind::InvalidOperation, message)
}
