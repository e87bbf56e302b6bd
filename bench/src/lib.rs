//! `bench`: a side-by-side benchmark of our programs against the npm
//! `oauth2-mock-server` (`just bench`; figures in `BENCHMARKS.md`).
//!
//! It drives the release binaries as the e2e harness does and borrows
//! three of its parts: `e2e::binaries` (the workspace root),
//! `e2e::browser` (the HTML forms of the login flow) and
//! `e2e::runner::MANAGED_SETTINGS_ENV` (the wizard's settings file); the
//! harness knows nothing of the benchmark. `bench/peer.mjs` starts the
//! peer, `bench/profile.sh` profiles the server under callgrind.
//!
//! [`stats`], [`report`] and [`tools`] are pure (percentiles, the table,
//! wrk/hyperfine/`/proc` parsing); [`load`] is the closed-loop generator;
//! [`programs`] starts the release binaries and the Node peer; [`flows`]
//! are the request sequences. [`run`] ties one run together over the
//! [`context`] every part shares: [`single`] (single-request comparisons), [`signups`] (the
//! signup levels, fresh and grown),
//! [`wizard`] (the wizard as a process) and [`targets`] (what the report
//! checks).

pub mod context;
pub mod flows;
pub mod load;
pub mod programs;
pub mod report;
pub mod run;
pub mod signups;
pub mod single;
pub mod stats;
pub mod targets;
pub mod tools;
pub mod wizard;
