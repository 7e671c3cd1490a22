//! `mercure discover`.

use std::time::Duration;

use mercure_client::discovery::Discoverer;
use serde_json::json;

use super::CliError;
use crate::args::DiscoverArgs;

pub(crate) async fn run(args: DiscoverArgs) -> Result<(), CliError> {
    // Discovery sends no credentials: redirects may be followed, but no
    // `Referer` is sent.
    let client = reqwest::Client::builder()
        .referer(false)
        .redirect(reqwest::redirect::Policy::limited(5))
        .build()?;
    let discoverer = Discoverer::new(client).deadline(Duration::from_secs(args.deadline));
    let (discovery, protocols) = discoverer.discover_hubs(&args.url).await?;
    if discovery.hubs.is_empty() {
        return Err(format!(
            "{} advertises no Mercure hub (no Link rel=\"mercure\")",
            args.url
        )
        .into());
    }
    let mut hubs = Vec::new();
    for (hub, protocol) in discovery.hubs.iter().zip(protocols) {
        let protocol = protocol
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
