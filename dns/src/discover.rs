//! Discovery: what a domain publishes under `_ank.<domain>`, read through a
//! DNSSEC-validating resolver.
//!
//! Every answer ank uses must be `Secure`: an answer whose signatures do not
//! validate is [`DiscoveryError::Bogus`]; one without a chain of trust from an
//! anchor (an unsigned zone, or a zone under an unsigned parent) is
//! [`DiscoveryError::Insecure`]. Both are refused.
//!
//! The resolver is the system's (`/etc/resolv.conf`) with the IANA root keys,
//! or one server (`IP:PORT`) and anchors read from a file.
//!
//! # Trust-anchor files
//!
//! Zone-file lines, `;` or `#` comments and blank lines ignored:
//! - `<name> [ttl] [IN] DNSKEY <flags> 3 <alg> <base64>`: that key is trusted
//!   for `<name>`;
//! - `<name> [ttl] [IN] DS <tag> <alg> 2 <hex>` (exactly as `ank dns ds`
//!   prints): the name's DNSKEY set is fetched once and the key whose SHA-256
//!   DS digest matches becomes the anchor; none matching is an error.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::dnssec::rdata::DNSSECRData;
use hickory_resolver::proto::dnssec::{Algorithm, Proof, PublicKeyBuf, TrustAnchors};
use hickory_resolver::proto::rr::{LowerName, Name, RData, Record, RecordType};
use hickory_resolver::proto::serialize::binary::BinEncodable as _;

use crate::records::{AnkRecord, RecordError, checkpoint_name, tlsa_name};

/// Where to resolve from and what to trust.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResolverSettings {
    /// One server `IP:PORT` (default: the system's resolvers).
    pub server: Option<SocketAddr>,
    /// Servers for names at or under a zone (conditional forwarding, as a
    /// stub zone): the longest matching zone wins over [`Self::server`].
    pub zones: Vec<(String, SocketAddr)>,
    /// A trust-anchor file (default: the IANA root keys).
    pub trust_anchor: Option<PathBuf>,
}

impl ResolverSettings {
    /// Adds a server from `IP:PORT` (the default server) or `ZONE=IP:PORT`.
    ///
    /// # Errors
    /// A text naming what does not parse.
    pub fn add_server(&mut self, spec: &str) -> Result<(), String> {
        match spec.split_once('=') {
            Some((zone, addr)) => {
                let addr = addr
                    .parse()
                    .map_err(|_| format!("{spec:?}: {addr:?} is not IP:PORT"))?;
                let zone = zone.trim_end_matches('.').to_ascii_lowercase();
                Name::from_ascii(&zone).map_err(|_| format!("{spec:?}: {zone:?} is not a zone"))?;
                self.zones.push((zone, addr));
            }
            None => {
                self.server = Some(
                    spec.parse()
                        .map_err(|_| format!("{spec:?} is not IP:PORT or ZONE=IP:PORT"))?,
                );
            }
        }
        Ok(())
    }

    /// The server for `name`: the longest zone containing it, else the default.
    fn server_for(&self, name: &str) -> Option<SocketAddr> {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        self.zones
            .iter()
            .filter(|(z, _)| name == *z || name.ends_with(&format!(".{z}")))
            .max_by_key(|(z, _)| z.len())
            .map(|(_, a)| *a)
            .or(self.server)
    }
}

/// Why a domain could not be discovered.
#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    /// The name has no such record (proven absent when `proven`).
    #[error("{name}: no {rtype} record{}", if *.proven { " (its absence is proven by DNSSEC)" } else { "" })]
    NoRecord {
        /// The name asked.
        name: String,
        /// The type asked.
        rtype: String,
        /// Whether the denial itself validated.
        proven: bool,
    },
    /// The answer has no chain of trust to an anchor.
    #[error(
        "{name}: the answer is insecure (not signed with DNSSEC, or no chain of trust from the trust anchor); ank requires DNSSEC"
    )]
    Insecure {
        /// The name asked.
        name: String,
    },
    /// The answer's signatures do not validate.
    #[error("{name}: the answer is bogus: its DNSSEC signatures do not validate ({reason})")]
    Bogus {
        /// The name asked.
        name: String,
        /// What the validator said.
        reason: String,
    },
    /// The record does not parse.
    #[error("{name}: {source}")]
    Record {
        /// The name asked.
        name: String,
        /// What is wrong.
        source: RecordError,
    },
    /// The resolver failed (timeout, refused, SERVFAIL…).
    #[error("{name}: resolving failed: {reason}")]
    Resolve {
        /// The name asked.
        name: String,
        /// What failed.
        reason: String,
    },
    /// The trust-anchor file.
    #[error("trust anchor {path}: {reason}")]
    TrustAnchor {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// A domain that is not a DNS name.
    #[error("{0:?} is not a domain name")]
    Domain(String),
}

