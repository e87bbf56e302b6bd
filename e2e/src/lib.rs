//! The end-to-end harness: runs the real provisioning server, LLM gateway
//! mock and wizard against each other, one scenario file at a time.
//!
//! # Code map, lowest layer first
//!
//! A module imports only modules of its own line or of the lines above
//! it, never one below: a layer knows nothing of the layers above it.
//!
//! - Plumbing: [`binaries`] finds the programs; [`process`] starts them,
//!   waits for their `listening on` line, kills their process groups and
//!   draws free ports; [`project`] copies an app, writes set-up files
//!   (only at paths [`project::check_relative`] accepts) and takes
//!   manifests; [`secrets`] scans texts for full credentials; [`answer`]
//!   is one HTTP answer as the checks see it; [`placeholders`] holds the
//!   values a scenario names in braces and the one
//!   [`Substitution`](placeholders::Substitution) that replaces them.
//! - Formats: [`steps`] (every `[[steps]]` table), [`integrated`] (each
//!   app's checklist), [`scenario`] (a scenario file), [`conformance`]
//!   (the conformance suite's cases and score).
//! - Checks and services: [`step_expect`] (a step's `expect` against an
//!   answer), [`expect`] (a scenario's `[expect]` against what a run
//!   left), [`browser`] (cookie jar and forms), [`chromium`] (a real
//!   headless Chromium over WebDriver), [`server_control`] (the
//!   server as the steps see it, crashed and restarted by
//!   `restart_server`).
//! - Steps, as in mini-redis's `cmd/`: [`step_context`] (what every step
//!   runs against), one runner per kind ([`http_step`], [`browser_step`],
//!   [`wizard_step`], [`chromium_step`]; [`server_control`] runs
//!   `restart_server`), and
//!   [`dispatch`] above them, which owns what the steps carry.
//! - One scenario: [`runner`] (its phases, its services, its result as
//!   data and the lines a person reads about it).
//! - One run: [`matrix`] (client behaviours against server profiles,
//!   classified from each run's structured result), [`transcript`]
//!   (each scenario's exchange against `fixtures/transcripts/`),
//!   [`mermaid`] and [`report`] (terminal, Markdown, JSON and JUnit
//!   reports), [`shard`] (splits a run for CI), [`suite`] (ties a run
//!   together for `main.rs`), [`conformance_run`] (`e2e conformance`),
//!   [`published_wizard`] (pinned published `@posthog/wizard` versions
//!   against the stack, `just published-wizard`).
//!
//! The benchmark behind `just bench` is its own crate, `bench/`, which
//! uses [`binaries`], [`browser`] and [`runner::MANAGED_SETTINGS_ENV`].

pub mod answer;
pub mod binaries;
pub mod browser;
pub mod browser_step;
pub mod chromium;
pub mod chromium_step;
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
