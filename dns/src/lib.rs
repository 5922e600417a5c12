//! ank in DNS: the records a domain publishes under `_ank.<domain>`, the
//! built-in authoritative server that serves them signed with DNSSEC, and
//! discovery of a domain's log through a DNSSEC-validating resolver.
//!
//! - [`records`]: the byte formats of the `_ank` TXT, the checkpoint TXT and the
//!   TLSA record, and their zone-file form.
//! - [`zone`]: the signing key, the DS record for the parent, and the live
//!   signed zone with its UDP and TCP server.
//! - [`discover`]: the validating resolver, trust anchors, and what a client
//!   learns of a domain.

pub mod discover;
pub mod records;
pub mod update;
pub mod zone;
