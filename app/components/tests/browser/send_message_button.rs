//! SendMessageButton and the compose modal in headless Chromium, with `window.fetch`
//! replaced by a scripted stub (the network boundary); the real server is covered by
//! the end-to-end suite.
use crate::support::{calls, element, exists, mount, posts, stub_fetch, type_text, until};
use leptos::prelude::*;
use messaging_components::SendMessageButton;
use messaging_core::{AgencyId, ConversationId};
use std::time::Duration;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::wasm_bindgen_test;
use web_sys::{HtmlElement, HtmlTextAreaElement};

/// The `local_id` a recorded send carried.
fn local_id(call: &serde_json::Value) -> String {
    let body: serde_json::Value =
        serde_json::from_str(call["body"].as_str().expect("body")).expect("json");
    body["initial_message"]["local_id"]
        .as_str()
        .expect("local_id")
        .to_owned()
}

fn dialog_open(root: &HtmlElement) -> bool {
    exists(root, "dialog[open]")
}

fn button(opened: RwSignal<Option<ConversationId>>, timeout_ms: u64) -> impl IntoView {
    view! {
        <SendMessageButton
            context_id=AgencyId::new_random()
            recipient="Northwind Travel"
            check_timeout=Duration::from_millis(timeout_ms)
            on_open=Callback::new(move |id| opened.set(Some(id)))
        />
    }
}

const CONVERSATION: &str = r#"{"id":"11111111-1111-4111-8111-111111111111","context_type":"agency_inquiry",
  "context_id":"22222222-2222-4222-8222-222222222222","title":"Northwind Travel",
  "created_by":{"id":"33333333-3333-4333-8333-333333333333","display_name":"Alice"},
  "created_at":"2026-11-22T10:00:00Z","last_message_at":"2026-11-22T10:00:00Z"}"#;

fn created_response(dedup: Option<&str>) -> String {
    let dedup = dedup
        .map(|d| format!(r#","dedup":"{d}""#))
        .unwrap_or_default();
    format!(
        r#"{{"conversation":{CONVERSATION},"message":{{"id":"44444444-4444-4444-8444-444444444444",
        "conversation_id":"11111111-1111-4111-8111-111111111111","seq":1,"local_id":"m","sender":
        {{"id":"33333333-3333-4333-8333-333333333333","display_name":"Alice"}},"text":"Hi",
        "created_at":"2026-11-22T10:00:00Z","display_data":{{"device_kind":"linux"}}}}{dedup},
        "key_expires_at":"2026-11-23T10:00:00Z"}}"#
    )
}

/// No conversation exists; the first send fails on the network, the next one succeeds.
fn stub_a_first_send_that_fails() {
    stub_fetch(&format!(
        "if (method !== 'POST') return json(200, {{ items: [] }});
         const posts = calls.filter(c => c.method === 'POST').length;
         if (posts === 1) throw new TypeError('Failed to fetch');
         return json(201, {});",
        created_response(None)
    ));
}

/// Two sends were made, both of one intent: the same key and the same `local_id`.
fn assert_two_sends_of_one_intent() {
    let posts = posts();
    assert_eq!(posts.len(), 2, "{posts:?}");
    assert!(posts[0]["key"].as_str().is_some_and(|k| !k.is_empty()));
    assert_eq!(posts[1]["key"], posts[0]["key"]);
    assert_eq!(local_id(&posts[0]), local_id(&posts[1]));
}

#[wasm_bindgen_test]
async fn an_existing_conversation_is_opened_without_the_modal() {
    stub_fetch(&format!("return json(200, {{ items: [{CONVERSATION}] }});"));
    let opened = RwSignal::new(None);
    let root = mount(move || button(opened, 1000));
    element(&root, ".send-message-button").click();
    until("navigation", || opened.get_untracked().is_some()).await;
    assert!(!dialog_open(&root));
    assert!(
        calls()[0]["url"]
            .as_str()
            .is_some_and(|u| u.contains("context_type=agency_inquiry"))
    );
}

#[wasm_bindgen_test]
async fn a_check_slower_than_the_timeout_opens_the_modal_anyway() {
    stub_fetch("return never();");
    let opened = RwSignal::new(None);
    let root = mount(move || button(opened, 100));
    element(&root, ".send-message-button").click();
    // A second click while the check runs does nothing.
    element(&root, ".send-message-button").click();
    until("the modal opens after the timeout", || dialog_open(&root)).await;
    assert_eq!(calls().len(), 1);
    assert!(opened.get_untracked().is_none());
}

#[wasm_bindgen_test]
async fn a_failed_send_is_retried_with_the_same_key_and_local_id() {
    stub_a_first_send_that_fails();
    let opened = RwSignal::new(None);
    let root = mount(move || button(opened, 1000));
    element(&root, ".send-message-button").click();
    until("modal", || dialog_open(&root)).await;
    type_text(&root, "Hello there");
    element(&root, "button[type=submit]").click();
    // A double click on send while in flight sends once.
    element(&root, "button[type=submit]").click();
    until("the error", || {
        root.query_selector("[data-testid=send-error]")
            .ok()
            .flatten()
            .is_some()
    })
    .await;
    element(&root, "button[type=submit]").click();
    until("success", || opened.get_untracked().is_some()).await;

    assert_two_sends_of_one_intent();
}

