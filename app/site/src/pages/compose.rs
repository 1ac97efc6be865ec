use super::{FailedPostNotice, SignInFirst};
use crate::data::{FormIntent, ReturnedForm, StartConversation, get_agency, signed_in_user};
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_router::hooks::use_params_map;

/// The compose form as a page of its own, where "Send message" leads without
/// JavaScript. The key and local_id are rendered by the server, so submitting twice
/// replays the first answer instead of storing a second copy.
#[component]
pub fn ComposePage() -> impl IntoView {
    let slug = move || use_params_map().with(|p| p.get("slug")).unwrap_or_default();
    let agency = Resource::new(slug, get_agency);
    let user = Resource::new(|| (), |()| signed_in_user());
    // Made once, on the server; after a failed post the same ids come back in the query.
    let intent = Resource::new(|| (), |()| async { FormIntent::generate() });
    let returned = ReturnedForm::from_query();

    view! {
        <Suspense fallback=|| {
            view! { <p class="muted">"Loading…"</p> }
        }>
            {move || {
                let returned = returned.clone();
                Suspend::new(async move {
                    let here = format!("/agencies/{}/message", slug());
                    if !matches!(user.await, Ok(Some(_))) {
                        return view! { <SignInFirst next=here /> }.into_any();
                    }
                    let Ok(Some(agency)) = agency.await else {
                        return view! { <h1>"No such agency"</h1> }.into_any();
                    };
                    let fresh = intent.await;
                    let key = returned.idempotency_key.unwrap_or(fresh.idempotency_key);
                    let local_id = returned.local_id.unwrap_or(fresh.local_id);
                    view! {
                        <header class="page__header">
                            <p class="muted">
                                <a href=format!(
                                    "/agencies/{}",
                                    agency.slug,
                                )>{agency.name.clone()}</a>
                            </p>
                            <h1>{format!("Message {}", agency.name)}</h1>
                        </header>
                        <form class="card" method="post" action=StartConversation::PATH>
                            <input type="hidden" name="agency_id" value=agency.id.to_string() />
                            <input type="hidden" name="idempotency_key" value=key.to_string() />
                            <input type="hidden" name="local_id" value=local_id.to_string() />
                            <input type="hidden" name="back" value=here />
                            <label class="field">
                                <span>"Your message"</span>
                                <textarea name="text" rows="6" required>
                                    {returned.text}
                                </textarea>
                            </label>
                            <FailedPostNotice error=returned.error />
                            <button type="submit" class="button primary">
                                "Send"
                            </button>
                        </form>
                    }
                        .into_any()
                })
            }}
        </Suspense>
    }
}
