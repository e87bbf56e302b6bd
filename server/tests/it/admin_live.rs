//! The admin live view (protocol section 10): a one-time link, a viewer
//! cookie, a page served by the binary and the exchanges it polls.

use axum::http::StatusCode;

use protocol::admin::{LiveExchanges, LiveLink};
use protocol::credential::find_full_secrets;
use protocol::paths;

use crate::support::*;

const LIVE_ROUTES: [(&str, &str); 6] = [
    ("GET", paths::ADMIN_LIVE),
    ("GET", paths::ADMIN_LIVE_ENTER),
    ("GET", paths::ADMIN_LIVE_EXCHANGES),
    ("GET", "/_admin/live/exchanges/req_1"),
    ("GET", "/_admin/live/gateway/exchanges/req_1"),
    ("POST", paths::ADMIN_LIVE_LINK),
];

/// A new link's ticket, drawn with the admin token.
async fn ticket(server: &Server) -> String {
    let answer = server
        .send(Call::post(paths::ADMIN_LIVE_LINK).bearer(ADMIN_TOKEN))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let link: LiveLink = serde_json::from_value(answer.json()).unwrap();
    let prefix = format!("{PUBLIC_URL}{}?ticket=", paths::ADMIN_LIVE_ENTER);
    link.url.strip_prefix(&prefix).expect(&link.url).to_owned()
}

/// Opens the view with `ticket`; the viewer cookie's `name=value`.
async fn enter(server: &Server, ticket: &str) -> String {
    let answer = server
        .send(Call::get(format!(
            "{}?ticket={ticket}",
            paths::ADMIN_LIVE_ENTER
        )))
        .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.text());
    assert_eq!(answer.header("location"), Some(paths::ADMIN_LIVE));
    let cookie = answer.header("set-cookie").expect("a viewer cookie");
    assert!(
        cookie.ends_with("; Path=/_admin/live; HttpOnly; SameSite=Strict"),
        "{cookie}"
    );
    cookie.split(';').next().unwrap().to_owned()
}

/// If this fails, a server started without `--admin-token` shows its
/// exchanges to anyone.
#[tokio::test]
async fn the_live_view_does_not_exist_without_an_admin_token() {
    let server = Server::start(Options::new("current").without_admin()).await;
    for (method, path) in LIVE_ROUTES {
        let call = Call::new(method.parse().unwrap(), path).bearer(ADMIN_TOKEN);
        assert_eq!(
            server.send(call).await.status,
            StatusCode::NOT_FOUND,
            "{method} {path}"
        );
    }
}

/// If this fails, anyone who reaches the port watches every exchange, or
/// a link read from a terminal's scrollback opens the view a second time.
#[tokio::test]
async fn only_the_links_holder_or_the_admin_token_sees_the_view() {
    let server = Server::current().await;
    for (method, path) in [
        ("GET", paths::ADMIN_LIVE),
        ("GET", paths::ADMIN_LIVE_EXCHANGES),
        ("GET", "/_admin/live/gateway/exchanges/req_1"),
        ("POST", paths::ADMIN_LIVE_LINK),
    ] {
        for call in [
            Call::new(method.parse().unwrap(), path),
            Call::new(method.parse().unwrap(), path).bearer("not-the-token"),
            Call::new(method.parse().unwrap(), path).header("cookie", "posthog_admin_view=made-up"),
        ] {
            let answer = server.send(call).await;
            assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{method} {path}");
        }
    }
    let refused = server
        .send(Call::get(format!(
            "{}?ticket=made-up",
            paths::ADMIN_LIVE_ENTER
        )))
        .await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert!(refused.header("set-cookie").is_none());
    let ticket = ticket(&server).await;
    let cookie = enter(&server, &ticket).await;
    let again = server
        .send(Call::get(format!(
            "{}?ticket={ticket}",
            paths::ADMIN_LIVE_ENTER
        )))
        .await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED, "a link opens once");
    assert!(again.text().contains("already opened"), "{}", again.text());
    let page = server
        .send(Call::get(paths::ADMIN_LIVE).header("cookie", &cookie))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.content_type(), Some("text/html; charset=utf-8"));
    let bearer = server
        .send(Call::get(paths::ADMIN_LIVE).bearer(ADMIN_TOKEN))
        .await;
    assert_eq!(bearer.status, StatusCode::OK);
}

