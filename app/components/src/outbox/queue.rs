//! The send queue's rules, apart from storage and the network: a queue per conversation,
//! sent in the order written, one message at a time. A message the server refused holds
//! back the later ones of its conversation until the person decides (retry or discard),
//! and never those of another conversation; a message waiting out a backoff holds back
//! only its own conversation too. Like matrix-rust-sdk's send queue, a later message never
//! overtakes one that failed.

use crate::api::DeviceHints;
use messaging_core::retry::Backoff;
use messaging_core::wire::ChatRequest;
use messaging_core::{ConversationId, LocalId};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// A message waiting to be confirmed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    /// Where it goes.
    pub conversation_id: ConversationId,
    /// Its name for every retry, made when it was written.
    pub local_id: LocalId,
    /// What was written.
    pub text: String,
    /// The browser's, for the device icon.
    pub user_agent: Option<String>,
    /// The browser's `navigator.maxTouchPoints`, which tells an iPad from a Mac.
    #[serde(default)]
    pub max_touch_points: Option<u32>,
    /// Sends tried so far.
    pub attempts: u32,
    /// Why the last try failed, if it did.
    pub last_error: Option<String>,
    /// The server refused it (a 4xx a retry cannot fix): it waits for the person.
    pub refused: bool,
    /// When it entered the outbox (milliseconds since 1970, the browser's clock): the
    /// order the outbox sends in.
    #[serde(default)]
    pub written_at: i64,
    /// A request carrying it has started, so the server may have it: from then on its
    /// `local_id` stays bound to its text, and it can no longer be edited or cancelled.
    #[serde(default)]
    pub carried: bool,
    /// Not sent again before this time (milliseconds since 1970): the backoff after a
    /// failure a retry can fix.
    #[serde(default)]
    pub retry_at: i64,
    /// This tab could not write it to storage at all (it is full, or there is none): it
    /// lives in this tab's memory only, and is lost with the tab if not sent by then.
    #[serde(skip)]
    pub only_in_this_tab: bool,
}

impl Pending {
    /// A message just written, not tried yet.
    pub fn new(
        conversation_id: ConversationId,
        local_id: LocalId,
        text: String,
        device: DeviceHints,
    ) -> Self {
        Self {
            conversation_id,
            local_id,
            text,
            user_agent: device.user_agent,
            max_touch_points: device.max_touch_points,
            attempts: 0,
            last_error: None,
            refused: false,
            written_at: 0,
            carried: false,
            retry_at: 0,
            only_in_this_tab: false,
        }
    }

    /// The request that carries it; the same on every retry.
    pub fn request(&self) -> ChatRequest {
        ChatRequest {
            conversation_id: self.conversation_id,
            text: self.text.clone(),
            local_id: self.local_id.to_string(),
            user_agent: self.user_agent.clone(),
            max_touch_points: self.max_touch_points,
        }
    }

    /// No request has carried it yet: the person may still change their mind.
    pub fn editable(&self) -> bool {
        !self.carried
    }
}

/// Where a message stands in its conversation's queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    /// First of its conversation: sent next (after its backoff, if it failed).
    Next,
    /// First of its conversation, refused by the server: waits for the person.
    Refused,
    /// Behind a refused message of its conversation: waits until that one is settled.
    HeldBack,
    /// Behind a message of its conversation that is still on its way.
    Queued,
}

/// Each message's place, for `entries` in the order written.
pub fn places(entries: &[Pending]) -> impl Iterator<Item = (&Pending, Place)> {
    entries.iter().enumerate().map(|(index, entry)| {
        let head = entries[..index]
            .iter()
            .find(|earlier| earlier.conversation_id == entry.conversation_id);
        let place = match head {
            None if entry.refused => Place::Refused,
            None => Place::Next,
            Some(head) if head.refused => Place::HeldBack,
            Some(_) => Place::Queued,
        };
        (entry, place)
    })
}

/// What the send loop does next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Send this message now.
    Send(Pending),
    /// Nothing may go before this time (milliseconds since 1970): every conversation that
    /// has a message to send is waiting out a backoff.
    WaitUntil(i64),
    /// Nothing to send: the outbox is empty, or every queue waits for its person.
    Idle,
}

