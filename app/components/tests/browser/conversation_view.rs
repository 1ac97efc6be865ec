//! The conversation view in headless Chromium with `window.fetch` stubbed: the local
//! echo, its reconciliation by `local_id`, failure and retry, and the persisted outbox.
use crate::support::{element, exists, mount, posts, press, stub_fetch, type_text, until};
use messaging_components::ConversationView;
use messaging_core::wire::{Conversation, CurrentUser, Message};
use messaging_core::{LocalId, UserId};
use wasm_bindgen_test::wasm_bindgen_test;
use web_sys::HtmlElement;

const CONVERSATION: &str = r#"{"id":"11111111-1111-4111-8111-111111111111","context_type":"agency_inquiry",
  "context_id":"22222222-2222-4222-8222-222222222222","title":"Northwind Travel",
  "created_by":{"id":"33333333-3333-4333-8333-333333333333","display_name":"Alice"},
  "created_at":"2026-11-22T10:00:00Z","last_message_at":"2026-11-22T10:00:00Z"}"#;

/// The server's 202, echoing the sent text and local_id as the reader's message, with the
/// conversation's next sequence number (`view_for` starts the count); any other call a 404
/// (a view of an earlier test, still mounted, may ask for its catch-up).
const ACCEPT_SEND: &str = "if (method !== 'POST') return json(404, { type: 'about:blank', title: 'Not found',
      status: 404, detail: 'Not here.', code: 'not_found' });
    const sent = JSON.parse(body);
    window.lastSeq += 1;
    return json(202, { queued: true, message: {
      id: crypto.randomUUID(), conversation_id: sent.conversation_id, seq: window.lastSeq, local_id: sent.local_id,
      sender: { id: window.readerId, display_name: 'Alice' }, text: sent.text,
      created_at: new Date().toISOString(), display_data: { device_kind: 'linux' } } });";

fn first_message() -> Message {
    serde_json::from_str(
        r#"{"id":"44444444-4444-4444-8444-444444444444","conversation_id":"11111111-1111-4111-8111-111111111111",
        "seq":1,"local_id":"first","sender":{"id":"55555555-5555-4555-8555-555555555555","display_name":"Carol"},
        "text":"Welcome!","created_at":"2026-11-22T10:00:00Z","display_data":{"device_kind":"mac"}}"#,
    )
    .expect("message")
}

/// A reader of their own (so their outbox in localStorage is theirs alone).
fn reader() -> CurrentUser {
    let id = UserId::new_random();
    let window = web_sys::window().expect("window");
    js_sys::Reflect::set(&window, &"readerId".into(), &id.to_string().into()).expect("readerId");
    CurrentUser {
        id,
        username: "alice".into(),
        display_name: "Alice".into(),
    }
}

/// The view of a conversation whose one message (number 1) is `first_message`.
fn view_for(reader: CurrentUser) -> HtmlElement {
    view_rendered_with(reader, LocalId::generate())
}

/// [`view_for`], its composer's first `local_id` the one its page was rendered with.
fn view_rendered_with(reader: CurrentUser, form_local_id: LocalId) -> HtmlElement {
    let window = web_sys::window().expect("window");
    js_sys::Reflect::set(&window, &"lastSeq".into(), &1.into()).expect("lastSeq");
    let conversation: Conversation = serde_json::from_str(CONVERSATION).expect("conversation");
    mount(move || {
        leptos::view! {
            <ConversationView conversation messages=vec![first_message()] reader form_local_id />
        }
    })
}

fn rows(root: &HtmlElement) -> Vec<(String, String)> {
    let list = root.query_selector_all("li.message").expect("rows");
    (0..list.length())
        .filter_map(|i| list.item(i))
        .map(|node| {
            let row: web_sys::Element = wasm_bindgen::JsCast::unchecked_into(node);
            (
                row.get_attribute("data-local-id").unwrap_or_default(),
                row.get_attribute("data-delivery").unwrap_or_default(),
            )
        })
        .collect()
}

