//! # ank-monitor (not yet built)
//!
//! Follows logs through their tiles, verifies every checkpoint's signature and
//! consistency, replays entries, and reports changes to watched addresses.
