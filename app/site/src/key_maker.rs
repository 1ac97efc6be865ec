use leptos::prelude::*;
use messaging_core::IdempotencyKey;

/// Makes a fresh [`IdempotencyKey`] in the browser on each click, with `core`'s own
/// generator: the smallest proof that the shared rules run in the wasm client.
#[component]
pub fn KeyMaker() -> impl IntoView {
    let key = RwSignal::new(None::<IdempotencyKey>);
    let made = RwSignal::new(0u32);
    let make_key = move |_| {
        key.set(Some(IdempotencyKey::generate()));
        made.update(|n| *n += 1);
    };

    view! {
        <section class="card key-maker" aria-labelledby="key-maker-title">
            <h2 id="key-maker-title">"Idempotency keys"</h2>
            <p>
                "Each intent gets a key made in your browser. A retry reuses it, so the server can tell a retry from a new request."
            </p>
            <button type="button" class="button primary" on:click=make_key>
                "Make a key"
            </button>
            <p class="key-maker__result" aria-live="polite">
                <output data-testid="key">
                    {move || {
                        key.get().map(|k| k.to_string()).unwrap_or_else(|| "No key yet".into())
                    }}
                </output>
                " "
                <span class="muted" data-testid="made">
                    {move || format!("{} made", made.get())}
                </span>
            </p>
        </section>
    }
}
