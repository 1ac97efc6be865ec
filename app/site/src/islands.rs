//! The demo's own islands. The components' islands come from `messaging_components`.

use crate::key_maker::KeyMaker;
use leptos::prelude::*;
use messaging_components::{SignOutButton, UnsentMessages};
use messaging_core::UserId;

/// The home page's key maker; an island only in the home page's bundle (see
/// `crate::Bundle`).
#[cfg_attr(feature = "key-maker-island", island)]
#[cfg_attr(not(feature = "key-maker-island"), component)]
pub fn KeyMakerIsland() -> impl IntoView {
    view! { <KeyMaker /> }
}

/// The header's account part, on every page: how many messages wait to be sent (they send
/// from the conversation pages, where the link leads), and a sign-out that asks before it
/// discards them.
#[island]
pub fn AccountIsland(user: UserId) -> impl IntoView {
    view! {
        <UnsentMessages user href="/conversations/{conversation}" />
        <SignOutButton user class="button ghost" />
    }
}
