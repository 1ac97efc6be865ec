//! What the server and the browser client must agree on, compiled into both.
//!
//! - [`ids`] and [`keys`]: the identities of the contract; parse, don't validate.
//! - [`text`]: message text rules.
//! - [`wire`]: every JSON body on the API, and [`intent`] turns request bodies into
//!   validated intents the way both the handler and the compose form check them.
//! - [`problem`]: the RFC 9457 error body and its stable machine codes.
//! - [`fingerprint`] and [`dedup`]: when a retry is the same intent and when it is not.
//! - [`device`]: the user agent to device-kind rule behind the device icon.
//! - [`retry`]: which failures a client retries, and how long it waits.
//! - [`micros`]: times as the store and the cursors write them.
//!
//! No web framework, database or async runtime is allowed in here.

pub mod dedup;
pub mod device;
pub mod fingerprint;
pub mod ids;
pub mod intent;
pub mod keys;
pub mod micros;
pub mod problem;
pub mod retry;
pub mod text;
pub mod wire;

pub use dedup::{DedupReason, IntentName, RetryVerdict};
pub use device::DeviceKind;
pub use fingerprint::Fingerprint;
pub use ids::{AgencyId, ConversationId, MessageId, UserId};
pub use intent::{FieldError, FieldErrors, NewChatMessage, NewConversation, NewMessage};
pub use keys::{IdempotencyKey, IdempotencyKeyError, LocalId, LocalIdError};
pub use problem::{Problem, ProblemCode};
pub use text::{MessageText, MessageTextError};

/// Header carrying the client's [`IdempotencyKey`].
pub const IDEMPOTENCY_KEY_HEADER: &str = "Idempotency-Key";
/// Header set to `true` on a response replayed from an earlier request.
pub const IDEMPOTENT_REPLAYED_HEADER: &str = "Idempotent-Replayed";
/// How long the server remembers an idempotency key unless configured otherwise.
pub const DEFAULT_KEY_RETENTION: std::time::Duration = std::time::Duration::from_secs(24 * 60 * 60);
/// Largest request body the API accepts, in bytes.
pub const MAX_REQUEST_BODY_BYTES: usize = 64 * 1024;
