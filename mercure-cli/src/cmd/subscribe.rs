//! `mercure subscribe`.

use std::borrow::Cow;
use std::time::Duration;

use futures_util::StreamExt;
use mercure_client::subscriber::AuthorizationMethod;
use mercure_client::{ProtocolVersion, Subscriber, SubscriberEvent, TopicSelector};
use serde_json::json;

use super::{CliError, key};
use crate::args::{AuthMethod, SubscribeArgs};

pub(crate) async fn run(args: SubscribeArgs) -> Result<(), CliError> {
    let version = ProtocolVersion::from(args.protocol);
    let selectors: Vec<TopicSelector> = args
        .topic
        .iter()
        .map(TopicSelector::from)
        .chain(args.pattern.iter().map(TopicSelector::pattern))
        .collect();
    if selectors.is_empty() {
        return Err("nothing to subscribe to: pass --topic or --pattern".into());
    }
    let mut builder = Subscriber::builder(&args.hub)
        .protocol(version)
        .topics(selectors.iter().cloned())
        .authorization_method(match args.auth {
            AuthMethod::Header => AuthorizationMethod::Header,
            AuthMethod::Cookie => AuthorizationMethod::Cookie,
            AuthMethod::Query => AuthorizationMethod::QueryParameter,
        });
    builder = match key::subscriber_tokens(&args.auth_args, version, &selectors)? {
        Some(provider) => builder.shared_token_provider(provider),
        None => builder.anonymous(),
    };
    if let Some(id) = &args.last_event_id {
        builder = builder.last_event_id(id.as_str());
    }
    builder = builder.read_timeout(match args.read_timeout {
        0 => None,
        seconds => Some(Duration::from_secs(seconds)),
    });
    let mut subscriber = builder.build()?;
    let mut received = 0;
    while let Some(event) = subscriber.next().await {
        let event = event?;
        print_event(&event, args.json);
        if event.as_update().is_some() {
            received += 1;
            if args.count.is_some_and(|count| received >= count) {
                break;
            }
        }
    }
    Ok(())
}

fn print_event(event: &SubscriberEvent, as_json: bool) {
    match (event, as_json) {
        (SubscriberEvent::Update(update), true) => println!(
            "{}",
            json!({
                "kind": "update",
                "id": update.id().map(|id| id.as_str()),
                "type": update.event_type(),
                "data": update.data(),
                "retry": update.retry().map(|retry| retry.as_millis()),
            })
        ),
        (SubscriberEvent::Update(update), false) => {
            let id = update.id().map_or("-", |id| id.as_str());
            println!(
                "[{}] {}: {}",
                terminal_safe(id),
                terminal_safe(update.event_type()),
                terminal_safe(update.data())
            );
        }
        (SubscriberEvent::Connected(connected), true) => println!(
            "{}",
            json!({
                "kind": "connected",
                "attempt": connected.attempt,
                "requested": connected.requested.as_ref().map(|id| id.as_str()),
                "resumed_from": connected.resumed_from.as_ref().map(|id| id.as_str()),
            })
        ),
        (SubscriberEvent::Connected(_), false) => eprintln!("connected"),
        (SubscriberEvent::Reconnecting(reconnecting), as_json) => {
            // The reason with its whole cause chain.
            let reason = reconnecting.reason.to_string();
            if as_json {
                println!(
                    "{}",
                    json!({
                        "kind": "reconnecting",
                        "delay_ms": reconnecting.delay.as_millis(),
                        "reason": reason,
                    })
                );
            } else {
                eprintln!("reconnecting in {:?}: {reason}", reconnecting.delay);
            }
        }
        (SubscriberEvent::EventsLost(lost), true) => println!(
            "{}",
            json!({
                "kind": "events_lost",
                "requested": lost.requested.as_str(),
                "resumed_from": lost.resumed_from.as_str(),
            })
        ),
        (SubscriberEvent::EventsLost(lost), false) => eprintln!(
            "warning: the hub could not resume after {} (resumed from {}): updates may be missing",
            terminal_safe(lost.requested.as_str()),
            terminal_safe(lost.resumed_from.as_str())
        ),
        (_, true) => println!("{}", json!({"kind": "other"})),
        (_, false) => {}
    }
}

/// `text` with its control characters (escape sequences that would drive
/// the terminal) shown escaped; line breaks and tabs are kept. What a hub
/// sends is printed, never obeyed.
fn terminal_safe(text: &str) -> Cow<'_, str> {
    let unsafe_char = |c: char| c.is_control() && !matches!(c, '\n' | '\t');
    if !text.chars().any(unsafe_char) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .map(|c| {
                if unsafe_char(c) {
                    c.escape_default().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::terminal_safe;

    #[test]
    fn escapes_reach_the_terminal_as_text() {
        assert_eq!(terminal_safe("plain\nline\tx"), "plain\nline\tx");
        assert_eq!(terminal_safe("\u{1b}[2J\r\u{7}"), "\\u{1b}[2J\\r\\u{7}");
    }
}
