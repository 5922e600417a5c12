//! ank addresses and their labels.
//!
//! An address is written `user@domain` or, as in Bangmail, `user!domain`;
//! both parse to one canonical form `user@domain`:
//!
//! * exactly one `@` or `!` separates the two parts;
//! * the local part is lower-cased (ASCII) and must then be 1..=64 bytes of
//!   `a-z 0-9 . _ - +`, not starting or ending with `.`, with no `..`.
//!   ank treats local parts case-insensitively so that `Alice` and `alice`
//!   can never hold different keys;
//! * the domain is converted with IDNA (UTS 46, STD3 rules, DNS lengths) to
//!   lower-case ASCII; no trailing dot;
//! * the canonical address is at most 254 bytes.
//!
//! The label of an address is `SHA-256("ank/label/v1" || 0x00 || canonical)`,
//! computed only by [`Address::label`].

use crate::Error;
use crate::error::AddressError;
use crate::hash::{Hash, sha256_parts};

/// Domain separation prefix of v1 labels.
pub const LABEL_PREFIX_V1: &[u8] = b"ank/label/v1\0";

/// A canonical address.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Address {
    local: String,
    domain: String,
}

impl Address {
    /// Parses `user@domain` or `user!domain`.
    ///
    /// # Errors
    /// [`Error::Address`] with the reason.
    pub fn parse(s: &str) -> Result<Address, Error> {
        let e = |r| Error::Address(r);
        if s.len() > 1024 {
            return Err(e(AddressError::TooLong));
        }
        let seps: Vec<usize> = s
            .char_indices()
            .filter(|&(_, c)| c == '@' || c == '!')
            .map(|(i, _)| i)
            .collect();
        let [at] = seps[..] else {
            return Err(e(AddressError::Separator));
        };
        let (local, domain) = (&s[..at], &s[at + 1..]);
        let local = local.to_ascii_lowercase();
        let ok_local = (1..=64).contains(&local.len())
            && local
                .bytes()
                .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'.' | b'_' | b'-' | b'+'))
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..");
        if !ok_local {
            return Err(e(AddressError::LocalPart));
        }
        if domain.is_empty() || domain.ends_with('.') {
            return Err(e(AddressError::Domain));
        }
        let domain = idna::domain_to_ascii_strict(domain).map_err(|_| e(AddressError::Domain))?;
        let ok_domain = !domain.is_empty()
            && domain.len() <= 253
            && domain.split('.').all(|l| {
                (1..=63).contains(&l.len())
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.bytes()
                        .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-'))
            });
        if !ok_domain {
            return Err(e(AddressError::Domain));
        }
        if local.len() + 1 + domain.len() > 254 {
            return Err(e(AddressError::TooLong));
        }
        Ok(Address { local, domain })
    }

    /// The local part.
    pub fn local(&self) -> &str {
        &self.local
    }

    /// The ASCII domain.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The label naming this address in the log (v1: a domain-separated SHA-256).
    pub fn label(&self) -> Hash {
        sha256_parts(&[LABEL_PREFIX_V1, self.to_string().as_bytes()])
    }
}

impl std::fmt::Display for Address {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}", self.local, self.domain)
    }
}

impl std::str::FromStr for Address {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Address::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_forms_are_one() {
        let a = Address::parse("Alice@Example.ORG").unwrap();
        let b = Address::parse("alice!example.org").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.to_string(), "alice@example.org");
        assert_eq!(a.label(), b.label());
        let idn = Address::parse("bob@bücher.example").unwrap();
        assert_eq!(idn.domain(), "xn--bcher-kva.example");
    }

    #[test]
    fn rejects() {
        for (s, r) in [
            ("alice", AddressError::Separator),
            ("a@b!c", AddressError::Separator),
            ("a@@b", AddressError::Separator),
            ("@example.org", AddressError::LocalPart),
            (".a@example.org", AddressError::LocalPart),
            ("a..b@example.org", AddressError::LocalPart),
            ("a b@example.org", AddressError::LocalPart),
            ("a@", AddressError::Domain),
            ("a@example.org.", AddressError::Domain),
            ("a@exa mple.org", AddressError::Domain),
            ("a@-x.org", AddressError::Domain),
        ] {
            assert_eq!(Address::parse(s), Err(Error::Address(r)), "{s}");
        }
    }
}
