//! The home page's key maker, in headless Chromium (wasm-bindgen-test).
//! Run by `scripts/test` as `cargo test -p site --target wasm32-unknown-unknown --features csr`.
#![cfg(target_arch = "wasm32")]

use leptos::prelude::*;
use messaging_core::IdempotencyKey;
use site::key_maker::KeyMaker;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};
use web_sys::HtmlElement;

wasm_bindgen_test_configure!(run_in_browser);

fn mount_key_maker() -> HtmlElement {
    let host: HtmlElement = document()
        .create_element("div")
        .expect("div")
        .unchecked_into();
    document()
        .body()
        .expect("body")
        .append_child(&host)
        .expect("append");
    // Keep the mounted view alive for the rest of the test.
    std::mem::forget(leptos::mount::mount_to(host.clone(), KeyMaker));
    host
}

fn text_of(root: &HtmlElement, selector: &str) -> String {
    root.query_selector(selector)
        .ok()
        .flatten()
        .and_then(|e| e.text_content())
        .unwrap_or_default()
}

fn click_button(root: &HtmlElement) {
    let button: HtmlElement = root
        .query_selector("button")
        .ok()
        .flatten()
        .expect("the button")
        .unchecked_into();
    button.click();
}

#[wasm_bindgen_test]
async fn key_maker_makes_a_new_valid_key_on_each_click() {
    let root = mount_key_maker();
    assert_eq!(text_of(&root, "[data-testid=key]"), "No key yet");

    click_button(&root);
    leptos::task::tick().await;
    let first = text_of(&root, "[data-testid=key]");
    assert!(
        IdempotencyKey::parse(&first).is_ok(),
        "not a key: {first:?}"
    );
    assert_eq!(text_of(&root, "[data-testid=made]"), "1 made");

    click_button(&root);
    leptos::task::tick().await;
    let second = text_of(&root, "[data-testid=key]");
    assert_ne!(first, second);
    assert_eq!(text_of(&root, "[data-testid=made]"), "2 made");
}