/// The element that has the focus, if any but `<body>`.
fn focused() -> Option<HtmlElement> {
    let document = web_sys::window()?.document()?;
    let active: HtmlElement = wasm_bindgen::JsCast::dyn_into(document.active_element()?).ok()?;
    (Some(&active) != document.body().as_ref()).then_some(active)
}

fn sent_local_id(call: &serde_json::Value) -> String {
    let body: serde_json::Value =
        serde_json::from_str(call["body"].as_str().expect("body")).expect("json");
    body["local_id"].as_str().expect("local_id").to_owned()
}

fn send(root: &HtmlElement, text: &str) {
    type_text(root, text);
    element(root, ".composer button[type=submit]").click();
}

#[wasm_bindgen_test]
async fn a_confirmed_message_replaces_its_local_copy_instead_of_adding_a_second() {
    // The answer waits until the test lets it go, so the "sending" state can be seen.
    stub_fetch(&format!(
        "await new Promise(go => window.release = go); {ACCEPT_SEND}"
    ));
    let root = view_for(reader());
    send(&root, "Is March possible?");
    until("the local echo", || rows(&root).len() == 2).await;
    let (local_id, delivery) = rows(&root)[1].clone();
    assert_eq!(delivery, "sending");
    assert!(!local_id.is_empty());

    until("the send", || posts().len() == 1).await;
    let sending_row = element(&root, &format!("[data-local-id='{local_id}']"));
    js_sys::eval("window.release()").expect("release");
    until("the confirmation", || rows(&root)[1].1 == "sent").await;
    // The same element, now sent: whatever was in it (focus, a notice) stays.
    assert!(sending_row.is_connected());
    assert_eq!(
        sending_row.get_attribute("data-delivery").as_deref(),
        Some("sent")
    );
    assert_eq!(
        rows(&root),
        [
            ("first".into(), "sent".into()),
            (local_id.clone(), "sent".into())
        ]
    );
    assert_eq!(sent_local_id(&posts()[0]), local_id);
    // With what tells an iPad from a Mac (headless Chromium has no touch screen).
    let sent: serde_json::Value =
        serde_json::from_str(posts()[0]["body"].as_str().expect("body")).expect("json");
    assert_eq!(sent["max_touch_points"], 0);
    // The composer is ready for the next message, under a new local_id.
    send(&root, "And April?");
    until("the second send", || posts().len() == 2).await;
    assert_ne!(sent_local_id(&posts()[1]), local_id);
}

#[wasm_bindgen_test]
async fn a_failed_send_keeps_its_local_id_and_the_retry_uses_it() {
    // Refused once with a 4xx that a retry cannot fix by itself, then accepted.
    stub_fetch(&format!(
        "if (calls.length === 1) return json(404, {{ type: 'about:blank', title: 'Not found',
            status: 404, detail: 'No such conversation here.', code: 'not_found' }});
         {ACCEPT_SEND}"
    ));
    let root = view_for(reader());
    send(&root, "Hello?");
    until("the failure", || exists(&root, "[data-delivery=failed]")).await;
    assert!(
        element(&root, "[data-delivery=failed]")
            .text_content()
            .unwrap_or_default()
            .contains("No such conversation here.")
    );
    press(&element(&root, "[data-delivery=failed] .delivery button"));
    // Its buttons go as it is sent again; the focus stays on its row.
    assert_eq!(focused(), Some(element(&root, "[data-delivery=failed]")));
    until("the retry is confirmed", || {
        rows(&root).iter().all(|(_, delivery)| delivery == "sent") && rows(&root).len() == 2
    })
    .await;
    let posts = posts();
    assert_eq!(posts.len(), 2);
    assert_eq!(sent_local_id(&posts[0]), sent_local_id(&posts[1]));
}