#[wasm_bindgen_test]
async fn editing_after_a_failed_send_starts_a_new_intent() {
    stub_fetch(
        "if (method !== 'POST') return json(200, { items: [] });
         throw new TypeError('Failed to fetch');",
    );
    let opened = RwSignal::new(None);
    let root = mount(move || button(opened, 1000));
    element(&root, ".send-message-button").click();
    until("modal", || dialog_open(&root)).await;
    type_text(&root, "First words");
    element(&root, "button[type=submit]").click();
    until("the error", || exists(&root, "[data-testid=send-error]")).await;
    // Reusing the key and local_id for other text would be refused; new ones are made.
    type_text(&root, "Second thoughts");
    element(&root, "button[type=submit]").click();
    until("two posts", || {
        calls().iter().filter(|c| c["method"] == "POST").count() == 2
    })
    .await;
    let posts = posts();
    assert_ne!(posts[0]["key"], posts[1]["key"]);
    assert_ne!(local_id(&posts[0]), local_id(&posts[1]));
}

#[wasm_bindgen_test]
async fn an_existing_conversation_found_by_the_send_is_announced_not_an_error() {
    stub_fetch(&format!(
        "if (method !== 'POST') return never();
         return json(200, {});",
        created_response(Some("natural_key"))
    ));
    let opened = RwSignal::new(None);
    let root = mount(move || button(opened, 50));
    element(&root, ".send-message-button").click();
    until("modal", || dialog_open(&root)).await;
    type_text(&root, "Hello again");
    element(&root, "button[type=submit]").click();
    until("notice", || {
        root.query_selector("[data-testid=already-contacted]")
            .ok()
            .flatten()
            .is_some()
    })
    .await;
    assert!(
        root.query_selector("[data-testid=send-error]")
            .ok()
            .flatten()
            .is_none()
    );
}

#[wasm_bindgen_test]
async fn the_dialog_closed_and_opened_again_keeps_its_draft_and_its_local_id() {
    // The first send fails; a check after it would find a conversation (made in another
    // tab, say), and lead away from the draft.
    stub_fetch(&format!(
        "if (method !== 'POST') {{
           const checks = calls.filter(c => c.method !== 'POST').length;
           return json(200, {{ items: checks === 1 ? [] : [{CONVERSATION}] }});
         }}
         const posts = calls.filter(c => c.method === 'POST').length;
         if (posts === 1) throw new TypeError('Failed to fetch');
         return json(201, {});",
        created_response(None)
    ));
    let opened = RwSignal::new(None);
    let root = mount(move || button(opened, 1000));
    element(&root, ".send-message-button").click();
    until("modal", || dialog_open(&root)).await;
    type_text(&root, "Written before closing");
    element(&root, "button[type=submit]").click();
    until("the error", || exists(&root, "[data-testid=send-error]")).await;
    // Closed, and its `close` event handled (a task later): a click before that could be
    // undone by it, which no person's click can be. The component's handler came first.
    js_sys::Reflect::set(&window(), &"testRoot".into(), &root).expect("the root");
    js_sys::eval(
        "window.dialogClosed = false;
         testRoot.querySelector('dialog').addEventListener('close', () => window.dialogClosed = true);",
    )
    .expect("a listener");
    element(&root, "dialog button[aria-label=Close]").click();
    until("closed", || {
        js_sys::eval("window.dialogClosed").is_ok_and(|closed| closed.is_truthy())
    })
    .await;
    assert!(!dialog_open(&root));

    element(&root, ".send-message-button").click();
    until("opened again", || dialog_open(&root)).await;
    let draft = element(&root, "textarea")
        .dyn_into::<HtmlTextAreaElement>()
        .expect("a textarea")
        .value();
    assert_eq!(draft, "Written before closing");
    element(&root, "button[type=submit]").click();
    until("success", || opened.get_untracked().is_some()).await;
    assert_two_sends_of_one_intent();
    let checks = calls().iter().filter(|c| c["method"] != "POST").count();
    assert_eq!(checks, 1, "opened again without a check");
}

/// Escape closes the dialog at once and fires `close` a task later: a click on the
/// button in between opens it again, and that late `close` must not shut it.
#[wasm_bindgen_test]
async fn a_dialog_opened_again_right_after_escape_stays_open() {
    stub_fetch("return json(200, { items: [] });");
    let opened = RwSignal::new(None);
    let root = mount(move || button(opened, 1000));
    element(&root, ".send-message-button").click();
    until("modal", || dialog_open(&root)).await;
    js_sys::Reflect::set(&window(), &"testRoot".into(), &root).expect("the root");
    // As Escape does (`cancel`, the dialog closed, `close` queued), then the click, all
    // before the queued `close` runs.
    js_sys::eval(
        "const dialog = testRoot.querySelector('dialog');
         dialog.dispatchEvent(new Event('cancel'));
         dialog.close();
         testRoot.querySelector('.send-message-button').click();",
    )
    .expect("Escape, then a click");
    crate::support::sleep(100).await;
    assert!(
        dialog_open(&root),
        "the late close shut the dialog opened again"
    );
}
