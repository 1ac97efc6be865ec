//! The Leptos UI of the messaging component: reusable components under [`components`],
//! the demo pages under [`pages`], and the HTML shell the server renders them into.

pub mod api;
pub mod components;
pub mod data;
pub mod pages;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::path;

/// The bundle's name: `/pkg/messaging.js`, `/pkg/messaging_bg.wasm`, `/pkg/messaging.css`.
pub const OUTPUT_NAME: &str = "messaging";

/// The whole HTML document, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Effects never run on the server, so this marks the moment the page is interactive;
    // browser tests wait for it instead of sleeping.
    Effect::new(move |_| {
        if let Some(root) = document().document_element() {
            let _ = root.set_attribute("data-hydrated", "true");
        }
    });

    view! {
        <Stylesheet id="app-style" href=format!("/pkg/{OUTPUT_NAME}.css") />
        <Title text="Messages" />
        <Router>
            <main class="page">
                <Routes fallback=pages::NotFound>
                    <Route path=path!("/") view=pages::Home />
                    <Route path=path!("/sign-in") view=pages::SignInPage />
                    <Route path=path!("/agencies") view=pages::AgenciesPage />
                    <Route path=path!("/agencies/:slug") view=pages::AgencyPage />
                    <Route path=path!("/conversations/:id") view=pages::ConversationPageView />
                </Routes>
            </main>
        </Router>
    }
}

/// The browser entry point: attaches to the server-rendered page.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(App);
}
