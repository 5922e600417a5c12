//! The C2SP tlog-policy text format and quorum evaluation.
//!
//! Lines (fields separated by spaces or tabs; blank lines and `#` comments
//! ignored; bytes other than tab, newline, 0x20–0x7E and ≥ 0x80 rejected):
//!
//! ```text
//! log <vkey> [<url>]
//! witness <name> <vkey> [<url>]
//! group <name> all|any|<k> <name>...
//! quorum <name>|none
//! ```
//!
//! Logs use type 0x01 keys, witnesses type 0x04. Names are defined once and
//! referenced only after their definition; a group lists each member once
//! and `1 <= k <= n`; exactly one quorum line. Duplicate keys (same public
//! key, whatever name or ID) are rejected. At most 32 logs, 32 witnesses
//! and 32 groups.

use crate::Error;
use crate::checkpoint::{Checkpoint, VerifiedCheckpoint, verify_parsed};
use crate::error::PolicyError;
use crate::note::{ALG_COSIGNATURE_V1, ALG_ED25519, Note, VerifierKey};

const LIMIT: usize = 32;

/// A member of a group, or the quorum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Member {
    Witness(usize),
    Group(usize),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Group {
    name: String,
    threshold: usize,
    members: Vec<Member>,
}

/// A policy entry naming a log or witness.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyKey {
    pub name: Option<String>,
    pub key: VerifierKey,
    pub url: Option<String>,
}

/// A parsed tlog-policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    logs: Vec<PolicyKey>,
    witnesses: Vec<PolicyKey>,
    groups: Vec<Group>,
    quorum: Option<Member>,
}

impl Policy {
    /// Parses a policy file.
    ///
    /// # Errors
    /// [`Error::Policy`] with the 1-based line and reason.
    pub fn parse(text: &str) -> Result<Policy, Error> {
        let mut p = Policy {
            logs: Vec::new(),
            witnesses: Vec::new(),
            groups: Vec::new(),
            quorum: None,
        };
        let mut quorum_seen = false;
        for (i, line) in text.split('\n').enumerate() {
            let err = |reason| Error::Policy {
                line: i + 1,
                reason,
            };
            if line.bytes().any(|b| b != b'\t' && (b < 0x20 || b == 0x7f)) {
                return Err(err(PolicyError::Character));
            }
            let fields: Vec<&str> = line.split([' ', '\t']).filter(|f| !f.is_empty()).collect();
            let Some(&keyword) = fields.first() else {
                continue;
            };
            if keyword.starts_with('#') {
                continue;
            }
            match keyword {
                "log" => {
                    if !(2..=3).contains(&fields.len()) {
                        return Err(err(PolicyError::Fields));
                    }
                    let key = p.new_key(fields[1], ALG_ED25519).map_err(err)?;
                    p.logs.push(PolicyKey {
                        name: None,
                        key,
                        url: fields.get(2).map(|s| (*s).to_owned()),
                    });
                }
                "witness" => {
                    if !(3..=4).contains(&fields.len()) {
                        return Err(err(PolicyError::Fields));
                    }
                    p.check_new_name(fields[1]).map_err(err)?;
                    let key = p.new_key(fields[2], ALG_COSIGNATURE_V1).map_err(err)?;
                    p.witnesses.push(PolicyKey {
                        name: Some(fields[1].to_owned()),
                        key,
                        url: fields.get(3).map(|s| (*s).to_owned()),
                    });
                }
                "group" => {
                    if fields.len() < 4 {
                        return Err(err(PolicyError::Fields));
                    }
                    p.check_new_name(fields[1]).map_err(err)?;
                    let mut members = Vec::new();
                    for m in &fields[3..] {
                        let m = p.lookup(m).map_err(err)?;
                        if members.contains(&m) {
                            return Err(err(PolicyError::DuplicateMember(
                                p.member_name(m).to_owned(),
                            )));
                        }
                        members.push(m);
                    }
                    let n = members.len();
                    let threshold = match fields[2] {
                        "all" => n,
                        "any" => 1,
                        k => crate::tile::parse_canonical_decimal(k)
                            .and_then(|k| usize::try_from(k).ok())
                            .filter(|k| (1..=n).contains(k))
                            .ok_or(err(PolicyError::Threshold))?,
                    };
                    p.groups.push(Group {
                        name: fields[1].to_owned(),
                        threshold,
                        members,
                    });
                }
                "quorum" => {
                    if fields.len() != 2 {
                        return Err(err(PolicyError::Fields));
                    }
                    if quorum_seen {
                        return Err(err(PolicyError::DuplicateQuorum));
                    }
                    quorum_seen = true;
                    p.quorum = if fields[1] == "none" {
                        None
                    } else {
                        Some(p.lookup(fields[1]).map_err(err)?)
                    };
                }
                other => return Err(err(PolicyError::Keyword(other.to_owned()))),
            }
            if p.logs.len() > LIMIT || p.witnesses.len() > LIMIT || p.groups.len() > LIMIT {
                return Err(err(PolicyError::TooLarge));
            }
        }
        if !quorum_seen {
            return Err(Error::Policy {
                line: text.split('\n').count(),
                reason: PolicyError::NoQuorum,
            });
        }
        Ok(p)
    }

