//! Where a user's outbox is kept: `localStorage`, one key per message
//! (`messaging.outbox.v2.<user>.<local_id>`), so every change is one write of one key and
//! tabs in separate processes never overwrite each other's changes, as they could when
//! the whole list was read and written back (the HTML standard promises no locking
//! between tabs). Every change is also announced to this document's other readers (the
//! header's count, say): the `storage` event reaches only other tabs.

use super::Pending;
use messaging_core::{ConversationId, LocalId, UserId};
use serde::Deserialize;
use serde::de::{DeserializeOwned, IgnoredAny};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

/// The event this document's outbox readers hear when one of its writers changed it.
pub const CHANGED: &str = "messaging-outbox-changed";

/// Where `local_id` of `user` is kept.
fn key(user: UserId, local_id: &LocalId) -> String {
    format!("{}{local_id}", prefix(user))
}

/// Every key of `user`'s outbox starts with it.
pub fn prefix(user: UserId) -> String {
    format!("messaging.outbox.v2.{user}.")
}

fn local_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

/// `user`'s messages, in the order written; `None` where there is no storage (a private
/// window that refuses it, or the server).
pub fn read(user: UserId) -> Option<Vec<Pending>> {
    let mut entries: Vec<Pending> = read_each(user)?;
    in_order_written(&mut entries);
    Some(entries)
}

/// Sorts messages in the order they were written (the order the outbox sends in).
pub fn in_order_written(entries: &mut [Pending]) {
    entries.sort_by(|a, b| {
        a.written_at
            .cmp(&b.written_at)
            .then_with(|| a.local_id.as_str().cmp(b.local_id.as_str()))
    });
}

/// What says where a stored message goes and when it was written, read alone: a page
/// that only counts the messages carries no code to read the rest of them. The fields a
/// [`Pending`] cannot do without must be there too, so that what is counted is what is
/// sent.
#[derive(Deserialize)]
struct Placed {
    conversation_id: ConversationId,
    local_id: LocalId,
    #[serde(default)]
    written_at: i64,
    #[expect(dead_code, reason = "required, not read")]
    text: IgnoredAny,
    #[expect(dead_code, reason = "required, not read")]
    attempts: IgnoredAny,
    #[expect(dead_code, reason = "required, not read")]
    refused: IgnoredAny,
}

/// How many messages `user` has waiting, and the conversation of the oldest; `None`
/// when there are none (or no storage). An entry that does not read as a message is not
/// counted (nor sent: [`read`] skips it too).
pub fn waiting(user: UserId) -> Option<(usize, ConversationId)> {
    let placed: Vec<Placed> = read_each(user)?;
    let oldest = placed.iter().min_by(|a, b| {
        (a.written_at, a.local_id.as_str()).cmp(&(b.written_at, b.local_id.as_str()))
    })?;
    Some((placed.len(), oldest.conversation_id))
}

/// Each of `user`'s stored messages that reads as a `T`, in no particular order.
fn read_each<T: DeserializeOwned>(user: UserId) -> Option<Vec<T>> {
    let storage = local_storage()?;
    Some(
        keys(&storage, user)
            .into_iter()
            .filter_map(|key| storage.get_item(&key).ok().flatten())
            .filter_map(|json| serde_json::from_str(&json).ok())
            .collect(),
    )
}

/// The keys of `user`'s messages.
fn keys(storage: &web_sys::Storage, user: UserId) -> Vec<String> {
    let prefix = prefix(user);
    let length = storage.length().unwrap_or(0);
    (0..length)
        .filter_map(|index| storage.key(index).ok().flatten())
        .filter(|key| key.starts_with(&prefix))
        .collect()
}

/// Writes one message; `false` when it could not be kept (no storage, or a full one).
#[must_use]
pub fn write(user: UserId, pending: &Pending) -> bool {
    let Some(storage) = local_storage() else {
        return false;
    };
    let Ok(json) = serde_json::to_string(pending) else {
        return false;
    };
    let written = storage
        .set_item(&key(user, &pending.local_id), &json)
        .is_ok();
    announce_change();
    written
}

/// Deletes one message.
pub fn delete(user: UserId, local_id: &LocalId) {
    if let Some(storage) = local_storage() {
        let _ = storage.remove_item(&key(user, local_id));
        announce_change();
    }
}

/// Deletes every message of `user` (signing out), whatever is stored under their keys.
pub fn delete_all(user: UserId) {
    let Some(storage) = local_storage() else {
        return;
    };
    for key in keys(&storage, user) {
        let _ = storage.remove_item(&key);
    }
    announce_change();
}

/// The list an earlier version kept under one key becomes a key per message.
pub fn move_the_old_list(user: UserId) {
    let Some(storage) = local_storage() else {
        return;
    };
    let old_key = format!("messaging.outbox.v1.{user}");
    let Some(old) = storage
        .get_item(&old_key)
        .ok()
        .flatten()
        .and_then(|json| serde_json::from_str::<Vec<Pending>>(&json).ok())
    else {
        return;
    };
    for (order, mut pending) in old.into_iter().enumerate() {
        pending.written_at = i64::try_from(order).unwrap_or(i64::MAX);
        if !write(user, &pending) {
            return; // Kept where it was, until there is room.
        }
    }
    let _ = storage.remove_item(&old_key);
}

fn announce_change() {
    if let (Some(window), Ok(event)) = (web_sys::window(), web_sys::Event::new(CHANGED)) {
        let _ = window.dispatch_event(&event);
    }
}

/// Calls `on_change` whenever `user`'s outbox may have changed, in this tab or another,
/// until the current reactive owner is cleaned up.
pub fn watch(user: UserId, on_change: impl Fn() + 'static) {
    let on_change = std::rc::Rc::new(on_change);
    let from_other_tabs = Closure::<dyn Fn(web_sys::StorageEvent)>::new({
        let on_change = std::rc::Rc::clone(&on_change);
        let prefix = prefix(user);
        move |event: web_sys::StorageEvent| {
            // No key: the storage was cleared.
            if event.key().is_none_or(|key| key.starts_with(&prefix)) {
                on_change();
            }
        }
    });
    let from_this_tab = Closure::<dyn Fn()>::new(move || on_change());
    let window = leptos::prelude::window();
    let _ = window
        .add_event_listener_with_callback("storage", from_other_tabs.as_ref().unchecked_ref());
    let _ =
        window.add_event_listener_with_callback(CHANGED, from_this_tab.as_ref().unchecked_ref());
    let listeners = send_wrapper::SendWrapper::new((from_other_tabs, from_this_tab));
    leptos::prelude::on_cleanup(move || {
        let (from_other_tabs, from_this_tab) = listeners.take();
        let window = leptos::prelude::window();
        let _ = window.remove_event_listener_with_callback(
            "storage",
            from_other_tabs.as_ref().unchecked_ref(),
        );
        let _ = window
            .remove_event_listener_with_callback(CHANGED, from_this_tab.as_ref().unchecked_ref());
    });
}
