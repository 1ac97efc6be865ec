use crate::data::{get_agency, signed_in_user};
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;
use messaging_components::islands::SendMessageIsland;

/// An agency's page with its "Send message" button (signed-out visitors get a sign-in
/// link that brings them back here).
#[component]
pub fn AgencyPage() -> impl IntoView {
    let slug = move || use_params_map().with(|p| p.get("slug")).unwrap_or_default();
    let agency = Resource::new(slug, get_agency);
    let user = Resource::new(|| (), |()| signed_in_user());

    view! {
        <Suspense fallback=|| {
            view! { <p class="muted">"Loading…"</p> }
        }>
            {move || Suspend::new(async move {
                let signed_in = matches!(user.await, Ok(Some(_)));
                match agency.await {
                    Ok(Some(agency)) => {
                        let action = if signed_in {
                            view! {
                                <SendMessageIsland
                                    context_id=agency.id
                                    recipient=agency.name.clone()
                                    fallback_href=format!("/agencies/{}/message", agency.slug)
                                />
                            }
                                .into_any()
                        } else {
                            view! {
                                <a
                                    class="button primary"
                                    href=format!("/sign-in?next=/agencies/{}", agency.slug)
                                >
                                    "Sign in to send a message"
                                </a>
                            }
                                .into_any()
                        };
                        view! {
                            <header class="page__header">
                                <p class="muted">
                                    <a href="/agencies">"Agencies"</a>
                                </p>
                                <h1>{agency.name.clone()}</h1>
                                <p class="muted">{agency.description.clone()}</p>
                            </header>
                            <section class="card">{action}</section>
                        }
                            .into_any()
                    }
                    Ok(None) => view! { <h1>"No such agency"</h1> }.into_any(),
                    Err(_) => {
                        view! { <p class="notice error">"Could not load this agency."</p> }
                            .into_any()
                    }
                }
            })}
        </Suspense>
    }
}
