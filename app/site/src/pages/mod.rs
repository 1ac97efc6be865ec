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
    view! { <Redirect path=format!("/sign-in?next={next}") /> }
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
