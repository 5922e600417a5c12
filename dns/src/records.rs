//! The records a domain publishes under `_ank.<domain>`, as text.
//!
//! - `_ank.<domain>. TXT "v=ank1; url=<https URL>; vkey=<note verifier key>; tls=<b64>"`,
//!   optionally followed by `; ssh=<host>:<port>` (the Bangmail SSH door, whose
//!   host key's SSHFP `4 2` record is at `_ank.<domain>` too) and
//!   `; witness=<vkey>,<vkey>…; quorum=<n>`. `tls=` is the
//!   standard base64 of the SHA-256 of the served certificate's SubjectPublicKeyInfo
//!   (the DANE-EE `3 1 1` digest). Fields are `key=value` separated by `;` and
//!   optional spaces; the first must be `v=ank1`; unknown keys are ignored so that
//!   later versions can add some; a key given twice is an error.
//! - `checkpoint._ank.<domain>. TXT`: the latest checkpoint note, byte for byte
//!   (newlines included), split into character-strings of at most 255 bytes.
//!   A reader concatenates the strings of the one record.
//! - `_<port>._tcp.<host>. TLSA 3 1 1 <hex>`: standard DANE-EE, for the main zone.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

/// The longest TXT record ank reads or writes (a checkpoint with many cosignatures
/// fits well within it; a DNS message is at most 64 KiB).
pub const MAX_TXT_BYTES: usize = 16 * 1024;

/// The `_ank.<domain>` TXT record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnkRecord {
    /// The log's and mailbox's base URL (`https://…`, or `http://` on loopback).
    pub url: String,
    /// The log's note verifier key (`name+hash+base64`).
    pub vkey: String,
    /// SHA-256 of the served certificate's SubjectPublicKeyInfo.
    pub tls: Option<[u8; 32]>,
    /// The SSH door, `host:port`.
    pub ssh: Option<String>,
    /// Witness verifier keys the domain asks clients to require.
    pub witnesses: Vec<String>,
    /// How many of `witnesses` must cosign (0 when there are none).
    pub quorum: usize,
}

/// Why a record could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RecordError {
    /// The first field is not `v=ank1`.
    #[error("the record does not start with v=ank1")]
    Version,
    /// A required field is absent.
    #[error("the record has no {0}= field")]
    Missing(&'static str),
    /// A field appears twice.
    #[error("the record has {0}= twice")]
    Duplicate(String),
    /// A field's value is malformed.
    #[error("the record's {field}= is malformed: {reason}")]
    Field {
        /// The field.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The record is longer than [`MAX_TXT_BYTES`].
    #[error("the record is {0} bytes, more than {MAX_TXT_BYTES}")]
    TooLong(usize),
    /// A part is not `key=value`.
    #[error("the record has a part that is not key=value: {0:?}")]
    Syntax(String),
}

impl AnkRecord {
    /// The TXT text.
    pub fn to_txt(&self) -> String {
        let mut s = format!("v=ank1; url={}; vkey={}", self.url, self.vkey);
        if let Some(tls) = &self.tls {
            s.push_str("; tls=");
            s.push_str(&B64.encode(tls));
        }
        if let Some(ssh) = &self.ssh {
            s.push_str("; ssh=");
            s.push_str(ssh);
        }
        if !self.witnesses.is_empty() {
            s.push_str("; witness=");
            s.push_str(&self.witnesses.join(","));
            s.push_str(&format!("; quorum={}", self.quorum));
        }
        s
    }

    /// Reads the TXT text (the record's strings concatenated).
    pub fn parse(text: &[u8]) -> Result<Self, RecordError> {
        if text.len() > MAX_TXT_BYTES {
            return Err(RecordError::TooLong(text.len()));
        }
        let text = std::str::from_utf8(text).map_err(|_| RecordError::Field {
            field: "v",
            reason: "the record is not UTF-8".into(),
        })?;
        let mut parts = text.split(';').map(str::trim).filter(|p| !p.is_empty());
        if parts.next() != Some("v=ank1") {
            return Err(RecordError::Version);
        }
        let (mut url, mut vkey, mut tls, mut witness, mut quorum) = (None, None, None, None, None);
        let mut ssh = None;
        for part in parts {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| RecordError::Syntax(part.into()))?;
            let slot = match k.trim() {
                "url" => &mut url,
                "vkey" => &mut vkey,
                "tls" => &mut tls,
                "witness" => &mut witness,
                "quorum" => &mut quorum,
                "ssh" => &mut ssh,
                "v" => return Err(RecordError::Duplicate("v".into())),
                _ => continue,
            };
            if slot.replace(v.trim()).is_some() {
                return Err(RecordError::Duplicate(k.trim().into()));
            }
        }
        let url = url.ok_or(RecordError::Missing("url"))?;
        if !(url.starts_with("https://") || url.starts_with("http://"))
            || url.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(RecordError::Field {
                field: "url",
                reason: format!("{url:?} is not an http(s) URL"),
            });
        }
        let vkey = vkey.ok_or(RecordError::Missing("vkey"))?;
        ank_proofs::note::VerifierKey::parse(vkey).map_err(|e| RecordError::Field {
            field: "vkey",
            reason: e.to_string(),
        })?;
        let tls = match tls {
            None => None,
            Some(t) => Some(decode_digest(t).ok_or_else(|| RecordError::Field {
                field: "tls",
                reason: "not the base64 of 32 bytes".into(),
            })?),
        };
        if let Some(h) = ssh
            && host_port(h).is_none()
        {
            return Err(RecordError::Field {
                field: "ssh",
                reason: format!("{h:?} is not host:port"),
            });
        }
        let witnesses: Vec<String> = match witness {
            None => Vec::new(),
            Some(w) => w.split(',').map(|s| s.trim().to_owned()).collect(),
        };
        for w in &witnesses {
            ank_proofs::note::VerifierKey::parse(w).map_err(|e| RecordError::Field {
                field: "witness",
                reason: format!("{w:?}: {e}"),
            })?;
        }
        let quorum = match (quorum, witnesses.is_empty()) {
            (None, true) => 0,
            (None, false) => return Err(RecordError::Missing("quorum")),
            (Some(q), _) => {
                let q: usize = q.parse().map_err(|_| RecordError::Field {
                    field: "quorum",
                    reason: format!("{q:?} is not a number"),
                })?;
                if q > witnesses.len() || (q == 0 && !witnesses.is_empty()) {
                    return Err(RecordError::Field {
                        field: "quorum",
                        reason: format!("{q} of {} witnesses", witnesses.len()),
                    });
                }
                q
            }
        };
        Ok(AnkRecord {
            url: url.to_owned(),
            vkey: vkey.to_owned(),
            tls,
            ssh: ssh.map(str::to_owned),
            witnesses,
            quorum,
        })
    }
}

