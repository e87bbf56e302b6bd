//! The end-to-end harness: runs the real provisioning server, LLM gateway
//! mock and wizard against each other, one scenario file at a time.
//!
//! Code map: [`scenario`] is the file format, [`binaries`] finds the
//! programs, [`process`] starts and kills them, [`runner`] runs one
//! scenario, [`expect`] and [`secrets`] check it, [`report`] prints it and
//! [`suite`] ties a whole run together for `main.rs`.

pub mod binaries;
pub mod expect;
pub mod process;
pub mod project;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod secrets;
pub mod suite;
