use crate::labels::use_labels;
use leptos::prelude::*;
use messaging_core::DeviceKind;

/// The device a message was sent from, as a small inline SVG (no icon font or emoji,
/// which not every system has) with the device's name as its accessible label.
///
/// ```
/// use leptos::prelude::*;
/// use messaging_components::DeviceIcon;
/// use messaging_core::DeviceKind;
///
/// let icon = view! { <DeviceIcon kind=DeviceKind::from_user_agent("Mozilla/5.0 (iPhone)") /> };
/// ```
#[component]
pub fn DeviceIcon(
    /// The device, as `core` tells it from a user agent.
    kind: DeviceKind,
) -> impl IntoView {
    // Product names stay as they are; only "unknown" is words.
    let name = match kind {
        DeviceKind::Unknown => use_labels().unknown_device.to_string(),
        known => known.label().to_owned(),
    };
    let title = name.clone();
    // Outline shapes on a 16×16 grid, drawn with the text colour.
    let shape = match kind {
        DeviceKind::Iphone | DeviceKind::Android => view! {
            <rect x="4.5" y="1.5" width="7" height="13" rx="1.5" />
            <path d="M7 12.5h2" />
        }
        .into_any(),
        DeviceKind::Ipad => view! {
            <rect x="2.5" y="1.5" width="11" height="13" rx="1.5" />
            <path d="M7 12.5h2" />
        }
        .into_any(),
        DeviceKind::Mac => view! {
            <rect x="3" y="3" width="10" height="7" rx="1" />
            <path d="M1 12.5h14" />
        }
        .into_any(),
        DeviceKind::Windows | DeviceKind::Linux => view! {
            <rect x="1.5" y="2" width="13" height="9" rx="1" />
            <path d="M6 14h4M8 11v3" />
        }
        .into_any(),
        DeviceKind::Unknown => view! {
            <circle cx="8" cy="8" r="6.5" />
            <path d="M1.5 8h13M8 1.5c2 2 2 11 0 13M8 1.5c-2 2-2 11 0 13" />
        }
        .into_any(),
    };
    view! {
        <svg
            class=format!("device-icon device-icon--{}", kind.as_str())
            viewBox="0 0 16 16"
            width="16"
            height="16"
            fill="none"
            stroke="currentColor"
            stroke-width="1.3"
            stroke-linecap="round"
            role="img"
            aria-label=name.clone()
        >
            <title>{title}</title>
            {shape}
        </svg>
    }
}