/// `host:port` (a name, an IPv4 address, or `[IPv6]`), split.
pub fn host_port(s: &str) -> Option<(String, u16)> {
    if s.is_empty()
        || s.chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '/' || c == '@')
    {
        return None;
    }
    url_host_port(&format!("https://{s}")).filter(|_| s.contains(':'))
}

fn decode_digest(s: &str) -> Option<[u8; 32]> {
    B64.decode(s).ok()?.try_into().ok()
}

/// Splits bytes into DNS character-strings of at most 255 bytes each.
pub fn split_strings(data: &[u8]) -> Vec<&[u8]> {
    if data.is_empty() {
        return vec![data];
    }
    data.chunks(255).collect()
}

/// One character-string in zone-file form: quoted, with `"` and `\` escaped and
/// every byte outside printable ASCII written as `\DDD`.
pub fn zone_string(data: &[u8]) -> String {
    let mut s = String::with_capacity(data.len() + 2);
    s.push('"');
    for &b in data {
        match b {
            b'"' | b'\\' => {
                s.push('\\');
                s.push(b as char);
            }
            0x20..=0x7e => s.push(b as char),
            _ => s.push_str(&format!("\\{b:03}")),
        }
    }
    s.push('"');
    s
}

/// A TXT record's data in zone-file form: its strings, each quoted.
pub fn zone_txt(data: &[u8]) -> String {
    split_strings(data)
        .into_iter()
        .map(zone_string)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The owner name `_ank.<domain>.`.
pub fn ank_name(domain: &str) -> String {
    format!("_ank.{}.", domain.trim_end_matches('.'))
}

/// The owner name `checkpoint._ank.<domain>.`.
pub fn checkpoint_name(domain: &str) -> String {
    format!("checkpoint.{}", ank_name(domain))
}

/// The TLSA owner name `_<port>._tcp.<host>.` for an `https://host[:port]` URL.
pub fn tlsa_name(url: &str) -> Option<String> {
    let (host, port) = url_host_port(url)?;
    Some(format!("_{port}._tcp.{}.", host.trim_end_matches('.')))
}

/// The host and port of an `http(s)://host[:port][/…]` URL (443 or 80 by default).
pub fn url_host_port(url: &str) -> Option<(String, u16)> {
    let (scheme, rest) = url.split_once("://")?;
    let default = match scheme {
        "https" => 443,
        "http" => 80,
        _ => return None,
    };
    let authority = rest.split(['/', '?', '#']).next()?;
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None if after.is_empty() => default,
            None => return None,
        };
        return Some((host.to_owned(), port));
    }
    match authority.rsplit_once(':') {
        Some((h, p)) => Some((h.to_owned(), p.parse().ok()?)),
        None => Some((authority.to_owned(), default)),
    }
}

