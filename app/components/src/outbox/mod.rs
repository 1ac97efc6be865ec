//! The outbox: chat messages written but not yet confirmed by the server. It lives in
//! `localStorage`, a key per message (see `storage`), so unsent messages survive a reload
//! and tabs never overwrite each other's changes. One tab at a time sends it (a Web
//! Lock), as a queue per conversation (see [`queue`]), each message under the `local_id`
//! it was written with and retried with `core`'s backoff, so no retry, reload or second
//! tab can store it twice.

pub mod queue;
mod storage;
mod tab_lock;

pub use queue::Pending;

use crate::api::{ApiClient, CallError, DEFAULT_TIMEOUT};
use crate::labels::{Labels, use_labels};
use futures_channel::oneshot;
use leptos::prelude::*;
use leptos::task::spawn_local;
use messaging_core::retry::Backoff;
use messaging_core::wire::Message;
use messaging_core::{ConversationId, LocalId, UserId};
use queue::Step;
use std::time::Duration;
use tab_lock::with_tab_lock;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::Closure;

/// The Web Lock a tab holds while it sends a user's outbox (the user id follows).
const SENDER_LOCK: &str = "messaging-outbox-sender.";

/// The Web Lock held, briefly, to mark a message carried or to take one back, so that
/// across tabs a cancel either comes before the send or finds the message already on
/// its way (the user id follows).
const ENTRIES_LOCK: &str = "messaging-outbox-entries.";

/// One user's outbox in this browser. Cheap to copy; lives as long as the reactive
/// owner it was made under.
#[derive(Clone, Copy)]
pub struct Outbox {
    /// The user's user id, in every key of theirs.
    user: UserId,
    /// What is in storage, with what this tab could not write there, for the view;
    /// refreshed when another tab changes it.
    entries: RwSignal<Vec<Pending>>,
    /// The messages (the latest version of each) this tab could not write to storage (it
    /// is full, or there is none): kept in memory instead, so they are still shown, sent
    /// and retried with their backoff, from this tab, until a write of theirs succeeds.
    unsaved: StoredValue<Vec<Pending>>,
    client: StoredValue<ApiClient>,
    on_confirmed: Callback<Message>,
    /// The words a failure is noted in.
    labels: StoredValue<Labels>,
    /// A send loop of this tab is running (or waiting for the lock).
    sending: StoredValue<bool>,
    /// Ends the current backoff wait early (Retry now, back online, a new message).
    wake: StoredValue<Option<oneshot::Sender<()>>>,
}

impl Outbox {
    /// The outbox of `user`; `on_confirmed` gets each message the server confirms.
    pub fn new(user: UserId, client: ApiClient, on_confirmed: Callback<Message>) -> Self {
        let outbox = Self {
            entries: RwSignal::new(Vec::new()),
            unsaved: StoredValue::new(Vec::new()),
            user,
            client: StoredValue::new(client),
            on_confirmed,
            labels: StoredValue::new(use_labels()),
            sending: StoredValue::new(false),
            wake: StoredValue::new(None),
        };
        // Storage exists only in the browser; effects run only there.
        Effect::new(move |_| {
            storage::move_the_old_list(user);
            outbox.refresh();
            storage::watch(user, move || {
                outbox.refresh();
                // A message written (or retried) in another tab waits on this tab's
                // send loop if this tab holds the sender lock: its wait ends now.
                outbox.wake_up();
            });
            outbox.send_when_back_online();
            outbox.send_all();
        });
        outbox
    }

    /// Everything waiting, in the order written.
    pub fn entries(&self) -> ReadSignal<Vec<Pending>> {
        self.entries.read_only()
    }

    /// Keeps a new message (before anything is sent) and starts sending.
    pub fn push(&self, mut pending: Pending) {
        let waiting = self.stored();
        if waiting.iter().any(|e| e.local_id == pending.local_id) {
            // Never in place of a message still waiting: its id came from a page shown
            // again (say) and is that message's.
            pending.local_id = LocalId::generate();
        }
        // After every message already waiting, even two written in one millisecond.
        let latest = waiting.iter().map(|e| e.written_at).max().unwrap_or(0);
        pending.written_at = now().max(latest + 1);
        self.put(&pending);
        self.send_all();
    }

    /// "Retry now": ends the wait of a message being retried, or tries a refused one again.
    pub fn retry(&self, local_id: &LocalId) {
        self.update(local_id, |entry| {
            entry.refused = false;
            entry.retry_at = 0;
        });
        self.send_all();
    }

