//! The demo's own island. The components' islands come from `messaging_components`.

use crate::key_maker::KeyMaker;
use leptos::prelude::*;

/// The home page's key maker.
#[island]
pub fn KeyMakerIsland() -> impl IntoView {
    view! { <KeyMaker /> }
}
