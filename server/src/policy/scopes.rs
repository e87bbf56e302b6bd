//! The era's scope rules (`posthog/scopes.py`): an application's ceiling
//! with `@default` expanded, what a code carries, what the exchange and a
//! refresh accept, what the interactive login grants, what a personal key
//! carries and what the discovery document advertises. Every scope
//! decision of the server is one of these methods.

use std::sync::Arc;

use crate::db::Application;
use crate::error::ApiError;

use super::profile::{
    Advertised, CeilingCheck, EmptyCeiling, EmptyRequest, KeyIssued, PersonalKeyScopes,
    ScopePolicy, DEFAULT_CEILING, OIDC_SCOPES,
};

impl ScopePolicy {
    /// The scopes stored on a code asked for in the Stripe namespace: what
    /// was requested, unchecked (the namespace holds Stripe to no
    /// ceiling), without duplicates; an empty request gets the partner's
    /// ceiling.
    pub fn stripe_scopes_for_code(
        &self,
        requested: Option<&[String]>,
        ceiling: &[String],
    ) -> Vec<String> {
        let requested = requested.unwrap_or(&[]);
        if requested.is_empty() {
            return ceiling.to_vec();
        }
        let mut unique: Vec<String> = Vec::with_capacity(requested.len());
        for scope in requested {
            if !unique.contains(scope) {
                unique.push(scope.clone());
            }
        }
        unique
    }

    /// An application's ceiling with `@default` expanded, in order, without
    /// duplicates (an empty one as the era says); expanded once per text.
    pub fn ceiling(&self, application: &Application) -> Arc<[String]> {
        self.scopes
            .expanded
            .get_or_insert(&application.scope_ceiling, || {
                let literal = application.ceiling();
                match (literal.is_empty(), self.scopes.empty_ceiling) {
                    (true, EmptyCeiling::Default) => self.unprivileged().to_vec(),
                    _ => self.expand(&literal),
                }
            })
    }

    /// The discovery document's `scopes_supported`, given the registered
    /// applications.
    pub fn scopes_supported(&self, applications: &[Application]) -> Vec<String> {
        let mut scopes: Vec<String> = Vec::new();
        let mut push = |scope: String| {
            if !scopes.contains(&scope) {
                scopes.push(scope);
            }
        };
        match self.scopes.advertised {
            Advertised::Ceilings => applications
                .iter()
                .flat_map(|application| self.ceiling(application).to_vec())
                .for_each(&mut push),
            Advertised::Unprivileged => OIDC_SCOPES
                .iter()
                .map(|scope| (*scope).to_owned())
                .chain(self.unprivileged().iter().cloned())
                .for_each(&mut push),
        }
        scopes
    }

    /// A literal ceiling (as seeds and eras write it) with `@default`
    /// expanded, in order, without duplicates.
    pub fn expand(&self, literal: &[String]) -> Vec<String> {
        let mut ceiling: Vec<String> = Vec::new();
        let mut push = |scope: String| {
            if !ceiling.contains(&scope) {
                ceiling.push(scope);
            }
        };
        for scope in literal {
            match scope.as_str() {
                DEFAULT_CEILING => self.unprivileged().iter().cloned().for_each(&mut push),
                _ => push(scope.clone()),
            }
        }
        ceiling
    }

    /// The requested scopes a ceiling does not admit: `*` never; an
    /// always-allowed scope always; `<object>:read` when the ceiling holds
    /// `<object>:write`, in eras where a write admits its read half.
    pub fn outside(&self, requested: &[String], ceiling: &[String]) -> Vec<String> {
        let mut outside: Vec<String> = requested
            .iter()
            .filter(|scope| !self.scopes.always_allowed.contains(scope))
            .filter(|scope| {
                let write_half = scope
                    .strip_suffix(":read")
                    .filter(|_| self.scopes.write_admits_read)
                    .map(|object| format!("{object}:write"));
                scope.as_str() == "*"
                    || !(ceiling.contains(scope)
                        || write_half.is_some_and(|write| ceiling.contains(&write)))
            })
            .cloned()
            .collect();
        outside.dedup();
        outside
    }