#[wasm_bindgen_test]
async fn an_unsent_message_left_in_the_outbox_is_shown_and_sent_after_a_reload() {
    let reader = reader();
    // What a previous page load left behind (written while offline, say), in the list
    // an earlier version kept under one key: it is moved to a key per message.
    let unsent = LocalId::generate();
    let stored = serde_json::json!([{
        "conversation_id": "11111111-1111-4111-8111-111111111111",
        "local_id": unsent.to_string(),
        "text": "Written before the reload",
        "user_agent": null,
        "attempts": 3,
        "last_error": "Could not reach the server.",
        "refused": false
    }]);
    web_sys::window()
        .and_then(|w| w.local_storage().ok().flatten())
        .expect("localStorage")
        .set_item(
            &format!("messaging.outbox.v1.{}", reader.id),
            &stored.to_string(),
        )
        .expect("store");
    stub_fetch(ACCEPT_SEND);

    let root = view_for(reader);
    until("sent once", || {
        rows(&root)
            == [
                ("first".into(), "sent".into()),
                (unsent.to_string(), "sent".into()),
            ]
    })
    .await;
    assert_eq!(posts().len(), 1);
    assert_eq!(sent_local_id(&posts()[0]), unsent.to_string());
}

/// Another conversation of the reader's, with a message of its own waiting in the outbox.
const ELSEWHERE: &str = "66666666-6666-4666-8666-666666666666";

/// The server's 202 to a send to that other conversation (its first message, numbered
/// apart from the shown conversation's).
const ACCEPT_ELSEWHERE: &str = "if (JSON.parse(body).conversation_id === '66666666-6666-4666-8666-666666666666') {
      const sent = JSON.parse(body);
      return json(202, { queued: true, message: {
        id: crypto.randomUUID(), conversation_id: sent.conversation_id, seq: 1, local_id: sent.local_id,
        sender: { id: window.readerId, display_name: 'Alice' }, text: sent.text,
        created_at: new Date().toISOString(), display_data: { device_kind: 'linux' } } });
    }";

/// Puts a message in the reader's outbox as an earlier page load would have left it.
fn leave_in_outbox(
    reader: &CurrentUser,
    conversation: &str,
    text: &str,
    written_at: i64,
) -> LocalId {
    let local_id = LocalId::generate();
    let pending = serde_json::json!({
        "conversation_id": conversation,
        "local_id": local_id.to_string(),
        "text": text,
        "user_agent": null,
        "attempts": 0,
        "last_error": null,
        "refused": false,
        "written_at": written_at
    });
    web_sys::window()
        .and_then(|w| w.local_storage().ok().flatten())
        .expect("localStorage")
        .set_item(
            &format!("messaging.outbox.v2.{}.{local_id}", reader.id),
            &pending.to_string(),
        )
        .expect("store");
    local_id
}

fn posted_local_ids() -> Vec<String> {
    posts().iter().map(sent_local_id).collect()
}

fn delivery_of(root: &HtmlElement, local_id: &str) -> String {
    rows(root)
        .into_iter()
        .find(|(id, _)| id == local_id)
        .map(|(_, delivery)| delivery)
        .unwrap_or_default()
}

#[wasm_bindgen_test]
async fn a_refused_message_holds_back_the_later_ones_of_its_conversation_only() {
    // The first send of this conversation is refused (a 404 no retry fixes by itself);
    // everything else is accepted.
    stub_fetch(&format!(
        "const asked = JSON.parse(body);
         const here = '11111111-1111-4111-8111-111111111111';
         if (asked.conversation_id === here && !window.refusedOnce) {{
           window.refusedOnce = true;
           return json(404, {{ type: 'about:blank', title: 'Not found', status: 404,
             detail: 'No such conversation here.', code: 'not_found' }});
         }}
         {ACCEPT_ELSEWHERE}
         {ACCEPT_SEND}"
    ));
    js_sys::Reflect::set(
        &web_sys::window().expect("window"),
        &"refusedOnce".into(),
        &false.into(),
    )
    .expect("reset");
    let reader = reader();
    let root = view_for(reader.clone());
    send(&root, "First");
    until("the refusal", || exists(&root, "[data-delivery=failed]")).await;
    let first = rows(&root)[1].0.clone();
    send(&root, "Second, written after");
    until("the second shown", || rows(&root).len() == 3).await;
    let second = rows(&root)[2].0.clone();
    // Another conversation's message (written in another tab, say) is sent meanwhile,
    // once something wakes the outbox (here, coming back online).
    let elsewhere = leave_in_outbox(&reader, ELSEWHERE, "Elsewhere", 3);
    let online = web_sys::Event::new("online").expect("event");
    web_sys::window()
        .expect("window")
        .dispatch_event(&online)
        .expect("dispatch");
    until("the other conversation's message is sent", || {
        posted_local_ids().contains(&elsewhere.to_string())
    })
    .await;
    assert_eq!(delivery_of(&root, &second), "waiting");
    assert!(
        !posted_local_ids().contains(&second),
        "the later message overtook the refused one"
    );

    // Retrying the refused one sends it, then the one held back, in that order.
    element(&root, "[data-delivery=failed] .delivery button").click();
    until("both sent", || {
        delivery_of(&root, &first) == "sent" && delivery_of(&root, &second) == "sent"
    })
    .await;
    let order: Vec<String> = posted_local_ids()
        .into_iter()
        .filter(|id| *id == first || *id == second)
        .collect();
    assert_eq!(order, [first.clone(), first, second]);
}

