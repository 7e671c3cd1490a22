//! `mercure discover`.

use mercure_client::discovery::detect_protocol;
use serde_json::json;

use super::CliError;
use crate::args::DiscoverArgs;

pub(crate) async fn run(args: DiscoverArgs) -> Result<(), CliError> {
    let client = reqwest::Client::new();
    let discovery = mercure_client::discovery::discover(&client, &args.url).await?;
    if discovery.hubs.is_empty() {
        return Err(format!(
            "{} advertises no Mercure hub (no Link rel=\"mercure\")",
            args.url
        )
        .into());
    }
    let mut hubs = Vec::new();
    for hub in &discovery.hubs {
        let protocol = detect_protocol(&client, &hub.url)
            .await
            .map(|version| version.to_string())
            .unwrap_or_else(|error| format!("unknown ({error})"));
        hubs.push(json!({
            "url": hub.url.as_str(),
            "protocol": protocol,
            "last_event_id": hub.last_event_id.as_ref().map(|id| id.as_str()),
            "content_type": hub.content_type,
            "key_set": hub.key_set,
            "type": hub.link_type,
        }));
    }
    let self_url = discovery.self_url.as_ref().map(|url| url.as_str());
    if args.json {
        println!("{}", json!({ "hubs": hubs, "self": self_url }));
        return Ok(());
    }
    for hub in &hubs {
        println!(
            "hub: {} (protocol {})",
            hub["url"].as_str().unwrap_or_default(),
            hub["protocol"].as_str().unwrap_or_default()
        );
        for field in ["last_event_id", "content_type", "key_set", "type"] {
            if let Some(value) = hub[field].as_str() {
                println!("  {field}: {value}");
            }
        }
    }
    if let Some(self_url) = self_url {
        println!("self: {self_url}");
    }
    Ok(())
}
