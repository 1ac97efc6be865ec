//! Following a conversation live, for as long as the reader may: a stream first sends
//! what the reader missed after the sequence number it names (a reconnection's
//! `Last-Event-ID`), then each new message once, as it is published (a group commit's
//! writers may publish a hair out of order: the reader fills gaps). It ends with the reason when
//! its session ends (sign-out at once, in every process; expiry at the next check), when
//! its user no longer takes part in the conversation (at the next check), or when a newer
//! stream of the same user takes its place.

use super::Messaging;
use crate::db;
use crate::events::{StreamSlot, Update};
use futures_util::Stream;
use messaging_core::wire::{MAX_PAGE_SIZE, Message, MessageCursor, StreamClosed};
use messaging_core::{ConversationId, UserId};
use std::collections::VecDeque;
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
    /// The last message the reader has: the stream starts with the ones after it.
    pub after: Option<MessageCursor>,
}

/// The conversation's live events for `follower`, until access ends (the last event says
/// why) or the server shuts down (the stream just ends).
pub fn follow(messaging: Messaging, follower: Follower) -> impl Stream<Item = LiveEvent> {
    let following = Following {
        // Subscribed before the missed messages are read: one committed in between comes
        // both ways, and `read_through` drops the second.
        updates: messaging.hub.subscribe(),
        slot: messaging.hub.open_stream(follower.user),
        recheck: rechecks(),
        missed: VecDeque::new(),
        read_through: follower.after.map_or(0, |after| after.seq),
        messaging,
        follower,
    };
    futures_util::stream::unfold(Some(following), |following| async move {
        let mut following = following?;
        let shutdown = following.messaging.hub.closing();
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
    messaging: Messaging,
    follower: Follower,
    updates: broadcast::Receiver<Update>,
    slot: StreamSlot,
    recheck: Interval,
    /// Messages after `follower.after`, read from the store, not sent yet.
    missed: VecDeque<Message>,
    /// The last sequence number the reader had or was sent from the store: live messages
    /// up to it are not sent again. Live ones after it go out as they come (a group
    /// commit's writers may publish out of order; the reader fills any gap).
    read_through: u64,
}

impl Following {
    async fn next(&mut self) -> Option<LiveEvent> {
        if let Some(after) = self.follower.after.take()
            && let Some(lagged) = self.read_missed(after).await
        {
            return Some(lagged);
        }
        if let Some(message) = self.missed.pop_front() {
            return Some(LiveEvent::Message(Arc::new(message)));
        }
        self.next_live().await
    }

    /// Reads what came after `after`; more than a page, or a store that cannot answer,
    /// and the reader is told to catch up through the API instead.
    async fn read_missed(&mut self, after: MessageCursor) -> Option<LiveEvent> {
        let conversation = self.follower.conversation;
        let read = db::messages::page(
            self.messaging.db.pool(),
            conversation,
            Some(after),
            MAX_PAGE_SIZE + 1,
        );
        // Within the deadline: the stream's answer has begun, so the request's no longer
        // bounds it, and its keep-alives hold the reader.
        match self.messaging.db.in_time(read).await {
            Ok(missed) if missed.len() <= MAX_PAGE_SIZE as usize => {
                if let Some(last) = missed.last() {
                    self.read_through = last.seq;
                }
                self.missed = missed.into();
                None
            }
            Ok(_) => Some(LiveEvent::MayHaveMissed),
            Err(error) => {
                tracing::warn!(%error, "could not read the messages a stream missed");
                Some(LiveEvent::MayHaveMissed)
            }
        }
    }

    async fn next_live(&mut self) -> Option<LiveEvent> {
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
                        if message.conversation_id == self.follower.conversation
                            && message.seq > self.read_through =>
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
            ..
        } = &self.follower;
        let caches = &self.messaging.caches;
        let db = &self.messaging.db;
        let session = db.in_time(caches.session_user(db, token_hash)).await;
        let part = db
            .in_time(caches.is_participant(db, *conversation, *user))
            .await;
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
