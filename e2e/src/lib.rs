//! The end-to-end harness: runs the real provisioning server, LLM gateway
//! mock and wizard against each other, one scenario file at a time.
//!
//! Code map: [`scenario`] is the file format, [`binaries`] finds the
//! programs, [`process`] starts and kills them, [`runner`] runs one
//! scenario, [`expect`] (with each app's [`integrated`] checklist) and
//! [`secrets`] check it, [`report`] prints it and
//! [`suite`] ties a whole run together for `main.rs`. [`steps`] is the
//! `[[steps]]` format, [`http_step`] runs it and [`step_expect`] checks
//! each answer; [`wizard_step`] runs the wizard among the steps.
//! [`matrix`] is the compatibility matrix (client behaviours against
//! server profiles), [`shard`] splits a run for CI, [`junit`] and
//! [`mermaid`] are parts of the reports.
//! [`conformance`] is the suite ported from PostHog's own tests, run by
//! [`conformance_run`] (`e2e conformance`).
//! [`published_wizard`] runs pinned published `@posthog/wizard` versions
//! against the stack (`just published-wizard`).

pub mod answer;
pub mod binaries;
pub mod browser;
pub mod browser_step;
pub mod conformance;
pub mod conformance_run;
pub mod dispatch;
pub mod expect;
pub mod http_step;
pub mod integrated;
pub mod matrix;
pub mod mermaid;
pub mod placeholders;
pub mod process;
pub mod project;
pub mod published_wizard;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod secrets;
pub mod server_control;
pub mod shard;
pub mod step_context;
pub mod step_expect;
pub mod steps;
pub mod suite;
pub mod transcript;
pub mod wizard_step;
