//! A marketplace of its own, as a Leptos 0.8 app with full hydration and a router, using
//! `messaging-components`: an agency page with **Send message**, and a conversation page
//! with the live conversation. Its data comes from the API in the browser (the library's
//! `ApiClient`), which the same server serves beside the pages (`src/main.rs`).

use leptos::prelude::*;
use leptos_router::components::{Route, Router, Routes};
use leptos_router::hooks::{use_navigate, use_params_map};
use leptos_router::path;
use messaging_components::api::{ApiClient, DEFAULT_TIMEOUT, OpenedConversation};
use messaging_components::{ConversationView, SendMessageButton};
use messaging_core::{ConversationId, LocalId};

/// The bundle's name under `/pkg`.
pub const OUTPUT_NAME: &str = "example_hydrate";

/// The HTML document, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <link rel="stylesheet" href="/style.css" />
                <HydrationScripts options />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// The app: its own router, its own pages.
#[component]
pub fn App() -> impl IntoView {
    // Effects run only in the browser: the end-to-end suite waits for this mark.
    Effect::new(|_| {
        if let Some(root) = document().document_element() {
            let _ = root.set_attribute("data-hydrated", "true");
        }
    });
    view! {
        <Router>
            <main class="page">
                <Routes fallback=|| view! { <h1>"Not found"</h1> }>
                    <Route path=path!("/sign-in") view=SignInPage />
                    <Route path=path!("/agencies/:slug") view=AgencyPage />
                    <Route path=path!("/conversations/:id") view=ConversationPage />
                </Routes>
            </main>
        </Router>
    }
}

/// Signs in through the API (its session cookie then rides on every call), and goes on
/// to an agency.
#[component]
fn SignInPage() -> impl IntoView {
    let (username, password) = (RwSignal::new(String::new()), RwSignal::new(String::new()));
    let failed = RwSignal::new(false);
    let navigate = use_navigate();
    let sign_in = Action::new_local(move |(user, pass): &(String, String)| {
        let (user, pass) = (user.clone(), pass.clone());
        async move {
            ApiClient::new("")
                .sign_in(&user, &pass, DEFAULT_TIMEOUT)
                .await
        }
    });
    Effect::new(move |_| match sign_in.value().get() {
        Some(Ok(_)) => navigate("/agencies/northwind", Default::default()),
        Some(Err(_)) => failed.set(true),
        None => {}
    });
    view! {
        <h1>"Sign in"</h1>
        <form on:submit=move |event| {
            event.prevent_default();
            sign_in.dispatch((username.get_untracked(), password.get_untracked()));
        }>
            <label>"Username" <input bind:value=username autocomplete="username" /></label>
            <label>
                "Password"
                <input type="password" bind:value=password autocomplete="current-password" />
            </label>
            <button type="submit">"Sign in"</button>
            <p role="alert">{move || failed.get().then_some("Wrong username or password.")}</p>
        </form>
    }
}

/// An agency's page: its name and the button. A found or new conversation opens in
/// this app's router, not by a page load.
#[component]
fn AgencyPage() -> impl IntoView {
    let slug = move || use_params_map().with(|p| p.get("slug")).unwrap_or_default();
    let agency = LocalResource::new(move || {
        let slug = slug();
        async move { ApiClient::new("").agency(&slug, DEFAULT_TIMEOUT).await }
    });
    let navigate = use_navigate();
    let open = Callback::new(move |id: ConversationId| {
        navigate(&format!("/conversations/{id}"), Default::default())
    });
    // Read with `get`, not awaited: on the server a LocalResource never resolves, so the
    // page renders "Loading…" there and in the browser until the API has answered.
    move || match agency.get() {
        None => view! { <p>"Loading…"</p> }.into_any(),
        Some(Ok(Some(agency))) => view! {
            <h1>{agency.name.clone()}</h1>
            <SendMessageButton context_id=agency.id recipient=agency.name on_open=open />
        }
        .into_any(),
        Some(Ok(None)) => view! { <h1>"No such agency"</h1> }.into_any(),
        Some(Err(_)) => view! { <p>"Could not load the agency."</p> }.into_any(),
    }
}

/// A conversation, for the signed-in reader.
#[component]
fn ConversationPage() -> impl IntoView {
    let id = move || {
        use_params_map()
            .with(|p| p.get("id"))
            .and_then(|id| id.parse::<ConversationId>().ok())
    };
    let opened = LocalResource::new(move || {
        let id = id();
        async move {
            let client = ApiClient::new("");
            client.open_conversation(id?, DEFAULT_TIMEOUT).await.ok()?
        }
    });
    move || match opened.get() {
        None => view! { <p>"Loading…"</p> }.into_any(),
        Some(Some(OpenedConversation {
            conversation,
            messages,
            reader,
        })) => view! {
            <h1>{conversation.title_for(reader.id)}</h1>
            <ConversationView conversation messages reader form_local_id=LocalId::generate() />
        }
        .into_any(),
        Some(None) => view! { <h1>"Conversation not found"</h1> }.into_any(),
    }
}

/// The browser entry point: hydrates the whole app.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(App);
}