    /// The scopes stored on a new code, from what the partner requested.
    /// `existing_user`: the email already has an account (held at the
    /// account request in every era that checks).
    pub fn scopes_for_code(
        &self,
        requested: Option<&[String]>,
        ceiling: &[String],
        existing_user: bool,
    ) -> Result<Vec<String>, ApiError> {
        let requested = requested.unwrap_or(&[]);
        if requested.is_empty() {
            return Ok(match self.scopes.empty_request {
                EmptyRequest::Empty => Vec::new(),
                EmptyRequest::Ceiling => ceiling.to_vec(),
            });
        }
        let check_now = match self.scopes.checked_at {
            CeilingCheck::Never => false,
            CeilingCheck::AccountRequest => true,
            CeilingCheck::TokenExchange => existing_user,
        };
        if check_now {
            let outside = self.outside(requested, ceiling);
            if !outside.is_empty() {
                return Err(ApiError::InvalidScope(fill(
                    &self.messages.scopes_outside_ceiling_at_account_request,
                    &outside,
                )));
            }
        }
        let mut unique: Vec<String> = Vec::with_capacity(requested.len());
        for scope in requested {
            if !unique.contains(scope) {
                unique.push(scope.clone());
            }
        }
        Ok(unique)
    }

    /// Whether a code with `scopes`, issued to an application with
    /// `ceiling`, may be exchanged for tokens.
    pub fn check_code_scopes(&self, scopes: &[String], ceiling: &[String]) -> Result<(), ApiError> {
        if self.scopes.refuse_code_without_scopes && scopes.is_empty() {
            return Err(ApiError::InvalidScope(
                self.messages.code_without_scopes.clone(),
            ));
        }
        if self.scopes.checked_at == CeilingCheck::TokenExchange {
            let outside = self.outside(scopes, ceiling);
            if !outside.is_empty() {
                return Err(ApiError::InvalidScope(fill(
                    &self.messages.scopes_outside_ceiling_at_token,
                    &outside,
                )));
            }
        }
        Ok(())
    }

    /// The scopes of the personal key minted for a token that holds
    /// `token_scopes`, issued to an application with `ceiling` whose gate
    /// is `gate_on`; `None` when no key is minted.
    pub fn personal_api_key_scopes(
        &self,
        token_scopes: &[String],
        ceiling: &[String],
        gate_on: bool,
    ) -> Option<Vec<String>> {
        if self.personal_api_key.issued == KeyIssued::Gated && !gate_on {
            return None;
        }
        let scopes = match self.personal_api_key.scopes {
            PersonalKeyScopes::Empty => Vec::new(),
            PersonalKeyScopes::Wildcard => vec!["*".to_owned()],
            PersonalKeyScopes::Ceiling => ceiling.to_vec(),
            PersonalKeyScopes::TokenWithinCeiling if token_scopes.iter().any(|s| s == "*") => {
                ceiling.to_vec()
            }
            PersonalKeyScopes::TokenWithinCeiling => token_scopes
                .iter()
                .filter(|scope| scope.contains(':') && ceiling.contains(scope))
                .cloned()
                .collect(),
        };
        // A key the rule would leave empty is not minted, except in the era
        // whose rule is the empty key itself.
        match (self.personal_api_key.scopes, scopes.is_empty()) {
            (PersonalKeyScopes::Empty, _) | (_, false) => Some(scopes),
            (_, true) => None,
        }
    }

    /// The scopes the interactive login grants for a request: those
    /// requested that the ceiling holds, in the order requested, once each.
    /// Faithful: the others are dropped silently; only the token answer's
    /// `scope` tells the truth. An empty request asks for the whole
    /// ceiling.
    pub fn granted_scopes(&self, requested: &str, ceiling: &[String]) -> Vec<String> {
        let requested = protocol::scope::split(requested);
        if requested.is_empty() {
            return ceiling.to_vec();
        }
        let mut granted: Vec<String> = Vec::new();
        for scope in requested {
            if ceiling.contains(&scope) && !granted.contains(&scope) {
                granted.push(scope);
            }
        }
        granted
    }

    /// Whether a consent the interactive login remembers (its scopes,
    /// `remembered`) covers every scope of `scopes`, so the browser goes
    /// straight back with a code.
    pub fn consent_covers(&self, remembered: &str, scopes: &[String]) -> bool {
        let remembered = protocol::scope::split(remembered);
        scopes.iter().all(|scope| remembered.contains(scope))
    }

