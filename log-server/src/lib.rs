//! # ank-log-server (not yet built)
//!
//! The log: sqlite storage behind a storage trait, the sequencer, C2SP tiles,
//! checkpoint signing and the HTTP API (`/checkpoint`, `/tile/…`,
//! `POST /v1/publish`, `GET /v1/lookup/…`). Arrives with the log-server issue;
//! it depends on `ank-proofs` only, never on the mailbox.