    /// Back online: every message waiting out a backoff is tried again now (a refused
    /// one still waits for the person).
    fn retry_all_now(&self) {
        for pending in self.stored() {
            if pending.retry_at > 0 {
                self.update(&pending.local_id, |entry| entry.retry_at = 0);
            }
        }
        self.send_all();
    }

    /// Gives up on a message the server refused (so does not have).
    pub fn discard(&self, local_id: &LocalId) {
        self.remove(local_id);
    }

    /// Gives up on a message a request may have carried, unless the server has it: then
    /// it was sent after all and shows as sent. Fails (and keeps it) when the server
    /// cannot be asked. A retry already on its way may still land: it then shows as sent.
    pub async fn discard_unless_stored(self, local_id: LocalId) -> Result<(), CallError> {
        let Some(pending) = self.stored().into_iter().find(|e| e.local_id == local_id) else {
            return Ok(()); // Sent or dropped meanwhile.
        };
        let Some(client) = self.client.try_get_value() else {
            return Ok(());
        };
        let stored = client
            .stored_message(pending.conversation_id, &local_id, DEFAULT_TIMEOUT)
            .await?;
        self.remove(&local_id);
        if let Some(message) = stored {
            self.on_confirmed.try_run(message);
        }
        Ok(())
    }

    /// Takes back a message no request has carried yet, for editing or cancelling: its
    /// text, or `None` when it is already on its way (or gone).
    pub async fn take_back(self, local_id: LocalId) -> Option<String> {
        with_tab_lock(&self.lock_name(ENTRIES_LOCK), async move {
            let pending = self.stored().into_iter().find(|e| e.local_id == local_id)?;
            if !pending.editable() {
                return None;
            }
            self.remove(&local_id);
            Some(pending.text)
        })
        .await
        .flatten()
    }

    /// Starts this tab's send loop, or wakes it if it is waiting out a backoff.
    pub fn send_all(&self) {
        let outbox = *self;
        if self.sending.try_get_value() != Some(false) {
            outbox.wake_up();
            return;
        }
        self.sending.set_value(true);
        spawn_local(async move {
            with_tab_lock(&outbox.lock_name(SENDER_LOCK), outbox.send_in_order()).await;
            // (`try_set_value` hands the value back only when the outbox is gone.)
            if outbox.sending.try_set_value(false).is_none()
                && queue::next_step(&outbox.stored(), now()) != Step::Idle
            {
                // Written while the lock was being released.
                outbox.send_all();
            }
        });
    }

    /// Sends, one at a time, the next message of every conversation's queue until none
    /// may go. The list is read from storage each time: another tab may have changed it.
    async fn send_in_order(self) {
        let backoff = Backoff::until_it_works();
        loop {
            let next = match queue::next_step(&self.stored(), now()) {
                Step::Send(next) => next,
                Step::WaitUntil(at) => {
                    self.sleep_unless_woken(queue::wait_for(at, now())).await;
                    continue;
                }
                Step::Idle => return,
            };
            let Some(client) = self.client.try_get_value() else {
                return; // The view is gone; the next one carries on from storage.
            };
            let Some(next) = self.mark_carried(next.local_id).await else {
                continue; // Taken back meanwhile.
            };
            match client.send_chat(&next.request(), DEFAULT_TIMEOUT).await {
                Ok(answer) => {
                    self.remove(&next.local_id);
                    self.on_confirmed.try_run(answer.message);
                }
                Err(error) => {
                    let wait = backoff.delay(
                        next.attempts,
                        error.failure,
                        js_sys::Math::random(),
                        error.retry_after,
                    );
                    self.note_failure(&next.local_id, &error, wait);
                }
            }
            if self.entries.is_disposed() {
                return;
            }
        }
    }

    /// Marks a message as carried just before a request carries it; `None` when it was
    /// taken back (or sent by another tab) meanwhile.
    async fn mark_carried(self, local_id: LocalId) -> Option<Pending> {
        with_tab_lock(&self.lock_name(ENTRIES_LOCK), async move {
            let mut pending = self.stored().into_iter().find(|e| e.local_id == local_id)?;
            if !pending.carried {
                pending.carried = true;
                self.put(&pending);
            }
            Some(pending)
        })
        .await
        .flatten()
    }

    /// Notes why a send failed and when to try again; with no `wait`, the server refused
    /// it and it waits for the person.
    fn note_failure(&self, local_id: &LocalId, error: &CallError, wait: Option<Duration>) {
        let reason = self.labels.with_value(|labels| error.message(labels));
        self.update(local_id, |entry| {
            entry.attempts = entry.attempts.saturating_add(1);
            entry.last_error = Some(reason);
            entry.refused = wait.is_none();
            entry.retry_at = wait.map_or(0, |wait| {
                now().saturating_add(i64::try_from(wait.as_millis()).unwrap_or(i64::MAX))
            });
        });
    }

