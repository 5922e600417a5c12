//! End-to-end tests of the `ank` binary.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code"
)]

mod audit;
mod auditor;
mod crash;
mod dns;
mod history;
mod mail;
mod monitor;
mod procs;
mod readme;
mod serve;
mod ssh;
mod tls;
mod verify;
mod witness;
