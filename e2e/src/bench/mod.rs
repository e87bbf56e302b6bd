//! `bench`: a side-by-side benchmark of our programs against the npm
//! `oauth2-mock-server` (`just bench`; figures in `BENCHMARKS.md`).
//!
//! [`stats`], [`report`] and [`tools`] are pure (percentiles, the table,
//! wrk/hyperfine/`/proc` parsing); [`load`] is the closed-loop generator;
//! [`programs`] starts the release binaries and the Node peer; [`flows`]
//! are the request sequences; [`run`] ties one run together.

pub mod flows;
pub mod load;
pub mod programs;
pub mod report;
pub mod run;
pub mod stats;
pub mod tools;
