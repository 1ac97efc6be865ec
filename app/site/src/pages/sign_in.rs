use crate::data::{SignIn, error_text, form_error};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

/// A plain form posting to the `sign_in` server function, so it works with JavaScript
/// off too; on success the server redirects to `next`.
#[component]
pub fn SignInPage() -> impl IntoView {
    let action = ServerAction::<SignIn>::new();
    let next = move || {
        use_query_map()
            .with(|q| q.get("next"))
            .unwrap_or_else(|| "/agencies".into())
    };
    // With JavaScript the action holds the error; without, the redirect's query does.
    let returned_error = form_error();
    let error = move || match action.value().get() {
        Some(Err(error)) => Some(error_text(&error)),
        Some(Ok(())) => None,
        None => returned_error.clone(),
    };

    view! {
        <header class="page__header">
            <h1>"Sign in"</h1>
            <p class="muted">"Demo users: alice, bob, carol, dave; password demo-password."</p>
        </header>
        <section class="card">
            <ActionForm action>
                <input type="hidden" name="next" value=next />
                <label class="field">
                    <span>"Username"</span>
                    <input name="username" autocomplete="username" required />
                </label>
                <label class="field">
                    <span>"Password"</span>
                    <input
                        name="password"
                        type="password"
                        autocomplete="current-password"
                        required
                    />
                </label>
                <p class="field__error" role="alert">
                    {error}
                </p>
                <button
                    type="submit"
                    class="button primary"
                    disabled=move || action.pending().get()
                >
                    "Sign in"
                </button>
            </ActionForm>
        </section>
    }
}
