//! One file per endpoint, its `/api/agentic` door and its Stripe one
//! registered side by side: the handlers, each extracting what the request
//! carries, asking the rules, writing what they decide and answering. The
//! rules and the checks several routes share live below, in modules that
//! know nothing of routes (`signup.rs`, `exchange.rs`, `access.rs`,
//! `partner.rs`, `session.rs`, …); no route file imports another.

pub mod account_mismatch_page;
pub mod account_requests;
pub mod admin;
pub mod admin_live;
pub mod agentic_authorize;
pub mod agentic_login;
pub mod authorize;
pub mod authorize_submit;
pub mod consent_page;
pub mod deep_links;
pub mod discovery;
pub mod health;
pub mod health_issues;
pub mod home_page;
pub mod introspect;
pub mod limits;
pub mod oauth_token;
pub mod posthog_api;
pub mod project_page;
pub mod remove;
pub mod resources;
pub mod rotate;
pub mod sign_in_page;
pub mod token;
pub mod update_service;
pub mod verify_email_page;
pub mod wizard_gateway_token;
