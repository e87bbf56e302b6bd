//! One file per endpoint: its handler and its rules.

pub mod account_requests;
pub mod admin;
pub mod discovery;
pub mod health;
pub mod introspect;
pub mod posthog_api;
pub mod resources;
pub mod token;
