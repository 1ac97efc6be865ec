//! Every message and every conversation can be reached from the pages, without script:
//! plain links page back through a conversation's history (by `seq`) and through the
//! conversations list (by its cursor).

use crate::helpers::{Store, TestApp, execute, inquiry, spawn_app};
use reqwest::StatusCode;
use serde_json::json;

async fn page(app: &TestApp, token: &str, path: &str) -> String {
    let response = app
        .client
        .get(app.url(path))
        .header("cookie", format!("session={token}"))
        .send()
        .await
        .expect("page");
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    response.text().await.expect("HTML")
}

/// The path of the link whose text is `text`, if the page has one.
fn link(html: &str, text: &str) -> Option<String> {
    let end = html.find(&format!(">{text}</a>"))?;
    let start = html[..end].rfind("href=\"")? + "href=\"".len();
    let href = &html[start..end];
    Some(href[..href.find('"')?].replace("&amp;", "&"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn older_messages_are_reached_by_plain_links() {
    let app = spawn_app(Store::Sqlite).await;
    let token = app.sign_in("alice").await;
    let agency = app.agency_id("northwind").await;
    let created = app
        .created(&token, "history", &inquiry(&agency, "msg-1", "m-1"))
        .await;
    let id = created["conversation"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    for n in 2..=205 {
        let body = json!({ "conversation_id": id, "text": format!("msg-{n}"), "local_id": format!("m-{n}") });
        assert_eq!(app.chat(&token, &body).await.status(), StatusCode::ACCEPTED);
    }
    // The page opens on the newest 200: 6 to 205.
    let newest = page(&app, &token, &format!("/conversations/{id}")).await;
    assert!(newest.contains("msg-6<") && newest.contains("msg-205<"));
    assert!(!newest.contains("msg-5<"));
    let older = link(&newest, "Older messages").expect("a link to older messages");
    assert_eq!(older, format!("/conversations/{id}?before=6"));
    let oldest = page(&app, &token, &older).await;
    for n in 1..=5 {
        assert!(oldest.contains(&format!("msg-{n}<")), "msg-{n}");
    }
    assert!(!oldest.contains("msg-6<"));
    assert_eq!(
        link(&oldest, "Older messages"),
        None,
        "nothing before the first"
    );
    assert_eq!(
        link(&oldest, "Newest messages"),
        Some(format!("/conversations/{id}"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_conversation_is_reached_from_the_list() {
    let app = spawn_app(Store::Sqlite).await;
    let token = app.sign_in("alice").await;
    // More conversations than a page holds (100): alice asked 105 agencies, as an
    // operator's import would have it.
    let alice = "(SELECT id FROM users WHERE username = 'alice')";
    for n in 0..105 {
        execute(
            &app.database_url,
            &format!(
                "INSERT INTO agencies (id, slug, name, description) \
                 VALUES ('00000000-0000-4000-8000-{n:012}', 'agency-{n}', 'Agency {n:03}', '')"
            ),
        )
        .await;
        execute(
            &app.database_url,
            &format!(
                "INSERT INTO conversations (id, context_type, context_id, created_by, agency_id, created_at, last_message_at) \
                 VALUES ('10000000-0000-4000-8000-{n:012}', 'agency_inquiry', '00000000-0000-4000-8000-{n:012}', \
                 {alice}, '00000000-0000-4000-8000-{n:012}', {n}, {n})"
            ),
        )
        .await;
    }
    let first = page(&app, &token, "/conversations").await;
    let next = link(&first, "Older conversations").expect("a link to the next page");
    let second = page(&app, &token, &next).await;
    let mut seen = 0;
    for n in 0..105 {
        let name = format!("Agency {n:03}");
        let on_first = first.contains(&name);
        assert_ne!(
            on_first,
            second.contains(&name),
            "{name} on exactly one page"
        );
        seen += 1;
    }
    assert_eq!(seen, 105);
    assert_eq!(link(&second, "Older conversations"), None);
    assert_eq!(
        link(&second, "Latest conversations").as_deref(),
        Some("/conversations")
    );
}

/// A conversation the reader cannot open is a 404 page (its unsent messages may be
/// listed there, by the browser).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conversation_the_reader_cannot_open_is_a_404_page() {
    let app = spawn_app(Store::Sqlite).await;
    let (_, id) = app.alice_asks_northwind().await;
    let bob = app.sign_in("bob").await;
    for path in [
        format!("/conversations/{id}"),
        "/conversations/0f0f0f0f-0f0f-4f0f-8f0f-0f0f0f0f0f0f".to_owned(),
    ] {
        let response = app
            .client
            .get(app.url(&path))
            .header("cookie", format!("session={bob}"))
            .send()
            .await
            .expect("page");
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        let html = response.text().await.expect("HTML");
        assert!(html.contains("Conversation not found"), "{path}: {html}");
    }
}
