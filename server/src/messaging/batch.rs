//! New chat messages, written a conversation's batch at a time.
//!
//! Every new message takes its conversation's row for its number (see
//! `db::conversations::take_seqs`), so a conversation's writes go one after another, each
//! holding the row until its commit is durable: on PostgreSQL a busy conversation moved
//! at one message per WAL flush. Here the messages waiting for the same conversation in
//! this process are written by one transaction: one read of the `local_id`s already
//! stored, one numbering, one insert and one commit for all of them (and one `NOTIFY`).
//! The first message for a conversation nobody writes to starts a drain task, which
//! writes what is waiting, then what arrived meanwhile, until nothing is left.
//!
//! Bounds: at most [`MAX_ROWS_PER_INSERT`] messages per transaction, and
//! [`MAX_WAITING`] waiting per conversation (beyond that, 503 with Retry-After: the
//! outbox retries, and the `local_id` makes that safe). A conversation has an entry here
//! only while its drain task runs. Nothing is answered before its commit, and a failed
//! batch answers each of its messages with the failure (none of them is stored).

use super::store::{Outgoing, Stored, store_all};
use crate::db::{self, messages::MAX_ROWS_PER_INSERT};
use crate::error::ApiError;
use crate::state::AppState;
use messaging_core::wire::CurrentUser;
use messaging_core::{ConversationId, NewMessage};
use std::collections::HashMap;
use std::sync::Mutex;
use tokio::sync::oneshot;

/// The most messages that may wait for one conversation's writer.
pub const MAX_WAITING: usize = 1_000;

type Verdict = Result<Stored, ApiError>;

/// A message waiting for its conversation's next batch.
struct Waiting {
    sender: CurrentUser,
    message: NewMessage,
    answer: oneshot::Sender<Verdict>,
}

/// The messages waiting, per conversation being written to.
#[derive(Default)]
pub struct ChatBatches {
    waiting: Mutex<HashMap<ConversationId, Vec<Waiting>>>,
}

impl ChatBatches {
    /// Stores a new message with the others waiting for its conversation; answers once
    /// its batch is committed (or failed). The write runs to the end even if the
    /// caller's request is dropped.
    pub async fn store(
        state: &AppState,
        conversation: ConversationId,
        sender: CurrentUser,
        message: NewMessage,
    ) -> Verdict {
        let (answer, verdict) = oneshot::channel();
        let waiting = Waiting {
            sender,
            message,
            answer,
        };
        if state.chat_batches.enqueue(conversation, waiting)? {
            tokio::spawn(drain(state.clone(), conversation));
        }
        verdict
            .await
            .map_err(|_| anyhow::anyhow!("the conversation's writer stopped"))?
    }

    /// Adds a message to its conversation's queue; `true` when nobody drains it yet.
    fn enqueue(&self, conversation: ConversationId, waiting: Waiting) -> Result<bool, ApiError> {
        let mut queues = self.queues();
        let start = !queues.contains_key(&conversation);
        let queue = queues.entry(conversation).or_default();
        if queue.len() >= MAX_WAITING {
            return Err(ApiError::unavailable());
        }
        queue.push(waiting);
        Ok(start)
    }

    /// The next batch, oldest first; `None` (and the conversation's entry gone) when
    /// nothing waits.
    fn next_batch(&self, conversation: ConversationId) -> Option<Vec<Waiting>> {
        let mut queues = self.queues();
        let queue = queues.get_mut(&conversation)?;
        if queue.is_empty() {
            queues.remove(&conversation);
            return None;
        }
        let size = queue.len().min(MAX_ROWS_PER_INSERT);
        Some(queue.drain(..size).collect())
    }

