use crate::data::list_agencies;
use leptos::prelude::*;

#[component]
pub fn AgenciesPage() -> impl IntoView {
    let agencies = Resource::new(|| (), |()| list_agencies());
    view! {
        <header class="page__header">
            <h1>"Agencies"</h1>
            <p class="muted">"Pick an agency to contact."</p>
        </header>
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            <ErrorBoundary fallback=|_| {
                view! { <p class="notice error">"Could not load the agencies."</p> }
            }>
                <ul class="card-list">
                    {move || Suspend::new(async move {
                        agencies
                            .await
                            .map(|agencies| {
                                agencies
                                    .into_iter()
                                    .map(|agency| {
                                        view! {
                                            <li class="card">
                                                <h2>
                                                    <a href=format!(
                                                        "/agencies/{}",
                                                        agency.slug,
                                                    )>{agency.name}</a>
                                                </h2>
                                                <p class="muted">{agency.description}</p>
                                            </li>
                                        }
                                    })
                                    .collect_view()
                            })
                    })}
                </ul>
            </ErrorBoundary>
        </Suspense>
    }
}
