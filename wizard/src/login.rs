//! The interactive login (protocol sections 6 and 9): an existing email, or
//! `doctor` without a key, signs in through a browser. The wizard listens on
//! a loopback port for the redirect, accepts a pasted code as well, and
//! exchanges the code at `POST /oauth/token` with its PKCE verifier.

use std::time::Duration;

use protocol::credential::Credential;
use protocol::oauth::{TokenAnswer, GRANT_AUTHORIZATION_CODE};
use protocol::pkce::{CodeVerifier, S256};
use protocol::random::RandomSource;
use protocol::scope::{Scopes, LLM_GATEWAY_READ, WIZARD_LOGIN_SCOPES};
use reqwest::Url;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::error::WizardError;
use crate::log::VerboseLog;
use crate::session::Session;

/// The ports tried in order when `--callback-port` is not given.
pub const CALLBACK_PORTS: [u16; 6] = [8239, 8238, 8240, 8237, 8236, 8235];

/// A finished interactive login.
pub struct SignedIn {
    /// The `pha_` the rest of the run uses.
    pub token: Credential,
    /// The `scope` of the token answer, space separated.
    pub granted_scope: String,
}

/// Signs in through the link of an account request's `requires_auth` (the
/// older eras): the link's own client, scopes and, when it is the account
/// request's, challenge, which `account_verifier` answers.
pub async fn sign_in_with_link(
    session: &Session,
    link: &str,
    account_verifier: &CodeVerifier,
) -> Result<SignedIn, WizardError> {
    let (listener, port) = bind(session)?;
    let request = authorize_link(
        link,
        session.config.client_id(),
        port,
        &*session.random,
        account_verifier,
    )?;
    finish_sign_in(session, listener, port, request).await
}

/// Signs in with the wizard's own authorize URL, asking for `scope` when the
/// server named one (today's consent link), else for the login scopes.
pub async fn sign_in(session: &Session, scope: Option<&str>) -> Result<SignedIn, WizardError> {
    let (listener, port) = bind(session)?;
    let request = own_authorize_request(
        &session.config.server_url(),
        scope,
        session.config.client_id(),
        port,
        &*session.random,
    )?;
    finish_sign_in(session, listener, port, request).await
}

/// The listener at `--callback-port`, or at the first free default port.
fn bind(session: &Session) -> Result<(TcpListener, u16), WizardError> {
    match session.config.callback_port {
        Some(port) => bind_port(port),
        None => bind_first_free(),
    }
}

/// Shows the authorize URL alone on its line (protocol section 6), waits for
/// the callback or a pasted code, and exchanges it; a grant narrower than
/// asked is warned about on stderr.
async fn finish_sign_in(
    session: &Session,
    listener: TcpListener,
    port: u16,
    request: AuthorizeRequest,
) -> Result<SignedIn, WizardError> {
    session.log.line(format!(
        "sign-in: listening on 127.0.0.1:{port}, asking for {}",
        request.asked
    ));
    let output = &session.output;
    output.line("Open this URL in your browser to sign in:");
    output.line(&request.url);
    output.line(format!(
        "Waiting for the sign-in (at most {}). You can also paste the code, or the whole callback URL, here.",
        human(session.config.login_timeout)
    ));
    output.flush();
    let code = wait_for_code(session, &listener, &request.state).await?;
    drop(listener);
    let tokens = exchange(session, &request, &code).await?;
    if let Some(warning) = scope_warning(&request.asked, &tokens.scope) {
        output.warn(warning);
    }
    let token = Credential::parse(&tokens.access_token)
        .map_err(|error| WizardError::Internal(format!("malformed access token: {error}")))?;
    output.line("Signed in.");
    Ok(SignedIn {
        token,
        granted_scope: tokens.scope,
    })
}

/// What the browser is sent to, and what the exchange needs afterwards.
#[derive(Debug)]
pub struct AuthorizeRequest {
    pub url: String,
    pub client_id: String,
    pub redirect_uri: String,
    pub state: String,
    pub verifier: CodeVerifier,
    /// The scopes asked for, in order.
    pub asked: Scopes,
}

