//! The use cases: starting a conversation, posting a message, reading them. A write
//! returns its answer as the API sends it (`idempotency::Answer`: a status and the JSON
//! that every retry gets again, byte for byte, since a key's record is its response); a
//! read returns typed values. None knows axum or the pages: the API handlers (`routes`)
//! and the pages' data (`page_data`) are adapters over them, side by side.

mod batch;
mod live;
mod post;
mod read;
mod start;
mod store;

use batch::ChatBatches;
pub use live::{Follower, LiveEvent, follow};
pub use post::post_message;
pub use read::{
    conversation, conversations, ensure_participant, latest_messages, message_by_local_id, messages,
};
pub use start::start_conversation;
pub use store::{Outgoing, Stored, store_all, store_once};

use crate::cache::Caches;
use crate::db::Db;
use crate::error::ApiError;
use crate::events::Hub;
use crate::idempotency::Idempotency;
use messaging_core::wire::CurrentUser;
use std::sync::Arc;
use tokio::sync::Semaphore;

/// What the use cases work with: the store, its caches, the live events, the keys, and
/// the work queued or running. Clones share it all.
#[derive(Clone)]
pub struct Messaging(Arc<Parts>);

pub struct Parts {
    pub db: Db,
    pub caches: Caches,
    pub hub: Hub,
    pub idempotency: Idempotency,
    /// New chat messages waiting for the next batch, which writes them all, whatever
    /// their conversations.
    chat_batches: ChatBatches,
    /// Intents running to the end whether or not their clients wait (bounded).
    intents_in_flight: IntentsInFlight,
}

impl Messaging {
    pub fn new(db: Db, caches: Caches, hub: Hub, idempotency: Idempotency) -> Self {
        Self(Arc::new(Parts {
            db,
            caches,
            hub,
            idempotency,
            chat_batches: ChatBatches::default(),
            intents_in_flight: IntentsInFlight::default(),
        }))
    }
}

impl std::ops::Deref for Messaging {
    type Target = Parts;

    fn deref(&self) -> &Parts {
        &self.0
    }
}

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

/// The intents [`to_completion`] runs at once in a process, at most: each waits for the
/// SQLite writer (or a PostgreSQL connection) whether or not its client is still there,
/// so clients that send and leave could otherwise pile up work without end. Past it, 503
/// with Retry-After (the retry, under the same key, is safe).
pub const MAX_INTENTS_IN_FLIGHT: usize = 1_024;

/// Places for the intents run to completion.
struct IntentsInFlight(Arc<Semaphore>);

impl Default for IntentsInFlight {
    fn default() -> Self {
        Self::with_places(MAX_INTENTS_IN_FLIGHT)
    }
}

impl IntentsInFlight {
    fn with_places(places: usize) -> Self {
        Self(Arc::new(Semaphore::new(places)))
    }
}

/// Runs an intent's writes to the end even if the client disconnects. axum drops a
/// handler's future when its connection closes; a write transaction dropped halfway
/// leaves its connection mid-transaction, and an intent cut off after its commit would
/// lose the answer its retry should replay.
async fn to_completion<T: Send + 'static>(
    in_flight: &IntentsInFlight,
    work: impl Future<Output = Result<T, ApiError>> + Send + 'static,
) -> Result<T, ApiError> {
    let place = Arc::clone(&in_flight.0).try_acquire_owned().map_err(|_| {
        ApiError::busy("Too many writes in progress; retry shortly with the same key or local_id.")
    })?;
    tokio::spawn(async move {
        let _place = place;
        work.await
    })
    .await
    .map_err(|e| ApiError::Unexpected(anyhow::anyhow!("request task failed: {e}")))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn intents_past_the_bound_are_refused_and_a_place_comes_back_when_one_ends() {
        let in_flight = IntentsInFlight::with_places(1);
        let (release, released) = tokio::sync::oneshot::channel::<()>();
        // A client that sent and left: its intent runs on, holding its place.
        let abandoned = tokio::spawn({
            let places = Arc::clone(&in_flight.0);
            async move {
                let in_flight = IntentsInFlight(places);
                to_completion(&in_flight, async move {
                    let _ = released.await;
                    Ok(())
                })
                .await
            }
        });
        while in_flight.0.available_permits() > 0 {
            tokio::task::yield_now().await;
        }
        abandoned.abort();
        let refused = to_completion(&in_flight, async { Ok(()) }).await;
        assert!(
            matches!(&refused, Err(ApiError::Problem(problem)) if problem.status == 503),
            "{refused:?}"
        );
        let _ = release.send(());
        tokio::time::timeout(std::time::Duration::from_secs(5), async {
            while to_completion(&in_flight, async { Ok(()) }).await.is_err() {
                tokio::task::yield_now().await;
            }
        })
        .await
        .expect("the place comes back");
    }
}
