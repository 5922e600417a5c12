//! Tests of the mailbox's message format and encryption.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code"
)]

mod api;
mod message;
mod store;