#[wasm_bindgen_test]
async fn a_message_retried_by_itself_does_not_hold_up_another_conversation() {
    // This conversation's sends meet a busy server (503, retried by itself); the other
    // conversation's are accepted.
    stub_fetch(&format!(
        "const asked = JSON.parse(body);
         if (asked.conversation_id === '11111111-1111-4111-8111-111111111111')
           return json(503, {{ type: 'about:blank', title: 'Unavailable', status: 503,
             detail: 'Busy.', code: 'unavailable' }}, {{ 'retry-after': '30' }});
         {ACCEPT_ELSEWHERE}"
    ));
    let reader = reader();
    // Written earlier than the other conversation's message, so it goes first.
    let here = leave_in_outbox(&reader, "11111111-1111-4111-8111-111111111111", "Here", 1);
    let elsewhere = leave_in_outbox(&reader, ELSEWHERE, "Elsewhere", 2);
    let root = view_for(reader);
    until("the other conversation's message is sent", || {
        posted_local_ids().contains(&elsewhere.to_string())
    })
    .await;
    assert_eq!(
        posted_local_ids()
            .iter()
            .filter(|id| **id == here.to_string())
            .count(),
        1,
        "tried once, then waits out its Retry-After"
    );
    assert_eq!(delivery_of(&root, here.as_ref()), "failed");

    // Coming back online ends the wait: it is tried again at once.
    let online = web_sys::Event::new("online").expect("event");
    web_sys::window()
        .expect("window")
        .dispatch_event(&online)
        .expect("dispatch");
    until("tried again once online", || {
        posted_local_ids()
            .iter()
            .filter(|id| **id == here.to_string())
            .count()
            == 2
    })
    .await;
}

#[wasm_bindgen_test]
async fn a_message_no_request_carried_yet_can_be_edited_or_cancelled() {
    // The first send hangs until released, so the next two wait their turn.
    stub_fetch(&format!(
        "if (calls.length === 1) await new Promise(go => window.release = go);
         {ACCEPT_SEND}"
    ));
    let root = view_for(reader());
    send(&root, "On its way");
    until("the first send", || posts().len() == 1).await;
    send(&root, "Second thoughts");
    send(&root, "Never mind");
    until("all three shown", || rows(&root).len() == 4).await;
    let carried = rows(&root)[1].0.clone();
    let (edited, cancelled) = (rows(&root)[2].0.clone(), rows(&root)[3].0.clone());
    let row = |local_id: &str| format!("[data-local-id='{local_id}']");
    // The one a request carries can no longer be changed.
    assert!(!exists(
        &root,
        &format!("{} .delivery button", row(&carried))
    ));

    press(&element(
        &root,
        &format!("{} .delivery button:nth-of-type(1)", row(&edited)),
    ));
    until("taken back into the composer", || {
        let area: web_sys::HtmlTextAreaElement =
            wasm_bindgen::JsCast::unchecked_into(element(&root, "textarea"));
        area.value() == "Second thoughts"
    })
    .await;
    until("the focus in the composer", || {
        focused() == Some(element(&root, "textarea"))
    })
    .await;
    press(&element(
        &root,
        &format!("{} .delivery button:nth-of-type(2)", row(&cancelled)),
    ));
    until("both gone", || rows(&root).len() == 2).await;

    js_sys::eval("window.release()").expect("release");
    until("the first sent", || delivery_of(&root, &carried) == "sent").await;
    crate::support::sleep(300).await;
    assert_eq!(posted_local_ids(), [carried]);
}

