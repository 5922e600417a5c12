//! # ank-mailbox
//!
//! The mailbox accepts only messages encrypted to keys that the recipient's
//! log proves current. The formats (payload, HPKE, envelope, signed fetch)
//! are `ank-mail-format`'s, re-exported here; this crate holds the store
//! ([`store`], sealed at rest by [`at_rest`]), the rules of acceptance and
//! access ([`service`]), the directory of other domains' keys
//! ([`directory`]) and the HTTP API ([`api`]).

pub mod api;
pub mod at_rest;
pub mod directory;
pub mod service;
pub mod store;

pub use ank_mail_format::*;
