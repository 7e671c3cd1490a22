//! `mercure subscriptions`.

use mercure_client::subscriptions::{ActiveSubscription, SubscriptionsApi};
use mercure_client::{Hub, ProtocolVersion, TopicSelector};
use serde_json::json;

use super::{CliError, key};
use crate::args::SubscriptionsArgs;

pub(crate) async fn run(args: SubscriptionsArgs) -> Result<(), CliError> {
    let version = ProtocolVersion::from(args.protocol);
    let hub = Hub::builder(&args.hub).protocol(version).build()?;
    let mut api = SubscriptionsApi::new(&hub);
    // The subscriptions API is authorized like subscription events: a token
    // allowed to subscribe to every topic reads them all.
    if let Some(provider) =
        key::subscriber_tokens(&args.auth_args, version, &[TopicSelector::all()])?
    {
        api = api.token_provider(provider);
    }
    let subscriptions = match (&args.topic, &args.subscriber) {
        (Some(topic), Some(subscriber)) => api
            .get(topic.as_str(), subscriber)
            .await?
            .into_iter()
            .collect(),
        (Some(topic), None) => api.for_selector(topic.as_str()).await?.subscriptions,
        (None, _) => api.all().await?.subscriptions,
    };
    for subscription in &subscriptions {
        println!("{}", describe(subscription));
    }
    Ok(())
}

fn describe(subscription: &ActiveSubscription) -> serde_json::Value {
    json!({
        "subscriber": subscription.subscriber,
        "selector": subscription.selector.expression(),
        "match_type": subscription.selector.match_type(),
        "active": subscription.active,
        "payload": subscription.payload,
    })
}
