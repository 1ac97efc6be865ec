//! The timestamp in headless Chromium: once mounted in a browser it reads in the
//! reader's zone and locale, as the browser's own `Intl.DateTimeFormat` writes it, and
//! keeps the exact moment in `datetime`.
use crate::support::{element, mount, until};
use messaging_components::Timestamp;
use wasm_bindgen_test::wasm_bindgen_test;

#[wasm_bindgen_test]
async fn a_timestamp_reads_in_the_readers_zone_and_locale() {
    shows_the_local_time().await;
}

/// Safari has no `requestIdleCallback`: the timestamp switches all the same.
#[wasm_bindgen_test]
async fn a_timestamp_reads_in_the_readers_zone_in_a_browser_without_idle_callbacks() {
    let window = web_sys::window().expect("a window");
    let name = wasm_bindgen::JsValue::from_str("requestIdleCallback");
    let idle = js_sys::Reflect::get(&window, &name).expect("a property");
    js_sys::Reflect::set(&window, &name, &wasm_bindgen::JsValue::UNDEFINED).expect("hidden");
    shows_the_local_time().await;
    js_sys::Reflect::set(&window, &name, &idle).expect("restored");
}

/// Making a formatter costs half a millisecond on a phone: a page of 50 messages made 50.
#[wasm_bindgen_test]
async fn timestamps_share_one_formatter() {
    let expected = local_text();
    js_sys::eval(
        "window.originalDateTimeFormat = Intl.DateTimeFormat;
         window.formattersMade = 0;
         Intl.DateTimeFormat = function (...args) {
             window.formattersMade += 1;
             return new window.originalDateTimeFormat(...args);
         };",
    )
    .expect("counted");
    let at = time::OffsetDateTime::from_unix_timestamp(1_795_442_700).expect("a moment");
    let root = mount(move || {
        leptos::view! {
            <Timestamp at />
            <Timestamp at />
            <Timestamp at />
        }
    });
    until("three local times", || {
        let shown = root.query_selector_all("time").expect("times");
        (0..shown.length()).all(|n| {
            shown
                .item(n)
                .and_then(|time| time.text_content())
                .as_deref()
                == Some(&expected)
        })
    })
    .await;
    let made =
        js_sys::eval("Intl.DateTimeFormat = window.originalDateTimeFormat; window.formattersMade")
            .expect("count")
            .as_f64()
            .expect("a number");
    // None at all when an earlier test in this page made the shared one.
    assert!(made <= 1.0, "{made} formatters made");
}

/// A moment of the tests in the browser's zone and locale, as `Intl` writes it.
fn local_text() -> String {
    js_sys::eval(
        "new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' })
            .format(new Date(Date.UTC(2026, 10, 23, 14, 5)))",
    )
    .expect("Intl")
    .as_string()
    .expect("text")
}

async fn shows_the_local_time() {
    let at = time::OffsetDateTime::from_unix_timestamp(1_795_442_700).expect("a moment");
    let root = mount(move || leptos::view! { <Timestamp at /> });
    let time_element = element(&root, "time");
    let expected = local_text();
    until("the local time", || {
        time_element.text_content().as_deref() == Some(expected.as_str())
    })
    .await;
    assert_eq!(
        time_element.get_attribute("datetime").as_deref(),
        Some("2026-11-23T14:05:00Z")
    );
}
