//! The gateway over real loopback HTTP, with an in-process stand-in for the
//! provisioning server's introspection endpoint.

mod admin;
mod agent;
mod auth;
mod binary;
mod claude_code;
mod faults;
mod gateway_tokens;
mod health;
mod hostile;
mod introspection_rounds;
mod leaks;
mod recipes;
mod responses;
mod support;
mod transport;
