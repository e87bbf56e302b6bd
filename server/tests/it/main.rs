//! The provisioning server's one integration-test binary: the server runs in
//! process (an `AppState` with a fixed clock and seeded randomness), driven
//! through its router.

mod admin;
mod admin_live;
mod bad_input;
mod concurrency;
mod contracts;
mod holder_index;
mod hostile;
mod hot_routes;
mod introspection;
mod lifecycle;
mod limits;
mod login;
mod openapi;
mod partner;
mod posthog_api;
mod project_page;
mod reliability;
mod request_logs;
mod seeded_accounts;
mod sign_in;
mod signup;
mod storage;
mod stripe_namespace;
mod support;
mod tokens;
mod wizard_gateway_token;
