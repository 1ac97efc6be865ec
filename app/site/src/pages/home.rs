use crate::islands::KeyMakerIsland;
use leptos::prelude::*;

#[component]
pub fn Home() -> impl IntoView {
    view! {
        <header class="page__header">
            <h1>"Messages"</h1>
            <p class="muted">"Contact an agency once, however often the network fails you."</p>
        </header>
        <p>
            <a class="button primary" href="/agencies">
                "Browse agencies"
            </a>
        </p>
        <KeyMakerIsland />
    }
}