impl DiscoveryError {
    /// The answer was insecure or bogus: a DNSSEC failure rather than an
    /// absent or unreadable record.
    pub fn is_dnssec(&self) -> bool {
        matches!(
            self,
            DiscoveryError::Insecure { .. } | DiscoveryError::Bogus { .. }
        )
    }
}

/// What a domain publishes, each part validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Discovered {
    /// The domain.
    pub domain: String,
    /// The `_ank` TXT.
    pub record: AnkRecord,
    /// The `checkpoint._ank` TXT's bytes, when there is one.
    pub checkpoint: Option<Vec<u8>>,
    /// When the checkpoint TXT was signed (its RRSIG's inception, Unix
    /// seconds): how old the checkpoint in DNS is, at most.
    pub checkpoint_signed_at: Option<u64>,
    /// SSHFP `4 2` (Ed25519, SHA-256) digests validated at `_ank.<domain>`,
    /// looked up when the record names an SSH door.
    pub sshfp: Vec<[u8; 32]>,
    /// DANE-EE `3 1 1` digests of validated TLSA records at the URL's
    /// `_<port>._tcp.<host>` (looked up only when the record has no `tls=`).
    pub tlsa: Vec<[u8; 32]>,
}

impl Discovered {
    /// The SHA-256 SPKI digests a TLS server of this domain may present:
    /// `tls=`, else the validated TLSA records; empty means WebPKI.
    pub fn pins(&self) -> Vec<[u8; 32]> {
        match self.record.tls {
            Some(t) => vec![t],
            None => self.tlsa.clone(),
        }
    }
}

/// A validating resolver with a small cache of what it discovered.
pub struct Discovery {
    settings: ResolverSettings,
    /// Per server (`None`: the system's), a validating resolver and one
    /// without validation (only to tell an unsigned zone from a bogus one).
    resolvers: Vec<(Option<SocketAddr>, TokioResolver, TokioResolver)>,
    cache: Mutex<HashMap<String, (Instant, Arc<Discovered>)>>,
}

impl std::fmt::Debug for Discovery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Discovery")
    }
}

fn resolver_config(server: Option<SocketAddr>) -> Result<(ResolverConfig, ResolverOpts), String> {
    match server {
        Some(addr) => {
            let mut ns = NameServerConfig::udp_and_tcp(addr.ip());
            for c in &mut ns.connections {
                c.port = addr.port();
            }
            let mut opts = ResolverOpts::default();
            opts.timeout = Duration::from_secs(2);
            opts.attempts = 2;
            Ok((ResolverConfig::from_name_servers(vec![ns]), opts))
        }
        None => hickory_resolver::system_conf::read_system_conf()
            .map_err(|e| format!("reading the system's resolver configuration: {e}")),
    }
}

fn build(
    server: Option<SocketAddr>,
    anchors: Option<TrustAnchors>,
) -> Result<TokioResolver, DiscoveryError> {
    let bad = |reason: String| DiscoveryError::Resolve {
        name: "(resolver)".into(),
        reason,
    };
    let (config, mut opts) = resolver_config(server).map_err(bad)?;
    opts.validate = anchors.is_some();
    let mut b = TokioResolver::builder_with_config(config, TokioRuntimeProvider::default())
        .with_options(opts);
    if let Some(a) = anchors {
        b = b.with_trust_anchor(Arc::new(a));
    }
    b.build().map_err(|e| bad(e.to_string()))
}

