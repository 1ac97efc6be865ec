//! The outbox: chat messages written but not yet confirmed by the server. It lives in
//! `localStorage` (one list per signed-in user), so unsent messages survive a reload,
//! and it is sent in the order written by one tab at a time (a Web Lock), each message
//! under the `local_id` it was written with and retried with `core`'s backoff, so no
//! retry, reload or second tab can store it twice.

use crate::api::{ApiClient, CallError, DEFAULT_TIMEOUT};
use crate::labels::{Labels, use_labels};
use futures_channel::oneshot;
use leptos::prelude::*;
use leptos::task::spawn_local;
use messaging_core::retry::Backoff;
use messaging_core::wire::{ChatRequest, Message};
use messaging_core::{ConversationId, LocalId, UserId};
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::time::Duration;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

/// The Web Lock a tab holds while it sends the outbox.
const SENDER_LOCK: &str = "messaging-outbox-sender";

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
    /// Sends tried so far.
    pub attempts: u32,
    /// Why the last try failed, if it did.
    pub last_error: Option<String>,
    /// The server refused it (a 4xx a retry cannot fix): it waits for the person.
    pub refused: bool,
}

impl Pending {
    /// A message just written, not tried yet.
    pub fn new(
        conversation_id: ConversationId,
        local_id: LocalId,
        text: String,
        user_agent: Option<String>,
    ) -> Self {
        Self {
            conversation_id,
            local_id,
            text,
            user_agent,
            attempts: 0,
            last_error: None,
            refused: false,
        }
    }

    fn request(&self) -> ChatRequest {
        ChatRequest {
            conversation_id: self.conversation_id,
            text: self.text.clone(),
            local_id: self.local_id.to_string(),
            user_agent: self.user_agent.clone(),
        }
    }
}

