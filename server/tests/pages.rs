//! Router tests without a socket: pages are rendered on the server, health and metrics
//! answer, and unknown API paths get problem bodies.

use axum::body::Body;
use http::{Request, Response, StatusCode, header};
use http_body_util::BodyExt;
use server::config::Config;
use server::security;
use server::startup::router;
use server::state::AppState;
use tower::ServiceExt;

/// Sends `request` to the router on a fresh SQLite file, without a socket.
async fn send(request: Request<Body>, configure: impl FnOnce(&mut Config)) -> Response<Body> {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = Config::from_env().expect("default config");
    config.database_url = format!("sqlite://{}/pages.db?mode=rwc", dir.path().display());
    config.seed_demo_data = false;
    configure(&mut config);
    let addr = config.site_addr;
    let app = router(AppState::new(config, addr).await.expect("state"));
    app.oneshot(request).await.expect("response")
}

async fn body_of(response: Response<Body>) -> Vec<u8> {
    let body = response.into_body().collect().await.expect("body");
    body.to_bytes().to_vec()
}

async fn get(path: &str) -> (StatusCode, String) {
    let request = Request::get(path).body(Body::empty()).expect("request");
    let response = send(request, |_| {}).await;
    let status = response.status();
    let body = body_of(response).await;
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// A GET from a browser that accepts these content encodings.
fn get_accepting(path: &str, encodings: &str) -> Request<Body> {
    Request::get(path)
        .header(header::ACCEPT_ENCODING, encodings)
        .body(Body::empty())
        .expect("request")
}

fn header_of(response: &Response<Body>, name: header::HeaderName) -> Option<&str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

#[tokio::test]
async fn health_check_answers_ok_once_the_store_is_migrated() {
    assert_eq!(get("/healthz").await, (StatusCode::OK, "ok".to_owned()));
}

#[tokio::test]
async fn home_page_is_rendered_on_the_server_with_its_hydration_scripts() {
    let (status, html) = get("/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("<h1>Messages</h1>"), "{html}");
    assert!(
        html.contains("/pkg/messaging-home.js"),
        "hydration script missing: {html}"
    );
    assert!(!html.contains("/pkg/messaging.js"), "{html}");
    assert!(!html.contains("messaging-conversation"), "{html}");
    assert!(
        html.contains("/pkg/messaging.css"),
        "stylesheet missing: {html}"
    );
}

/// The pages with the send-message button (and every other but the home page and a
/// conversation's) share one bundle, split: they preload its chunks' loader too.
#[tokio::test]
async fn the_agency_pages_load_the_pages_bundle() {
    let (status, html) = get("/agencies").await;
    assert_eq!(status, StatusCode::OK);
    for file in [
        "/pkg/messaging.js",
        "/pkg/messaging_bg.wasm",
        "/pkg/__wasm_split.js",
    ] {
        assert!(html.contains(file), "{file}: {html}");
    }
    assert!(!html.contains("messaging-home"), "{html}");
}

/// Each page loads the bundle of its islands (`site::Bundle`), chosen from the request's
/// path: a conversation's page the conversation bundle, even when it asks to sign in first.
#[tokio::test]
async fn a_conversation_page_loads_the_conversation_bundle() {
    let (status, html) = get("/conversations/0b9f5a4e-5d4b-4d6f-9a49-0f3f2a0c6e11?before=3").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("/pkg/messaging-conversation.js"), "{html}");
    assert!(
        html.contains("/pkg/messaging-conversation_bg.wasm"),
        "{html}"
    );
    assert!(!html.contains("/pkg/messaging.js"), "{html}");
    assert!(html.contains("/pkg/messaging.css"), "{html}");
}

/// A page's forms carry ids made for that rendering: a browser that kept the page would
/// show it again on Back, and the next message would go under an id already used.
#[tokio::test]
async fn pages_are_never_kept_by_browsers() {
    for path in [
        "/",
        "/agencies",
        "/conversations/0b9f5a4e-5d4b-4d6f-9a49-0f3f2a0c6e11",
    ] {
        let request = Request::get(path).body(Body::empty()).expect("request");
        let response = send(request, |_| {}).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(
            header_of(&response, header::CACHE_CONTROL),
            Some("no-store"),
            "{path}"
        );
    }
}

/// A form post to a server function whose fields cannot be read is the client's mistake.
#[tokio::test]
async fn a_form_post_with_unreadable_fields_is_a_400_problem() {
    for form in [
        "conversation_id=nope&local_id=a&text=hi",
        "local_id=a&text=hi",
    ] {
        let request = Request::post("/_fn/post_chat_message")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(form))
            .expect("request");
        let response = send(request, |_| {}).await;
        let (status, content_type) = (
            response.status(),
            header_of(&response, header::CONTENT_TYPE).map(str::to_owned),
        );
        let body = String::from_utf8_lossy(&body_of(response).await).into_owned();
        assert_eq!(status, StatusCode::BAD_REQUEST, "{form}: {body}");
        assert_eq!(content_type.as_deref(), Some("application/problem+json"));
        let problem: serde_json::Value = serde_json::from_str(&body).expect("a problem body");
        assert_eq!(problem["code"], "malformed_body", "{form}");
    }
}

