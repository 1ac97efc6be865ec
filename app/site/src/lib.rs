//! The demo site: its pages (server-rendered, with the components as islands), the
//! server functions they read and post through, the HTML shell, and the browser entry
//! point. It uses `messaging-components` as any app would.

pub mod data;
pub mod islands;
pub mod key_maker;
pub mod pages;

use data::{SignOut, signed_in_user};
use islands::AccountIsland;
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::hooks::use_location;
use leptos_router::location::RequestUrl;
use leptos_router::{SsrMode, path};

/// The site's name in `pkg/`: its stylesheet `/pkg/messaging.css`, and the bundle of
/// every page but the home page and a conversation's (`/pkg/messaging.js`,
/// `/pkg/messaging_bg.wasm`).
pub const OUTPUT_NAME: &str = "messaging";

/// The browser bundles. Each carries the header's island and only the islands of the
/// pages that load it (an island is a wasm export, kept whether a page shows it or not),
/// so the agency page downloads neither the conversation view nor the home page's key
/// maker. `scripts/build-site` builds each, with the features named here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bundle {
    /// Every page but the home page and a conversation's: the send-message button.
    Pages,
    /// The home page: the key maker.
    Home,
    /// A conversation's page: the conversation view, with its outbox and live stream.
    Conversation,
}

impl Bundle {
    /// Every bundle.
    pub const ALL: [Self; 3] = [Self::Pages, Self::Home, Self::Conversation];

    /// The bundle a page loads, by its path (a query is ignored).
    pub fn for_path(path: &str) -> Self {
        let path = path.split(['?', '#']).next().unwrap_or_default();
        if path == "/" {
            return Self::Home;
        }
        match path.strip_prefix("/conversations/") {
            Some(id) if !id.is_empty() && !id.contains('/') => Self::Conversation,
            _ => Self::Pages,
        }
    }

    /// Its files' name in `pkg/`: `NAME.js` and `NAME_bg.wasm`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Pages => OUTPUT_NAME,
            Self::Home => "messaging-home",
            Self::Conversation => "messaging-conversation",
        }
    }

    /// Whether its code behind split points is in chunks loaded on demand (built with
    /// `scripts/build-bundle --split`): then its JS imports the chunks' loader,
    /// `/pkg/__wasm_split.js`, which the page preloads. One bundle at most, as the
    /// loader's name is not the bundle's.
    pub fn is_split(self) -> bool {
        self == Self::Pages
    }

    /// The site's features it is built with, besides `hydrate`.
    pub fn features(self) -> &'static str {
        match self {
            Self::Pages => "send-message-island",
            Self::Home => "key-maker-island",
            Self::Conversation => "conversation-island",
        }
    }
}

const FAVICON: &str = "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E%3Crect x='1' y='2' width='14' height='10' rx='3' fill='%232454d6'/%3E%3Cpath d='M4 12v3l4-3' fill='%232454d6'/%3E%3C/svg%3E";

/// The whole HTML document, rendered on the server, loading the page's bundle.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    // The request's URL, as leptos_axum gives it (on a placeholder origin).
    let url = use_context::<RequestUrl>().and_then(|url| url.parse().ok());
    let path = url.as_ref().map_or("/", |url| url.path());
    let bundle = Bundle::for_path(path);
    let mut options = options;
    options.output_name = bundle.name().into();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                // An inline icon: no extra request, no 404 in the console.
                <link rel="icon" href=FAVICON />
                <HydrationScripts options islands=true />
                // Fetched with the bundle, not after its JS has been read.
                {bundle
                    .is_split()
                    .then(|| view! { <link rel="modulepreload" href="/pkg/__wasm_split.js" /> })}
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

    view! {
        <Stylesheet id="app-style" href=format!("/pkg/{OUTPUT_NAME}.css") />
        <Title text="Messages" />
        <Router>
            <SiteHeader />
            <main class="page">
                // Every page renders fully before the server answers (SsrMode::Async):
                // it then works without JavaScript (out-of-order streaming needs a
                // script to put the parts in place), and a redirect to sign-in is a
                // real HTTP redirect.
                <Routes fallback=pages::NotFound>
                    <Route path=path!("/") view=pages::Home ssr=SsrMode::Async />
                    <Route path=path!("/sign-in") view=pages::SignInPage ssr=SsrMode::Async />
                    <Route path=path!("/agencies") view=pages::AgenciesPage ssr=SsrMode::Async />
                    <Route
                        path=path!("/agencies/:slug")
                        view=pages::AgencyPage
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=path!("/agencies/:slug/message")
                        view=pages::ComposePage
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=path!("/conversations")
                        view=pages::ConversationsPage
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=path!("/conversations/:id")
                        view=pages::ConversationPageView
                        ssr=SsrMode::Async
                    />
                </Routes>
            </main>
        </Router>
    }
}

