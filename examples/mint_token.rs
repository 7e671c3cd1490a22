//! Mints a publisher and a subscriber token for both protocol dialects.
//!
//! ```sh
//! cargo run -p mercure-examples --example mint-token
//! ```

use mercure_client::token::{Grants, SigningKey, TokenFactory};
use mercure_client::{ProtocolVersion, TopicSelector};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let secret = std::env::var("MERCURE_JWT_SECRET")
        .unwrap_or_else(|_| "!ChangeThisMercureHubJWTSecretKey!".to_owned());
    for version in ProtocolVersion::ALL {
        let factory = TokenFactory::builder(SigningKey::hs256(secret.as_bytes())?)
            .protocol(version)
            .issuer("https://app.example.com")
            .audience("http://127.0.0.1:3000/.well-known/mercure")
            .build()?;
        let publisher = factory.mint(&Grants::publish_all())?;
        let subscriber = factory.mint(
            &Grants::new()
                .subscribe([TopicSelector::exact("https://example.com/users/42")])
                .with_payload(serde_json::json!({"user": "https://example.com/users/42"})),
        )?;
        println!("protocol {version}");
        println!("  publisher:  {}", publisher.expose());
        println!("  subscriber: {}", subscriber.expose());
    }
    Ok(())
}