/// If this fails, the page pulls a script or style from elsewhere (which
/// a closed network or a hostile CDN would break), or shows a credential.
#[tokio::test]
async fn the_page_is_self_contained_and_its_exchanges_are_masked() {
    let server = Server::current().await;
    let tokens = server
        .tokens(Some(&["user:read", "llm_gateway:read"]))
        .await;
    let introspected = server.introspect(&tokens.access).await;
    assert_eq!(introspected.status, StatusCode::OK);
    let cookie = enter(&server, &ticket(&server).await).await;
    let page = server
        .send(Call::get(paths::ADMIN_LIVE).header("cookie", &cookie))
        .await
        .text();
    for outside in [
        "src=\"http",
        "href=\"http",
        "src=\"//",
        "href=\"//",
        "@import",
    ] {
        assert!(!page.contains(outside), "{outside}");
    }
    assert!(page.contains("/_admin/live/exchanges"));
    let answer = server
        .send(Call::get(paths::ADMIN_LIVE_EXCHANGES).header("cookie", &cookie))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    assert!(
        find_full_secrets(&answer.text()).is_empty(),
        "{}",
        answer.text()
    );
    assert!(!answer.text().contains(&tokens.access));
    let exchanges: LiveExchanges = serde_json::from_value(answer.json()).unwrap();
    let paths_seen: Vec<&str> = exchanges
        .server
        .iter()
        .map(|entry| entry.path.as_str())
        .collect();
    assert!(
        paths_seen.contains(&paths::ACCOUNT_REQUESTS) && paths_seen.contains(&paths::INTROSPECT),
        "{paths_seen:?}"
    );
    assert!(
        paths_seen.iter().all(|path| !path.starts_with("/_admin/")),
        "{paths_seen:?}"
    );
    assert!(exchanges.gateway.is_none());
    assert!(exchanges.gateway_error.unwrap().contains("no gateway"));
}

/// If this fails, a click in the live view shows a code, a verifier or a
/// token in full, or the server buffers answers for a view nobody opened.
#[tokio::test]
async fn a_clicked_exchange_shows_its_headers_and_bodies_masked() {
    let server = Server::current().await;
    let before = server.introspect("pha_unknown").await;
    let unwatched = before.header("x-request-id").unwrap().to_owned();
    let cookie = enter(&server, &ticket(&server).await).await;
    let (code, verifier) = server.signup(Some(&["user:read"])).await;
    let exchanged = server.exchange(&code, verifier.as_str()).await;
    assert_eq!(exchanged.status, StatusCode::OK, "{}", exchanged.text());
    let access = exchanged.json()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let refresh = exchanged.json()["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let detail = |id: &str| {
        Call::get(format!("{}/{id}", paths::ADMIN_LIVE_EXCHANGES)).header("cookie", &cookie)
    };
    let not_kept = server.send(detail(&unwatched)).await;
    assert_eq!(
        not_kept.status,
        StatusCode::NOT_FOUND,
        "{}",
        not_kept.text()
    );
    let refused = server
        .send(Call::get(format!(
            "{}/{}",
            paths::ADMIN_LIVE_EXCHANGES,
            exchanged.header("x-request-id").unwrap()
        )))
        .await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    let exchanges = server
        .send(Call::get(paths::ADMIN_LIVE_EXCHANGES).header("cookie", &cookie))
        .await;
    let exchanges: LiveExchanges = serde_json::from_value(exchanges.json()).unwrap();
    let mut seen = 0;
    for entry in &exchanges.server {
        if entry.path != paths::ACCOUNT_REQUESTS && entry.path != paths::AGENTIC_TOKEN {
            continue;
        }
        let answer = server.send(detail(&entry.request_id)).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
        let text = answer.text();
        for secret in [code.as_str(), verifier.as_str(), &access, &refresh] {
            assert!(!text.contains(secret), "{}: {text}", entry.path);
        }
        assert!(find_full_secrets(&text).is_empty(), "{text}");
        let kept: protocol::admin::ExchangeDetail = serde_json::from_value(answer.json()).unwrap();
        assert!(!kept.request_body.is_empty(), "{text}");
        assert!(kept.response_body.contains('{'), "{text}");
        assert!(kept
            .response_headers
            .iter()
            .any(|line| line.name == "content-type"));
        seen += 1;
    }
    assert_eq!(seen, 2, "{:?}", exchanges.server);
}

