use leptos::prelude::*;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// A moment as people read it (`2026-11-23 14:05 UTC`), machine-readable in `datetime`.
/// Formatted by hand: `time`'s format-description engine would add ~9 KB to the bundle.
///
/// ```
/// use leptos::prelude::*;
/// use messaging_components::Timestamp;
///
/// let sent = view! { <Timestamp at=time::OffsetDateTime::UNIX_EPOCH /> };
/// ```
#[component]
pub fn Timestamp(
    /// The moment shown.
    at: OffsetDateTime,
) -> impl IntoView {
    let machine = at.format(&Rfc3339).unwrap_or_default();
    let shown = format!(
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute()
    );
    view! { <time datetime=machine>{shown}</time> }
}
