//! Catching up with what the live stream may have missed.

use crate::api::{ApiClient, DEFAULT_TIMEOUT, sleep};
use crate::timeline;
use leptos::prelude::*;
use leptos::task::spawn_local;
use messaging_core::ConversationId;
use messaging_core::retry::Backoff;
use messaging_core::wire::{Message, MessageCursor};

/// At most this many pages are fetched to catch up after a reconnection.
const MAX_CATCH_UP_PAGES: usize = 20;

/// Fetches what follows the last message shown: after a reconnection (the stream may
/// have missed some), or past a gap. One fetch at a time; asked again meanwhile, it goes
/// round once more when done.
#[derive(Clone, Copy)]
pub(super) struct CatchUp {
    client: StoredValue<ApiClient>,
    conversation: ConversationId,
    confirmed: RwSignal<Vec<Message>>,
    state: StoredValue<CatchUpState>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum CatchUpState {
    Idle,
    Running,
    RunningAndAskedAgain,
}

impl CatchUp {
    /// Catches up into `confirmed` through `client`.
    pub(super) fn new(
        client: StoredValue<ApiClient>,
        conversation: ConversationId,
        confirmed: RwSignal<Vec<Message>>,
    ) -> Self {
        Self {
            client,
            conversation,
            confirmed,
            state: StoredValue::new(CatchUpState::Idle),
        }
    }

    pub(super) fn run(self) {
        let start = self.state.try_update_value(|state| {
            let idle = *state == CatchUpState::Idle;
            *state = if idle {
                CatchUpState::Running
            } else {
                CatchUpState::RunningAndAskedAgain
            };
            idle
        });
        if start != Some(true) {
            return;
        }
        spawn_local(async move {
            loop {
                self.fetch().await;
                let again = self.state.try_update_value(|state| {
                    let again = *state == CatchUpState::RunningAndAskedAgain;
                    *state = if again {
                        CatchUpState::Running
                    } else {
                        CatchUpState::Idle
                    };
                    again
                });
                if again != Some(true) {
                    return;
                }
            }
        });
    }

    /// Pages through what follows the last shown message, up to [`MAX_CATCH_UP_PAGES`].
    /// A page that fails is asked again after `core`'s backoff, for as long as the view
    /// lives: a message past a gap (the reader's own, just confirmed, say) is shown only
    /// once the gap is fetched. A refusal no retry fixes ends it.
    async fn fetch(self) {
        let Some(client) = self.client.try_get_value() else {
            return;
        };
        let backoff = Backoff::until_it_works();
        let (mut pages, mut failures) = (0, 0);
        while pages < MAX_CATCH_UP_PAGES {
            let Some(after) = self
                .confirmed
                .try_with_untracked(|list| list.last().map(MessageCursor::after))
            else {
                return; // The view is gone.
            };
            let page = match client
                .messages(self.conversation, after.as_ref(), DEFAULT_TIMEOUT)
                .await
            {
                Ok(page) => page,
                Err(error) => {
                    let jitter = js_sys::Math::random();
                    let wait = backoff.delay(failures, error.failure, jitter, error.retry_after);
                    let Some(wait) = wait else {
                        return;
                    };
                    failures = failures.saturating_add(1);
                    sleep(wait).await;
                    continue;
                }
            };
            (pages, failures) = (pages + 1, 0);
            let complete = page.next_cursor.is_none();
            let merged = self.confirmed.try_update(|list| {
                for message in page.items {
                    timeline::merge_confirmed(list, self.conversation, message);
                }
            });
            if complete || merged.is_none() {
                return;
            }
        }
    }
}
