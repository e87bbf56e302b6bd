//! One file per endpoint family.

pub mod admin;
pub mod health;
pub mod messages;
pub mod responses;
pub mod root;
pub mod tokens;
