//! The device kind behind a message's device icon, derived from the sender's user agent.

use serde::{Deserialize, Serialize};

/// What a message's `display_data` keeps about the device that sent it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DisplayData {
    /// The user agent as sent, cut to [`DisplayData::MAX_USER_AGENT_CHARS`] characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    pub device_kind: DeviceKind,
}

impl DisplayData {
    pub const MAX_USER_AGENT_CHARS: usize = 512;

    /// Keeps a bounded copy of the user agent and derives its device kind.
    ///
    /// The user agent is metadata, so an odd one is shortened, never refused: a send
    /// must not fail because of the browser it came from.
    pub fn from_user_agent(user_agent: Option<&str>) -> Self {
        Self::from_client(user_agent, None)
    }

    /// [`DisplayData::from_user_agent`], told apart further by the browser's
    /// `navigator.maxTouchPoints` (see [`DeviceKind::from_client`]).
    pub fn from_client(user_agent: Option<&str>, max_touch_points: Option<u32>) -> Self {
        let user_agent = user_agent
            .map(str::trim)
            .filter(|ua| !ua.is_empty())
            .map(|ua| {
                ua.chars()
                    .filter(|c| !c.is_control())
                    .take(Self::MAX_USER_AGENT_CHARS)
                    .collect::<String>()
            });
        let device_kind = user_agent.as_deref().map_or(DeviceKind::Unknown, |ua| {
            DeviceKind::from_client(ua, max_touch_points)
        });
        Self {
            user_agent,
            device_kind,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum DeviceKind {
    Iphone,
    Ipad,
    Android,
    Mac,
    Windows,
    Linux,
    Unknown,
}

impl DeviceKind {
    /// Order matters: iOS and Android user agents also name "Mac OS X" and "Linux".
    pub fn from_user_agent(user_agent: &str) -> Self {
        let ua = user_agent.to_ascii_lowercase();
        if ua.contains("iphone") || ua.contains("ipod") {
            Self::Iphone
        } else if ua.contains("ipad") {
            Self::Ipad
        } else if ua.contains("android") {
            Self::Android
        } else if ua.contains("windows") {
            Self::Windows
        } else if ua.contains("macintosh") || ua.contains("mac os x") {
            Self::Mac
        } else if ua.contains("linux") || ua.contains("x11") || ua.contains("cros ") {
            Self::Linux
        } else {
            Self::Unknown
        }
    }

    /// The kind, told apart further by `navigator.maxTouchPoints`: an iPad (iPadOS 13
    /// and later) asks for desktop sites by default and sends a Mac's user agent; only its
    /// touch screen gives it away, since no Mac has one (more than one touch point).
    pub fn from_client(user_agent: &str, max_touch_points: Option<u32>) -> Self {
        match Self::from_user_agent(user_agent) {
            Self::Mac if max_touch_points.is_some_and(|points| points > 1) => Self::Ipad,
            kind => kind,
        }
    }

    pub const ALL: [Self; 7] = [
        Self::Iphone,
        Self::Ipad,
        Self::Android,
        Self::Mac,
        Self::Windows,
        Self::Linux,
        Self::Unknown,
    ];

    /// The kind with this stored name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == name)
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Iphone => "iphone",
            Self::Ipad => "ipad",
            Self::Android => "android",
            Self::Mac => "mac",
            Self::Windows => "windows",
            Self::Linux => "linux",
            Self::Unknown => "unknown",
        }
    }

    /// A short human label, for the icon's accessible name.
    pub const fn label(self) -> &'static str {
        match self {
            Self::Iphone => "iPhone",
            Self::Ipad => "iPad",
            Self::Android => "Android",
            Self::Mac => "Mac",
            Self::Windows => "Windows",
            Self::Linux => "Linux",
            Self::Unknown => "Unknown device",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn real_user_agents_map_to_their_device() {
        let cases = [
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
                DeviceKind::Iphone,
            ),
            (
                "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1",
                DeviceKind::Ipad,
            ),
            (
                "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36",
                DeviceKind::Android,
            ),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
                DeviceKind::Mac,
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
                DeviceKind::Windows,
            ),
            (
                "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
                DeviceKind::Linux,
            ),
            (
                "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36",
                DeviceKind::Linux,
            ),
            ("curl/8.5.0", DeviceKind::Unknown),
            (
                "Microsoft Office/16.0 (Microsoft Outlook 16.0.17328; Pro)",
                DeviceKind::Unknown,
            ),
            ("", DeviceKind::Unknown),
        ];
        for (ua, kind) in cases {
            assert_eq!(DeviceKind::from_user_agent(ua), kind, "{ua}");
        }
    }

    #[test]
    fn an_ipad_asking_for_the_desktop_site_is_told_apart_by_its_touch_screen() {
        let desktop_safari = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15";
        assert_eq!(
            DeviceKind::from_client(desktop_safari, Some(5)),
            DeviceKind::Ipad
        );
        assert_eq!(
            DeviceKind::from_client(desktop_safari, Some(0)),
            DeviceKind::Mac
        );
        assert_eq!(
            DeviceKind::from_client(desktop_safari, None),
            DeviceKind::Mac
        );
        // Touch points change nothing for any other device.
        assert_eq!(
            DeviceKind::from_client("Mozilla/5.0 (Windows NT 10.0; Win64; x64)", Some(10)),
            DeviceKind::Windows
        );
        assert_eq!(
            DisplayData::from_client(Some(desktop_safari), Some(5)).device_kind,
            DeviceKind::Ipad
        );
    }

    #[test]
    fn display_data_bounds_the_user_agent() {
        let data = DisplayData::from_user_agent(Some(&"x".repeat(2000)));
        assert_eq!(
            data.user_agent.map(|ua| ua.len()),
            Some(DisplayData::MAX_USER_AGENT_CHARS)
        );
        assert_eq!(
            DisplayData::from_user_agent(Some("  ")),
            DisplayData::from_user_agent(None)
        );
        assert_eq!(
            DisplayData::from_user_agent(None).device_kind,
            DeviceKind::Unknown
        );
    }

    #[test]
    fn device_kind_serializes_as_the_contract_names_it() {
        for kind in [DeviceKind::Iphone, DeviceKind::Ipad, DeviceKind::Unknown] {
            assert_eq!(
                serde_json::to_value(kind).ok(),
                Some(serde_json::json!(kind.as_str()))
            );
        }
    }

    proptest! {
        #[test]
        fn any_user_agent_gets_a_bounded_display_data(ua in "\\PC{0,1000}") {
            let data = DisplayData::from_user_agent(Some(&ua));
            prop_assert!(data.user_agent.map_or(0, |ua| ua.chars().count()) <= DisplayData::MAX_USER_AGENT_CHARS);
        }
    }
}
