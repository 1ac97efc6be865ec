//! Following a conversation live, for as long as the reader may: a stream ends with the
//! reason when its session ends (sign-out at once, in every process; expiry at the next
//! check), when its user no longer takes part in the conversation (at the next check), or
//! when a newer stream of the same user takes its place.

use crate::events::{StreamSlot, Update};
use crate::state::AppState;
use futures_util::Stream;
use messaging_core::wire::{Message, StreamClosed};
use messaging_core::{ConversationId, UserId};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::time::{Interval, MissedTickBehavior};

/// How often a stream checks that its session and its reader's part still hold; with
/// the caches' trust (`cache::TRUST_FOR`), what ends them ends the stream within 7 s.
const RECHECK: Duration = Duration::from_secs(2);

/// What a live stream carries.
#[derive(Debug)]
pub enum LiveEvent {
    Message(Arc<Message>),
    /// Messages may have passed unseen: the reader catches up through the API.
    MayHaveMissed,
    /// The last event: the stream ends, and the reader should not come back.
    Closed(StreamClosed),
}

/// Who follows which conversation (already checked to take part in it).
pub struct Follower {
    pub user: UserId,
    /// The hash of the session's token, as `SessionEnded` names it.
    pub token_hash: String,
    pub conversation: ConversationId,
}

/// The conversation's live events for `follower`, until access ends (the last event says
/// why) or the server shuts down (the stream just ends).
pub fn follow(state: AppState, follower: Follower) -> impl Stream<Item = LiveEvent> {
    let following = Following {
        updates: state.hub.subscribe(),
        slot: state.hub.open_stream(follower.user),
        recheck: rechecks(),
        state,
        follower,
    };
    futures_util::stream::unfold(Some(following), |following| async move {
        let mut following = following?;
        let shutdown = following.state.hub.closing();
        let event = tokio::select! {
            () = shutdown => return None,
            event = following.next() => event?,
        };
        let more = !matches!(event, LiveEvent::Closed(_));
        Some((event, more.then_some(following)))
    })
}

fn rechecks() -> Interval {
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + RECHECK, RECHECK);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    ticks
}

struct Following {
    state: AppState,
    follower: Follower,
    updates: broadcast::Receiver<Update>,
    slot: StreamSlot,
    recheck: Interval,
}

impl Following {
    async fn next(&mut self) -> Option<LiveEvent> {
        loop {
            let replaced = Arc::clone(&self.slot.replaced);
            tokio::select! {
                () = replaced.notified() => return Some(LiveEvent::Closed(StreamClosed::Replaced)),
                _ = self.recheck.tick() => {
                    if let Some(reason) = self.lost_access().await {
                        return Some(LiveEvent::Closed(reason));
                    }
                }
                received = self.updates.recv() => match received {
                    Ok(Update::Message(message))
                        if message.conversation_id == self.follower.conversation =>
                    {
                        return Some(LiveEvent::Message(message));
                    }
                    Ok(Update::SessionEnded(token_hash))
                        if *token_hash == *self.follower.token_hash =>
                    {
                        return Some(LiveEvent::Closed(StreamClosed::SignedOut));
                    }
                    Ok(Update::MayHaveMissed) | Err(RecvError::Lagged(_)) => {
                        return Some(LiveEvent::MayHaveMissed);
                    }
                    Ok(Update::Message(_) | Update::SessionEnded(_)) => {}
                    Err(RecvError::Closed) => return None,
                },
            }
        }
    }

    /// Why the follower may no longer read, if so. A store that cannot answer ends
    /// nothing: the next check asks again.
    async fn lost_access(&self) -> Option<StreamClosed> {
        let Follower {
            user,
            token_hash,
            conversation,
        } = &self.follower;
        let caches = &self.state.caches;
        let db = &self.state.db;
        let session = caches.session_user(db, token_hash).await;
        let part = caches.is_participant(db, *conversation, *user).await;
        match (session, part) {
            (Ok(None), _) => Some(StreamClosed::SignedOut),
            (_, Ok(false)) => Some(StreamClosed::NotParticipant),
            (Err(error), _) | (_, Err(error)) => {
                tracing::warn!(%error, "could not check a live stream's access");
                None
            }
            (Ok(Some(_)), Ok(true)) => None,
        }
    }
}
