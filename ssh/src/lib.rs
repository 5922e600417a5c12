//! ank's SSH door, for Bangmail's users: `ssh -p 2222 domain
//! bangmail-receive USER` to send, `bangmail-fetch USER` to read. It keeps
//! Bangmail's commands and closes its two holes: fetching needs the user's
//! key as the log proves it current, and the mailbox stores only messages
//! sealed to such keys (the HTTP path's own checks).
//!
//! - [`server`]: the server, its authentication rules, commands, answers
//!   (JSON lines) and limits.
//! - [`client`]: running one command on a door whose host key is pinned.
//! - [`keys`]: the host key, SSHFP records, and a device key in OpenSSH form.
//! - [`lines`]: standard input cut into envelope lines.

pub mod client;
pub mod keys;
pub mod lines;
pub mod server;
