//! The app's project page (`GET /project/{id}`) over real loopback HTTP
//! (issue 14, class 6). It shows the organization's name, which by default
//! holds the signup's email, and team ids are sequential: if these fail,
//! anyone can walk the ids and read every signup's email, or tell which
//! projects exist, or a deep link stops landing on its project.

use axum::http::StatusCode;
use serde_json::json;

use protocol::paths;
use protocol::scope::WIZARD_SIGNUP_SCOPES;

use crate::support::*;

/// The password [`Person::with_password`] sets.
const PASSWORD: &str = "project-page-password-fake";

/// The test server's router, served on `127.0.0.1:<free port>` until
/// dropped, and a client that follows no redirect and keeps no cookie.
struct Loopback {
    base: String,
    http: reqwest::Client,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Loopback {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One answer over the socket.
struct Page {
    status: StatusCode,
    location: Option<String>,
    set_cookie: Option<String>,
    content_type: Option<String>,
    body: String,
}

impl Loopback {
    async fn start(server: &Server) -> Loopback {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let base = format!("http://{}", listener.local_addr().unwrap());
        let app = server.app.clone();
        let task = tokio::spawn(async move {
            axum::serve(listener, app.into_make_service())
                .await
                .expect("the server serves");
        });
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("a client");
        Loopback { base, http, task }
    }

    /// `GET path` with the session cookie `cookie`, if any.
    async fn get(&self, path: &str, cookie: Option<&str>) -> Page {
        let mut request = self.http.get(format!("{}{path}", self.base));
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        Loopback::page(request.send().await.expect("the server answers")).await
    }

    /// `POST path` with a form and the session cookie.
    async fn post_form(&self, path: &str, cookie: &str, form: &[(&str, &str)]) -> Page {
        let request = self
            .http
            .post(format!("{}{path}", self.base))
            .header("cookie", cookie)
            .form(form);
        Loopback::page(request.send().await.expect("the server answers")).await
    }

    async fn page(response: reqwest::Response) -> Page {
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned)
        };
        let (location, set_cookie, content_type) = (
            header("location"),
            header("set-cookie"),
            header("content-type"),
        );
        Page {
            status: StatusCode::from_u16(response.status().as_u16()).unwrap(),
            location,
            set_cookie,
            content_type,
            body: response.text().await.expect("a body"),
        }
    }

    /// Signs in at `/login?next=<next>` with the sign-in form, as a
    /// browser would: the form's page, then its submission. Returns the
    /// signed-in cookie and the answer to the submission.
    async fn sign_in(&self, next: &str, email: &str) -> (String, Page) {
        let query = serde_urlencoded::to_string([("next", next)]).unwrap();
        let form = self.get(&format!("/login?{query}"), None).await;
        assert_eq!(form.status, StatusCode::OK, "{}", form.body);
        let anonymous = cookie_of(&form, "posthog_form");
        let csrf = hidden(&form.body, "csrf_token");
        let sent_next = hidden(&form.body, "next");
        let answer = self
            .post_form(
                "/login",
                &anonymous,
                &[
                    ("email", email),
                    ("password", PASSWORD),
                    ("next", &sent_next),
                    ("csrf_token", &csrf),
                ],
            )
            .await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
        (cookie_of(&answer, "posthog_session"), answer)
    }
}

/// `<name>=<value>` of an answer's `Set-Cookie` for the cookie `name`:
/// `posthog_form` for an anonymous form, `posthog_session` once signed in.
fn cookie_of(page: &Page, name: &str) -> String {
    let set_cookie = page.set_cookie.as_deref().expect("a Set-Cookie header");
    let pair = set_cookie.split(';').next().unwrap().trim().to_owned();
    assert!(pair.starts_with(&format!("{name}=")), "{set_cookie}");
    pair
}

