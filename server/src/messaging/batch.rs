//! New chat messages, written a batch at a time.
//!
//! Each new message takes its conversation's next number, which holds the conversation's
//! row until the commit is durable. Written one transaction each (BEGIN, the number, an
//! insert, a `NOTIFY`, COMMIT), a busy conversation would move one commit, one WAL flush,
//! at a time. So the messages waiting in this process, whatever their conversations, are
//! written together: on SQLite by one transaction (one statement for all their numbers,
//! one insert, one commit), on PostgreSQL by one statement that takes the numbers,
//! inserts, notifies and commits, in one round trip (`store::store_all_new_at_once`).
//! Should the insert meet a `local_id` stored before (rare: a repeat stored lately is
//! answered from memory), nothing of the batch is kept and it is written again, reading
//! first what is stored (`store::store_all`).
//! The first message to find nobody writing starts a drain task, which writes what
//! waits, then what arrived meanwhile, until nothing is left: under load the batches
//! grow by themselves, and alone a message is written at once.
//!
//! Bounds: at most [`MAX_ROWS_PER_INSERT`] messages per transaction, and [`MAX_WAITING`]
//! waiting in the process (beyond that, 503 with Retry-After: the outbox retries, and the
//! `local_id` makes that safe). Nothing is answered before its commit, and a failed batch
//! answers each of its messages with the failure (none of them is stored).

use super::Messaging;
use super::store::{Outgoing, Stored, Verdicts, store_all, store_all_new, store_all_new_at_once};
use crate::db::{self, Backend, messages::MAX_ROWS_PER_INSERT};
use crate::error::ApiError;
use crate::metrics::dedup;
use messaging_core::wire::CurrentUser;
use messaging_core::{ConversationId, NewMessage};
use std::collections::VecDeque;
use std::sync::Mutex;
use tokio::sync::oneshot;

/// The most messages that may wait for the process's chat writer.
pub const MAX_WAITING: usize = 4_096;

type Verdict = Result<Stored, ApiError>;

/// A message waiting for the next batch.
struct Waiting {
    conversation: ConversationId,
    sender: CurrentUser,
    message: NewMessage,
    answer: oneshot::Sender<Verdict>,
}

/// The messages waiting, and whether a drain task writes them.
#[derive(Default)]
pub struct ChatBatches {
    queue: Mutex<Queue>,
}

#[derive(Default)]
struct Queue {
    waiting: VecDeque<Waiting>,
    draining: bool,
}

impl ChatBatches {
    /// Stores a new message with the others waiting; answers once its batch is committed
    /// (or failed). The write runs to the end even if the caller's request is dropped.
    pub async fn store(
        messaging: &Messaging,
        conversation: ConversationId,
        sender: CurrentUser,
        message: NewMessage,
    ) -> Verdict {
        let (answer, verdict) = oneshot::channel();
        let waiting = Waiting {
            conversation,
            sender,
            message,
            answer,
        };
        if messaging.chat_batches.enqueue(waiting)? {
            tokio::spawn(drain(messaging.clone()));
        }
        verdict
            .await
            .map_err(|_| anyhow::anyhow!("the chat writer stopped"))?
    }

    /// Adds a message to the queue; `true` when nobody drains it yet.
    fn enqueue(&self, waiting: Waiting) -> Result<bool, ApiError> {
        let mut queue = self.queue();
        if queue.waiting.len() >= MAX_WAITING {
            return Err(ApiError::busy(
                "Too many messages wait to be written; retry shortly with the same local_id.",
            ));
        }
        queue.waiting.push_back(waiting);
        Ok(!std::mem::replace(&mut queue.draining, true))
    }

    /// The next batch, oldest first; `None` (and nobody draining) when nothing waits.
    fn next_batch(&self) -> Option<Vec<Waiting>> {
        let mut queue = self.queue();
        if queue.waiting.is_empty() {
            queue.draining = false;
            return None;
        }
        let size = queue.waiting.len().min(MAX_ROWS_PER_INSERT);
        Some(queue.waiting.drain(..size).collect())
    }

    fn queue(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Writes batches until none waits.
async fn drain(messaging: Messaging) {
    let _stop = StopOnPanic(&messaging.chat_batches);
    while let Some(batch) = messaging.chat_batches.next_batch() {
        let verdicts = write(&messaging, &batch).await;
        for (waiting, verdict) in batch.into_iter().zip(verdicts) {
            // A caller that went away no longer needs its answer.
            let _ = waiting.answer.send(verdict);
        }
    }
}

/// Should a drain panic (a bug), the messages still waiting are dropped, so their callers
/// get an error instead of waiting for ever, and the next message starts a new drain.
struct StopOnPanic<'a>(&'a ChatBatches);

impl Drop for StopOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let mut queue = self.0.queue();
            queue.waiting.clear();
            queue.draining = false;
        }
    }
}

