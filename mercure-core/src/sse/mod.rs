//! Server-sent events (`text/event-stream`): the decoder a subscriber reads
//! with and the encoder a hub writes with.

mod decode;
mod encode;
mod received;

pub use decode::{DEFAULT_MAX_EVENT_SIZE, EventTooLarge, SseDecoder};
pub use encode::{EMPTY_COMMENT, encode_event};
pub use received::ReceivedUpdate;