/// The next step at time `now`, for `entries` in the order written: of the messages
/// first in their conversation and not refused, the one written first whose backoff is
/// over.
pub fn next_step(entries: &[Pending], now: i64) -> Step {
    let sendable: Vec<&Pending> = places(entries)
        .filter(|(_, place)| *place == Place::Next)
        .map(|(entry, _)| entry)
        .collect();
    if let Some(ready) = sendable.iter().find(|entry| entry.retry_at <= now) {
        return Step::Send((*ready).clone());
    }
    sendable
        .iter()
        .map(|entry| entry.retry_at)
        .min()
        .map_or(Step::Idle, Step::WaitUntil)
}

/// How long the send loop waits, at `now`, for a step that waits until `at`: never
/// longer than the outbox's longest backoff, so a `retry_at` far off (the clock set back
/// since it was noted, say) is looked at again within it, and no timer is asked for a
/// wait the browser's timers cannot hold (about 24.8 days).
pub fn wait_for(at: i64, now: i64) -> Duration {
    let waited =
        u64::try_from(at.saturating_sub(now)).map_or(Duration::ZERO, Duration::from_millis);
    waited.min(Backoff::until_it_works().max)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(conversation: ConversationId, written_at: i64) -> Pending {
        let mut pending = Pending::new(
            conversation,
            LocalId::generate(),
            format!("written at {written_at}"),
            DeviceHints::default(),
        );
        pending.written_at = written_at;
        pending
    }

    fn place_of(entries: &[Pending]) -> Vec<Place> {
        places(entries).map(|(_, place)| place).collect()
    }

    #[test]
    fn a_wait_is_never_longer_than_the_longest_backoff() {
        let forty_days = 40 * 24 * 3_600 * 1_000;
        assert_eq!(wait_for(forty_days, 0), Backoff::until_it_works().max);
        assert_eq!(wait_for(1_500, 1_000), Duration::from_millis(500));
        assert_eq!(wait_for(1_000, 1_500), Duration::ZERO);
    }

    #[test]
    fn each_conversation_sends_in_the_order_written_one_at_a_time() {
        let (a, b) = (ConversationId::new_random(), ConversationId::new_random());
        let entries = [message(a, 1), message(b, 2), message(a, 3)];
        assert_eq!(
            place_of(&entries),
            [Place::Next, Place::Next, Place::Queued]
        );
        assert_eq!(next_step(&entries, 0), Step::Send(entries[0].clone()));
        // Once the first is confirmed (removed), the other conversation's goes next.
        assert_eq!(next_step(&entries[1..], 0), Step::Send(entries[1].clone()));
    }

    #[test]
    fn a_refused_message_holds_back_its_conversation_only() {
        let (a, b) = (ConversationId::new_random(), ConversationId::new_random());
        let mut entries = [message(a, 1), message(a, 2), message(b, 3)];
        entries[0].refused = true;
        assert_eq!(
            place_of(&entries),
            [Place::Refused, Place::HeldBack, Place::Next]
        );
        assert_eq!(next_step(&entries, 0), Step::Send(entries[2].clone()));
        assert_eq!(next_step(&entries[..2], 0), Step::Idle);
    }

    #[test]
    fn a_backoff_holds_back_its_conversation_only() {
        let (a, b) = (ConversationId::new_random(), ConversationId::new_random());
        let mut entries = [message(a, 1), message(a, 2), message(b, 3)];
        entries[0].retry_at = 5_000;
        // The later message of the same conversation never overtakes it.
        assert_eq!(next_step(&entries, 1_000), Step::Send(entries[2].clone()));
        assert_eq!(next_step(&entries[..2], 1_000), Step::WaitUntil(5_000));
        assert_eq!(
            next_step(&entries[..2], 5_000),
            Step::Send(entries[0].clone())
        );
    }

    #[test]
    fn an_empty_outbox_is_idle() {
        assert_eq!(next_step(&[], 0), Step::Idle);
    }
}
