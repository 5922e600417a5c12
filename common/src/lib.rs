//! # ank-common
//!
//! Helpers shared by every part of ank, each with one home:
//!
//! * [`now_ms`]: milliseconds since the Unix epoch;
//! * [`random`]: bytes from the operating system's random source;
//! * [`b64_array`]: standard base64 of an exact length;
//! * [`fs`]: files only their owner can read (0600) in directories only
//!   their owner can enter (0700), written durably;
//! * [`directory`]: the traits through which a mailbox learns current keys
//!   ([`directory::Directory`]) and checks its own log ([`directory::LogView`]),
//!   implemented by the log in-process and by the HTTP client.
//!
//! No formats are defined here; errors are `std::io::Error` or `None`.

pub mod directory;
pub mod fs;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// Milliseconds since the Unix epoch (0 if the clock is before it).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// `N` random bytes from the operating system.
///
/// # Errors
/// When the OS has no randomness to give.
pub fn random<const N: usize>() -> std::io::Result<[u8; N]> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(b)
}

/// Decodes standard padded base64 that must hold exactly `N` bytes.
pub fn b64_array<const N: usize>(s: &str) -> Option<[u8; N]> {
    STANDARD.decode(s).ok()?.try_into().ok()
}
