//! # ank-common
//!
//! Helpers shared by every part of ank, each with one home:
//!
//! * [`now_ms`]: milliseconds since the Unix epoch;
//! * [`random`]: bytes from the operating system's random source;
//! * [`b64_array`]: standard base64 of an exact length (defined in `ank-proofs`);
//! * [`fs`]: files only their owner can read (0600) in directories only
//!   their owner can enter (0700), written durably;
//! * [`directory`]: the traits through which a mailbox learns current keys
//!   ([`directory::Directory`]) and checks its own log ([`directory::LogView`]),
//!   implemented by the log in-process and by the HTTP client.
//!
//! No formats are defined here; errors are `std::io::Error` or `None`.

pub mod directory;
pub mod fs;

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

pub use ank_proofs::hash::b64_array;

/// Parses `500ms`, `2s`, `5m`, `24h`, `7d`.
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: u64 = n
        .parse()
        .map_err(|_| format!("{s:?} is not a duration like 500ms, 2s, 5m, 24h, 7d"))?;
    let scale: u64 = match unit {
        "ms" => 1,
        "s" | "" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(format!("{s:?}: unknown unit {unit:?} (ms, s, m, h, d)")),
    };
    let ms = n
        .checked_mul(scale)
        .ok_or_else(|| format!("{s:?} is too long a duration"))?;
    Ok(std::time::Duration::from_millis(ms))
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86_400)));
        assert!(parse_duration("5x").unwrap_err().contains("unknown unit"));
        assert!(parse_duration("d").unwrap_err().contains("not a duration"));
        assert!(
            parse_duration("99999999999999999d")
                .unwrap_err()
                .contains("too long")
        );
        assert!(
            parse_duration("99999999999999999999999s")
                .unwrap_err()
                .contains("not a duration")
        );
    }
}
