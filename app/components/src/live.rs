//! A conversation's live stream (Server-Sent Events through the browser's
//! `EventSource`, which reconnects by itself).

use leptos::prelude::*;
use messaging_core::wire::Message;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::{EventSource, MessageEvent};

/// Follows the stream at `url` until the current reactive owner is cleaned up.
/// `on_message` gets each new message; `on_connected` runs on every (re)connection and
/// when the server says this client fell behind, since messages may have been missed
/// then: the caller catches up through the API.
pub fn follow(
    url: &str,
    on_message: impl Fn(Message) + 'static,
    on_connected: impl Fn() + 'static,
) {
    let Ok(source) = EventSource::new(url) else {
        return;
    };
    let on_message = Closure::<dyn Fn(MessageEvent)>::new(move |event: MessageEvent| {
        if let Some(message) = event
            .data()
            .as_string()
            .and_then(|data| serde_json::from_str::<Message>(&data).ok())
        {
            on_message(message);
        }
    });
    let on_connected = Closure::<dyn Fn()>::new(on_connected);
    let listen = |event: &str, listener: &JsValue| {
        let _ = source.add_event_listener_with_callback(event, listener.unchecked_ref());
    };
    listen("message", on_message.as_ref());
    listen("open", on_connected.as_ref());
    listen("lagged", on_connected.as_ref());
    let kept = send_wrapper::SendWrapper::new((source, on_message, on_connected));
    on_cleanup(move || kept.0.close());
}
