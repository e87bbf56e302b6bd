//! The hot routes (`server/src/lib.rs`, `hot_route`): `GET
//! /api/users/@me/` and `POST /oauth/introspect` are called without the
//! router, and must answer exactly as the router would.

use axum::http::Method;

use protocol::paths;

use crate::support::*;

/// If this fails, a request to a hot route is answered differently when
/// it skips the router (status, headers or body): the shortcut changed
/// behaviour, not just speed.
#[tokio::test]
async fn hot_routes_answer_as_routed() {
    let mut server = Server::current().await;
    let tokens = server.tokens(None).await;
    let me = paths::USERS_ME;
    let me_trimmed = me.trim_end_matches('/');
    let introspect = || Call::post(paths::INTROSPECT);
    let calls = vec![
        Call::get(me).bearer(&tokens.access),
        Call::get(me_trimmed).bearer(&tokens.access),
        Call::get(format!("{me}?x=1")).bearer(&tokens.access),
        Call::get(me),
        Call::get(me).bearer("pha_unknownunknownunknownunknown"),
        Call::get(me).bearer(&tokens.refresh),
        Call::get(me).header("authorization", "Basic eDp5"),
        Call::new(Method::HEAD, me).bearer(&tokens.access),
        Call::post(me).bearer(&tokens.access),
        introspect().gateway().form(&[("token", &tokens.access)]),
        introspect().gateway().form(&[("token", &tokens.refresh)]),
        introspect().gateway().form(&[("token", "")]),
        introspect()
            .gateway()
            .form(&[("token_type_hint", "access_token")]),
        introspect().gateway().raw(Some("application/json"), "{}"),
        introspect()
            .gateway()
            .form(&[("token", &"x".repeat(70_000))]),
        introspect()
            .basic("llm-gateway", "wrong")
            .form(&[("token", &tokens.access)]),
        introspect().form(&[("token", &tokens.access)]),
        Call::get(paths::INTROSPECT).gateway(),
        Call::post(format!("{}/", paths::INTROSPECT))
            .gateway()
            .form(&[("token", &tokens.access)]),
    ];
    for call in calls {
        let description = format!("{} {}", call.method, call.path);
        server.app = server::app(server.state.clone());
        let hot = server.send(call.clone()).await;
        server.app = server::app_without_hot_routes(server.state.clone());
        let routed = server.send(call).await;
        assert_eq!(hot.status, routed.status, "{description}");
        assert_eq!(hot.text(), routed.text(), "{description}");
        let headers = |answer: &Answer| {
            let mut headers: Vec<(String, String)> = answer
                .headers
                .iter()
                .filter(|(name, _)| name.as_str() != protocol::REQUEST_ID_HEADER)
                .map(|(name, value)| {
                    let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                    (name.as_str().to_owned(), value)
                })
                .collect();
            headers.sort();
            headers
        };
        assert_eq!(headers(&hot), headers(&routed), "{description}");
    }
}