/// One transaction for the batch; a verdict per message, in order.
async fn write(messaging: &Messaging, batch: &[Waiting]) -> Vec<Verdict> {
    let outgoing: Vec<Outgoing<'_>> = batch
        .iter()
        .map(|w| Outgoing {
            conversation_id: w.conversation,
            sender: &w.sender,
            message: &w.message,
        })
        .collect();
    let written = async {
        // The batch tests hold a batch here, so that others gather behind it.
        crate::crash::point("before_message_batch");
        if let Some(verdicts) = write_new(messaging, &outgoing).await? {
            return Ok(verdicts);
        }
        // One was stored before (by another process, or longer ago than the memory of
        // repeats reaches): again, reading first what is stored.
        metrics::counter!(dedup::BATCHES_WRITTEN_AGAIN).increment(1);
        write_again(messaging, &outgoing).await
    };
    match written.await {
        Ok(verdicts) => {
            for verdict in &verdicts {
                match verdict {
                    Ok(Stored::New(message)) => {
                        messaging.caches.remember_message(message);
                        messaging.hub.publish(message.clone());
                    }
                    // Its next repeat is then answered from memory, without a batch.
                    Ok(Stored::Duplicate(message)) => messaging.caches.remember_message(message),
                    Err(_) => {}
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

/// The batch as new messages, committed; `None` (nothing stored) when one of them was
/// stored before.
async fn write_new(
    messaging: &Messaging,
    outgoing: &[Outgoing<'_>],
) -> Result<Option<Verdicts>, ApiError> {
    if messaging.db.backend() == Backend::Postgres {
        return store_all_new_at_once(messaging.db.pool(), outgoing).await;
    }
    let mut tx = messaging.db.begin_write().await?;
    let Some(verdicts) = store_all_new(&mut tx, outgoing).await? else {
        tx.rollback().await?;
        return Ok(None);
    };
    db::commit(tx).await?;
    Ok(Some(verdicts))
}

/// The batch in a transaction that reads first what is stored; within the deadline, as
/// the later batches wait behind it (503 past it: the transaction may have committed,
/// and a retry gets what it stored).
async fn write_again(
    messaging: &Messaging,
    outgoing: &[Outgoing<'_>],
) -> Result<Verdicts, ApiError> {
    messaging
        .db
        .in_time(async {
            let mut tx = messaging.db.begin_write().await?;
            let verdicts = store_all(&mut tx, outgoing).await?;
            db::commit(tx).await?;
            Ok(verdicts)
        })
        .await
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

    fn waiting(conversation: ConversationId, n: usize) -> Waiting {
        let request: ChatRequest = serde_json::from_value(serde_json::json!({
            "conversation_id": conversation,
            "text": "Hello",
            "local_id": format!("m-{n}"),
        }))
        .expect("a request");
        let intent = NewChatMessage::try_from(request).expect("valid");
        Waiting {
            conversation,
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
    fn at_most_max_waiting_messages_wait_and_batches_keep_their_order() {
        let batches = ChatBatches::default();
        let (one, other) = (ConversationId::new_random(), ConversationId::new_random());
        assert!(
            batches.enqueue(waiting(one, 0)).expect("room"),
            "the first starts a drain"
        );
        for n in 1..MAX_WAITING {
            let conversation = if n % 2 == 0 { one } else { other };
            assert!(!batches.enqueue(waiting(conversation, n)).expect("room"));
        }
        let refused = batches.enqueue(waiting(one, MAX_WAITING));
        assert!(matches!(refused, Err(ApiError::Problem(_))));

        let first = batches.next_batch().expect("a batch");
        assert_eq!(first.len(), MAX_ROWS_PER_INSERT);
        let names: Vec<&str> = first[..3]
            .iter()
            .map(|w| w.message.local_id.as_str())
            .collect();
        assert_eq!(names, ["m-0", "m-1", "m-2"]);
        assert_eq!((first[0].conversation, first[1].conversation), (one, other));
        let mut left = MAX_WAITING - MAX_ROWS_PER_INSERT;
        while let Some(batch) = batches.next_batch() {
            left -= batch.len();
        }
        assert_eq!(left, 0);
        // Drained: the next message starts a drain again.
        assert!(batches.enqueue(waiting(one, 0)).expect("room"));
    }

    #[test]
    fn a_drain_that_panics_fails_the_waiting_messages_and_the_next_starts_another() {
        let batches = ChatBatches::default();
        let conversation = ConversationId::new_random();
        let (answer, verdict) = oneshot::channel();
        let first = Waiting {
            answer,
            ..waiting(conversation, 0)
        };
        assert!(batches.enqueue(first).expect("room"));
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _stop = StopOnPanic(&batches);
            panic!("a bug in a drain");
        }));
        assert!(panicked.is_err());
        let mut verdict = verdict;
        assert!(
            matches!(
                verdict.try_recv(),
                Err(oneshot::error::TryRecvError::Closed)
            ),
            "the waiting message is answered"
        );
        assert!(
            batches.enqueue(waiting(conversation, 1)).expect("room"),
            "the next message starts a drain"
        );
    }
}
