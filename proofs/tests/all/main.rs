//! Integration tests of ank-proofs: outside vectors, exhaustive small trees,
//! differential tests against independent crates, and format tests.

mod common;
mod differential;
mod exhaustive;
mod formats;
mod vectors;
