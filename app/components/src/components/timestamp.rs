use super::when_idle;
use leptos::prelude::*;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// A moment as people read it, machine-readable in `datetime`. Rendered on the server in
/// UTC (`2026-11-23 14:05 UTC`); once in the browser, in the reader's own zone and
/// locale (`Intl.DateTimeFormat`, `Nov 23, 2026, 3:05 PM` for a reader in Paris with
/// English settings). The UTC text is formatted by hand: `time`'s format-description
/// engine would add ~9 KB to the bundle.
///
/// ```
/// use leptos::prelude::*;
/// use messaging_components::Timestamp;
///
/// #[component]
/// fn SentAt(at: time::OffsetDateTime) -> impl IntoView {
///     view! { <p>"Sent " <Timestamp at /></p> }
/// }
/// ```
#[component]
pub fn Timestamp(
    /// The moment shown.
    at: OffsetDateTime,
) -> impl IntoView {
    let machine = at.format(&Rfc3339).unwrap_or_default();
    let shown = RwSignal::new(format!(
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute()
    ));
    // Effects run only in the browser, after hydration: the server's text stays the
    // first one, so hydration matches. The local text waits until the browser is idle:
    // a page's first `Intl.DateTimeFormat` loads the locale's data (120 ms of a page's
    // start on a phone-class CPU, a CPU profile showed), which would otherwise come before
    // the page answers its first click.
    Effect::new(move |_| {
        when_idle(move || {
            if let Some(local) = in_readers_zone(at) {
                shown.try_set(local);
            }
        });
    });
    view! { <time datetime=machine>{shown}</time> }
}

/// `at` in the browser's zone and locale, as a date and a short time.
fn in_readers_zone(at: OffsetDateTime) -> Option<String> {
    use wasm_bindgen::JsValue;
    let millis = (at.unix_timestamp_nanos() / 1_000_000) as f64;
    let date = js_sys::Date::new(&JsValue::from_f64(millis));
    READERS_FORMAT.with(|format| format.format().call1(format, &date).ok()?.as_string())
}

thread_local! {
    /// One formatter for every timestamp: on a phone-class CPU (Chromium, CPU 4x slower)
    /// each formatter made after the first cost half a millisecond (25 ms for a page of
    /// 50 messages, more per live message), formatting with one a few microseconds.
    static READERS_FORMAT: js_sys::Intl::DateTimeFormat = {
        let options = js_sys::Object::new();
        for (name, value) in [("dateStyle", "medium"), ("timeStyle", "short")] {
            let _ = js_sys::Reflect::set(&options, &name.into(), &value.into());
        }
        js_sys::Intl::DateTimeFormat::new(&js_sys::Array::new(), &options)
    };
}
