//! Helpers shared by the browser tests: mounting, querying and waiting.

use leptos::prelude::*;
use std::time::Duration;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::HtmlElement;

/// Mounts `view` into a fresh element appended to `<body>`, returning that element.
pub fn mount<V: IntoView + 'static>(view: impl FnOnce() -> V + 'static) -> HtmlElement {
    let document = document();
    let host: HtmlElement = document
        .create_element("div")
        .expect("div")
        .unchecked_into();
    document
        .body()
        .expect("body")
        .append_child(&host)
        .expect("append");
    // A modal dialog an earlier test left open (its views stay mounted) makes the rest
    // of the page inert: nothing mounted now could take the focus.
    let open = document
        .query_selector_all("dialog[open]")
        .expect("dialogs");
    for dialog in (0..open.length()).filter_map(|i| open.item(i)) {
        let dialog: web_sys::HtmlDialogElement = dialog.unchecked_into();
        dialog.close();
    }
    // Keep the mounted view alive for the rest of the test.
    std::mem::forget(leptos::mount::mount_to(host.clone(), view));
    host
}

pub fn element(root: &HtmlElement, selector: &str) -> HtmlElement {
    root.query_selector(selector)
        .ok()
        .flatten()
        .expect(selector)
        .unchecked_into()
}

/// Clicks `button` as a person does: it has the focus first.
pub fn press(button: &HtmlElement) {
    button.focus().expect("focus");
    button.click();
}

pub fn exists(root: &HtmlElement, selector: &str) -> bool {
    root.query_selector(selector).ok().flatten().is_some()
}

pub async fn sleep(ms: u64) {
    let (sender, receiver) = futures_channel::oneshot::channel::<()>();
    set_timeout(
        move || {
            let _ = sender.send(());
        },
        Duration::from_millis(ms),
    );
    let _ = receiver.await;
}

/// Waits (at most two seconds) until `condition` holds.
pub async fn until(what: &str, condition: impl Fn() -> bool) {
    for _ in 0..200 {
        if condition() {
            return;
        }
        sleep(10).await;
    }
    panic!("timed out waiting for: {what}");
}

/// Replaces `fetch`. A live stream's URL is answered `window.streamStatus` (503 by
/// default), unrecorded. `script` is the body of an async JS function that sees `req` (the
/// Request), `method`, `calls` (every call's url, method, Idempotency-Key and body, also
/// in `window.calls`), `json(status, value)` and `never()`, and returns a Response.
pub fn stub_fetch(script: &str) {
    let body = format!(
        "return (async () => {{
         const req = url instanceof Request ? url : new Request(url, init);
         const method = req.method;
         const body = method === 'GET' ? null : await req.clone().text();
         // The live view asks why its stream was refused (the test server has none):
         // unrecorded, answered with `window.streamStatus` (a 503 unless a test sets it).
         if (/\\/stream(\\?|$)/.test(req.url)) return new Response(null, {{ status: window.streamStatus || 503 }});
         window.calls.push({{ url: req.url, method, key: req.headers.get('Idempotency-Key'), body }});
         const calls = window.calls;
         const json = (status, value, extra) => new Response(JSON.stringify(value),
             {{ status, headers: Object.assign({{ 'content-type': 'application/json' }}, extra || {{}}) }});
         const never = () => new Promise((_, reject) => req.signal.addEventListener('abort',
             () => reject(new DOMException('aborted', 'AbortError'))));
         {script}
         }})();"
    );
    let fetch = js_sys::Function::new_with_args("url, init", &body);
    let window = web_sys::window().expect("window");
    js_sys::Reflect::set(&window, &"fetch".into(), &fetch).expect("stub fetch");
    js_sys::Reflect::set(&window, &"calls".into(), &js_sys::Array::new()).expect("reset calls");
    js_sys::Reflect::set(&window, &"streamStatus".into(), &JsValue::UNDEFINED)
        .expect("reset the stream's answer");
}

/// The recorded POSTs (the sends).
pub fn posts() -> Vec<serde_json::Value> {
    calls()
        .into_iter()
        .filter(|c| c["method"] == "POST")
        .collect()
}

/// Every recorded call: url, method, Idempotency-Key and body.
pub fn calls() -> Vec<serde_json::Value> {
    let window = web_sys::window().expect("window");
    let calls = js_sys::Reflect::get(&window, &"calls".into()).expect("calls");
    let json = js_sys::JSON::stringify(&calls)
        .expect("json")
        .as_string()
        .expect("string");
    serde_json::from_str(&json).expect("calls json")
}

/// Types into the (first) textarea as a person would.
pub fn type_text(root: &HtmlElement, text: &str) {
    let area: web_sys::HtmlTextAreaElement = element(root, "textarea").unchecked_into();
    area.set_value(text);
    let event = web_sys::Event::new("input").expect("event");
    area.dispatch_event(&event).expect("dispatch");
}
