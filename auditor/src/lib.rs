//! # ank-auditor (not yet built)
//!
//! The C2SP tlog-witness (`POST /add-checkpoint`, cosignature/v1), gossip
//! between auditors, and split-view evidence anyone can verify offline.