/// A body sent without its length (chunked) is read up to the limit the API has, not
/// axum's default of 2 MB.
#[tokio::test]
async fn a_form_post_past_the_body_limit_is_a_413_problem() {
    let over = vec![b'a'; messaging_core::MAX_REQUEST_BODY_BYTES + 1];
    let chunks = futures_util::stream::iter(
        over.chunks(4096)
            .map(|chunk| Ok::<_, std::io::Error>(bytes::Bytes::copy_from_slice(chunk)))
            .collect::<Vec<_>>(),
    );
    let request = Request::post("/_fn/sign_in")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from_stream(chunks))
        .expect("request");
    let response = send(request, |_| {}).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let problem: serde_json::Value =
        serde_json::from_slice(&body_of(response).await).expect("a problem body");
    assert_eq!(problem["code"], "payload_too_large");
}

#[tokio::test]
async fn unknown_pages_are_404() {
    let (status, html) = get("/no/such/page").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(html.contains("Page not found"), "{html}");
}

#[tokio::test]
async fn metrics_are_prometheus_text() {
    let (status, _) = get("/api/agencies").await;
    assert_eq!(status, StatusCode::OK);
    let (status, text) = get("/metrics").await;
    assert_eq!(status, StatusCode::OK);
    assert!(text.contains("http_requests_total"), "{text}");
}

/// Every request is counted under its own method, route and status, the first of a
/// series and the ones after it alike.
#[tokio::test]
async fn each_request_is_counted_in_its_series() {
    let series = r#"http_requests_total{method="DELETE",path="/api/agencies",status="405"}"#;
    let count = |text: &str| -> u64 {
        text.lines()
            .find_map(|line| line.strip_prefix(series))
            .map_or(0, |value| value.trim().parse().expect("a count"))
    };
    let before = count(&get("/metrics").await.1);
    for _ in 0..3 {
        let request = Request::delete("/api/agencies")
            .body(Body::empty())
            .expect("request");
        let response = send(request, |_| {}).await;
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    }
    let text = get("/metrics").await.1;
    assert_eq!(count(&text), before + 3, "{text}");
}

#[tokio::test]
async fn pages_and_api_answers_carry_the_security_headers() {
    for path in ["/", "/no/such/page", "/api/agencies", "/api/no/such/thing"] {
        let request = Request::get(path).body(Body::empty()).expect("request");
        let response = send(request, |_| {}).await;
        for (name, value) in [
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "strict-origin-when-cross-origin"),
            (header::X_FRAME_OPTIONS, "DENY"),
        ] {
            assert_eq!(
                header_of(&response, name.clone()),
                Some(value),
                "{path}: {name}"
            );
        }
        assert_eq!(
            header_of(&response, header::STRICT_TRANSPORT_SECURITY),
            None
        );
        let policy = header_of(&response, header::CONTENT_SECURITY_POLICY)
            .map(str::to_owned)
            .unwrap_or_default();
        if path.starts_with("/api") {
            assert_eq!(policy, security::NOT_A_PAGE, "{path}");
            continue;
        }
        // A page: every script carries the nonce its policy names, and no other runs.
        let html = String::from_utf8(body_of(response).await).expect("UTF-8");
        let scripts: Vec<&str> = html.split("<script").skip(1).collect();
        assert!(!scripts.is_empty(), "{path}: no script to check");
        let nonce = scripts[0]
            .split("nonce=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("a nonce on the first script");
        assert!(nonce.len() >= 22, "{path}: a nonce of 128 bits");
        assert_eq!(policy, security::page_policy(nonce), "{path}");
        for script in scripts {
            let tag = script.split('>').next().unwrap_or_default();
            assert!(
                tag.contains(&format!("nonce=\"{nonce}\"")),
                "{path}: <script{tag}>"
            );
        }
    }
    let request = Request::get("/").body(Body::empty()).expect("request");
    let response = send(request, |config| config.production = true).await;
    assert!(
        header_of(&response, header::STRICT_TRANSPORT_SECURITY)
            .is_some_and(|v| v.starts_with("max-age=")),
        "production answers carry HSTS"
    );
}