/// Completes the sign-in link of an account request's `requires_auth` (the
/// older eras' `/oauth/authorize` link, which carries the client_id, the
/// challenge and the scope) with this run's loopback `redirect_uri` and
/// `state`. When the link carries the account request's own challenge,
/// `account_verifier` answers it (it is the same request); otherwise a fresh
/// pair replaces the challenge.
pub fn authorize_link(
    link: &str,
    default_client_id: &str,
    port: u16,
    random: &dyn RandomSource,
    account_verifier: &CodeVerifier,
) -> Result<AuthorizeRequest, WizardError> {
    let (url, original) = sign_in_url(link)?;
    let verifier = match param(&original, "code_challenge") {
        Some(challenge) if account_verifier.challenge().as_str() == challenge => {
            account_verifier.clone()
        }
        _ => CodeVerifier::generate(random),
    };
    Ok(complete(
        url,
        &original,
        default_client_id,
        verifier,
        port,
        random,
    ))
}

/// The wizard's own authorize request on `server` (`doctor` without a key,
/// and today's existing email, whose consent link would send the code
/// elsewhere): a fresh PKCE pair, asking for `scope` (space separated) when
/// the server named one, else for the login scopes.
pub fn own_authorize_request(
    server: &str,
    scope: Option<&str>,
    client_id: &str,
    port: u16,
    random: &dyn RandomSource,
) -> Result<AuthorizeRequest, WizardError> {
    let (url, original) = sign_in_url(&own_authorize_url(server, scope))?;
    let verifier = CodeVerifier::generate(random);
    Ok(complete(url, &original, client_id, verifier, port, random))
}

/// Parses a sign-in URL and keeps its query pairs.
fn sign_in_url(text: &str) -> Result<(Url, Vec<(String, String)>), WizardError> {
    let url = Url::parse(text).map_err(|error| {
        WizardError::Internal(format!(
            "the server sent a sign-in URL the wizard cannot read ({error})"
        ))
    })?;
    let original = url
        .query_pairs()
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect();
    Ok((url, original))
}

fn param(pairs: &[(String, String)], name: &str) -> Option<String> {
    pairs
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.clone())
}

/// Rewrites `url`'s query with this run's parameters, keeping the client_id
/// and scope it names (else `default_client_id` and the login scopes) and
/// any parameter of its own after them.
fn complete(
    mut url: Url,
    original: &[(String, String)],
    default_client_id: &str,
    verifier: CodeVerifier,
    port: u16,
    random: &dyn RandomSource,
) -> AuthorizeRequest {
    let client_id = param(original, "client_id").unwrap_or_else(|| default_client_id.to_owned());
    let asked = match param(original, "scope") {
        Some(scope) if !scope.trim().is_empty() => Scopes::parse(&scope),
        _ => Scopes::from_iter(WIZARD_LOGIN_SCOPES),
    };
    let state = hex(&random.bytes(16));
    let redirect_uri = format!("http://localhost:{port}/callback");
    const OURS: [&str; 7] = [
        "client_id",
        "redirect_uri",
        "response_type",
        "code_challenge",
        "code_challenge_method",
        "scope",
        "state",
    ];
    {
        let mut query = url.query_pairs_mut();
        query.clear();
        query
            .append_pair("client_id", &client_id)
            .append_pair("redirect_uri", &redirect_uri)
            .append_pair("response_type", "code")
            .append_pair("code_challenge", verifier.challenge().as_str())
            .append_pair("code_challenge_method", S256)
            .append_pair("scope", &asked.to_string())
            .append_pair("state", &state);
        for (key, value) in original
            .iter()
            .filter(|(key, _)| !OURS.contains(&key.as_str()))
        {
            query.append_pair(key, value);
        }
    }
    AuthorizeRequest {
        url: url.to_string(),
        client_id,
        redirect_uri,
        state,
        verifier,
        asked,
    }
}