    fn new_key(&self, vkey: &str, alg: u8) -> Result<VerifierKey, PolicyError> {
        let key = VerifierKey::parse(vkey).map_err(|e| match e {
            Error::Key(k) => PolicyError::Key(k),
            _ => PolicyError::Fields,
        })?;
        if key.alg() != alg {
            return Err(PolicyError::Key(crate::error::KeyError::UnsupportedType {
                alg: key.alg(),
            }));
        }
        let dup = self
            .logs
            .iter()
            .chain(&self.witnesses)
            .any(|k| k.key.public_key() == key.public_key());
        if dup {
            return Err(PolicyError::DuplicateKey);
        }
        Ok(key)
    }

    fn check_new_name(&self, name: &str) -> Result<(), PolicyError> {
        if name == "none" || self.lookup(name).is_ok() {
            return Err(PolicyError::DuplicateName(name.to_owned()));
        }
        Ok(())
    }

    fn lookup(&self, name: &str) -> Result<Member, PolicyError> {
        if let Some(i) = self
            .witnesses
            .iter()
            .position(|w| w.name.as_deref() == Some(name))
        {
            return Ok(Member::Witness(i));
        }
        if let Some(i) = self.groups.iter().position(|g| g.name == name) {
            return Ok(Member::Group(i));
        }
        Err(PolicyError::UndefinedName(name.to_owned()))
    }

    fn member_name(&self, m: Member) -> &str {
        match m {
            Member::Witness(i) => self.witnesses[i].name.as_deref().unwrap_or(""),
            Member::Group(i) => &self.groups[i].name,
        }
    }

    /// The logs of the policy.
    pub fn logs(&self) -> &[PolicyKey] {
        &self.logs
    }

    /// The witnesses of the policy.
    pub fn witnesses(&self) -> &[PolicyKey] {
        &self.witnesses
    }

    fn satisfied(&self, m: Member, cosigned: &[bool]) -> bool {
        match m {
            Member::Witness(i) => cosigned[i],
            Member::Group(g) => {
                let group = &self.groups[g];
                group
                    .members
                    .iter()
                    .filter(|&&m| self.satisfied(m, cosigned))
                    .count()
                    >= group.threshold
            }
        }
    }

    /// Whether cosignatures by `witnesses` (keys that verified, e.g. only
    /// the recent ones) satisfy the quorum.
    ///
    /// # Errors
    /// [`Error::QuorumNotMet`].
    pub fn check_quorum_of(&self, witnesses: &[VerifierKey]) -> Result<(), Error> {
        let cosigned: Vec<bool> = self
            .witnesses
            .iter()
            .map(|w| witnesses.contains(&w.key))
            .collect();
        let ok = match self.quorum {
            None => true,
            Some(m) => self.satisfied(m, &cosigned),
        };
        if !ok {
            return Err(Error::QuorumNotMet {
                cosigned: cosigned.iter().filter(|&&c| c).count(),
            });
        }
        Ok(())
    }

    /// Whether the verified cosignatures of `cp` satisfy the quorum.
    ///
    /// # Errors
    /// [`Error::QuorumNotMet`].
    pub fn check_quorum(&self, cp: &VerifiedCheckpoint) -> Result<(), Error> {
        let cosigners: Vec<VerifierKey> = cp
            .cosignatures()
            .iter()
            .map(|c| c.witness.clone())
            .collect();
        self.check_quorum_of(&cosigners)
    }

    /// Verifies a signed checkpoint against the policy: signed by one of its
    /// logs (the one whose key name is the origin) and cosigned to quorum.
    ///
    /// # Errors
    /// [`Error::UnknownLog`], [`Error::QuorumNotMet`], and the errors of
    /// [`crate::checkpoint::verify_checkpoint`].
    pub fn verify(&self, note_bytes: &[u8]) -> Result<VerifiedCheckpoint, Error> {
        let note = Note::parse(note_bytes)?;
        let origin = Checkpoint::parse(note.text())?.origin;
        let log = self
            .logs
            .iter()
            .find(|l| {
                l.key.name() == origin && note.signatures().iter().any(|s| s.id == l.key.id())
            })
            .ok_or(Error::UnknownLog { origin })?;
        let witnesses: Vec<VerifierKey> = self.witnesses.iter().map(|w| w.key.clone()).collect();
        let cp = verify_parsed(note, &log.key, &witnesses, log.key.name())?;
        self.check_quorum(&cp)?;
        Ok(cp)
    }
}
