//! Tests of the log server: storage conformance, two writers, the HTTP API.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code"
)]

mod api;
mod common;
mod conformance;
mod faults;