/// How many requests for the Web Lock `name` are waiting (held ones are not counted).
async fn waiting_for_lock(name: &str) -> usize {
    let query = js_sys::eval(&format!(
        "navigator.locks.query().then(state => state.pending.filter(lock => lock.name === '{name}').length)"
    ))
    .expect("query");
    let count = wasm_bindgen_futures::JsFuture::from(js_sys::Promise::from(query))
        .await
        .expect("locks");
    count.as_f64().unwrap_or_default() as usize
}

#[wasm_bindgen_test]
async fn a_cancel_that_comes_as_the_message_leaves_says_it_is_too_late() {
    // The first send hangs until released; the second message waits its turn.
    stub_fetch(&format!(
        "if (calls.length === 1) await new Promise(go => window.release = go);
         {ACCEPT_SEND}"
    ));
    let reader = reader();
    let lock = format!("messaging-outbox-entries.{}", reader.id);
    let root = view_for(reader);
    send(&root, "On its way");
    until("the first send", || posts().len() == 1).await;
    send(&root, "Never mind");
    until("both shown", || rows(&root).len() == 3).await;
    let late = rows(&root)[2].0.clone();

    // Held here, the lock makes the send loop (asking first, to carry the message) and
    // the Cancel (asking next) wait, then go in that order: Cancel comes too late.
    js_sys::eval(&format!(
        "navigator.locks.request('{lock}', () => new Promise(free => window.freeLock = free))"
    ))
    .expect("hold the lock");
    let window = web_sys::window().expect("window");
    until("the lock held", || {
        js_sys::Reflect::has(&window, &"freeLock".into()).unwrap_or_default()
    })
    .await;
    js_sys::eval("window.release()").expect("release");
    for waiting in [1, 2] {
        if waiting == 2 {
            press(&element(
                &root,
                &format!("[data-local-id='{late}'] .delivery button:nth-of-type(2)"),
            ));
        }
        for _ in 0..200 {
            if waiting_for_lock(&lock).await == waiting {
                break;
            }
            crate::support::sleep(10).await;
        }
        assert_eq!(waiting_for_lock(&lock).await, waiting);
    }
    js_sys::eval("window.freeLock(); delete window.freeLock").expect("free the lock");

    let row = format!("[data-local-id='{late}']");
    until("sent", || delivery_of(&root, &late) == "sent").await;
    until("the row says why it was not cancelled", || {
        element(&root, &row)
            .text_content()
            .unwrap_or_default()
            .contains("Too late to change")
    })
    .await;
    until("the focus on its row", || {
        focused() == Some(element(&root, &row))
    })
    .await;
    assert_eq!(posted_local_ids().last(), Some(&late));
}

#[wasm_bindgen_test]
async fn a_message_that_may_have_reached_the_server_is_discarded_only_if_it_did_not() {
    // Every send meets a busy server (so the outbox retries by itself); asked about a
    // local_id, the server has the second message written and not the first.
    stub_fetch(&format!(
        "if (method === 'GET' && /\\/messages\\/[^/?]+$/.test(req.url)) {{
           const localId = decodeURIComponent(req.url.split('/').pop());
           if (localId !== window.arrived) return json(404, {{ type: 'about:blank',
             title: 'Not found', status: 404, detail: 'No message.', code: 'not_found' }});
           return json(200, {{ id: crypto.randomUUID(), conversation_id: '11111111-1111-4111-8111-111111111111',
             seq: 2, local_id: localId, sender: {{ id: window.readerId, display_name: 'Alice' }},
             text: 'Arrived?', created_at: new Date().toISOString(), display_data: {{ device_kind: 'linux' }} }});
         }}
         if (method === 'POST') return json(503, {{ type: 'about:blank', title: 'Unavailable',
           status: 503, detail: 'Busy.', code: 'unavailable' }}, {{ 'retry-after': '30' }});
         {ACCEPT_SEND}"
    ));
    let root = view_for(reader());
    let discard = |local_id: &str| {
        element(
            &root,
            &format!("[data-local-id='{local_id}'] .delivery button:nth-of-type(2)"),
        )
        .click();
    };

    send(&root, "Lost?");
    until("retrying", || exists(&root, "[data-delivery=failed]")).await;
    let lost = rows(&root)[1].0.clone();
    discard(&lost);
    until("dropped: the server never got it", || {
        rows(&root).len() == 1
    })
    .await;

    send(&root, "Arrived?");
    until("retrying", || exists(&root, "[data-delivery=failed]")).await;
    let arrived = rows(&root)[1].0.clone();
    js_sys::Reflect::set(
        &web_sys::window().expect("window"),
        &"arrived".into(),
        &arrived.clone().into(),
    )
    .expect("arrived");
    discard(&arrived);
    until("shown as sent: the server had it", || {
        delivery_of(&root, &arrived) == "sent"
    })
    .await;
}