/// The wizard's own authorize URL on `server`, asking for `scope` (space
/// separated) when given, else for the login scopes;
/// [`own_authorize_request`] completes it.
fn own_authorize_url(server: &str, scope: Option<&str>) -> String {
    let base = format!("{server}{}", protocol::paths::OAUTH_AUTHORIZE);
    match (scope, Url::parse(&base)) {
        (Some(scope), Ok(mut url)) => {
            url.query_pairs_mut().append_pair("scope", scope);
            url.to_string()
        }
        _ => base,
    }
}

/// Binds the login listener on 127.0.0.1 at `--callback-port`.
pub fn bind_port(port: u16) -> Result<(TcpListener, u16), WizardError> {
    match listen(port)? {
        Some(bound) => Ok(bound),
        None => Err(WizardError::Usage(format!(
            "--callback-port {port} is in use; choose a free port for the sign-in listener"
        ))),
    }
}

/// Binds the login listener on 127.0.0.1 at the first free one of
/// [`CALLBACK_PORTS`] (protocol section 9's defaults).
pub fn bind_first_free() -> Result<(TcpListener, u16), WizardError> {
    for candidate in CALLBACK_PORTS {
        if let Some(bound) = listen(candidate)? {
            return Ok(bound);
        }
    }
    Err(WizardError::Usage(format!(
        "the sign-in listener found no free port among {}; choose one with --callback-port",
        CALLBACK_PORTS.map(|port| port.to_string()).join(", ")
    )))
}

/// A listener on `port`, or `None` when the port is taken.
fn listen(port: u16) -> Result<Option<(TcpListener, u16)>, WizardError> {
    let Ok(listener) = std::net::TcpListener::bind(("127.0.0.1", port)) else {
        return Ok(None);
    };
    let port = listener.local_addr().map_or(port, |address| address.port());
    let listener = listener
        .set_nonblocking(true)
        .and_then(|()| TcpListener::from_std(listener))
        .map_err(|error| {
            WizardError::Internal(format!("cannot listen for the sign-in: {error}"))
        })?;
    Ok(Some((listener, port)))
}

/// Waits for the callback on `listener` or a code pasted on stdin (a bare
/// code or the whole callback URL), at most the config's login timeout.
pub async fn wait_for_code(
    session: &Session,
    listener: &TcpListener,
    state: &str,
) -> Result<String, WizardError> {
    let (log, timeout) = (&session.log, session.config.login_timeout);
    let (sender, mut pasted) = tokio::sync::mpsc::unbounded_channel::<String>();
    std::thread::spawn(move || {
        let stdin = std::io::stdin();
        let mut line = String::new();
        while matches!(stdin.read_line(&mut line), Ok(n) if n > 0) {
            if sender.send(std::mem::take(&mut line)).is_err() {
                break;
            }
        }
    });
    let deadline = tokio::time::sleep(timeout);
    tokio::pin!(deadline);
    let mut stdin_open = true;
    loop {
        tokio::select! {
            () = &mut deadline => {
                return Err(WizardError::Network(format!(
                    "No sign-in arrived within {}; nothing was changed. Run the wizard again to sign in.",
                    human(timeout)
                )));
            }
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                match callback(stream, state, log).await {
                    Some(Received::Code(code)) => return Ok(code),
                    Some(Received::Denied(reason)) => return Err(denied(&reason)),
                    None => continue,
                }
            }
            line = pasted.recv(), if stdin_open => {
                let Some(line) = line else { stdin_open = false; continue };
                match parse_pasted(line.trim(), state) {
                    Pasted::Received(Received::Code(code)) => {
                        log.line("sign-in: a code was pasted");
                        return Ok(code);
                    }
                    Pasted::Received(Received::Denied(reason)) => return Err(denied(&reason)),
                    Pasted::Empty => {}
                    Pasted::WrongState => session.output.warn(
                        "That callback URL belongs to another sign-in (its state does not match); paste the one from this run."
                    ),
                }
            }
        }
    }
}

