//! Sign-in throttling and anonymous forms (issue 14, class 5). The
//! throttle keys on the TCP peer, so its tests run the server on a real
//! socket (`protocol::serve`, as the binary does) and bind each browser's
//! client to its own loopback address (127.0.0.2, 127.0.1.7, …); the
//! clock moves through `POST /_admin/clock`, never by sleeping.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::http::StatusCode;
use serde_json::json;

use protocol::paths;

use crate::login::{
    authorize_query, cookie_header, hidden_fields, keep_cookies, user_with_password, Browser,
    CALLBACK, PASSWORD,
};
use crate::support::*;

/// The real server's lockout detail, shown on our page.
const DETAIL: &str = "Too many failed login attempts. Please try again in 10 minutes.";

/// The server of `server`, served on a socket of 127.0.0.1 until dropped.
struct Live {
    address: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Live {
    async fn start(server: &Server) -> Live {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(protocol::serve::serve(
            listener,
            server.app.clone(),
            protocol::serve::Limits::DEFAULT,
            async {
                let _ = stopped.await;
            },
        ));
        Live {
            address,
            stop: Some(stop),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// Moves the server's clock on by `seconds`.
    async fn advance(&self, seconds: i64) {
        let answer = reqwest::Client::new()
            .post(self.url(paths::ADMIN_CLOCK))
            .bearer_auth(ADMIN_TOKEN)
            .json(&json!({ "advance_seconds": seconds }))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::OK);
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A browser on its own loopback address: its cookies and last page.
struct HttpBrowser<'a> {
    live: &'a Live,
    client: reqwest::Client,
    cookies: BTreeMap<String, String>,
}

impl<'a> HttpBrowser<'a> {
    /// A browser whose connections come from 127.`b`.`c`.`d`.
    fn from(live: &'a Live, [b, c, d]: [u8; 3]) -> HttpBrowser<'a> {
        let client = reqwest::Client::builder()
            .local_address(IpAddr::V4(Ipv4Addr::new(127, b, c, d)))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        HttpBrowser {
            live,
            client,
            cookies: BTreeMap::new(),
        }
    }

    async fn send(&mut self, request: reqwest::RequestBuilder) -> Answer {
        let request = match cookie_header(&self.cookies) {
            Some(cookie) => request.header("cookie", cookie),
            None => request,
        };
        let response = request.send().await.unwrap();
        let answer = Answer {
            status: response.status(),
            headers: response.headers().clone(),
            body: response.bytes().await.unwrap(),
        };
        assert_ne!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
        keep_cookies(&mut self.cookies, &answer.headers);
        answer
    }

    async fn open(&mut self, path_and_query: &str) -> Answer {
        let request = self.client.get(self.live.url(path_and_query));
        let answer = self.send(request).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
        answer
    }

    /// Submits the sign-in form of `page` (posting to `action`) with
    /// `email` and `password`.
    async fn sign_in(
        &mut self,
        page: &Answer,
        action: &str,
        email: &str,
        password: &str,
    ) -> Answer {
        let mut pairs = hidden_fields(&page.text());
        pairs.push(("email".into(), email.into()));
        pairs.push(("password".into(), password.into()));
        let request = self.client.post(self.live.url(action)).form(&pairs);
        self.send(request).await
    }
}

/// The two sign-in forms: the interactive login's and the app's `/login`.
#[derive(Debug, Clone, Copy)]
enum Door {
    Authorize,
    Login,
}

impl Door {
    async fn page(self, browser: &mut HttpBrowser<'_>, server: &Server) -> Answer {
        match self {
            Door::Authorize => {
                let query = authorize_query(&server.verifier(), CALLBACK, "user:read");
                browser
                    .open(&format!("{}?{query}", paths::OAUTH_AUTHORIZE))
                    .await
            }
            Door::Login => browser.open("/login?next=%2F").await,
        }
    }

    fn action(self) -> &'static str {
        match self {
            Door::Authorize => paths::OAUTH_AUTHORIZE,
            Door::Login => "/login",
        }
    }

    /// Opens the form and signs in with `password`.
    async fn try_password(
        self,
        browser: &mut HttpBrowser<'_>,
        server: &Server,
        email: &str,
        password: &str,
    ) -> Answer {
        let page = self.page(browser, server).await;
        browser.sign_in(&page, self.action(), email, password).await
    }
}

/// The answer of a locked-out sign-in: 429, `Retry-After` as given, and
/// the form again with the real detail.
fn assert_locked(answer: &Answer, retry_after: &str) {
    assert_eq!(
        answer.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        answer.text()
    );
    assert_eq!(answer.header("retry-after"), Some(retry_after));
    assert!(answer.text().contains(DETAIL), "{}", answer.text());
    assert!(
        answer.text().contains("id=\"sign-in\""),
        "{}",
        answer.text()
    );
    assert!(answer
        .header("set-cookie")
        .is_none_or(|cookie| !cookie.contains("posthog_session")));
}

/// If this fails, a password can be guessed without limit (issue 14:
/// 50 wrong passwords in 0.1 s, then the right one accepted), or a
/// locked-out person is never let back in.
#[tokio::test]
async fn thirty_wrong_passwords_lock_the_sign_in_for_ten_minutes() {
    let server = Server::current().await;
    let email = user_with_password(&server).await;
    let live = Live::start(&server).await;
    let mut browser = HttpBrowser::from(&live, [0, 0, 2]);
    let page = Door::Authorize.page(&mut browser, &server).await;
    for attempt in 1..30 {
        let wrong = browser
            .sign_in(&page, paths::OAUTH_AUTHORIZE, &email, "wrong")
            .await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED, "attempt {attempt}");
    }
    // The 30th failure is answered with the lockout, as the real one is.
    let thirtieth = browser
        .sign_in(&page, paths::OAUTH_AUTHORIZE, &email, "wrong")
        .await;
    assert_locked(&thirtieth, "600");
    let right = browser
        .sign_in(&page, paths::OAUTH_AUTHORIZE, &email, PASSWORD)
        .await;
    assert_locked(&right, "600");
    live.advance(599).await;
    let right = browser
        .sign_in(&page, paths::OAUTH_AUTHORIZE, &email, PASSWORD)
        .await;
    assert_locked(&right, "1");
    live.advance(1).await;
    let right = browser
        .sign_in(&page, paths::OAUTH_AUTHORIZE, &email, PASSWORD)
        .await;
    assert_eq!(right.status, StatusCode::SEE_OTHER, "{}", right.text());
    assert!(right
        .header("set-cookie")
        .is_some_and(|cookie| cookie.starts_with("posthog_session=")));
}

/// If this fails, one address's failures lock everyone else out, or an
/// account can be guessed at from as many addresses as an attacker has.
#[tokio::test]
async fn another_address_is_locked_out_only_once_the_account_is() {
    let server = Server::current().await;
    let kim = user_with_password(&server).await;
    let lee = user_with_password(&server).await;
    let live = Live::start(&server).await;
    // 30 failures from one address, each for an email nobody has.
    let mut guesser = HttpBrowser::from(&live, [0, 0, 3]);
    for n in 0..30 {
        let answer = Door::Authorize
            .try_password(
                &mut guesser,
                &server,
                &format!("nobody{n}@example.com"),
                "x",
            )
            .await;
        let expected = if n < 29 {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::TOO_MANY_REQUESTS
        };
        assert_eq!(answer.status, expected, "failure {n}");
    }
    let locked = Door::Authorize
        .try_password(&mut guesser, &server, &kim, PASSWORD)
        .await;
    assert_locked(&locked, "600");
    // Kim, elsewhere, signs in.
    let mut kim_at_home = HttpBrowser::from(&live, [0, 0, 4]);
    let signed_in = Door::Authorize
        .try_password(&mut kim_at_home, &server, &kim, PASSWORD)
        .await;
    assert_eq!(signed_in.status, StatusCode::SEE_OTHER);
    // One wrong password for Lee from each of 30 addresses locks Lee's
    // account, wherever Lee signs in from.
    for n in 0..30u8 {
        let mut somewhere = HttpBrowser::from(&live, [0, 1, n + 1]);
        let answer = Door::Authorize
            .try_password(&mut somewhere, &server, &lee, "wrong")
            .await;
        let expected = if n < 29 {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::TOO_MANY_REQUESTS
        };
        assert_eq!(answer.status, expected, "address {n}");
    }
    let mut lee_at_home = HttpBrowser::from(&live, [0, 0, 5]);
    let locked = Door::Authorize
        .try_password(&mut lee_at_home, &server, &lee, PASSWORD)
        .await;
    assert_locked(&locked, "600");
}

/// If this fails, a guesser doubles the limit by alternating between the
/// interactive login's form and the app's `/login`.
#[tokio::test]
async fn both_sign_in_forms_share_one_count() {
    let server = Server::current().await;
    let email = user_with_password(&server).await;
    let live = Live::start(&server).await;
    let mut browser = HttpBrowser::from(&live, [0, 0, 6]);
    for n in 0..29 {
        let door = if n % 2 == 0 {
            Door::Authorize
        } else {
            Door::Login
        };
        let answer = door
            .try_password(&mut browser, &server, &email, "wrong")
            .await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{door:?} {n}");
    }
    let thirtieth = Door::Login
        .try_password(&mut browser, &server, &email, "wrong")
        .await;
    assert_locked(&thirtieth, "600");
    live.advance(60).await;
    let right = Door::Authorize
        .try_password(&mut browser, &server, &email, PASSWORD)
        .await;
    assert_locked(&right, "540");
    // The account is locked at /login from another address too.
    let mut elsewhere = HttpBrowser::from(&live, [0, 0, 7]);
    let right = Door::Login
        .try_password(&mut elsewhere, &server, &email, PASSWORD)
        .await;
    assert_locked(&right, "540");
    live.advance(540).await;
    let right = Door::Login
        .try_password(&mut elsewhere, &server, &email, PASSWORD)
        .await;
    assert_eq!(right.status, StatusCode::SEE_OTHER, "{}", right.text());
    assert_eq!(right.header("location"), Some("/"));
}

/// If this fails, anyone can fill the database with sessions by opening
/// the sign-in pages (issue 14: 300 rows in 0.1 s).
#[tokio::test]
async fn anonymous_pages_store_no_session() {
    let server = Server::current().await;
    let email = user_with_password(&server).await;
    let query = authorize_query(&server.verifier(), CALLBACK, "user:read");
    for n in 0..300 {
        // A new browser each time: no cookie, as a flood would send.
        let path = if n % 2 == 0 {
            format!("{}?{query}", paths::OAUTH_AUTHORIZE)
        } else {
            "/login?next=%2F".to_owned()
        };
        let page = server.send(Call::get(path)).await;
        assert_eq!(page.status, StatusCode::OK);
        let cookie = page.header("set-cookie").unwrap();
        assert!(cookie.starts_with("posthog_form="), "{cookie}");
        for part in ["HttpOnly", "SameSite=Lax", "Path=/"] {
            assert!(cookie.contains(part), "{cookie}");
        }
    }
    assert_eq!(server.state.db.login_session_count().await.unwrap(), 0);
    // A browser keeps its nonce: opening the page again sets nothing.
    let mut browser = Browser::new(&server);
    let page = browser.open(&query).await;
    let again = browser.open(&query).await;
    assert!(again.header("set-cookie").is_none());
    assert_eq!(hidden_fields(&page.text()), hidden_fields(&again.text()));
    // Signing in stores the one session.
    let signed_in = browser
        .submit(&page, &[("email", &email), ("password", PASSWORD)])
        .await;
    assert_eq!(signed_in.status, StatusCode::SEE_OTHER);
    assert_eq!(server.state.db.login_session_count().await.unwrap(), 1);
}

/// If this fails, another site can sign a browser in (login CSRF): the
/// anonymous form's token must come with the cookie it was made for.
#[tokio::test]
async fn an_anonymous_form_needs_its_own_cookie() {
    let server = Server::current().await;
    let email = user_with_password(&server).await;
    let query = authorize_query(&server.verifier(), CALLBACK, "user:read");
    let mut attacker = Browser::new(&server);
    let attackers_page = attacker.open(&query).await;
    // The victim has a form cookie of their own, but the attacker's token.
    let mut victim = Browser::new(&server);
    victim.open(&query).await;
    let forged = victim
        .submit(
            &attackers_page,
            &[("email", &email), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    // No cookie at all.
    victim.forget("posthog_form");
    let forged = victim
        .submit(
            &attackers_page,
            &[("email", &email), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    // The same at /login.
    let login_page = attacker.send(Call::get("/login?next=%2F")).await;
    let mut pairs = hidden_fields(&login_page.text());
    pairs.push(("email".into(), email.clone()));
    pairs.push(("password".into(), PASSWORD.into()));
    let pairs: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let forged = server.send(Call::post("/login").form(&pairs)).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let own = attacker.send(Call::post("/login").form(&pairs)).await;
    assert_eq!(own.status, StatusCode::SEE_OTHER);
    assert_eq!(server.state.db.login_session_count().await.unwrap(), 1);
}
