//! The era's rules for the Stripe-signed partners: whether their own
//! namespace is served (and in which words), and what `/api/agentic` asks
//! of their account requests.

use crate::error::ApiError;

use super::profile::{ScopePolicy, StripeMessages, StripeRules, STRIPE_NAMESPACE};

impl StripeRules {
    /// The refusal of a signed account request under `/api/agentic` that
    /// names no Stripe account, in eras that require one
    /// (test_account_requests.py::TestAccountRequests::test_missing_stripe_account_returns_400).
    pub fn check_agentic_account(
        &self,
        orchestrator: Option<&protocol::provisioning::Orchestrator>,
    ) -> Result<(), ApiError> {
        let Some(message) = &self.agentic_account_required else {
            return Ok(());
        };
        let named = orchestrator
            .filter(|orchestrator| orchestrator.kind == "stripe")
            .and_then(|orchestrator| orchestrator.stripe.as_ref())
            .and_then(|stripe| stripe.account.as_deref())
            .is_some_and(|account| !account.is_empty());
        match named {
            true => Ok(()),
            false => Err(ApiError::InvalidRequest(message.clone())),
        }
    }
}

impl ScopePolicy {
    /// The Stripe namespace's wording, when this era serves it (`None`:
    /// its routes answer 404).
    pub fn stripe_namespace(&self) -> Option<&StripeMessages> {
        match self.stripe.namespace.as_str() {
            STRIPE_NAMESPACE => self.stripe.messages.as_ref(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// If a row fails, a Stripe-signed request under `/api/agentic` naming
    /// no Stripe account is taken in an era that refused it, or the other
    /// way round.
    #[test]
    fn the_stripe_account_is_required_under_agentic_only_before_the_namespace() {
        use protocol::provisioning::{Orchestrator, StripeOrchestrator};
        fn check(
            era: &str,
            orchestrator: Option<(&str, Option<&str>)>,
            expected: Result<(), &str>,
        ) {
            let policy = ScopePolicy::load(era).unwrap();
            let orchestrator = orchestrator.map(|(kind, account)| Orchestrator {
                kind: kind.into(),
                stripe: Some(StripeOrchestrator {
                    account: account.map(str::to_owned),
                }),
            });
            let got = policy
                .stripe
                .check_agentic_account(orchestrator.as_ref())
                .map_err(|error| error.to_string());
            let expected = expected.map_err(str::to_owned);
            assert_eq!(got, expected, "{era}: {orchestrator:?}");
        }
        const REQUIRED: &str = "orchestrator.stripe.account is required";
        for era in ["legacy", "allowlist", "ceilings"] {
            check(era, Some(("stripe", Some("acct_1"))), Ok(()));
            check(era, Some(("stripe", Some(""))), Err(REQUIRED));
            check(era, Some(("stripe", None)), Err(REQUIRED));
            check(era, Some(("other", Some("acct_1"))), Err(REQUIRED));
            check(era, None, Err(REQUIRED));
        }
        check("current", None, Ok(()));
        check("current", Some(("stripe", None)), Ok(()));
    }

    #[test]
    fn the_stripe_namespace_by_era() {
        // (era, served, token lifetime there)
        let cases = [
            ("legacy", false, 3600),
            ("allowlist", false, 3600),
            ("ceilings", false, 3600),
            ("current", true, 31_536_000),
        ];
        for (era, served, seconds) in cases {
            let policy = ScopePolicy::load(era).unwrap();
            assert_eq!(policy.stripe_namespace().is_some(), served, "{era}");
            assert_eq!(policy.stripe.access_seconds, seconds, "{era}");
        }
        let current = ScopePolicy::load("current").unwrap();
        let messages = current.stripe_namespace().unwrap();
        assert_eq!(messages.signature_failed, "Signature verification failed");
        assert_eq!(
            messages.code_of_another_app,
            "Authorization code was not issued for the Stripe Projects app"
        );
    }
}