    /// The scopes of the tokens a refresh issues: those `asked` when it
    /// asks (a refresh may only narrow), else those `held` (RFC 6749
    /// section 6). Asking for one not held is `invalid_scope`.
    pub fn refresh_scopes(
        &self,
        held: Vec<String>,
        asked: Option<&str>,
    ) -> Result<Vec<String>, ApiError> {
        let asked = match asked.map(protocol::scope::split) {
            Some(asked) if !asked.is_empty() => asked,
            _ => return Ok(held),
        };
        let widened: Vec<&str> = asked
            .iter()
            .filter(|scope| !held.contains(scope))
            .map(String::as_str)
            .collect();
        match widened.is_empty() {
            true => Ok(asked),
            false => Err(ApiError::InvalidScope(format!(
                "A refresh may only narrow the scope; not held: {}",
                widened.join(", ")
            ))),
        }
    }
}

/// A message with `{scopes}` filled in.
fn fill(template: &str, scopes: &[String]) -> String {
    template.replace("{scopes}", &scopes.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::scope::WIZARD_SIGNUP_SCOPES;

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|scope| (*scope).to_owned()).collect()
    }

    fn wizard_ceiling(policy: &ScopePolicy) -> Vec<String> {
        policy.expand(policy.named_ceiling("wizard").expect("a wizard ceiling"))
    }

    /// One row: era, request (None = field absent), existing user, expected
    /// code scopes (Err = the error code).
    fn check(
        era: &str,
        requested: Option<&[&str]>,
        existing_user: bool,
        expected: Result<Vec<String>, &str>,
    ) {
        let policy = ScopePolicy::load(era).unwrap();
        let ceiling = wizard_ceiling(&policy);
        let requested = requested.map(strings);
        let got = policy
            .scopes_for_code(requested.as_deref(), &ceiling, existing_user)
            .map_err(|error| error.code());
        assert_eq!(got, expected, "era {era}, request {requested:?}");
    }

    /// If this fails, today's personal key for a token holding `*` carries
    /// no scope at all, which PostHog reads as a legacy key that may do
    /// everything, instead of the application's ceiling.
    #[test]
    fn todays_key_for_a_wildcard_token_is_the_ceiling() {
        let today = ScopePolicy::load("current").unwrap();
        let ceiling = strings(&["user:read", "project:read"]);
        assert_eq!(
            today.personal_api_key_scopes(&strings(&["*"]), &ceiling, true),
            Some(ceiling.clone())
        );
        assert_eq!(
            today.personal_api_key_scopes(&strings(&["user:read", "query:read"]), &ceiling, true),
            Some(strings(&["user:read"]))
        );
        assert_eq!(
            today.personal_api_key_scopes(&strings(&["*"]), &ceiling, false),
            None
        );
    }

    /// If this fails, an application registered without a ceiling may ask
    /// for nothing today (the real `@default` stands in for it), or for
    /// `@default` in an era where an empty ceiling meant nothing.
    #[test]
    fn an_empty_ceiling_is_the_eras_default() {
        let bare = Application::for_test("bare", "");
        let today = ScopePolicy::load("current").unwrap();
        assert!(!today.unprivileged().is_empty());
        assert_eq!(*today.ceiling(&bare), *today.unprivileged());
        let april = ScopePolicy::load("legacy").unwrap();
        assert!(april.ceiling(&bare).is_empty());
        let narrow = Application::for_test("narrow", "user:read");
        assert_eq!(*today.ceiling(&narrow), strings(&["user:read"]));
    }

    /// If this fails, the discovery document advertises nothing, a blank,
    /// duplicates, or a privileged or hidden scope.
    #[test]
    fn scopes_supported_lists_what_may_be_asked_for_once_each() {
        let applications = [
            Application::for_test("a", "user:read llm_gateway:read wizard_session:read"),
            Application::for_test("b", "user:read project:read"),
        ];
        for era in ["legacy", "allowlist", "ceilings", "current"] {
            let policy = ScopePolicy::load(era).unwrap();
            let supported = policy.scopes_supported(&applications);
            assert!(
                supported.iter().any(|scope| scope == "user:read"),
                "{era}: {supported:?}"
            );
            assert!(supported.iter().all(|scope| !scope.is_empty()), "{era}");
            match policy.scopes.advertised {
                // The registered ceilings, in order, once each.
                Advertised::Ceilings => assert_eq!(
                    supported,
                    strings(&[
                        "user:read",
                        "llm_gateway:read",
                        "wizard_session:read",
                        "project:read"
                    ]),
                    "{era}"
                ),
                // Today: the catalogue, never a privileged or hidden scope.
                Advertised::Unprivileged => assert!(
                    supported
                        .iter()
                        .all(|scope| !protocol::scope::never_advertised(scope)),
                    "{era}: {supported:?}"
                ),
            }
            let mut unique = supported.clone();
            unique.sort();
            unique.dedup();
            assert_eq!(unique.len(), supported.len(), "{era}: duplicates");
        }
    }

    #[test]
    fn scopes_for_code_table() {
        let signup = strings(&WIZARD_SIGNUP_SCOPES);
        check("legacy", None, false, Ok(vec![]));
        check("legacy", Some(&[]), false, Ok(vec![]));
        check(
            "legacy",
            Some(&WIZARD_SIGNUP_SCOPES),
            false,
            Ok(signup.clone()),
        );
        check(
            "legacy",
            Some(&["introspection"]),
            false,
            Ok(strings(&["introspection"])),
        );
        check(
            "allowlist",
            Some(&WIZARD_SIGNUP_SCOPES),
            false,
            Ok(signup.clone()),
        );
        check(
            "allowlist",
            Some(&["made_up:read"]),
            false,
            Err("invalid_scope"),
        );
        check(
            "allowlist",
            Some(&["dashboard:read"]),
            false,
            Err("invalid_scope"),
        );
        check(
            "allowlist",
            Some(&["user:read", "introspection"]),
            false,
            Ok(strings(&["user:read", "introspection"])),
        );
        let current = ScopePolicy::load("current").unwrap();
        check("current", None, false, Ok(wizard_ceiling(&current)));
        check("current", Some(&WIZARD_SIGNUP_SCOPES), false, Ok(signup));
        // Always allowed, whatever the ceiling.
        check(
            "current",
            Some(&["user:read", "introspection"]),
            true,
            Ok(strings(&["user:read", "introspection"])),
        );
        // A new account's scopes wait for the exchange; an existing user's
        // are held now.
        check(
            "current",
            Some(&["llm_gateway:write"]),
            false,
            Ok(strings(&["llm_gateway:write"])),
        );
        check(
            "current",
            Some(&["llm_gateway:write"]),
            true,
            Err("invalid_scope"),
        );
        check(
            "current",
            Some(&["user:read", "user:read"]),
            false,
            Ok(strings(&["user:read"])),
        );
    }

    #[test]
    fn default_expands_to_the_unprivileged_catalogue() {
        let current = ScopePolicy::load("current").unwrap();
        let ceiling = wizard_ceiling(&current);
        for scope in [
            "user:read",
            "dashboard:write",
            "llm_gateway:read",
            "health_issue:read",
        ] {
            assert!(ceiling.contains(&scope.to_owned()), "{scope}");
        }
        for scope in ["llm_gateway:write", "wizard_session:read", "*", "@default"] {
            assert!(!ceiling.contains(&scope.to_owned()), "{scope}");
        }
        assert!(
            current.unprivileged().len() > 200,
            "{}",
            current.unprivileged().len()
        );
    }

    #[test]
    fn outside_reads_write_as_read_and_never_admits_the_wildcard() {
        let current = ScopePolicy::load("current").unwrap();
        let ceiling = strings(&["dashboard:write", "user:read"]);
        let outside = |requested: &[&str]| current.outside(&strings(requested), &ceiling);
        assert!(outside(&["dashboard:read", "dashboard:write", "openid"]).is_empty());
        assert_eq!(outside(&["user:write", "*"]), strings(&["user:write", "*"]));
    }

    #[test]
    fn codes_and_personal_keys_by_era() {
        let token = strings(&["user:read", "llm_gateway:read", "introspection"]);
        let ceiling = strings(&["user:read", "project:read", "llm_gateway:read"]);
        let keys = |gate_on: bool| -> Vec<Option<Vec<String>>> {
            ["legacy", "allowlist", "ceilings", "current"]
                .iter()
                .map(|era| {
                    ScopePolicy::load(era)
                        .unwrap()
                        .personal_api_key_scopes(&token, &ceiling, gate_on)
                })
                .collect()
        };
        // Today's key is gated per application: none for the wizard, whose
        // gate is off; the token's scopes within the ceiling where it is on.
        assert_eq!(
            keys(false),
            [
                Some(vec![]),
                Some(strings(&["*"])),
                Some(ceiling.clone()),
                None
            ]
        );
        assert_eq!(
            keys(true)[3],
            Some(strings(&["user:read", "llm_gateway:read"]))
        );
        let legacy = ScopePolicy::load("legacy").unwrap();
        let current = ScopePolicy::load("current").unwrap();
        assert_eq!(
            current.personal_api_key_scopes(&strings(&["openid"]), &ceiling, true),
            None,
            "a key with nothing to carry is not minted"
        );
        assert!(legacy.check_code_scopes(&[], &ceiling).is_ok());
        assert_eq!(
            current.check_code_scopes(&[], &ceiling).unwrap_err().code(),
            "invalid_scope"
        );
        assert!(current
            .check_code_scopes(&strings(&["user:read", "openid"]), &ceiling)
            .is_ok());
        assert_eq!(
            current
                .check_code_scopes(&strings(&["llm_gateway:write"]), &ceiling)
                .unwrap_err()
                .to_string(),
            "Requested scopes exceed the application's allowed scopes"
        );
    }

    #[test]
    fn stripe_scopes_are_not_held_against_the_ceiling() {
        let current = ScopePolicy::load("current").unwrap();
        let ceiling = strings(&["query:read", "user:read"]);
        let table: [(Option<&[&str]>, &[&str]); 4] = [
            (None, &["query:read", "user:read"]),
            (Some(&[]), &["query:read", "user:read"]),
            (Some(&["llm_gateway:write"]), &["llm_gateway:write"]),
            (Some(&["project:read", "project:read"]), &["project:read"]),
        ];
        for (requested, expected) in table {
            let requested = requested.map(strings);
            assert_eq!(
                current.stripe_scopes_for_code(requested.as_deref(), &ceiling),
                strings(expected),
                "{requested:?}"
            );
        }
    }

    /// If this fails, the interactive login grants a scope above the
    /// application's ceiling, grants one twice, or a remembered consent
    /// is taken to cover a scope it never held.
    #[test]
    fn scopes_above_the_ceiling_are_dropped_silently() {
        let policy = ScopePolicy::load("current").unwrap();
        let ceiling = strings(&["user:read", "project:read", "llm_gateway:read"]);
        let cases = [
            (
                "user:read introspection llm_gateway:write project:read",
                "user:read project:read",
            ),
            ("project:read project:read", "project:read"),
            ("", "user:read project:read llm_gateway:read"),
            ("introspection", ""),
        ];
        for (requested, expected) in cases {
            assert_eq!(
                policy.granted_scopes(requested, &ceiling).join(" "),
                expected,
                "{requested}"
            );
        }
        assert!(policy.consent_covers("a b c", &strings(&["b", "a"])));
        assert!(!policy.consent_covers("a", &strings(&["a", "b"])));
    }

    /// If a row fails, a refresh widens what its tokens carry, or a
    /// refresh that asks for nothing loses the scopes it held.
    #[test]
    fn a_refresh_may_only_narrow() {
        let policy = ScopePolicy::load("current").unwrap();
        let held = strings(&["user:read", "project:read"]);
        let cases: [(Option<&str>, Result<&str, &str>); 6] = [
            (None, Ok("user:read project:read")),
            (Some(""), Ok("user:read project:read")),
            (Some("  "), Ok("user:read project:read")),
            (Some("project:read"), Ok("project:read")),
            (Some("project:read user:read"), Ok("project:read user:read")),
            (
                Some("user:read query:read *"),
                Err("A refresh may only narrow the scope; not held: query:read, *"),
            ),
        ];
        for (asked, expected) in cases {
            let got = policy
                .refresh_scopes(held.clone(), asked)
                .map(|scopes| scopes.join(" "))
                .map_err(|error| error.to_string());
            assert_eq!(
                got,
                expected.map(str::to_owned).map_err(str::to_owned),
                "{asked:?}"
            );
        }
    }
}