/// Exchanges the code at `POST <server>/oauth/token`.
pub async fn exchange(
    session: &Session,
    request: &AuthorizeRequest,
    code: &str,
) -> Result<TokenAnswer, WizardError> {
    let url = format!(
        "{}{}",
        session.config.server_url(),
        protocol::paths::OAUTH_TOKEN
    );
    let builder = session.client().post(&url).form(&[
        ("grant_type", GRANT_AUTHORIZATION_CODE),
        ("code", code),
        ("redirect_uri", &request.redirect_uri),
        ("client_id", &request.client_id),
        ("code_verifier", request.verifier.as_str()),
    ]);
    let answer = session.send("login code exchange", &url, builder).await?;
    if !answer.status.is_success() {
        let code = answer
            .code()
            .unwrap_or_else(|| "provisioning_failed".into());
        return Err(WizardError::Provisioning {
            message: format!(
                "The sign-in could not be completed: the token endpoint answered {} ({code}): {}",
                answer.status,
                answer.message()
            ),
            code,
        });
    }
    let tokens: TokenAnswer = answer.json("the token endpoint")?;
    Credential::parse(&tokens.access_token).map_err(|error| {
        WizardError::Internal(format!(
            "the token endpoint sent a malformed access token: {error}"
        ))
    })?;
    session.log.line(format!(
        "sign-in: granted scope {:?}, scoped teams {:?}, region {:?}",
        tokens.scope, tokens.scoped_teams, tokens.posthog_region
    ));
    Ok(tokens)
}

/// The scopes asked for that the grant lacks, in the order asked.
pub fn missing_scopes(asked: &Scopes, granted: &str) -> Scopes {
    let granted = Scopes::parse(granted);
    asked
        .iter()
        .filter(|scope| !granted.includes(scope))
        .collect()
}

/// The warning lines for a grant narrower than the request, if any.
pub fn scope_warning(asked: &Scopes, granted: &str) -> Option<String> {
    let missing = missing_scopes(asked, granted);
    if missing.is_empty() {
        return None;
    }
    let mut text = format!(
        "warning: the sign-in granted fewer scopes than the wizard asked for; missing: {}.",
        missing.as_slice().join(", ")
    );
    if missing.contains(LLM_GATEWAY_READ) {
        text.push_str("\nwarning: without llm_gateway:read the agent step will fail: the LLM gateway only lets in credentials that carry that scope.");
    }
    Some(text)
}

enum Received {
    Code(String),
    Denied(String),
}

enum Pasted {
    Received(Received),
    Empty,
    WrongState,
}

fn parse_pasted(line: &str, state: &str) -> Pasted {
    if line.is_empty() {
        return Pasted::Empty;
    }
    if !line.contains("code=") && !line.contains("error=") {
        return Pasted::Received(Received::Code(line.to_owned()));
    }
    let query = match line.split_once('?') {
        Some((_, query)) => query,
        None => line,
    };
    let pairs: Vec<(String, String)> = reqwest::Url::parse(&format!("http://localhost/?{query}"))
        .map(|url| url.query_pairs().into_owned().collect())
        .unwrap_or_default();
    match from_pairs(&pairs, state) {
        Some(received) => Pasted::Received(received),
        None if pairs.iter().any(|(key, _)| key == "state") => Pasted::WrongState,
        None => Pasted::Empty,
    }
}

/// The code or the refusal in a callback's query, when its state is ours
/// (a pasted URL without state is accepted: the person copied it).
fn from_pairs(pairs: &[(String, String)], state: &str) -> Option<Received> {
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    };
    if get("state").is_some_and(|given| given != state) {
        return None;
    }
    if let Some(error) = get("error") {
        let description = get("error_description").unwrap_or_default();
        return Some(Received::Denied(if description.is_empty() {
            error.to_owned()
        } else {
            format!("{error}: {description}")
        }));
    }
    get("code")
        .filter(|code| !code.is_empty())
        .map(|code| Received::Code(code.to_owned()))
}

