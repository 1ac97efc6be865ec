//! The use cases: starting a conversation, posting a message, reading them. Each returns
//! a typed outcome and knows no HTTP; the API handlers (`routes`) and the pages' data
//! (`page_data`) are adapters over it, side by side.

mod batch;
mod live;
mod post;
mod read;
mod start;
mod store;

pub use batch::ChatBatches;
pub use live::{Follower, LiveEvent, follow};
pub use post::post_message;
pub use read::{conversation, conversations, latest_messages, message_by_local_id, messages};
pub use start::start_conversation;
pub use store::{Outgoing, Stored, store_all, store_once};

use crate::error::ApiError;
use messaging_core::wire::CurrentUser;

/// Who sends, and from which device.
#[derive(Clone)]
pub struct Sender {
    pub user: CurrentUser,
    /// The request's `User-Agent`: it names the device when the body does not (the
    /// forms that work without JavaScript have no field for it).
    pub user_agent: Option<String>,
}

impl Sender {
    /// The device a message is sent from: the body's own `user_agent`, else the request's.
    fn device(&self, from_body: Option<String>) -> Option<String> {
        from_body.or_else(|| self.user_agent.clone())
    }
}

/// Runs an intent's writes to the end even if the client disconnects. axum drops a
/// handler's future when its connection closes; a write transaction dropped halfway
/// leaves its connection mid-transaction, and an intent cut off after its commit would
/// lose the answer its retry should replay.
async fn to_completion<T: Send + 'static>(
    work: impl Future<Output = Result<T, ApiError>> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::spawn(work)
        .await
        .map_err(|e| ApiError::Unexpected(anyhow::anyhow!("request task failed: {e}")))?
}