/// What `ank dns records` prints: zone-file lines for everything a client
/// needs. `sshfp` is the SSH host key's SHA-256 (SSHFP `4 2`), published at
/// `_ank.<domain>` and, when the door's host is a name, at that name.
pub fn zone_lines(
    domain: &str,
    record: &AnkRecord,
    checkpoint: Option<&[u8]>,
    sshfp: Option<[u8; 32]>,
    ttl: u32,
) -> Vec<String> {
    let mut lines = vec![format!(
        "{} {ttl} IN TXT {}",
        ank_name(domain),
        zone_txt(record.to_txt().as_bytes())
    )];
    if let Some(cp) = checkpoint {
        lines.push(format!(
            "{} {ttl} IN TXT {}",
            checkpoint_name(domain),
            zone_txt(cp)
        ));
    }
    if let (Some(tls), Some(name)) = (record.tls, tlsa_name(&record.url)) {
        lines.push(format!("{name} {ttl} IN TLSA 3 1 1 {}", hex::encode(tls)));
    }
    if let Some(fp) = sshfp {
        lines.push(format!(
            "{} {ttl} IN SSHFP 4 2 {}",
            ank_name(domain),
            hex::encode(fp)
        ));
        if let Some((host, _)) = record.ssh.as_deref().and_then(host_port)
            && host.parse::<std::net::IpAddr>().is_err()
        {
            lines.push(format!(
                "{}. {ttl} IN SSHFP 4 2 {}",
                host.trim_end_matches('.'),
                hex::encode(fp)
            ));
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vkey(name: &str, seed: u8) -> String {
        ank_proofs::note::SignerKey::from_seed(name, 1, [seed; 32])
            .map(|k| k.verifier().to_text())
            .unwrap_or_default()
    }

    fn record() -> AnkRecord {
        AnkRecord {
            url: "https://ank.example.org:8443".into(),
            vkey: vkey("example.org", 1),
            tls: Some([7; 32]),
            ssh: Some("ank.example.org:2222".into()),
            witnesses: vec![],
            quorum: 0,
        }
    }

    #[test]
    fn txt_round_trips() {
        let r = record();
        assert_eq!(AnkRecord::parse(r.to_txt().as_bytes()), Ok(r.clone()));
        let mut w = r;
        w.witnesses = vec![vkey("w1.example", 2), vkey("w2.example", 3)];
        w.quorum = 2;
        assert_eq!(AnkRecord::parse(w.to_txt().as_bytes()), Ok(w));
    }

    #[test]
    fn bad_records_name_their_fault() {
        let ok = record().to_txt();
        let w = vkey("w1.example", 2);
        assert_eq!(
            AnkRecord::parse(b"v=ank2; url=https://x"),
            Err(RecordError::Version)
        );
        assert_eq!(
            AnkRecord::parse(format!("v=ank1; vkey={w}").as_bytes()),
            Err(RecordError::Missing("url"))
        );
        assert_eq!(
            AnkRecord::parse(format!("{ok}; url=https://y").as_bytes()),
            Err(RecordError::Duplicate("url".into()))
        );
        assert!(matches!(
            AnkRecord::parse(ok.replace("tls=", "tls=AA").as_bytes()),
            Err(RecordError::Field { field: "tls", .. })
        ));
        assert!(matches!(
            AnkRecord::parse(ok.replace("https://", "ftp://").as_bytes()),
            Err(RecordError::Field { field: "url", .. })
        ));
        assert!(matches!(
            AnkRecord::parse(format!("{ok}; witness={w}").as_bytes()),
            Err(RecordError::Missing("quorum"))
        ));
        assert!(matches!(
            AnkRecord::parse(format!("{ok}; witness={w}; quorum=2").as_bytes()),
            Err(RecordError::Field {
                field: "quorum",
                ..
            })
        ));
        assert_eq!(
            AnkRecord::parse(format!("{ok}; junk").as_bytes()),
            Err(RecordError::Syntax("junk".into()))
        );
        assert!(matches!(
            AnkRecord::parse(&vec![b'a'; MAX_TXT_BYTES + 1]),
            Err(RecordError::TooLong(_))
        ));
        // Unknown keys are skipped.
        assert_eq!(
            AnkRecord::parse(format!("{ok}; future=1").as_bytes()),
            Ok(record())
        );
    }

    #[test]
    fn strings_split_and_escape() {
        let data: Vec<u8> = (0..600u32).map(|i| (i % 256) as u8).collect();
        let parts = split_strings(&data);
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [255, 255, 90]
        );
        assert_eq!(zone_string(b"a\"b\\c\nd"), r#""a\"b\\c\010d""#);
    }

    #[test]
    fn url_parts() {
        assert_eq!(
            url_host_port("https://ank.example.org:8443/x"),
            Some(("ank.example.org".into(), 8443))
        );
        assert_eq!(
            url_host_port("https://ank.example.org"),
            Some(("ank.example.org".into(), 443))
        );
        assert_eq!(url_host_port("https://[::1]:9"), Some(("::1".into(), 9)));
        assert_eq!(url_host_port("ftp://x"), None);
        assert_eq!(
            tlsa_name("https://ank.example.org"),
            Some("_443._tcp.ank.example.org.".into())
        );
    }
}
