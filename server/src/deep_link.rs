//! Deep links (protocol section 4): what a request for one may ask, as a
//! plain function over what was loaded ([`decide`]), and the words a
//! followed link that did not sign anyone in lands on. The era's part is
//! `ScopePolicy`'s (`policy/deep_links.rs`).

use protocol::provisioning::DeepLinkRequest;

use crate::db::{Application, Team};
use crate::error::ApiError;
use crate::policy::ScopePolicy;

/// How long a link lives, in seconds.
pub const LIFETIME_SECONDS: i64 = 600;

/// The longest `path` accepted.
pub const MAX_PATH_LENGTH: usize = 2048;

/// The `error` values of the home page a refused link lands on.
pub const MISSING_TOKEN: &str = "missing_token";
pub const EXPIRED_OR_INVALID_TOKEN: &str = "expired_or_invalid_token";
pub const USER_NOT_FOUND: &str = "user_not_found";
pub const SERVICE_UNAVAILABLE: &str = "service_unavailable";

/// A link to issue: its purpose, the in-app path it opens, and the team
/// it signs into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub purpose: String,
    pub path: String,
    pub team: Team,
}

/// The decision on a request for a link, in the real server's order: the
/// purpose, a partner barred by the era, the partner's capability, the
/// token's team (`team`, as found), the path. `partner` is the token's
/// application, if it still exists.
pub fn decide(
    policy: &ScopePolicy,
    request: DeepLinkRequest,
    partner: Option<&Application>,
    team: Result<Team, ApiError>,
) -> Result<Link, ApiError> {
    let purpose = policy.deep_link_purpose(request.purpose.as_deref())?;
    if let Some(barred) = partner.and_then(|partner| policy.deep_links_barred(partner.auth_method))
    {
        return Err(barred);
    }
    if !partner.is_some_and(|partner| partner.active && partner.can_issue_deep_links) {
        return Err(policy.deep_links_not_enabled());
    }
    let team = team?;
    let path = match request.path {
        Some(path) => {
            check_in_app_path(&path).map_err(|why| policy.deep_link_path_refused(why))?;
            path
        }
        None => format!("/project/{}", team.id),
    };
    Ok(Link {
        purpose,
        path,
        team,
    })
}

/// Accepts only a relative path inside the app: it starts with one `/`,
/// holds no backslash, control character or whitespace, no `.`/`..`
/// segment, and stays so once percent-decoded (browsers decode `%2e` and
/// some treat `\` as `/`, so `/%2e%2e/` or `/%5cevil` would leave the app).
/// The message says which rule failed.
pub fn check_in_app_path(path: &str) -> Result<(), String> {
    let refuse = |why: &str| Err(format!("path must be a relative in-app path: {why}"));
    if path.len() > MAX_PATH_LENGTH {
        return refuse("it is longer than 2048 characters");
    }
    for candidate in [path.to_owned(), percent_decode(path)] {
        if !candidate.starts_with('/') {
            return refuse("it must start with `/` (an absolute URL or a scheme is refused)");
        }
        if candidate.starts_with("//") {
            return refuse("it must not start with `//`");
        }
        if candidate.contains('\\') {
            return refuse("it must not contain a backslash");
        }
        if candidate
            .chars()
            .any(|c| c.is_control() || c.is_whitespace())
        {
            return refuse("it must not contain control characters or whitespace");
        }
        if !candidate.bytes().all(|byte| byte.is_ascii_graphic()) {
            return refuse("it must be printable ASCII (percent-encode anything else)");
        }
        let route = candidate.split(['?', '#']).next().unwrap_or_default();
        if route
            .split('/')
            .any(|segment| segment == ".." || segment == ".")
        {
            return refuse("it must not contain `.` or `..` segments");
        }
    }
    Ok(())
}

/// `%XX` decoded once; anything malformed is kept as it is.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let hex = |at: usize| bytes.get(at).and_then(|b| (*b as char).to_digit(16));
        match (bytes[index], hex(index + 1), hex(index + 2)) {
            (b'%', Some(high), Some(low)) => {
                decoded.push((high * 16 + low) as u8);
                index += 3;
            }
            (byte, _, _) => {
                decoded.push(byte);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::AuthMethod;

    /// If a row fails, a link escapes the app (an absolute URL, a `..`
    /// hidden behind percent-encoding) or a plain in-app path is refused.
    #[test]
    fn in_app_path_table() {
        let cases: [(&str, bool); 12] = [
            ("/project/1", true),
            ("/insights?tab=1#top", true),
            ("/a%20b", false),
            ("https://evil.example/", false),
            ("//evil.example/", false),
            ("/\\evil", false),
            ("/%5cevil", false),
            ("/a/../b", false),
            ("/%2e%2e/b", false),
            ("/./b", false),
            ("/café", false),
            ("relative", false),
        ];
        for (path, accepted) in cases {
            assert_eq!(check_in_app_path(path).is_ok(), accepted, "{path}");
        }
        assert!(check_in_app_path(&format!("/{}", "a".repeat(MAX_PATH_LENGTH))).is_err());
        assert_eq!(percent_decode("%2E%zz%4"), ".%zz%4");
    }

    /// If a row fails, a partner the era bars, or one without the
    /// capability, mints links into someone's project, or the checks answer
    /// in another order than the real server's.
    /// A request, the token's partner and team as found, and the link's
    /// path or the refusal's code.
    type Row = (
        DeepLinkRequest,
        Option<Application>,
        Result<Team, ApiError>,
        Result<&'static str, &'static str>,
    );

    #[test]
    fn decide_table() {
        let policy = ScopePolicy::load("current").unwrap();
        let team = Team::for_test(7, "o1", false);
        let partner = |auth_method: &str, can_issue_deep_links: bool| Application {
            auth_method: AuthMethod::parse(auth_method).unwrap(),
            can_issue_deep_links,
            ..Application::for_test("p", "")
        };
        let request = |path: Option<&str>| DeepLinkRequest {
            purpose: None,
            path: path.map(str::to_owned),
        };
        let gone = || Err(ApiError::NotFound("No resource 7".into()));
        let hmac = partner("hmac", true);
        let cases: Vec<Row> = vec![
            (
                request(None),
                Some(hmac.clone()),
                Ok(team.clone()),
                Ok("/project/7"),
            ),
            (
                request(Some("/insights")),
                Some(hmac.clone()),
                Ok(team.clone()),
                Ok("/insights"),
            ),
            (
                request(Some("https://evil")),
                Some(hmac.clone()),
                Ok(team.clone()),
                Err("invalid_path"),
            ),
            (request(None), Some(hmac.clone()), gone(), Err("not_found")),
            (
                request(None),
                Some(partner("hmac", false)),
                gone(),
                Err("deep_links_not_enabled"),
            ),
            (
                request(None),
                Some(partner("pkce", true)),
                Ok(team.clone()),
                Err("forbidden"),
            ),
            (
                request(None),
                None,
                Ok(team.clone()),
                Err("deep_links_not_enabled"),
            ),
        ];
        for (request, partner, team, expected) in cases {
            let shown = format!("{request:?} {partner:?}");
            let got = decide(&policy, request, partner.as_ref(), team);
            let got = got.map(|link| link.path).map_err(|error| error.code());
            assert_eq!(got.as_deref().map_err(|code| *code), expected, "{shown}");
        }
    }
}
