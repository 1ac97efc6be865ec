//! A conversation's live stream (Server-Sent Events through the browser's `EventSource`).
//!
//! `EventSource` reconnects by itself after a dropped connection, but gives up for good
//! on an answer that is not a 200 event stream (a 502 while the server restarts behind a
//! proxy, say), without telling which. Here the server is then asked with a plain
//! request: a refusal no retry fixes (401: the session ended; 403, 404: the reader no
//! longer takes part, while the stream was down) ends the stream as the server's
//! `closed` event would; anything else opens it again after a backoff, so the view never
//! freezes.

use leptos::prelude::*;
use messaging_core::retry::{Backoff, Failure};
use messaging_core::wire::{Message, StreamClosed, stream_event};
use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::{EventSource, MessageEvent};

/// What the stream's owner does with what it carries.
pub struct Handlers<M, C, I, E> {
    /// Each new message.
    pub on_message: M,
    /// Every (re)connection, and when the server says messages may have been missed:
    /// the owner catches up through the API.
    pub on_connected: C,
    /// The connection was lost; it is being reopened (until `on_connected`).
    pub on_interrupted: I,
    /// The server ended the stream for good; it is not reopened.
    pub on_closed: E,
}

/// Follows the stream at the address `url` gives (asked again at each opening, so it can
/// name the last message the owner has) until the current reactive owner is cleaned up
/// or the server closes it.
pub fn follow<M, C, I, E>(url: impl Fn() -> String + 'static, handlers: Handlers<M, C, I, E>)
where
    M: Fn(Message) + 'static,
    C: Fn() + 'static,
    I: Fn() + 'static,
    E: Fn(StreamClosed) + 'static,
{
    let on_closed: Rc<dyn Fn(StreamClosed)> = Rc::new(handlers.on_closed);
    let handlers = Handlers {
        on_message: handlers.on_message,
        on_connected: handlers.on_connected,
        on_interrupted: handlers.on_interrupted,
        on_closed: {
            let on_closed = Rc::clone(&on_closed);
            move |reason| on_closed(reason)
        },
    };
    let live = Rc::new_cyclic(|live: &Weak<Live>| Live {
        url: Box::new(url),
        source: RefCell::new(None),
        failures: Cell::new(0),
        reopen: RefCell::new(None),
        asking: Cell::new(false),
        on_closed,
        listeners: Listeners::new(live.clone(), handlers),
    });
    live.open();
    let kept = send_wrapper::SendWrapper::new(live);
    on_cleanup(move || kept.stop());
}

struct Live {
    url: Box<dyn Fn() -> String>,
    source: RefCell<Option<EventSource>>,
    /// Openings the browser gave up on since the last one that worked.
    failures: Cell<u32>,
    reopen: RefCell<Option<TimeoutHandle>>,
    /// The server is being asked why it refused the stream.
    asking: Cell<bool>,
    on_closed: Rc<dyn Fn(StreamClosed)>,
    listeners: Listeners,
}

impl Live {
    fn open(&self) {
        let Ok(source) = EventSource::new(&(self.url)()) else {
            return;
        };
        self.listeners.attach(&source);
        if let Some(old) = self.source.replace(Some(source)) {
            old.close();
        }
    }

    /// After an error: when the browser gave up (a non-200 answer, a wrong content
    /// type), asks the server why; otherwise it is reconnecting.
    fn on_error(self: &Rc<Self>) {
        let given_up = self
            .source
            .borrow()
            .as_ref()
            .is_some_and(|source| source.ready_state() == EventSource::CLOSED);
        if !given_up || self.reopen.borrow().is_some() || self.asking.replace(true) {
            return;
        }
        let live = Rc::downgrade(self);
        let url = (self.url)();
        wasm_bindgen_futures::spawn_local(async move {
            let refused = refusal(&url).await;
            let Some(live) = live.upgrade() else {
                return; // Stopped meanwhile.
            };
            live.asking.set(false);
            match refused {
                Some(reason) => {
                    live.stop();
                    (live.on_closed)(reason);
                }
                None => live.reopen_after_backoff(),
            }
        });
    }

    fn reopen_after_backoff(self: &Rc<Self>) {
        let failures = self.failures.get();
        self.failures.set(failures.saturating_add(1));
        let wait = Backoff::until_it_works()
            .delay(failures, Failure::Network, js_sys::Math::random(), None)
            .unwrap_or_default();
        let live = Rc::downgrade(self);
        let timer = set_timeout_with_handle(
            move || {
                if let Some(live) = live.upgrade() {
                    live.reopen.take();
                    live.open();
                }
            },
            wait,
        );
        *self.reopen.borrow_mut() = timer.ok();
    }

    fn stop(&self) {
        if let Some(timer) = self.reopen.take() {
            timer.clear();
        }
        if let Some(source) = self.source.take() {
            source.close();
        }
    }
}

/// The closures attached to every `EventSource` of one stream.
struct Listeners {
    message: Closure<dyn Fn(MessageEvent)>,
    connected: Closure<dyn Fn()>,
    opened: Closure<dyn Fn()>,
    closed: Closure<dyn Fn(MessageEvent)>,
    error: Closure<dyn Fn()>,
}

impl Listeners {
    fn new<M, C, I, E>(live: Weak<Live>, handlers: Handlers<M, C, I, E>) -> Self
    where
        M: Fn(Message) + 'static,
        C: Fn() + 'static,
        I: Fn() + 'static,
        E: Fn(StreamClosed) + 'static,
    {
        let Handlers {
            on_message,
            on_connected,
            on_interrupted,
            on_closed,
        } = handlers;
        let on_connected = Rc::new(on_connected);
        Self {
            message: Closure::new(move |event: MessageEvent| {
                if let Some(message) =
                    data_of(&event).and_then(|data| serde_json::from_str::<Message>(&data).ok())
                {
                    on_message(message);
                }
            }),
            connected: Closure::new({
                let on_connected = Rc::clone(&on_connected);
                move || on_connected()
            }),
            opened: Closure::new({
                let live = live.clone();
                move || {
                    if let Some(live) = live.upgrade() {
                        live.failures.set(0);
                    }
                    on_connected();
                }
            }),
            closed: Closure::new({
                let live = live.clone();
                move |event: MessageEvent| {
                    if let Some(live) = live.upgrade() {
                        live.stop();
                    }
                    if let Some(reason) = data_of(&event).as_deref().and_then(StreamClosed::parse) {
                        on_closed(reason);
                    }
                }
            }),
            error: Closure::new(move || {
                if let Some(live) = live.upgrade() {
                    on_interrupted();
                    live.on_error();
                }
            }),
        }
    }

    fn attach(&self, source: &EventSource) {
        let listen = |event: &str, listener: &JsValue| {
            let _ = source.add_event_listener_with_callback(event, listener.unchecked_ref());
        };
        listen(stream_event::MESSAGE, self.message.as_ref());
        listen("open", self.opened.as_ref());
        listen(stream_event::LAGGED, self.connected.as_ref());
        listen(stream_event::CLOSED, self.closed.as_ref());
        listen("error", self.error.as_ref());
    }
}

/// Why the server refuses the stream at `url` for good, if it does: its answer's status,
/// the request aborted once the status is in (a stream that would open is not read), or
/// after the API's timeout (no answer: not a refusal, the stream is opened again).
async fn refusal(url: &str) -> Option<StreamClosed> {
    let abort = web_sys::AbortController::new().ok()?;
    let timer = set_timeout_with_handle(
        {
            let abort = abort.clone();
            move || abort.abort()
        },
        crate::api::DEFAULT_TIMEOUT,
    )
    .ok();
    let answer = gloo_net::http::Request::get(url)
        .header("Accept", "text/event-stream")
        .abort_signal(Some(&abort.signal()))
        .send()
        .await;
    if let Some(timer) = timer {
        timer.clear();
    }
    abort.abort();
    match answer.ok()?.status() {
        401 => Some(StreamClosed::SignedOut),
        403 | 404 => Some(StreamClosed::NotParticipant),
        _ => None,
    }
}

fn data_of(event: &MessageEvent) -> Option<String> {
    event.data().as_string()
}