/// The top bar: where to go, and who is signed in.
#[component]
fn SiteHeader() -> impl IntoView {
    let location = use_location();
    // Asked again on each navigation, so signing in or out shows at once.
    let user = Resource::new(move || location.pathname.get(), |_| signed_in_user());
    view! {
        <header class="site-header">
            <nav class="site-header__nav" aria-label="Main">
                <a class="site-header__brand" href="/">
                    "Messages"
                </a>
                <a href="/agencies">"Agencies"</a>
                <a href="/conversations">"Your conversations"</a>
            </nav>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    match user.await {
                        Ok(Some(user)) => {
                            view! {
                                <form
                                    class="site-header__account"
                                    method="post"
                                    action=SignOut::PATH
                                >
                                    <span class="muted">{user.display_name}</span>
                                    <AccountIsland user=user.id />
                                </form>
                            }
                                .into_any()
                        }
                        _ => {
                            view! {
                                <a class="site-header__account" href="/sign-in">
                                    "Sign in"
                                </a>
                            }
                                .into_any()
                        }
                    }
                })}
            </Transition>
        </header>
    }
}

/// The browser entry point. Leptos' island script calls it, then hydrates each island
/// on the page (`crate::islands`) in the microtasks that follow. No panic hook: the
/// bundles are built with `panic = immediate-abort` (`scripts/build-bundle`), which
/// stops the module without running one.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    leptos::mount::hydrate_islands();
    // A zero timeout runs after those microtasks, when every island is interactive: the
    // performance mark is the time to interactive the suite reports (made first, so
    // that it does not include setting the attribute), and browser tests wait for the
    // attribute instead of sleeping.
    set_timeout(
        || {
            if let Some(performance) = window().performance() {
                let _ = performance.mark("messaging:hydrated");
            }
            if let Some(root) = document().document_element() {
                let _ = root.set_attribute("data-hydrated", "true");
            }
        },
        std::time::Duration::ZERO,
    );
}

#[cfg(test)]
mod tests {
    use super::Bundle;

    /// `scripts/build-site` builds each bundle under its name with its features, split
    /// where the shell preloads the chunks' loader.
    #[test]
    fn the_build_script_builds_every_bundle_as_named_here() {
        let script = include_str!("../../../scripts/build-site").replace("\"$name", "\"messaging");
        for bundle in Bundle::ALL {
            let build = format!(
                "scripts/build-bundle {}site hydrate,{} \"$site_pkg\" \"{}\"",
                if bundle.is_split() { "--split " } else { "" },
                bundle.features(),
                bundle.name()
            );
            assert!(script.contains(&build), "{build}");
        }
    }

    #[test]
    fn a_conversation_page_and_the_home_page_load_bundles_of_their_own() {
        for path in ["/conversations/7f0c", "/conversations/7f0c?before=12#end"] {
            assert_eq!(Bundle::for_path(path), Bundle::Conversation, "{path}");
        }
        for path in ["/", "/?from=sign-in"] {
            assert_eq!(Bundle::for_path(path), Bundle::Home, "{path}");
        }
        for path in [
            "/agencies",
            "/agencies/northwind",
            "/conversations",
            "/conversations/",
            "/sign-in?next=/conversations/7f0c",
        ] {
            assert_eq!(Bundle::for_path(path), Bundle::Pages, "{path}");
        }
    }
}