/// One user's outbox in this browser. Cheap to copy; lives as long as the reactive
/// owner it was made under.
#[derive(Clone, Copy)]
pub struct Outbox {
    storage_key: StoredValue<String>,
    /// What is in storage, for the view; refreshed when another tab changes it.
    entries: RwSignal<Vec<Pending>>,
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
        let storage_key = format!("messaging.outbox.v1.{user}");
        let outbox = Self {
            entries: RwSignal::new(Vec::new()),
            storage_key: StoredValue::new(storage_key),
            client: StoredValue::new(client),
            on_confirmed,
            labels: StoredValue::new(use_labels()),
            sending: StoredValue::new(false),
            wake: StoredValue::new(None),
        };
        // Storage exists only in the browser; effects run only there.
        Effect::new(move |_| {
            outbox.entries.set(outbox.stored());
            outbox.watch_other_tabs_and_the_network();
            outbox.send_all();
        });
        outbox
    }

    /// Everything waiting, in the order written.
    pub fn entries(&self) -> ReadSignal<Vec<Pending>> {
        self.entries.read_only()
    }

    /// Keeps a new message (before anything is sent) and starts sending.
    pub fn push(&self, pending: Pending) {
        self.change(|entries| entries.push(pending));
        self.send_all();
    }

    /// "Retry now": ends the wait of a message being retried, or tries a refused one again.
    pub fn retry(&self, local_id: &LocalId) {
        self.change(|entries| {
            if let Some(entry) = entries.iter_mut().find(|e| &e.local_id == local_id) {
                entry.refused = false;
            }
        });
        self.send_all();
    }

    /// Gives up on a message the person no longer wants sent.
    pub fn discard(&self, local_id: &LocalId) {
        self.change(|entries| entries.retain(|e| &e.local_id != local_id));
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
            with_tab_lock(SENDER_LOCK, outbox.send_in_order()).await;
            // (`try_set_value` hands the value back only when the outbox is gone.)
            if outbox.sending.try_set_value(false).is_none()
                && outbox.stored().iter().any(|e| !e.refused)
            {
                // Written while the lock was being released.
                outbox.send_all();
            }
        });
    }

    /// Sends the oldest message that may be sent until none is left. The list is read
    /// from storage each time: another tab may have sent some meanwhile.
    async fn send_in_order(self) {
        let backoff = Backoff::for_outbox();
        loop {
            let Some(next) = self.stored().into_iter().find(|e| !e.refused) else {
                return;
            };
            let Some(client) = self.client.try_get_value() else {
                return; // The view is gone; the next one carries on from storage.
            };
            match client.send_chat(&next.request(), DEFAULT_TIMEOUT).await {
                Ok(answer) => {
                    self.change(|entries| entries.retain(|e| e.local_id != next.local_id));
                    self.on_confirmed.try_run(answer.message);
                }
                Err(error) => {
                    let wait = backoff.delay(
                        next.attempts,
                        error.failure,
                        js_sys::Math::random(),
                        error.retry_after,
                    );
                    self.note_failure(&next.local_id, &error, wait.is_none());
                    if let Some(wait) = wait {
                        self.sleep_unless_woken(wait).await;
                    }
                }
            }
            if self.entries.is_disposed() {
                return;
            }
        }
    }

    fn note_failure(&self, local_id: &LocalId, error: &CallError, refused: bool) {
        self.change(|entries| {
            if let Some(entry) = entries.iter_mut().find(|e| &e.local_id == local_id) {
                entry.attempts = entry.attempts.saturating_add(1);
                entry.last_error = Some(self.labels.with_value(|labels| error.message(labels)));
                entry.refused = refused;
            }
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

    /// Reads, changes and writes back the stored list (storage is the truth, shared by
    /// this user's tabs), then shows the result.
    fn change(&self, edit: impl FnOnce(&mut Vec<Pending>)) {
        let mut entries = self.stored();
        edit(&mut entries);
        if let (Some(storage), Some(key)) = (local_storage(), self.storage_key.try_get_value())
            && let Ok(json) = serde_json::to_string(&entries)
        {
            // A full storage keeps the list in memory only; sending still works.
            let _ = storage.set_item(&key, &json);
        }
        self.entries.try_set(entries);
    }

    fn stored(&self) -> Vec<Pending> {
        let Some(key) = self.storage_key.try_get_value() else {
            return Vec::new();
        };
        local_storage()
            .and_then(|storage| storage.get_item(&key).ok().flatten())
            .and_then(|json| serde_json::from_str(&json).ok())
            .unwrap_or_else(|| self.entries.try_get_untracked().unwrap_or_default())
    }

    /// Another tab's changes show here; coming back online ends the backoff wait.
    fn watch_other_tabs_and_the_network(self) {
        let on_storage =
            Closure::<dyn Fn(web_sys::StorageEvent)>::new(move |event: web_sys::StorageEvent| {
                if event.key() == self.storage_key.try_get_value() {
                    self.entries.try_set(self.stored());
                }
            });
        let on_online = Closure::<dyn Fn()>::new(move || self.send_all());
        let window = window();
        let _ =
            window.add_event_listener_with_callback("storage", on_storage.as_ref().unchecked_ref());
        let _ =
            window.add_event_listener_with_callback("online", on_online.as_ref().unchecked_ref());
        let listeners = send_wrapper::SendWrapper::new((on_storage, on_online));
        on_cleanup(move || {
            let (on_storage, on_online) = listeners.take();
            let window = leptos::prelude::window();
            let _ = window.remove_event_listener_with_callback(
                "storage",
                on_storage.as_ref().unchecked_ref(),
            );
            let _ = window
                .remove_event_listener_with_callback("online", on_online.as_ref().unchecked_ref());
        });
    }
}

fn local_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

#[wasm_bindgen]
extern "C" {
    /// `navigator.locks` (web-sys offers it only behind `web_sys_unstable_apis`).
    type LockManager;

    #[wasm_bindgen(method)]
    fn request(this: &LockManager, name: &str, callback: &JsValue) -> js_sys::Promise;
}

/// Runs `work` while holding the named Web Lock, so that of all this origin's tabs only
/// one runs it at a time. Without Web Locks (an insecure context) it just runs: every
/// send is idempotent anyway, the lock only saves requests and keeps the order.
async fn with_tab_lock(name: &str, work: impl Future<Output = ()> + 'static) {
    let locks = js_sys::Reflect::get(&window().navigator(), &"locks".into())
        .ok()
        .filter(|locks| !locks.is_undefined());
    let Some(locks) = locks else {
        work.await;
        return;
    };
    let callback = Closure::once_into_js(move |_lock: JsValue| {
        wasm_bindgen_futures::future_to_promise(async move {
            work.await;
            Ok(JsValue::UNDEFINED)
        })
    });
    let held = locks
        .unchecked_into::<LockManager>()
        .request(name, &callback);
    let _ = wasm_bindgen_futures::JsFuture::from(held).await;
}