#[tokio::test]
async fn made_up_methods_share_one_metrics_label() {
    let made_up = http::Method::from_bytes(b"MADEUPMETHOD").expect("a token");
    let request = Request::builder()
        .method(made_up)
        .uri("/api/agencies")
        .body(Body::empty())
        .expect("request");
    let status = send(request, |_| {}).await.status();
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    let (_, text) = get("/metrics").await;
    assert!(!text.contains("MADEUPMETHOD"), "{text}");
    assert!(text.contains(r#"method="other""#), "{text}");
}

#[tokio::test]
async fn the_openapi_document_describes_every_api_route() {
    let (status, text) = get("/api/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    let doc: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
    let paths: Vec<&str> = doc["paths"]
        .as_object()
        .expect("paths")
        .keys()
        .map(String::as_str)
        .collect();
    for path in [
        "/api/session",
        "/api/agencies",
        "/api/agencies/{slug}",
        "/api/messages/conversations",
        "/api/messages/conversations/{id}",
        "/api/messages/conversations/{id}/messages",
        "/api/messages/conversations/{id}/stream",
        "/api/chat",
    ] {
        assert!(paths.contains(&path), "{path} missing from {paths:?}");
    }
    let create = &doc["paths"]["/api/messages/conversations"]["post"];
    for status in ["200", "201", "400", "409", "422"] {
        assert!(
            create["responses"][status].is_object(),
            "create lacks {status}"
        );
    }
    assert!(doc["components"]["schemas"]["Problem"].is_object());
}

#[tokio::test]
async fn unknown_api_paths_are_problem_json_404s() {
    let (status, text) = get("/api/no/such/thing").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let problem: serde_json::Value = serde_json::from_str(&text).expect("problem JSON");
    assert_eq!(problem["code"], "not_found");
}

#[tokio::test]
async fn the_bundle_is_sent_precompressed_to_browsers_that_accept_it() {
    let site = tempfile::tempdir().expect("site dir");
    let pkg = site.path().join("pkg");
    std::fs::create_dir(&pkg).expect("pkg dir");
    for (name, bytes) in [
        ("messaging_bg.wasm", "raw"),
        ("messaging_bg.wasm.br", "brotli"),
        ("messaging_bg.wasm.gz", "gzip"),
    ] {
        std::fs::write(pkg.join(name), bytes).expect("bundle file");
    }
    for (accepted, encoding, body) in [
        ("gzip, deflate, br", Some("br"), "brotli"),
        ("gzip", Some("gzip"), "gzip"),
        ("identity", None, "raw"),
    ] {
        let request = get_accepting("/pkg/messaging_bg.wasm", accepted);
        let response = send(request, |config| {
            config.site_root = site.path().display().to_string();
        })
        .await;
        assert_eq!(response.status(), StatusCode::OK, "{accepted}");
        assert_eq!(
            header_of(&response, header::CONTENT_ENCODING),
            encoding,
            "{accepted}"
        );
        assert_eq!(
            header_of(&response, header::CONTENT_TYPE),
            Some("application/wasm")
        );
        assert_eq!(
            header_of(&response, header::CACHE_CONTROL),
            Some("no-cache")
        );
        assert_eq!(body_of(response).await, body.as_bytes(), "{accepted}");
    }
}

/// Brotli's encoder sets up megabytes of state for each response, as much work as
/// rendering the page: pages go out in zstd where the browser takes it, else in gzip.
#[tokio::test]
async fn pages_are_compressed_with_zstd_or_gzip_never_brotli() {
    let zstd_magic = [0x28, 0xb5, 0x2f, 0xfd];
    let chrome = "gzip, deflate, br, zstd";
    let response = send(get_accepting("/", chrome), |_| {}).await;
    assert_eq!(header_of(&response, header::CONTENT_ENCODING), Some("zstd"));
    let body = body_of(response).await;
    assert!(body.starts_with(&zstd_magic));
    let html = zstd::decode_all(body.as_slice()).expect("a zstd frame");
    assert!(String::from_utf8_lossy(&html).contains("<h1>Messages</h1>"));

    let safari = "gzip, deflate, br";
    let response = send(get_accepting("/", safari), |_| {}).await;
    assert_eq!(header_of(&response, header::CONTENT_ENCODING), Some("gzip"));

    let response = send(get_accepting("/", "br"), |_| {}).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header_of(&response, header::CONTENT_ENCODING), None);
}

#[tokio::test]
async fn pages_are_compressed_for_browsers_that_accept_it_and_api_answers_are_not() {
    let gzip_magic = [0x1f, 0x8b];
    let response = send(get_accepting("/", "gzip"), |_| {}).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header_of(&response, header::CONTENT_ENCODING), Some("gzip"));
    assert!(body_of(response).await.starts_with(&gzip_magic));

    let response = send(get_accepting("/api/agencies", "gzip"), |_| {}).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header_of(&response, header::CONTENT_ENCODING), None);
    assert!(body_of(response).await.starts_with(b"["));
}