impl Discovery {
    /// A validating resolver for `settings`.
    ///
    /// # Errors
    /// [`DiscoveryError::TrustAnchor`] for an unreadable anchor file, or one
    /// whose DS matches no key the name serves; [`DiscoveryError::Resolve`]
    /// when no resolver can be set up.
    pub async fn new(settings: &ResolverSettings) -> Result<Discovery, DiscoveryError> {
        let anchors = match &settings.trust_anchor {
            None => TrustAnchors::default(),
            Some(path) => load_anchors(path, settings).await?,
        };
        let mut servers: Vec<Option<SocketAddr>> = vec![settings.server];
        servers.extend(settings.zones.iter().map(|(_, a)| Some(*a)));
        servers.dedup();
        let mut resolvers = Vec::new();
        for s in servers {
            if resolvers.iter().any(|(r, _, _)| *r == s) {
                continue;
            }
            resolvers.push((s, build(s, Some(anchors.clone()))?, build(s, None)?));
        }
        Ok(Discovery {
            settings: settings.clone(),
            resolvers,
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// What `domain` publishes: the `_ank` TXT and the checkpoint TXT, both
    /// validated, and validated TLSA records when the TXT has no `tls=`.
    /// Answers are cached for their TTL.
    ///
    /// # Errors
    /// [`DiscoveryError`]: absent, insecure, bogus, malformed, unreachable.
    pub async fn discover(&self, domain: &str) -> Result<Arc<Discovered>, DiscoveryError> {
        let domain = domain.trim_end_matches('.').to_ascii_lowercase();
        if let Ok(c) = self.cache.lock()
            && let Some((until, d)) = c.get(&domain)
            && *until > Instant::now()
        {
            return Ok(d.clone());
        }
        let ank = crate::records::ank_name(&domain);
        let cp = checkpoint_name(&domain);
        let (main, checkpoint) = tokio::join!(self.secure_txt(&ank), self.secure_txt(&cp));
        let (main, ttl, _) = match main {
            Err(DiscoveryError::Bogus { name, reason }) => {
                return Err(self.unsigned_or_bogus(&ank, name, reason).await);
            }
            other => other?,
        };
        let record = AnkRecord::parse(&main).map_err(|source| DiscoveryError::Record {
            name: ank.clone(),
            source,
        })?;
        let (checkpoint, ttl, checkpoint_signed_at) = match checkpoint {
            Ok((c, t, at)) => (Some(c), ttl.min(t), at),
            Err(DiscoveryError::NoRecord { .. }) => (None, ttl, None),
            // hickory's validator calls the NSEC denial of a zone whose only
            // NSEC is the apex's bogus (delv validates it). A checkpoint that
            // does not exist at all, even unvalidated, is taken as absent:
            // an attacker who strips it gains no more than a zone without
            // one; forged data (a TXT that is there) stays bogus.
            Err(DiscoveryError::Bogus { name, reason }) => match self.unvalidated_txt(&cp).await {
                Err(DiscoveryError::NoRecord { .. }) => (None, ttl, None),
                _ => return Err(DiscoveryError::Bogus { name, reason }),
            },
            Err(e) => return Err(e),
        };
        // A TLSA that is absent, insecure or unreadable leaves WebPKI.
        let tlsa = match record.tls {
            None => self.tlsa(&record.url).await.unwrap_or_default(),
            Some(_) => Vec::new(),
        };
        let sshfp = match &record.ssh {
            Some(_) => match self.secure(&ank, RecordType::SSHFP).await {
                Ok((records, _, _)) => records
                    .iter()
                    .filter_map(|r| match &r.data {
                        RData::SSHFP(f)
                            if f.algorithm == hickory_resolver::proto::rr::rdata::sshfp::Algorithm::Ed25519
                                && f.fingerprint_type
                                    == hickory_resolver::proto::rr::rdata::sshfp::FingerprintType::SHA256 =>
                        {
                            <[u8; 32]>::try_from(f.fingerprint.as_slice()).ok()
                        }
                        _ => None,
                    })
                    .collect(),
                Err(DiscoveryError::NoRecord { .. }) => Vec::new(),
                Err(e) => return Err(e),
            },
            None => Vec::new(),
        };
        let found = Arc::new(Discovered {
            domain: domain.clone(),
            record,
            checkpoint,
            checkpoint_signed_at,
            sshfp,
            tlsa,
        });
        if let Ok(mut c) = self.cache.lock() {
            if c.len() > 10_000 {
                c.clear();
            }
            c.insert(
                domain,
                (
                    Instant::now() + Duration::from_secs(u64::from(ttl)),
                    found.clone(),
                ),
            );
        }
        Ok(found)
    }

    /// A bogus answer from a zone that serves no DNSKEY at all is an
    /// unsigned zone: insecure rather than forged.
    async fn unsigned_or_bogus(&self, zone: &str, name: String, reason: String) -> DiscoveryError {
        let Ok(qname) = Name::from_ascii(zone) else {
            return DiscoveryError::Bogus { name, reason };
        };
        match self.pick(zone).1.lookup(qname, RecordType::DNSKEY).await {
            Err(NetError::Dns(DnsError::NoRecordsFound(_))) => DiscoveryError::Insecure { name },
            Ok(l)
                if !l
                    .answers()
                    .iter()
                    .any(|r| r.record_type() == RecordType::DNSKEY) =>
            {
                DiscoveryError::Insecure { name }
            }
            _ => DiscoveryError::Bogus { name, reason },
        }
    }

    /// The DANE-EE `3 1 1` digests of the validated TLSA records for `url`
    /// (`_<port>._tcp.<host>`); other usages are ignored.
    ///
    /// # Errors
    /// As for any record: absent, insecure, bogus, unreachable.
    pub async fn tlsa(&self, url: &str) -> Result<Vec<[u8; 32]>, DiscoveryError> {
        let name = tlsa_name(url).ok_or_else(|| DiscoveryError::Domain(url.into()))?;
        let (records, _, _) = self.secure(&name, RecordType::TLSA).await?;
        Ok(records
            .iter()
            .filter_map(|r| match &r.data {
                RData::TLSA(t)
                    if u8::from(t.cert_usage) == 3
                        && u8::from(t.selector) == 1
                        && u8::from(t.matching) == 1 =>
                {
                    <[u8; 32]>::try_from(t.cert_data.as_slice()).ok()
                }
                _ => None,
            })
            .collect())
    }

    /// The (validating, plain) resolvers for `name`.
    fn pick(&self, name: &str) -> (&TokioResolver, &TokioResolver) {
        let server = self.settings.server_for(name);
        let (_, r, p) = self
            .resolvers
            .iter()
            .find(|(s, _, _)| *s == server)
            .unwrap_or(&self.resolvers[0]);
        (r, p)
    }

    /// Forgets what was cached (the resolver's cache too).
    pub fn clear_cache(&self) {
        if let Ok(mut c) = self.cache.lock() {
            c.clear();
        }
        for (_, r, p) in &self.resolvers {
            r.clear_cache();
            p.clear_cache();
        }
    }

    /// The one TXT record at `name`, validated, with its TTL and when it was signed.
    async fn secure_txt(&self, name: &str) -> Result<(Vec<u8>, u32, Option<u64>), DiscoveryError> {
        let (records, ttl, signed_at) = self.secure(name, RecordType::TXT).await?;
        let mut texts = records.iter().filter_map(|r| match &r.data {
            RData::TXT(t) => Some(t.txt_data.concat()),
            _ => None,
        });
        let first = texts.next().ok_or_else(|| DiscoveryError::NoRecord {
            name: name.into(),
            rtype: "TXT".into(),
            proven: true,
        })?;
        if texts.next().is_some() {
            return Err(DiscoveryError::Record {
                name: name.into(),
                source: RecordError::Duplicate("TXT record".into()),
            });
        }
        if first.len() > crate::records::MAX_TXT_BYTES {
            return Err(DiscoveryError::Record {
                name: name.into(),
                source: RecordError::TooLong(first.len()),
            });
        }
        Ok((first, ttl, signed_at))
    }

    /// The TXT records at `name` without DNSSEC validation (for diagnosis
    /// only: `ank doctor` tells a missing record from an unsigned one).
    ///
    /// # Errors
    /// [`DiscoveryError::NoRecord`], [`DiscoveryError::Resolve`].
    pub async fn unvalidated_txt(&self, name: &str) -> Result<Vec<Vec<u8>>, DiscoveryError> {
        let qname = Name::from_ascii(name).map_err(|_| DiscoveryError::Domain(name.into()))?;
        let l = self
            .pick(name)
            .1
            .lookup(qname, RecordType::TXT)
            .await
            .map_err(|e| classify(name, RecordType::TXT, e))?;
        let texts: Vec<Vec<u8>> = l
            .answers()
            .iter()
            .filter_map(|r| match &r.data {
                RData::TXT(t) => Some(t.txt_data.concat()),
                _ => None,
            })
            .collect();
        if texts.is_empty() {
            return Err(DiscoveryError::NoRecord {
                name: name.into(),
                rtype: "TXT".into(),
                proven: false,
            });
        }
        Ok(texts)
    }

    /// The records of `rtype` at `name`, all `Secure`, their smallest TTL,
    /// and the latest inception of the RRSIGs over them.
    async fn secure(
        &self,
        name: &str,
        rtype: RecordType,
    ) -> Result<(Vec<Record>, u32, Option<u64>), DiscoveryError> {
        let qname = Name::from_ascii(name).map_err(|_| DiscoveryError::Domain(name.into()))?;
        let lookup = match self.pick(name).0.lookup(qname, rtype).await {
            Ok(l) => l,
            Err(e) => return Err(classify(name, rtype, e)),
        };
        let records: Vec<Record> = lookup
            .answers()
            .iter()
            .filter(|r| r.record_type() == rtype)
            .cloned()
            .collect();
        if records.is_empty() {
            return Err(DiscoveryError::NoRecord {
                name: name.into(),
                rtype: rtype.to_string(),
                proven: false,
            });
        }
        for r in &records {
            match r.proof {
                Proof::Secure => {}
                Proof::Bogus => {
                    return Err(DiscoveryError::Bogus {
                        name: name.into(),
                        reason: "the RRSIG does not verify under a trusted key".into(),
                    });
                }
                Proof::Insecure | Proof::Indeterminate => {
                    return Err(DiscoveryError::Insecure { name: name.into() });
                }
            }
        }
        let ttl = records.iter().map(|r| r.ttl).min().unwrap_or(0);
        let signed_at = lookup
            .answers()
            .iter()
            .filter_map(|r| match &r.data {
                RData::DNSSEC(DNSSECRData::RRSIG(sig)) if sig.input().type_covered == rtype => {
                    Some(u64::from(sig.input().sig_inception.get()))
                }
                _ => None,
            })
            .max();
        Ok((records, ttl, signed_at))
    }
}

fn classify(name: &str, rtype: RecordType, e: NetError) -> DiscoveryError {
    match e {
        NetError::Dns(DnsError::NoRecordsFound(nr)) => {
            let proven = nr
                .authorities
                .as_deref()
                .is_some_and(|a| !a.is_empty() && a.iter().all(|r| r.proof == Proof::Secure));
            let insecure = nr
                .authorities
                .as_deref()
                .is_some_and(|a| a.iter().any(|r| r.proof == Proof::Bogus));
            if insecure {
                return DiscoveryError::Bogus {
                    name: name.into(),
                    reason: "the denial of existence does not validate".into(),
                };
            }
            DiscoveryError::NoRecord {
                name: name.into(),
                rtype: rtype.to_string(),
                proven,
            }
        }
        NetError::Dns(DnsError::Nsec { proof, .. }) => match proof {
            Proof::Secure => DiscoveryError::NoRecord {
                name: name.into(),
                rtype: rtype.to_string(),
                proven: true,
            },
            Proof::Bogus => DiscoveryError::Bogus {
                name: name.into(),
                reason: "the denial of existence does not validate".into(),
            },
            _ => DiscoveryError::Insecure { name: name.into() },
        },
        NetError::Dns(DnsError::DnssecBogus) => DiscoveryError::Bogus {
            name: name.into(),
            reason: "DNSSEC validation failed".into(),
        },
        other => {
            let reason = other.to_string();
            // The validator reports a broken chain as an error of its own.
            if reason.contains("DNSSEC") || reason.contains("RRSIG") || reason.contains("DNSKEY") {
                DiscoveryError::Bogus {
                    name: name.into(),
                    reason,
                }
            } else {
                DiscoveryError::Resolve {
                    name: name.into(),
                    reason,
                }
            }
        }
    }
}

/// One anchor line of a trust-anchor file.
#[derive(Debug, PartialEq, Eq)]
enum Anchor {
    Key {
        name: String,
        alg: u8,
        key: Vec<u8>,
    },
    Ds {
        name: String,
        tag: u16,
        alg: u8,
        digest: Vec<u8>,
    },
}

fn parse_anchors(text: &str) -> Result<Vec<Anchor>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.split(';').next().unwrap_or("").trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = |what: &str| format!("line {}: {what}", i + 1);
        let t: Vec<&str> = line
            .split_whitespace()
            .filter(|t| *t != "(" && *t != ")")
            .collect();
        let Some(pos) = t.iter().position(|w| *w == "DS" || *w == "DNSKEY") else {
            return Err(bad("want a DS or DNSKEY record"));
        };
        let name = t.first().copied().unwrap_or("").to_ascii_lowercase();
        if pos == 0 || Name::from_ascii(&name).is_err() {
            return Err(bad("the record has no owner name"));
        }
        let rest = &t[pos + 1..];
        let num = |s: Option<&&str>, what: &str| -> Result<u32, String> {
            s.and_then(|s| s.parse().ok())
                .ok_or_else(|| bad(&format!("bad {what}")))
        };
        if t[pos] == "DNSKEY" {
            let _flags = num(rest.first(), "flags")?;
            if num(rest.get(1), "protocol")? != 3 {
                return Err(bad("protocol is not 3"));
            }
            let alg = u8::try_from(num(rest.get(2), "algorithm")?).map_err(|_| bad("algorithm"))?;
            let key = B64
                .decode(rest.get(3..).unwrap_or(&[]).concat())
                .map_err(|_| bad("the key is not base64"))?;
            out.push(Anchor::Key { name, alg, key });
        } else {
            let tag = u16::try_from(num(rest.first(), "key tag")?).map_err(|_| bad("key tag"))?;
            let alg = u8::try_from(num(rest.get(1), "algorithm")?).map_err(|_| bad("algorithm"))?;
            if num(rest.get(2), "digest type")? != 2 {
                return Err(bad("only SHA-256 DS records (digest type 2) are supported"));
            }
            let digest = hex::decode(rest.get(3..).unwrap_or(&[]).concat())
                .map_err(|_| bad("the digest is not hex"))?;
            if digest.len() != 32 {
                return Err(bad("the digest is not 32 bytes"));
            }
            out.push(Anchor::Ds {
                name,
                tag,
                alg,
                digest,
            });
        }
    }
    if out.is_empty() {
        return Err("no DS or DNSKEY record".into());
    }
    Ok(out)
}

async fn load_anchors(
    path: &Path,
    settings: &ResolverSettings,
) -> Result<TrustAnchors, DiscoveryError> {
    let bad = |reason: String| DiscoveryError::TrustAnchor {
        path: path.display().to_string(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
    let mut anchors = TrustAnchors::empty();

    for a in parse_anchors(&text).map_err(&bad)? {
        match a {
            Anchor::Key { name, alg, key } => {
                let n = Name::from_ascii(&name).map_err(|e| bad(e.to_string()))?;
                anchors.insert_with_name(
                    &PublicKeyBuf::new(key, Algorithm::from_u8(alg)),
                    LowerName::new(&n),
                );
            }
            Anchor::Ds {
                name,
                tag,
                alg,
                digest,
            } => {
                // The DS binds the key by its digest, so the key set may be
                // fetched without validation.
                let r = build(settings.server_for(&name), None)?;
                let n = Name::from_ascii(&name).map_err(|e| bad(e.to_string()))?;
                let keys = r
                    .lookup(n.clone(), RecordType::DNSKEY)
                    .await
                    .map_err(|e| bad(format!("fetching the DNSKEY set of {name}: {e}")))?;
                let mut found = false;
                for rec in keys.answers() {
                    let RData::DNSSEC(DNSSECRData::DNSKEY(k)) = &rec.data else {
                        continue;
                    };
                    let Ok(rdata) = k.to_bytes() else { continue };
                    if crate::zone::key_tag(&rdata) == tag
                        && rdata.get(3) == Some(&alg)
                        && crate::zone::ds_digest(&name, &rdata)
                            .is_ok_and(|d| d.as_slice() == digest.as_slice())
                    {
                        anchors.insert_with_name(k.public_key(), LowerName::new(&n));
                        found = true;
                    }
                }
                if !found {
                    return Err(bad(format!(
                        "no DNSKEY served for {name} matches the DS record (key tag {tag})"
                    )));
                }
            }
        }
    }
    Ok(anchors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchor_lines_parse() {
        let text = "; comment\n_ank.example.org. 3600 IN DS 12345 15 2 ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789\n\
                    _ank.example.org. IN DNSKEY 256 3 15 l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4=\n";
        let a = parse_anchors(text).unwrap_or_default();
        assert_eq!(a.len(), 2);
        assert!(matches!(
            &a[0],
            Anchor::Ds {
                tag: 12345,
                alg: 15,
                ..
            }
        ));
        assert!(matches!(&a[1], Anchor::Key { alg: 15, key, .. } if key.len() == 32));
        assert!(parse_anchors("x. IN DS 1 15 1 AB").is_err_and(|e| e.contains("digest type 2")));
        assert!(parse_anchors("x. IN A 1.2.3.4").is_err_and(|e| e.contains("DS or DNSKEY")));
        assert!(parse_anchors("\n").is_err_and(|e| e.contains("no DS")));
    }
}
