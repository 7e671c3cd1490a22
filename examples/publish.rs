//! Publishes one update to a hub.
//!
//! ```sh
//! MERCURE_URL=http://127.0.0.1:3000/.well-known/mercure \
//! MERCURE_JWT_SECRET='!ChangeThisMercureHubJWTSecretKey!' \
//!   cargo run -p mercure-examples --example publish -- https://example.com/books/1 '{"status":"sold"}'
//! ```

use mercure_client::token::{Grants, SigningKey, TokenFactory};
use mercure_client::{Hub, Update};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("MERCURE_URL")
        .unwrap_or_else(|_| "http://127.0.0.1:3000/.well-known/mercure".to_owned());
    let secret = std::env::var("MERCURE_JWT_SECRET")
        .unwrap_or_else(|_| "!ChangeThisMercureHubJWTSecretKey!".to_owned());
    let mut args = std::env::args().skip(1);
    let topic = args
        .next()
        .unwrap_or_else(|| "https://example.com/books/1".to_owned());
    let data = args.next().unwrap_or_else(|| "{}".to_owned());

    let factory = TokenFactory::builder(SigningKey::hs256(secret.as_bytes())?).build()?;
    let hub = Hub::builder(url)
        .token_factory(factory, Grants::publish_all())
        .build()?;
    match hub.publish(&Update::new(topic, data)?).await {
        Ok(id) => println!("published {id}"),
        Err(error) => {
            eprintln!("publish failed: {error}");
            std::process::exit(1);
        }
    }
    Ok(())
}
