//! The scope catalogue of protocol section 8.
//!
//! Scope lists are kept in the exact order the real programs send them: the
//! published wizard's tests compare arrays exactly, and so do ours.

/// A single OAuth scope, such as `llm_gateway:read`, or the wildcard `*`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Scope(String);

/// Why a string is not a scope.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a scope (expected `resource:read`, `resource:write` or `*`)")]
pub struct ScopeError(pub String);

impl Scope {
    /// Parses `resource:action` where resource is lowercase letters, digits
    /// and underscores and action is `read` or `write`; also `*`. Anything
    /// else (including `introspection`, which is an endpoint, not a scope)
    /// is not a well-formed scope.
    pub fn parse(text: &str) -> Result<Scope, ScopeError> {
        if text == "*" {
            return Ok(Scope(text.to_owned()));
        }
        let well_formed = match text.split_once(':') {
            Some((resource, action)) => {
                !resource.is_empty()
                    && resource.len() <= 64
                    && resource
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                    && matches!(action, "read" | "write")
            }
            None => false,
        };
        if !well_formed {
            return Err(ScopeError(text.to_owned()));
        }
        Ok(Scope(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A grant's scopes, parsed once from the RFC 6749 `scope` form (space
/// separated) and kept in the order they were given: the real programs
/// compare lists exactly, so the display is the text they expect back.
/// Every program reads, compares and joins scopes through this type.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Scopes(Vec<String>);

impl Scopes {
    /// Splits a space-separated `scope` value, dropping empty parts.
    pub fn parse(text: &str) -> Scopes {
        Scopes(text.split_whitespace().map(str::to_owned).collect())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    /// Whether `scope` is one of them, spelled exactly.
    pub fn contains(&self, scope: &str) -> bool {
        self.iter().any(|held| held == scope)
    }

    /// Whether they include `needed`, directly or through `*`.
    pub fn includes(&self, needed: &str) -> bool {
        self.iter().any(|held| held == "*" || held == needed)
    }

    /// Whether they allow `needed` as PostHog's API permission decides: `*`,
    /// the scope itself, or, for a `:read`, the same object's `:write`.
    pub fn allow(&self, needed: &str) -> bool {
        self.iter().any(|held| allows(held, needed))
    }

    /// The scopes as owned strings, in order.
    pub fn into_vec(self) -> Vec<String> {
        self.0
    }

    pub fn as_slice(&self) -> &[String] {
        &self.0
    }
}

impl std::fmt::Display for Scopes {
    /// Single spaces between, the RFC 6749 `scope` form.
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.0.join(" "))
    }
}

impl<S: Into<String>> FromIterator<S> for Scopes {
    fn from_iter<I: IntoIterator<Item = S>>(scopes: I) -> Scopes {
        Scopes(scopes.into_iter().map(Into::into).collect())
    }
}

impl From<Vec<String>> for Scopes {
    fn from(scopes: Vec<String>) -> Scopes {
        Scopes(scopes)
    }
}

/// Whether one held scope allows `needed`, as PostHog's API permission
/// decides: `*`, the scope itself, or, for a `:read`, the same object's
/// `:write`.
pub fn allows(held: &str, needed: &str) -> bool {
    held == "*"
        || held == needed
        || needed
            .strip_suffix(":read")
            .is_some_and(|object| held.strip_suffix(":write") == Some(object))
}

/// [`Scopes::allow`] over a stored grant's text, read in place: the
/// PostHog API asks it on every request, so it allocates nothing.
pub fn grant_allows(granted: &str, needed: &str) -> bool {
    granted.split_whitespace().any(|held| allows(held, needed))
}

/// Joins scopes with single spaces, the RFC 6749 `scope` form.
pub fn join(scopes: &[String]) -> String {
    scopes.join(" ")
}

/// Splits a space-separated `scope` value, dropping empty parts.
pub fn split(scope: &str) -> Vec<String> {
    Scopes::parse(scope).into_vec()
}

/// Whether a space-separated grant includes `needed` (directly or by `*`).
pub fn grant_includes(granted: &str, needed: &str) -> bool {
    Scopes::parse(granted).includes(needed)
}

/// The scope the LLM gateway requires.
pub const LLM_GATEWAY_READ: &str = "llm_gateway:read";

/// What the wizard's account request asks for on the signup path, in order.
pub const WIZARD_SIGNUP_SCOPES: [&str; 8] = [
    "user:read",
    "project:read",
    "llm_gateway:read",
    "dashboard:write",
    "insight:write",
    "query:read",
    "notebook:write",
    "event_definition:write",
];

/// What the wizard's interactive login asks for, in order: the signup list
/// plus four that only the login path uses.
pub const WIZARD_LOGIN_SCOPES: [&str; 12] = [
    "user:read",
    "project:read",
    "llm_gateway:read",
    "dashboard:write",
    "insight:write",
    "query:read",
    "notebook:write",
    "event_definition:write",
    "health_issue:read",
    "wizard_session:read",
    "wizard_session:write",
    "organization:read",
];

/// The server's global allowlist in April 2026 (15 scopes): no
/// `llm_gateway:read`, which is why a signup token could never reach the
/// gateway even when the client asked.
pub const APRIL_2026_ALLOWLIST: [&str; 15] = [
    "customer_journey:read",
    "query:read",
    "conversation:read",
    "conversation:write",
    "experiment:read",
    "feature_flag:read",
    "insight:read",
    "organization:read",
    "person:read",
    "project:read",
    "ticket:read",
    "ticket:write",
    "user:read",
    "hog_flow:read",
    "hog_flow:write",
];

/// The later global allowlist (18): April's plus the three the wizard's
/// agent needs.
pub const LATER_2026_ALLOWLIST: [&str; 18] = [
    "customer_journey:read",
    "query:read",
    "conversation:read",
    "conversation:write",
    "experiment:read",
    "feature_flag:read",
    "insight:read",
    "organization:read",
    "person:read",
    "project:read",
    "ticket:read",
    "ticket:write",
    "user:read",
    "hog_flow:read",
    "hog_flow:write",
    "llm_gateway:read",
    "dashboard:write",
    "insight:write",
];

/// The wizard applications' ceiling of the `ceilings` era (an explicit list:
/// the wizard's login list); today's is `@default` plus `llm_gateway:read`
/// (the era profiles of `fixtures/profiles/`).
pub const WIZARD_APPLICATION_CEILING: [&str; 12] = WIZARD_LOGIN_SCOPES;

/// An orchestrator partner's ceiling: the list of 18.
pub const ORCHESTRATOR_CEILING: [&str; 18] = LATER_2026_ALLOWLIST;

/// Scopes the real server never lists in `scopes_supported`, though an
/// application's own ceiling may grant them: the privileged `llm_gateway:*`
/// and the hidden (personal-key only) `wizard_session:*`.
pub fn never_advertised(scope: &str) -> bool {
    scope.starts_with("llm_gateway:") || scope.starts_with("wizard_session:")
}

/// Accepted whatever an application's ceiling (OIDC and introspection).
pub const ALWAYS_ALLOWED: [&str; 4] = ["openid", "profile", "email", "introspection"];

/// The step of the wizard that needs a scope, and why, for `wizard scopes`
/// and for messages that name a missing scope.
pub fn wizard_reason(scope: &str) -> Option<&'static str> {
    let reason = match scope {
        "user:read" => "read the signed-in user and their organization (GET /api/users/@me/)",
        "project:read" => "read the project's name and ingestion key (GET /api/projects/{id}/)",
        "llm_gateway:read" => {
            "talk to the LLM gateway that runs the setup agent; without it every agent call is 401"
        }
        "dashboard:write" => "let the agent create a starter dashboard for the new events",
        "insight:write" => "let the agent create insights on that dashboard",
        "query:read" => "let the agent check with HogQL that events arrive after instrumentation",
        "notebook:write" => "let the agent leave a notebook describing what it set up",
        "event_definition:write" => "let the agent describe the custom events it added",
        "health_issue:read" => "list the project's active health issues (wizard doctor)",
        "wizard_session:read" => "resume a wizard session started elsewhere (login path only)",
        "wizard_session:write" => "record the wizard session's progress (login path only)",
        "organization:read" => {
            "list the organizations a returning user can choose from (login path only)"
        }
        _ => return None,
    };
    Some(reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_table() {
        for good in [
            "user:read",
            "llm_gateway:read",
            "event_definition:write",
            "*",
        ] {
            assert_eq!(
                Scope::parse(good).map(|scope| scope.as_str().to_owned()),
                Ok(good.to_owned())
            );
        }
        for bad in [
            "introspection",
            "",
            "user:",
            ":read",
            "User:read",
            "user:delete",
            "a b:read",
        ] {
            assert!(Scope::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_signup_list_fits_the_wizard_ceiling_but_not_april() {
        for scope in WIZARD_SIGNUP_SCOPES {
            assert!(WIZARD_APPLICATION_CEILING.contains(&scope), "{scope}");
        }
        assert!(!APRIL_2026_ALLOWLIST.contains(&LLM_GATEWAY_READ));
        assert!(LATER_2026_ALLOWLIST.contains(&LLM_GATEWAY_READ));
    }

    #[test]
    fn login_list_extends_signup_list_in_order() {
        assert_eq!(&WIZARD_LOGIN_SCOPES[..8], &WIZARD_SIGNUP_SCOPES[..]);
        assert!(!WIZARD_LOGIN_SCOPES.contains(&"introspection"));
    }

    #[test]
    fn every_wizard_scope_has_a_reason() {
        for scope in WIZARD_LOGIN_SCOPES {
            assert!(
                wizard_reason(scope).is_some_and(|reason| reason.len() > 20),
                "{scope}"
            );
        }
        assert!(wizard_reason("llm_gateway:read")
            .is_some_and(|reason| reason.contains("every agent call is 401")));
        assert_eq!(wizard_reason("insight:read"), None);
    }

    /// If this fails, `wizard scopes` lists a privileged or hidden scope as
    /// one the server advertises, or the reverse.
    #[test]
    fn privileged_and_hidden_scopes_are_never_advertised() {
        for (scope, hidden) in [
            ("llm_gateway:read", true),
            ("llm_gateway:write", true),
            ("wizard_session:read", true),
            ("user:read", false),
            ("query:read", false),
            ("llm_gateways:read", false),
        ] {
            assert_eq!(never_advertised(scope), hidden, "{scope}");
        }
    }

    #[test]
    fn grants() {
        assert!(grant_includes(
            "user:read llm_gateway:read",
            LLM_GATEWAY_READ
        ));
        assert!(grant_includes("*", LLM_GATEWAY_READ));
        assert!(!grant_includes("", LLM_GATEWAY_READ));
        assert!(!grant_includes("llm_gateway:readx", LLM_GATEWAY_READ));
    }

    #[test]
    fn scopes_keep_their_order_and_decide_like_posthog() {
        let scopes = Scopes::parse("  query:read  insight:write\tllm_gateway:read ");
        assert_eq!(
            scopes.to_string(),
            "query:read insight:write llm_gateway:read"
        );
        assert_eq!(scopes.len(), 3);
        assert!(scopes.contains("query:read") && !scopes.contains("query:write"));
        assert!(scopes.includes("llm_gateway:read") && !scopes.includes("insight:read"));
        // A `:write` allows the same object's `:read`, not the other way.
        assert!(scopes.allow("insight:read") && scopes.allow("insight:write"));
        assert!(!scopes.allow("query:write") && !scopes.allow("project:read"));
        let wildcard = Scopes::parse("*");
        assert!(wildcard.includes("anything:write") && wildcard.allow("anything:write"));
        assert!(Scopes::parse(" ").is_empty() && !Scopes::default().allow("a:read"));
        assert_eq!(
            Scopes::from_iter(["a:read", "b:write"]).to_string(),
            "a:read b:write"
        );
    }
}
