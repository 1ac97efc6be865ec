//! A client-side rendered Leptos 0.8 app (no server rendering) that mounts
//! `messaging-components` in French: every text comes from one `Labels` value. The page
//! to show comes from the address (`/agencies/{slug}`, `/conversations/{id}`); the server
//! beside the API (`src/main.rs`) answers every such address with `index.html`.

use leptos::prelude::*;
use messaging_components::api::{ApiClient, DEFAULT_TIMEOUT};
#[cfg(not(feature = "button-only"))]
use messaging_components::{ConversationView, api::OpenedConversation};
use messaging_components::{Labels, SendMessageButton, provide_labels};
use messaging_core::ConversationId;
#[cfg(not(feature = "button-only"))]
use messaging_core::LocalId;

/// The texts in French; any field left out would stay in English.
pub fn french() -> Labels {
    Labels {
        send_message: "Envoyer un message".into(),
        checking: "Vérification…".into(),
        compose_title: "Message à {recipient}".into(),
        close: "Fermer".into(),
        your_message: "Votre message".into(),
        send: "Envoyer".into(),
        sending: "Envoi…".into(),
        retry: "Réessayer".into(),
        kept_for_retry: "Votre message est conservé ; le renvoyer est sans risque.".into(),
        already_contacted:
            "Vous avez déjà contacté cette agence. Votre message a été ajouté à cette conversation."
                .into(),
        open_conversation: "Ouvrir la conversation".into(),
        conversation: "Conversation : {title}".into(),
        messages: "Messages".into(),
        sent: "Envoyé".into(),
        not_sent: "Non envoyé : {reason}".into(),
        retrying_by_itself: "Nouvel essai automatique.".into(),
        discard: "Abandonner".into(),
        waiting_for_earlier: "En attente : le message précédent n'a pas été envoyé.".into(),
        edit: "Modifier".into(),
        cancel: "Annuler".into(),
        already_on_its_way: "Trop tard pour le changer : il est en route.".into(),
        only_in_this_tab:
            "Non enregistré sur cet appareil (son stockage est plein) : il sera perdu si cette page est fermée avant son envoi."
                .into(),
        discard_needs_the_server:
            "Il a peut-être atteint le serveur : l'abandonner demande sa réponse. Réessayez une fois en ligne."
                .into(),
        cannot_be_sent:
            "Vous les avez écrits ici et ils n'ont pas été envoyés. Ils ne peuvent plus l'être : copiez ce que vous voulez garder, puis abandonnez-les."
                .into(),
        unsent_one: "1 message pas encore envoyé".into(),
        unsent_many: "{count} messages pas encore envoyés".into(),
        sign_out: "Se déconnecter".into(),
        sign_out_with_unsent:
            "{count} de vos messages ne sont pas encore envoyés. Se déconnecter les supprime. Se déconnecter quand même ?"
                .into(),
        write_a_message: "Écrire un message…".into(),
        unknown_device: "Appareil inconnu".into(),
        timed_out: "Le serveur a mis trop de temps à répondre.".into(),
        unreachable: "Impossible de joindre le serveur. Vérifiez votre connexion.".into(),
        server_error: "Le serveur a répondu par une erreur ({status}).".into(),
        text_blank: "le message est vide".into(),
        text_too_long: "le message compte {len} caractères ; {max} au plus".into(),
        text_control_character: "le message contient un caractère de contrôle ({code})".into(),
        older_messages: "Messages plus anciens".into(),
        reconnecting: "Reconnexion…".into(),
        stream_signed_out:
            "Vous avez été déconnecté. Reconnectez-vous pour voir les nouveaux messages.".into(),
        stream_not_participant: "Vous ne participez plus à cette conversation.".into(),
        stream_replaced:
            "Cette conversation est ouverte dans d'autres onglets ; rechargez pour la suivre ici."
                .into(),
    }
}

/// What the address asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Screen {
    SignIn,
    Agency(String),
    Conversation(ConversationId),
    Unknown,
}

