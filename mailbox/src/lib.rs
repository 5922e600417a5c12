//! # ank-mailbox (not yet built)
//!
//! The message store and its HTTP (and SSH) front doors, accepting only
//! messages encrypted to keys that the recipient's log proves current.
//! Arrives with the mailbox issue.
