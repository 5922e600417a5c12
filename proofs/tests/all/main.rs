//! Integration tests of ank-proofs: outside vectors, exhaustive small trees,
//! differential tests against independent crates, and format tests.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code"
)]

mod common;
mod differential;
mod evidence;
mod exhaustive;
mod formats;
mod map;
mod vectors;