/// From now on this reader's outbox cannot be written to: `localStorage.setItem` throws
/// the quota error a full storage throws (for their keys only: other tests go on).
fn fill_storage_for(reader: &CurrentUser) {
    js_sys::eval(&format!(
        "(() => {{
           const write = window.realSetItem || Storage.prototype.setItem;
           window.realSetItem = write;
           const full = (window.fullFor = window.fullFor || []);
           full.push('messaging.outbox.v2.{}.');
           Storage.prototype.setItem = function (key, value) {{
             if (full.some(prefix => key.startsWith(prefix)))
               throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
             return write.call(this, key, value);
           }};
         }})()",
        reader.id
    ))
    .expect("full storage");
}

#[wasm_bindgen_test]
async fn a_message_written_when_storage_is_full_is_shown_and_sent() {
    // Numbered 2 whatever other tests' views still send meanwhile; answered once released.
    stub_fetch(&format!(
        "if (body && body.includes('Kept in memory')) await new Promise(go => window.releaseKept = go);
         {}",
        ACCEPT_SEND.replace("window.lastSeq += 1;", "window.lastSeq = 2;")
    ));
    let reader = reader();
    fill_storage_for(&reader);
    let root = view_for(reader);
    send(&root, "Kept in memory");
    until("the send", || {
        js_sys::Reflect::has(&web_sys::window().expect("window"), &"releaseKept".into())
            .unwrap_or_default()
    })
    .await;
    // Until it is sent, its row says it would not survive the tab.
    let unsent = element(&root, "li.message:nth-child(2)");
    assert!(
        unsent
            .text_content()
            .unwrap_or_default()
            .contains("Not saved on this device")
    );
    js_sys::eval("window.releaseKept(); delete window.releaseKept").expect("release");
    until("sent", || {
        rows(&root).len() == 2 && rows(&root)[1].1 == "sent"
    })
    .await;
    assert!(
        !unsent
            .text_content()
            .unwrap_or_default()
            .contains("Not saved on this device")
    );
    let local_id = rows(&root)[1].0.clone();
    assert_eq!(
        posted_local_ids()
            .iter()
            .filter(|id| **id == local_id)
            .count(),
        1
    );
}

#[wasm_bindgen_test]
async fn a_failure_noted_when_storage_is_full_still_waits_out_its_backoff() {
    // Every send meets a busy server that asks for 30 s.
    stub_fetch(
        "return json(503, { type: 'about:blank', title: 'Unavailable', status: 503,
           detail: 'Busy.', code: 'unavailable' }, { 'retry-after': '30' });",
    );
    let reader = reader();
    let waiting = leave_in_outbox(&reader, "11111111-1111-4111-8111-111111111111", "Here", 1);
    // Room for the message, none for what is noted of its failures.
    fill_storage_for(&reader);
    let root = view_for(reader);
    let tries = || {
        posted_local_ids()
            .iter()
            .filter(|id| **id == waiting.to_string())
            .count()
    };
    until("tried", || tries() == 1).await;
    crate::support::sleep(500).await;
    assert_eq!(tries(), 1, "sent again without waiting");
    assert_eq!(delivery_of(&root, waiting.as_ref()), "failed");
    // An older version of it is in storage: it is not said to be lost with the tab.
    let row = element(&root, &format!("[data-local-id='{waiting}']"));
    assert!(
        !row.text_content()
            .unwrap_or_default()
            .contains("Not saved on this device")
    );
}

