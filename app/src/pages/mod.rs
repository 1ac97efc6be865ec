//! The demo pages, one per route.

mod agencies;
mod agency;
mod conversation;
mod home;
mod not_found;
mod sign_in;

pub use agencies::AgenciesPage;
pub use agency::AgencyPage;
pub use conversation::ConversationPageView;
pub use home::Home;
pub use not_found::NotFound;
pub use sign_in::SignInPage;
