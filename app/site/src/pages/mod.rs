//! The demo pages, one per route.

mod agencies;
mod agency;
mod compose;
mod conversation;
mod conversations;
mod home;
mod not_found;
mod sign_in;

pub use agencies::AgenciesPage;
pub use agency::AgencyPage;
pub use compose::ComposePage;
pub use conversation::ConversationPageView;
pub use conversations::ConversationsPage;
pub use home::Home;
pub use not_found::NotFound;
pub use sign_in::SignInPage;

use leptos::prelude::*;
use leptos_router::components::Redirect;

/// Sends a signed-out visitor to sign in, and back to `next` afterwards. (The routes
/// that use it render before answering, so without JavaScript this is an HTTP redirect.)
#[component]
fn SignInFirst(#[prop(into)] next: String) -> impl IntoView {
    view! { <Redirect path=sign_in_href(&next) /> }
}

/// The sign-in page, coming back to `next` afterwards.
fn sign_in_href(next: &str) -> String {
    format!("/sign-in?next={}", query_value(next))
}

/// `value` percent-encoded for a query string (unreserved characters and `/` kept): a
/// path parameter arrives decoded, and a control character in a `Location` header is
/// refused by the HTTP library, as a panic.
fn query_value(value: &str) -> String {
    value
        .bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                char::from(byte).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::query_value;

    #[test]
    fn a_query_value_keeps_paths_readable_and_escapes_the_rest() {
        assert_eq!(query_value("/conversations/abc-1"), "/conversations/abc-1");
        assert_eq!(query_value("/a b\n&c=é"), "/a%20b%0A%26c%3D%C3%A9");
    }
}

/// Why a form post without JavaScript failed (it came back with the text and ids kept).
#[component]
fn FailedPostNotice(error: Option<String>) -> impl IntoView {
    error.map(|error| {
        view! {
            <p class="notice error" role="alert">
                {error}
                " Your message is kept; sending again is safe."
            </p>
        }
    })
}