/// A page shown again (Back, from the browser's cache) brings the `local_id` it was
/// rendered with: a message written there never takes the place of one still waiting
/// under it.
#[wasm_bindgen_test]
async fn a_new_message_never_takes_the_place_of_one_waiting_under_the_same_local_id() {
    // A busy server: the message left in the outbox stays waiting (for 30 s, past the
    // end of the tests: a view is never unmounted, and its retries would meet the next
    // tests' stubs).
    stub_fetch(
        "return json(503, { type: 'about:blank', title: 'Unavailable', status: 503,
           detail: 'Busy.', code: 'unavailable' }, { 'retry-after': '30' });",
    );
    let reader = reader();
    let waiting = leave_in_outbox(
        &reader,
        "11111111-1111-4111-8111-111111111111",
        "Written first",
        1,
    );
    let reader_id = reader.id;
    let root = view_rendered_with(reader, waiting.clone());
    send(&root, "Written on the page shown again");
    until("both shown", || rows(&root).len() == 3).await;
    let shown: Vec<String> = rows(&root).into_iter().map(|(id, _)| id).collect();
    assert_eq!(shown[1], waiting.to_string());
    assert_ne!(shown[2], waiting.to_string());
    let text = root.text_content().unwrap_or_default();
    assert!(text.contains("Written first"), "{text}");
    assert!(text.contains("Written on the page shown again"), "{text}");
    // Nothing of this test is sent during the next ones.
    let storage = web_sys::window()
        .and_then(|w| w.local_storage().ok().flatten())
        .expect("localStorage");
    for local_id in shown.iter().skip(1) {
        storage
            .remove_item(&format!("messaging.outbox.v2.{reader_id}.{local_id}"))
            .expect("remove");
    }
}

/// A stream the server refuses while it was down (the session ended meanwhile) is not
/// reopened for ever: the view says why it stopped.
#[wasm_bindgen_test]
async fn a_stream_refused_for_good_stops_and_says_why() {
    stub_fetch(ACCEPT_SEND);
    js_sys::Reflect::set(
        &web_sys::window().expect("window"),
        &"streamStatus".into(),
        &401.into(),
    )
    .expect("a refusal");
    let root = view_for(reader());
    until("the notice", || exists(&root, ".conversation__closed")).await;
    assert!(
        element(&root, ".conversation__closed")
            .text_content()
            .unwrap_or_default()
            .contains("signed out"),
        "{:?}",
        root.text_content()
    );
}

/// The reader's own message, confirmed past a gap (another message came first and is not
/// shown yet), is left out until the gap is fetched: a fetch that fails is tried again,
/// so the message comes back instead of staying gone.
#[wasm_bindgen_test]
async fn a_message_confirmed_past_a_gap_is_shown_though_the_first_fetch_of_the_gap_failed() {
    stub_fetch(
        "const message = (seq, localId, text, sender) => ({ id: crypto.randomUUID(),
           conversation_id: '11111111-1111-4111-8111-111111111111', seq, local_id: localId,
           sender, text, created_at: new Date().toISOString(), display_data: { device_kind: 'linux' } });
         const reader = { id: window.readerId, display_name: 'Alice' };
         if (method === 'POST') {
           window.sent = JSON.parse(body);
           return json(202, { queued: true, message: message(3, window.sent.local_id, window.sent.text, reader) });
         }
         if (/\\/messages\\?/.test(req.url)) {
           if (calls.filter(c => c.method === 'GET').length === 1)
             return json(503, { type: 'about:blank', title: 'Unavailable', status: 503,
               detail: 'Busy.', code: 'unavailable' }, { 'retry-after': '0' });
           return json(200, { items: [
             message(2, 'in-between', 'Came first', { id: '55555555-5555-4555-8555-555555555555', display_name: 'Carol' }),
             message(3, window.sent.local_id, window.sent.text, reader)] });
         }
         return json(404, {});",
    );
    let root = view_for(reader());
    send(&root, "Past the gap");
    until("the gap fetched and both shown", || {
        rows(&root).len() == 3 && rows(&root)[2].1 == "sent"
    })
    .await;
    assert_eq!(rows(&root)[1].0, "in-between");
}

