//! Helpers shared by the browser tests: mounting, querying and waiting.

use leptos::prelude::*;
use std::time::Duration;
use wasm_bindgen::JsCast;
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

pub fn text_of(root: &HtmlElement, selector: &str) -> String {
    root.query_selector(selector)
        .ok()
        .flatten()
        .and_then(|e| e.text_content())
        .unwrap_or_default()
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