    async fn sleep_unless_woken(&self, wait: Duration) {
        let (sender, receiver) = oneshot::channel();
        if self.wake.try_set_value(Some(sender)).is_some() {
            return; // The outbox is gone.
        }
        let wake = self.wake;
        let timer = set_timeout_with_handle(
            move || {
                if let Some(Some(sender)) = wake.try_update_value(Option::take) {
                    let _ = sender.send(());
                }
            },
            wait,
        )
        .ok();
        let _ = receiver.await;
        if let Some(timer) = timer {
            timer.clear();
        }
    }

    fn wake_up(&self) {
        if let Some(Some(sender)) = self.wake.try_update_value(Option::take) {
            let _ = sender.send(());
        }
    }

    /// One user's outbox is not held up by another's in the same browser.
    fn lock_name(&self, lock: &str) -> String {
        format!("{lock}{}", self.user)
    }

    /// Writes one message (one key: atomic, whatever other tabs do), or keeps it in
    /// memory if it cannot be written; then shows the list.
    fn put(&self, pending: &Pending) {
        let written = storage::write(self.user, pending);
        self.unsaved.try_update_value(|unsaved| {
            unsaved.retain(|e| e.local_id != pending.local_id);
            if !written {
                unsaved.push(pending.clone());
            }
        });
        self.refresh();
    }

    /// Changes one message, if it is still there (another tab may have sent it).
    fn update(&self, local_id: &LocalId, change: impl FnOnce(&mut Pending)) {
        if let Some(mut pending) = self.stored().into_iter().find(|e| &e.local_id == local_id) {
            change(&mut pending);
            self.put(&pending);
        }
    }

    fn remove(&self, local_id: &LocalId) {
        storage::delete(self.user, local_id);
        self.unsaved
            .try_update_value(|unsaved| unsaved.retain(|e| &e.local_id != local_id));
        self.refresh();
    }

    fn refresh(&self) {
        self.entries.try_set(self.stored());
    }

    /// This user's messages, in the order written: what storage holds, and what this tab
    /// could not write there (its version over storage's).
    fn stored(&self) -> Vec<Pending> {
        let mut entries = storage::read(self.user).unwrap_or_default();
        self.unsaved.try_with_value(|unsaved| {
            for kept in unsaved {
                let mut kept = kept.clone();
                let older = entries.iter_mut().find(|e| e.local_id == kept.local_id);
                // With an older version in storage, a reload still finds it.
                kept.only_in_this_tab = older.is_none();
                match older {
                    Some(older) => *older = kept,
                    None => entries.push(kept),
                }
            }
        });
        storage::in_order_written(&mut entries);
        entries
    }

    /// Coming back online ends every backoff wait.
    fn send_when_back_online(self) {
        let on_online = Closure::<dyn Fn()>::new(move || self.retry_all_now());
        let _ =
            window().add_event_listener_with_callback("online", on_online.as_ref().unchecked_ref());
        let listener = send_wrapper::SendWrapper::new(on_online);
        on_cleanup(move || {
            let on_online = listener.take();
            let _ = leptos::prelude::window()
                .remove_event_listener_with_callback("online", on_online.as_ref().unchecked_ref());
        });
    }
}

/// `user`'s messages not confirmed yet, in the order written (in the browser; none on the
/// server).
pub fn unsent(user: UserId) -> Vec<Pending> {
    storage::read(user).unwrap_or_default()
}

/// How many messages `user` has not sent yet, and the conversation of the oldest; `None`
/// when there are none (or in no browser). Lighter than [`unsent`]: it reads of each
/// message only where it goes and when it was written.
pub fn waiting(user: UserId) -> Option<(usize, ConversationId)> {
    storage::waiting(user)
}

/// Discards one message of `user`'s that can never be sent (its conversation cannot be
/// opened any more), without asking the server.
pub fn discard(user: UserId, local_id: &LocalId) {
    storage::delete(user, local_id);
}

/// Discards every message `user` has not sent (when they sign out on a shared computer).
pub fn discard_all(user: UserId) {
    storage::delete_all(user);
}

/// Calls `on_change` whenever `user`'s outbox may have changed, in this tab or another,
/// until the current reactive owner is cleaned up.
pub fn watch(user: UserId, on_change: impl Fn() + 'static) {
    storage::watch(user, on_change);
}

/// The browser's clock, in milliseconds since 1970.
fn now() -> i64 {
    js_sys::Date::now() as i64
}