/// Serves one browser request on the listener.
async fn callback(
    mut stream: tokio::net::TcpStream,
    state: &str,
    log: &VerboseLog,
) -> Option<Received> {
    let mut head = Vec::new();
    let mut buffer = [0u8; 2048];
    let read = async {
        while !head.windows(4).any(|window| window == b"\r\n\r\n") && head.len() < 16 * 1024 {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => head.extend_from_slice(&buffer[..n]),
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(10), read).await;
    let head = String::from_utf8_lossy(&head);
    let target = head
        .lines()
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .unwrap_or("/");
    let url = Url::parse(&format!("http://localhost{target}")).ok();
    let (status, body, received) = match &url {
        Some(url) if url.path() == "/callback" => {
            let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
            let state_given = pairs.iter().any(|(key, _)| key == "state");
            match (state_given, from_pairs(&pairs, state)) {
                (false, _) | (true, None) => {
                    log.line("sign-in: a callback with a missing or foreign state was refused");
                    (
                        "400 Bad Request",
                        "This sign-in does not belong to this wizard run. Go back to the terminal.",
                        None,
                    )
                }
                (true, Some(Received::Denied(reason))) => (
                    "200 OK",
                    "Access was not granted. You can close this tab and return to the terminal.",
                    Some(Received::Denied(reason)),
                ),
                (true, Some(Received::Code(code))) => {
                    log.line("sign-in: the browser sent the callback");
                    (
                        "200 OK",
                        "Signed in to PostHog. You can close this tab and return to the terminal.",
                        Some(Received::Code(code)),
                    )
                }
            }
        }
        _ => ("404 Not Found", "Nothing here.", None),
    };
    let page = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>PostHog wizard</title></head><body><p>{body}</p></body></html>"
    );
    let response = format!(
        "HTTP/1.1 {status}\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{page}",
        page.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
    received
}

fn denied(reason: &str) -> WizardError {
    WizardError::Auth(format!(
        "The sign-in was not approved ({reason}); nothing was changed. Run the wizard again and approve access to continue."
    ))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// "30 minutes", "1 minute", "45 seconds".
pub fn human(duration: Duration) -> String {
    let plural = |count: u64, unit: &str| match count {
        1 => format!("1 {unit}"),
        count => format!("{count} {unit}s"),
    };
    match duration.as_secs() {
        seconds if seconds >= 60 && seconds % 60 == 0 => plural(seconds / 60, "minute"),
        seconds => plural(seconds, "second"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::random::SeededRandom;

    fn query(url: &str) -> Vec<(String, String)> {
        Url::parse(url)
            .unwrap()
            .query_pairs()
            .into_owned()
            .collect()
    }

    fn get<'a>(pairs: &'a [(String, String)], name: &str) -> &'a str {
        &pairs.iter().find(|(key, _)| key == name).unwrap().1
    }

    #[test]
    fn the_servers_url_with_the_account_challenge_reuses_the_verifier() {
        let random = SeededRandom::new(1);
        let verifier = CodeVerifier::generate(&random);
        let redirect = format!(
            "http://server/oauth/authorize?client_id=posthog-wizard&response_type=code&code_challenge={}&code_challenge_method=S256&scope=user%3Aread+llm_gateway%3Aread",
            verifier.challenge().as_str()
        );
        let request = authorize_link(&redirect, "x", 8239, &random, &verifier).unwrap();
        assert_eq!(request.verifier, verifier);
        let pairs = query(&request.url);
        assert_eq!(
            get(&pairs, "redirect_uri"),
            "http://localhost:8239/callback"
        );
        assert_eq!(get(&pairs, "client_id"), "posthog-wizard");
        assert_eq!(get(&pairs, "scope"), "user:read llm_gateway:read");
        assert_eq!(get(&pairs, "state"), request.state);
        assert_eq!(request.state.len(), 32);
        assert_eq!(request.asked.as_slice(), ["user:read", "llm_gateway:read"]);
    }

    #[test]
    fn a_foreign_challenge_gets_a_fresh_pair_that_matches() {
        let random = SeededRandom::new(2);
        let redirect = "http://server/oauth/authorize?client_id=c&code_challenge=somebody-elses&code_challenge_method=S256";
        let unrelated = CodeVerifier::generate(&random);
        let request = authorize_link(redirect, "x", 1, &random, &unrelated).unwrap();
        let pairs = query(&request.url);
        assert_eq!(
            get(&pairs, "code_challenge"),
            request.verifier.challenge().as_str()
        );
        assert_eq!(request.asked.len(), WIZARD_LOGIN_SCOPES.len());
    }

    #[test]
    fn the_wizard_builds_the_url_itself_with_the_login_scopes() {
        let random = SeededRandom::new(3);
        let request =
            own_authorize_request("http://server", None, "posthog-wizard", 8240, &random).unwrap();
        assert!(request.url.starts_with("http://server/oauth/authorize?"));
        let pairs = query(&request.url);
        assert_eq!(get(&pairs, "scope"), WIZARD_LOGIN_SCOPES.join(" "));
        assert_eq!(get(&pairs, "response_type"), "code");
        assert_eq!(get(&pairs, "code_challenge_method"), "S256");
    }

    #[test]
    fn todays_consent_link_becomes_the_wizards_own_login_with_its_scopes() {
        let random = SeededRandom::new(4);
        let request = own_authorize_request(
            "http://server",
            Some("user:read llm_gateway:read"),
            "posthog-wizard",
            8241,
            &random,
        )
        .unwrap();
        assert!(request.url.starts_with("http://server/oauth/authorize?"));
        let pairs = query(&request.url);
        assert_eq!(get(&pairs, "client_id"), "posthog-wizard");
        assert_eq!(get(&pairs, "scope"), "user:read llm_gateway:read");
        assert_eq!(
            get(&pairs, "redirect_uri"),
            "http://localhost:8241/callback"
        );
        assert_eq!(
            own_authorize_url("http://server", None),
            "http://server/oauth/authorize"
        );
    }

    #[test]
    fn pasted_input_table() {
        let state = "abc";
        let code = |pasted: Pasted| match pasted {
            Pasted::Received(Received::Code(code)) => Some(code),
            _ => None,
        };
        assert_eq!(
            code(parse_pasted("the-code", state)).as_deref(),
            Some("the-code")
        );
        assert_eq!(
            code(parse_pasted(
                "http://localhost:8239/callback?code=c1&state=abc",
                state
            ))
            .as_deref(),
            Some("c1")
        );
        assert_eq!(code(parse_pasted("code=c2", state)).as_deref(), Some("c2"));
        assert!(matches!(
            parse_pasted("http://localhost:8239/callback?code=c1&state=zzz", state),
            Pasted::WrongState
        ));
        assert!(matches!(parse_pasted("", state), Pasted::Empty));
        assert!(matches!(
            parse_pasted(
                "http://localhost:1/callback?error=access_denied&state=abc",
                state
            ),
            Pasted::Received(Received::Denied(_))
        ));
    }

    #[test]
    fn a_narrower_grant_is_named_and_the_gateway_warning_given() {
        let asked = Scopes::from_iter(["user:read", "llm_gateway:read", "health_issue:read"]);
        assert_eq!(
            scope_warning(&asked, "user:read llm_gateway:read health_issue:read"),
            None
        );
        assert_eq!(scope_warning(&asked, "*"), None);
        let text = scope_warning(&asked, "user:read").unwrap();
        assert!(
            text.contains("missing: llm_gateway:read, health_issue:read."),
            "{text}"
        );
        assert!(text.contains("the agent step will fail"), "{text}");
        let text = scope_warning(&asked, "user:read llm_gateway:read").unwrap();
        assert!(!text.contains("agent step"), "{text}");
    }
}