/// A conversation that cannot be opened any more (gone, or the reader was removed) still
/// has its messages in the outbox: where it would be, they are listed, to discard.
#[wasm_bindgen_test]
async fn the_messages_of_a_conversation_that_cannot_be_opened_can_be_discarded() {
    use messaging_components::UnsentIn;
    let reader = reader();
    let gone = "66666666-6666-4666-8666-666666666666";
    let refused = leave_in_outbox(&reader, gone, "Are you still there?", 1);
    leave_in_outbox(&reader, gone, "Hello?", 2);
    let elsewhere = leave_in_outbox(
        &reader,
        "77777777-7777-4777-8777-777777777777",
        "Elsewhere",
        3,
    );
    let user = reader.id;
    let conversation = gone.parse().expect("an id");
    let root = mount(move || leptos::view! { <UnsentIn user conversation /> });
    let texts = || {
        let list = root.query_selector_all(".message__text").expect("texts");
        (0..list.length())
            .filter_map(|i| list.item(i)?.text_content())
            .collect::<Vec<_>>()
    };
    until("listed", || texts().len() == 2).await;
    assert_eq!(texts(), ["Are you still there?", "Hello?"]);

    element(&root, "li:first-child button").click();
    until("one discarded", || texts() == ["Hello?"]).await;
    element(&root, "li button").click();
    until("all discarded", || !exists(&root, ".unsent-in")).await;
    let left: Vec<LocalId> = messaging_components::outbox::unsent(user)
        .into_iter()
        .map(|pending| pending.local_id)
        .collect();
    assert!(!left.contains(&refused));
    assert_eq!(left, [elsewhere]);
}

/// Older messages loaded above move every row down the list; a row still follows its
/// message there (it finds it by its place, which the list keeps up to date).
#[wasm_bindgen_test]
async fn a_row_follows_its_message_when_older_ones_are_loaded_above_it() {
    // The page of older messages: numbers 1 to 4. The send waits until released, and is
    // numbered 6 (the view starts at number 5).
    stub_fetch(&format!(
        "if (method === 'GET' && req.url.includes('before=')) return json(200, {{ items:
           [1, 2, 3, 4].map(seq => ({{ id: crypto.randomUUID(), conversation_id: '11111111-1111-4111-8111-111111111111',
             seq, local_id: `older-${{seq}}`, sender: {{ id: '55555555-5555-4555-8555-555555555555', display_name: 'Carol' }},
             text: `Older ${{seq}}`, created_at: '2026-11-22T09:00:00Z', display_data: {{ device_kind: 'mac' }} }})) }});
         if (method === 'POST') await new Promise(go => window.releaseLate = go);
         {}",
        ACCEPT_SEND.replace("window.lastSeq += 1;", "window.lastSeq = 6;")
    ));
    let reader = reader();
    let conversation: Conversation = serde_json::from_str(CONVERSATION).expect("conversation");
    let mut fifth = first_message();
    fifth.seq = 5;
    let root = mount(move || {
        leptos::view! {
            <ConversationView
                conversation
                messages=vec![fifth]
                reader
                form_local_id=LocalId::generate()
            />
        }
    });
    send(&root, "Below the older ones");
    until("sending", || rows(&root).len() == 2).await;
    let sending = rows(&root)[1].0.clone();
    until("the send", || {
        js_sys::Reflect::has(&web_sys::window().expect("window"), &"releaseLate".into())
            .unwrap_or_default()
    })
    .await;

    element(&root, ".conversation__older").click();
    until("the older ones above", || rows(&root).len() == 6).await;
    assert_eq!(rows(&root)[5], (sending.clone(), "sending".into()));
    js_sys::eval("window.releaseLate(); delete window.releaseLate").expect("release");
    until("sent, in its new place", || {
        rows(&root)[5] == (sending.clone(), "sent".into())
    })
    .await;
}