impl Screen {
    pub fn of_path(path: &str) -> Self {
        let mut parts = path.trim_matches('/').split('/');
        match (parts.next(), parts.next(), parts.next()) {
            (Some("sign-in"), None, None) => Self::SignIn,
            (Some("agencies"), Some(slug), None) if !slug.is_empty() => {
                Self::Agency(slug.to_owned())
            }
            (Some("conversations"), Some(id), None) => {
                id.parse().map(Self::Conversation).unwrap_or(Self::Unknown)
            }
            _ => Self::Unknown,
        }
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_labels(french());
    let path = window().location().pathname().unwrap_or_default();
    let screen = match Screen::of_path(&path) {
        Screen::SignIn => view! { <SignInScreen /> }.into_any(),
        Screen::Agency(slug) => view! { <AgencyScreen slug /> }.into_any(),
        Screen::Conversation(id) => conversation_screen(id),
        Screen::Unknown => view! { <h1>"Page introuvable"</h1> }.into_any(),
    };
    view! { <main class="page">{screen}</main> }
}

/// Signs in through the API (its session cookie then rides on every call), and goes on
/// to an agency.
#[component]
fn SignInScreen() -> impl IntoView {
    let (username, password) = (RwSignal::new(String::new()), RwSignal::new(String::new()));
    let failed = RwSignal::new(false);
    let sign_in = Action::new_local(move |(user, pass): &(String, String)| {
        let (user, pass) = (user.clone(), pass.clone());
        async move {
            ApiClient::new("")
                .sign_in(&user, &pass, DEFAULT_TIMEOUT)
                .await
        }
    });
    Effect::new(move |_| match sign_in.value().get() {
        Some(Ok(_)) => {
            let _ = window().location().set_href("/agencies/northwind");
        }
        Some(Err(_)) => failed.set(true),
        None => {}
    });
    view! {
        <h1>"Connexion"</h1>
        <form on:submit=move |event| {
            event.prevent_default();
            sign_in.dispatch((username.get_untracked(), password.get_untracked()));
        }>
            <label>"Identifiant" <input bind:value=username autocomplete="username" /></label>
            <label>
                "Mot de passe"
                <input type="password" bind:value=password autocomplete="current-password" />
            </label>
            <button type="submit">"Se connecter"</button>
            <p role="alert">
                {move || failed.get().then_some("Identifiant ou mot de passe incorrect.")}
            </p>
        </form>
    }
}

#[component]
fn AgencyScreen(slug: String) -> impl IntoView {
    let agency = LocalResource::new(move || {
        let slug = slug.clone();
        async move { ApiClient::new("").agency(&slug, DEFAULT_TIMEOUT).await }
    });
    move || match agency.get() {
        None => view! { <p>"Chargement…"</p> }.into_any(),
        Some(Ok(Some(agency))) => view! {
            <h1>{agency.name.clone()}</h1>
            <SendMessageButton context_id=agency.id recipient=agency.name />
        }
        .into_any(),
        Some(_) => view! { <h1>"Agence introuvable"</h1> }.into_any(),
    }
}

#[cfg(feature = "button-only")]
fn conversation_screen(id: ConversationId) -> AnyView {
    view! { <p>{format!("Conversation {id}")}</p> }.into_any()
}

#[cfg(not(feature = "button-only"))]
fn conversation_screen(id: ConversationId) -> AnyView {
    view! { <ConversationScreen id /> }.into_any()
}

#[cfg(not(feature = "button-only"))]
#[component]
fn ConversationScreen(id: ConversationId) -> impl IntoView {
    let opened = LocalResource::new(move || async move {
        let client = ApiClient::new("");
        client.open_conversation(id, DEFAULT_TIMEOUT).await.ok()?
    });
    move || match opened.get() {
        None => view! { <p>"Chargement…"</p> }.into_any(),
        Some(Some(OpenedConversation {
            conversation,
            messages,
            reader,
        })) => view! {
            <h1>{conversation.title_for(reader.id)}</h1>
            <ConversationView conversation messages reader form_local_id=LocalId::generate() />
        }
        .into_any(),
        Some(None) => view! { <h1>"Conversation introuvable"</h1> }.into_any(),
    }
}

/// The browser entry point: mounts the app, then marks the page as ready.
#[cfg(feature = "csr")]
#[wasm_bindgen::prelude::wasm_bindgen(start)]
pub fn start() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(App);
    if let Some(root) = document().document_element() {
        let _ = root.set_attribute("data-hydrated", "true");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_address_names_the_screen() {
        let id = ConversationId::new_random();
        assert_eq!(Screen::of_path("/sign-in"), Screen::SignIn);
        assert_eq!(
            Screen::of_path("/agencies/northwind"),
            Screen::Agency("northwind".into())
        );
        assert_eq!(
            Screen::of_path(&format!("/conversations/{id}")),
            Screen::Conversation(id)
        );
        for unknown in ["/", "/agencies/", "/conversations/nope", "/agencies/a/b"] {
            assert_eq!(Screen::of_path(unknown), Screen::Unknown, "{unknown}");
        }
    }

    #[test]
    fn every_text_is_translated() {
        let (french, english) = (
            serde_json::to_value(french()).expect("labels"),
            serde_json::to_value(Labels::default()).expect("labels"),
        );
        let (french, english) = (french.as_object().unwrap(), english.as_object().unwrap());
        // Words that are the same in both languages.
        let same = ["messages"];
        for (field, text) in english
            .iter()
            .filter(|(field, _)| !same.contains(&field.as_str()))
        {
            assert_ne!(french.get(field), Some(text), "{field} is still in English");
        }
    }
}