/// If this fails, a click on a gateway arrow shows nothing, the gateway is
/// never told to keep its exchanges, or the server passes a detail on to a
/// browser that holds no viewer cookie.
#[tokio::test]
async fn a_clicked_gateway_exchange_is_asked_of_the_gateway() {
    use axum::extract::{Path, RawQuery};
    use axum::http::HeaderMap;
    use axum::routing::get;
    use axum::Json;
    use std::sync::{Arc, Mutex};

    let asked: Arc<Mutex<Vec<String>>> = Arc::default();
    let journal_asked = asked.clone();
    let detail_asked = asked.clone();
    let authorized = |headers: &HeaderMap| {
        headers
            .get("authorization")
            .and_then(|value| value.to_str().ok())
            == Some(&format!("Bearer {ADMIN_TOKEN}"))
    };
    let app = axum::Router::new()
        .route(
            paths::ADMIN_JOURNAL,
            get(move |headers: HeaderMap, RawQuery(query): RawQuery| {
                let asked = journal_asked.clone();
                async move {
                    assert!(authorized(&headers));
                    asked
                        .lock()
                        .unwrap()
                        .push(format!("journal?{}", query.unwrap_or_default()));
                    Json(protocol::admin::Journal {
                        entries: Vec::new(),
                    })
                }
            }),
        )
        .route(
            &format!("{}/{{id}}", paths::ADMIN_EXCHANGES),
            get(move |headers: HeaderMap, Path(id): Path<String>| {
                let asked = detail_asked.clone();
                async move {
                    assert!(authorized(&headers));
                    asked.lock().unwrap().push(format!("exchange {id}"));
                    if id != "req_kept" {
                        return StatusCode::NOT_FOUND.into_response();
                    }
                    Json(protocol::admin::ExchangeDetail {
                        request_id: id,
                        request_headers: vec![protocol::admin::HeaderLine {
                            name: "x-api-key".into(),
                            value: "phx_***".into(),
                        }],
                        request_body: "{}".into(),
                        response_headers: Vec::new(),
                        response_body: "event: message_start".into(),
                    })
                    .into_response()
                }
            }),
        );
    use axum::response::IntoResponse;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let gateway = server::WizardGateway::new(&format!("{url}/v1/")).unwrap();
    let server = Server::start(Options::new("current").wizard_gateway(gateway)).await;
    let cookie = enter(&server, &ticket(&server).await).await;
    let polled = server
        .send(Call::get(paths::ADMIN_LIVE_EXCHANGES).header("cookie", &cookie))
        .await;
    assert_eq!(polled.status, StatusCode::OK, "{}", polled.text());
    let detail = |id: &str| {
        Call::get(format!("{}/{id}", paths::ADMIN_LIVE_GATEWAY_EXCHANGES)).header("cookie", &cookie)
    };
    let kept = server.send(detail("req_kept")).await;
    assert_eq!(kept.status, StatusCode::OK, "{}", kept.text());
    assert_eq!(kept.header("cache-control"), Some("no-store"));
    let kept: protocol::admin::ExchangeDetail = serde_json::from_value(kept.json()).unwrap();
    assert_eq!(kept.request_headers[0].value, "phx_***");
    assert_eq!(kept.response_body, "event: message_start");
    let missing = server.send(detail("req_gone")).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND, "{}", missing.text());
    let anonymous = server
        .send(Call::get(format!(
            "{}/req_kept",
            paths::ADMIN_LIVE_GATEWAY_EXCHANGES
        )))
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        *asked.lock().unwrap(),
        [
            "journal?watch=true",
            "exchange req_kept",
            "exchange req_gone"
        ]
    );

    // Without a gateway the click says why, as a 502.
    let alone = Server::current().await;
    let cookie = enter(&alone, &ticket(&alone).await).await;
    let unreachable = alone
        .send(
            Call::get(format!("{}/req_kept", paths::ADMIN_LIVE_GATEWAY_EXCHANGES))
                .header("cookie", &cookie),
        )
        .await;
    assert_eq!(unreachable.status, StatusCode::BAD_GATEWAY);
    assert!(
        unreachable.text().contains("no gateway"),
        "{}",
        unreachable.text()
    );
}