    fn queues(&self) -> std::sync::MutexGuard<'_, HashMap<ConversationId, Vec<Waiting>>> {
        self.waiting
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Writes the conversation's batches until none waits.
async fn drain(state: AppState, conversation: ConversationId) {
    while let Some(batch) = state.chat_batches.next_batch(conversation) {
        let verdicts = write(&state, conversation, &batch).await;
        for (waiting, verdict) in batch.into_iter().zip(verdicts) {
            // A caller that went away no longer needs its answer.
            let _ = waiting.answer.send(verdict);
        }
    }
}

/// One transaction for the batch; a verdict per message, in order.
async fn write(state: &AppState, conversation: ConversationId, batch: &[Waiting]) -> Vec<Verdict> {
    let outgoing: Vec<Outgoing<'_>> = batch
        .iter()
        .map(|w| Outgoing {
            sender: &w.sender,
            message: &w.message,
        })
        .collect();
    let written = async {
        let mut tx = state.db.begin_write().await?;
        let verdicts = store_all(&mut tx, conversation, &outgoing).await?;
        // Numbered, not yet committed: the scale-out test delays a commit here (the row
        // lock the numbers came with holds the conversation's later writers back).
        crate::crash::point("before_message_commit");
        db::commit(tx).await?;
        Ok::<_, ApiError>(verdicts)
    };
    match written.await {
        Ok(verdicts) => {
            for verdict in &verdicts {
                if let Ok(Stored::New(message)) = verdict {
                    state.caches.remember_message(message);
                    state.hub.publish(message.clone());
                }
            }
            verdicts
        }
        Err(error) => {
            let shared = for_each_message(error);
            batch.iter().map(|_| Err(shared())).collect()
        }
    }
}

/// A batch's failure, as each of its messages' answer: a problem as it is; anything
/// else logged once and answered as an interrupted intent (none of the batch is stored,
/// so retrying its `local_id` is safe).
fn for_each_message(error: ApiError) -> impl Fn() -> ApiError {
    let problem = match error {
        ApiError::Problem(problem) => Some(problem),
        other => {
            tracing::error!(error = %other, "a batch of chat messages failed");
            None
        }
    };
    move || match &problem {
        Some(problem) => ApiError::Problem(problem.clone()),
        None => ApiError::IntentInterrupted(anyhow::anyhow!("the message's batch failed")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use messaging_core::wire::ChatRequest;
    use messaging_core::{NewChatMessage, UserId};

    fn waiting(n: usize) -> Waiting {
        let request: ChatRequest = serde_json::from_value(serde_json::json!({
            "conversation_id": ConversationId::new_random(),
            "text": "Hello",
            "local_id": format!("m-{n}"),
        }))
        .expect("a request");
        let intent = NewChatMessage::try_from(request).expect("valid");
        Waiting {
            sender: CurrentUser {
                id: UserId::new_random(),
                username: "alice".into(),
                display_name: "Alice".into(),
            },
            message: intent.message,
            answer: oneshot::channel().0,
        }
    }

    #[test]
    fn a_conversation_queues_at_most_max_waiting_messages_and_batches_them_in_order() {
        let batches = ChatBatches::default();
        let conversation = ConversationId::new_random();
        assert!(batches.enqueue(conversation, waiting(0)).expect("room"));
        for n in 1..MAX_WAITING {
            assert!(!batches.enqueue(conversation, waiting(n)).expect("room"));
        }
        let refused = batches.enqueue(conversation, waiting(MAX_WAITING));
        assert!(matches!(refused, Err(ApiError::Problem(_))));
        // Another conversation has a queue of its own.
        assert!(
            batches
                .enqueue(ConversationId::new_random(), waiting(0))
                .expect("room")
        );

        let first = batches.next_batch(conversation).expect("a batch");
        assert_eq!(first.len(), MAX_ROWS_PER_INSERT);
        assert_eq!(first[0].message.local_id.as_str(), "m-0");
        assert_eq!(first[1].message.local_id.as_str(), "m-1");
        let mut left = MAX_WAITING - MAX_ROWS_PER_INSERT;
        while let Some(batch) = batches.next_batch(conversation) {
            left -= batch.len();
        }
        assert_eq!(left, 0);
        // Drained: the entry is gone, and the next message starts a drain again.
        assert!(batches.enqueue(conversation, waiting(0)).expect("room"));
    }
}