/// The value of the hidden field `name` of a page (HTML-unescaped).
fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no hidden {name} in {html}"))
        + marker.len();
    let end = start + html[start..].find('"').unwrap();
    html[start..end]
        .replace("&#39;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// A signed-up wizard user with a password, a provisioned project named
/// `project_name`, and the access token of the signup.
struct Person {
    email: String,
    team_id: i64,
    access: String,
}

impl Person {
    async fn with_password(server: &Server, project_name: &str) -> Person {
        let email = server.email();
        let (code, verifier) = server.signup_as(&email, Some(&WIZARD_SIGNUP_SCOPES)).await;
        let access = tokens_of(server.exchange(&code, verifier.as_str()).await).access;
        let provisioned = server
            .send(
                Call::post(paths::RESOURCES)
                    .version()
                    .bearer(&access)
                    .json(&json!({"configuration": {"project_name": project_name}})),
            )
            .await;
        assert_eq!(provisioned.status, StatusCode::OK, "{}", provisioned.text());
        let team_id = provisioned.json()["id"].as_str().unwrap().parse().unwrap();
        let user = server
            .state
            .db
            .user_by_email(&email)
            .await
            .unwrap()
            .unwrap();
        let hash = server::password::hash(PASSWORD, server.state.random.as_ref());
        server
            .state
            .db
            .set_password_hash(user.id, &hash)
            .await
            .unwrap();
        Person {
            email,
            team_id,
            access,
        }
    }

    fn page(&self) -> String {
        format!("/project/{}", self.team_id)
    }
}

/// If this fails, a visitor without a session reads a project's page (and
/// the email in its organization's name), or learns from the answer
/// whether a project exists; or the sign-in does not bring them back.
#[tokio::test]
async fn a_visitor_without_a_session_is_sent_to_sign_in_and_back() {
    let server = Server::issuing_keys().await;
    let owner = Person::with_password(&server, "Shop").await;
    let app = Loopback::start(&server).await;
    let login_form = app.get("/login", None).await;
    let anonymous_form = cookie_of(&login_form, "posthog_form");
    for (path, cookie) in [
        (owner.page(), None),
        (owner.page(), Some(anonymous_form.as_str())),
        (owner.page(), Some("posthog_session=not-a-live-session")),
        (format!("{}/", owner.page()), None),
        ("/project/999999".to_owned(), None),
        ("/project/abc".to_owned(), None),
    ] {
        let page = app.get(&path, cookie).await;
        assert_eq!(page.status, StatusCode::FOUND, "{path} {cookie:?}");
        let routed = path.trim_end_matches('/');
        let expected = format!("/login?next={}", routed.replace('/', "%2F"));
        assert_eq!(page.location.as_deref(), Some(expected.as_str()), "{path}");
        assert!(page.body.is_empty(), "{path}: {}", page.body);
        assert!(!page.body.contains(&owner.email));
    }
    // The sign-in page takes `next` and sends the person back to it.
    let (cookie, signed_in) = app.sign_in(&owner.page(), &owner.email).await;
    assert_eq!(signed_in.location.as_deref(), Some(owner.page().as_str()));
    let page = app.get(&owner.page(), Some(&cookie)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("Project Shop"), "{}", page.body);
    assert!(
        page.body
            .contains(&format!("PostHog Wizard ({})", owner.email)),
        "a member sees the organization's name: {}",
        page.body
    );
}

/// If this fails, a signed-in person reads a project of an organization
/// they are not in, or can tell such a project from one that does not
/// exist; or a member cannot read their own project (escaped).
#[tokio::test]
async fn only_a_member_sees_the_page_and_others_cannot_tell_it_exists() {
    let server = Server::issuing_keys().await;
    let owner = Person::with_password(&server, "<b>Shop</b> & co").await;
    let stranger = Person::with_password(&server, "Elsewhere").await;
    let app = Loopback::start(&server).await;
    let (owner_cookie, _) = app.sign_in("/", &owner.email).await;
    let (stranger_cookie, _) = app.sign_in("/", &stranger.email).await;

    let own = app.get(&owner.page(), Some(&owner_cookie)).await;
    assert_eq!(own.status, StatusCode::OK, "{}", own.body);
    assert!(
        own.body.contains("&lt;b&gt;Shop&lt;/b&gt; &amp; co"),
        "{}",
        own.body
    );
    assert!(!own.body.contains("<b>Shop"), "{}", own.body);

    let unknown = app.get("/project/999999", Some(&stranger_cookie)).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    for path in [
        owner.page(),
        "/project/abc".to_owned(),
        "/project/-1".to_owned(),
    ] {
        let page = app.get(&path, Some(&stranger_cookie)).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(page.body, unknown.body, "{path}: one page for all");
        assert_eq!(page.content_type, unknown.content_type, "{path}");
        assert!(!page.body.contains(&owner.email), "{path}");
        assert!(!page.body.contains("Shop"), "{path}");
    }
    // The stranger's own project is theirs to see.
    let theirs = app.get(&stranger.page(), Some(&stranger_cookie)).await;
    assert_eq!(theirs.status, StatusCode::OK);

    // A removed project is not found, for its own members too.
    let removed = server
        .send(
            Call::post(format!("{}/{}/remove", paths::RESOURCES, owner.team_id))
                .version()
                .bearer(&owner.access)
                .json(&json!({})),
        )
        .await;
    assert_eq!(removed.status, StatusCode::OK, "{}", removed.text());
    let gone = app.get(&owner.page(), Some(&owner_cookie)).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert_eq!(gone.body, unknown.body);
}

/// If this fails, a deep link signs the person in but its redirect lands
/// on the sign-in page or a 404 instead of their project.
#[tokio::test]
async fn a_deep_link_still_lands_on_the_project() {
    let server = Server::issuing_keys().await;
    let owner = Person::with_password(&server, "Linked").await;
    let app = Loopback::start(&server).await;
    let link = server
        .send(
            Call::post(paths::DEEP_LINKS)
                .version()
                .bearer(&owner.access)
                .json(&json!({"purpose": "dashboard"})),
        )
        .await;
    assert_eq!(link.status, StatusCode::OK, "{}", link.text());
    let url = link.json()["url"].as_str().unwrap().to_owned();
    let target = url.strip_prefix(PUBLIC_URL).unwrap();
    let followed = app.get(target, None).await;
    assert_eq!(followed.status, StatusCode::FOUND, "{}", followed.body);
    assert_eq!(followed.location.as_deref(), Some(owner.page().as_str()));
    let cookie = cookie_of(&followed, "posthog_session");
    let page = app.get(&owner.page(), Some(&cookie)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("Project Linked"), "{}", page.body);
}
