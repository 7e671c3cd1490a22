//! `mercure subscribe`.

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
            println!("[{id}] {}: {}", update.event_type(), update.data());
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
            lost.requested, lost.resumed_from
        ),
        (_, true) => println!("{}", json!({"kind": "other"})),
        (_, false) => {}
    }
}
