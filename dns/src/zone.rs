//! The built-in authoritative server for `_ank.<domain>`, signed online.
//!
//! The zone holds an SOA, the zone key's DNSKEY, the `_ank` TXT and the
//! `checkpoint._ank` TXT, NSEC records for authenticated denial, and an RRSIG
//! over every set. It is signed with one Ed25519 key (RFC 8080, algorithm 15),
//! kept in the data directory as PKCS#8 DER (`dns-zone.key`, 0600); the same key
//! signs the DNSKEY set and the rest (a combined signing key), so the parent's DS
//! record (see [`ZoneKey::ds_record`]) never changes while the key stays.
//!
//! [`AnkZone::publish`] builds the whole zone anew from [`ZoneContent`], signs it
//! (signatures valid from the moment of signing for [`SIGNATURE_VALIDITY`]) and swaps it
//! in at once, so a query sees either the old signed zone or the new one, never a
//! half-signed mix. The server re-publishes when the content changes and at the
//! latest every [`RESIGN_EVERY`], long before signatures expire.
//!
//! # Errors
//!
//! [`ZoneError`]: the key file cannot be read or made, a name or record is
//! invalid, or signing fails.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use hickory_server::dnssec::NxProofKind;
use hickory_server::proto::dnssec::crypto::Ed25519SigningKey;
use hickory_server::proto::dnssec::rdata::DNSKEY;
use hickory_server::proto::dnssec::{DnssecSigner, PublicKey as _, SigningKey as _};
use hickory_server::proto::rr::TSigResponseContext;
use hickory_server::proto::rr::rdata::{SOA, SSHFP, TXT, sshfp};
use hickory_server::proto::rr::{LowerName, Name, RData, Record, RecordSet, RecordType, RrKey};
use hickory_server::server::{Request, RequestInfo};
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{
    AuthLookup, AxfrPolicy, Catalog, LookupControlFlow, LookupOptions, Nsec3QueryInfo, ZoneHandler,
    ZoneType,
};
use sha2::Digest as _;

use crate::records::{AnkRecord, split_strings};

/// How long the signatures of one signing stay valid.
pub const SIGNATURE_VALIDITY: Duration = Duration::from_secs(7 * 24 * 3600);
/// The longest time between two signings of an unchanged zone.
pub const RESIGN_EVERY: Duration = Duration::from_secs(24 * 3600);
/// The TTL of every record of the zone, and the SOA minimum.
pub const TTL: u32 = 60;
/// DNSSEC algorithm number of Ed25519 (RFC 8080).
pub const ALG_ED25519: u8 = 15;

/// Why the zone could not be made or signed.
#[derive(Debug, thiserror::Error)]
pub enum ZoneError {
    /// The key file.
    #[error("{path}: {what}")]
    Key {
        /// The file.
        path: String,
        /// What went wrong.
        what: String,
    },
    /// A domain that is not a DNS name.
    #[error("{0:?} is not a valid domain name")]
    Name(String),
    /// Building or signing the zone.
    #[error("signing the zone: {0}")]
    Sign(String),
}

/// The zone's Ed25519 signing key.
#[derive(Clone)]
pub struct ZoneKey {
    pkcs8: Vec<u8>,
    public: [u8; 32],
}

impl std::fmt::Debug for ZoneKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ZoneKey({})", B64.encode(self.public))
    }
}

impl ZoneKey {
    /// The key kept in `path`, made (0600) when the file does not exist.
    ///
    /// # Errors
    /// [`ZoneError::Key`].
    pub fn load_or_create(path: &Path) -> Result<ZoneKey, ZoneError> {
        let bad = |what: String| ZoneError::Key {
            path: path.display().to_string(),
            what,
        };
        let pkcs8 = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let made = Ed25519SigningKey::generate_pkcs8()
                    .map_err(|e| bad(format!("making a key: {e}")))?;
                let bytes = made.secret_pkcs8_der().to_vec();
                match ank_common::fs::write_private(path, &bytes) {
                    Ok(()) => bytes,
                    // Another process made it first: use theirs.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        std::fs::read(path).map_err(|e| bad(e.to_string()))?
                    }
                    Err(e) => return Err(bad(e.to_string())),
                }
            }
            Err(e) => return Err(bad(e.to_string())),
        };
        ZoneKey::from_pkcs8(pkcs8).map_err(bad)
    }

    /// A key from its PKCS#8 DER.
    ///
    /// # Errors
    /// A text saying why the bytes are not an Ed25519 key.
    pub fn from_pkcs8(pkcs8: Vec<u8>) -> Result<ZoneKey, String> {
        let key = signing_key(&pkcs8)?;
        let public = key
            .to_public_key()
            .map_err(|e| e.to_string())?
            .public_bytes()
            .try_into()
            .map_err(|_| "not an Ed25519 key".to_owned())?;
        Ok(ZoneKey { pkcs8, public })
    }

    /// A fresh key that is never written anywhere (tests, benchmarks).
    ///
    /// # Errors
    /// A text when the system cannot make one.
    pub fn ephemeral() -> Result<ZoneKey, String> {
        let made = Ed25519SigningKey::generate_pkcs8().map_err(|e| e.to_string())?;
        ZoneKey::from_pkcs8(made.secret_pkcs8_der().to_vec())
    }

    /// The DNSKEY RDATA: flags 257 (zone key, secure entry point), protocol 3,
    /// algorithm 15, the key.
    pub fn dnskey_rdata(&self) -> Vec<u8> {
        let mut r = vec![1, 1, 3, ALG_ED25519];
        r.extend_from_slice(&self.public);
        r
    }

    /// The key tag (RFC 4034, appendix B).
    pub fn key_tag(&self) -> u16 {
        key_tag(&self.dnskey_rdata())
    }

    /// `<zone> TTL IN DNSKEY 257 3 15 <base64>`.
    pub fn dnskey_record(&self, zone: &str) -> String {
        format!(
            "{} {} IN DNSKEY 257 3 {ALG_ED25519} {}",
            fqdn(zone),
            3600,
            B64.encode(self.public)
        )
    }

    /// `<zone> TTL IN DS <tag> 15 2 <SHA-256 hex>`: what the parent zone publishes.
    ///
    /// # Errors
    /// [`ZoneError::Name`] for a zone that is not a DNS name.
    pub fn ds_record(&self, zone: &str) -> Result<String, ZoneError> {
        let digest = ds_digest(zone, &self.dnskey_rdata())?;
        Ok(format!(
            "{} {} IN DS {} {ALG_ED25519} 2 {}",
            fqdn(zone),
            3600,
            self.key_tag(),
            hex::encode_upper(digest)
        ))
    }

    fn signer(&self, origin: &Name) -> Result<DnssecSigner, ZoneError> {
        let key = signing_key(&self.pkcs8).map_err(ZoneError::Sign)?;
        let public = key
            .to_public_key()
            .map_err(|e| ZoneError::Sign(e.to_string()))?;
        let dnskey = DNSKEY::from_key(&public);
        Ok(DnssecSigner::new(
            dnskey,
            Box::new(key),
            origin.clone(),
            SIGNATURE_VALIDITY,
        ))
    }
}

fn signing_key(pkcs8: &[u8]) -> Result<Ed25519SigningKey, String> {
    Ed25519SigningKey::from_pkcs8(&pkcs8.to_vec().into()).map_err(|e| e.to_string())
}

fn fqdn(zone: &str) -> String {
    format!("{}.", zone.trim_end_matches('.'))
}

/// The key tag of a DNSKEY RDATA (RFC 4034, appendix B).
pub fn key_tag(rdata: &[u8]) -> u16 {
    let mut ac: u32 = 0;
    for (i, b) in rdata.iter().enumerate() {
        ac += if i & 1 == 1 {
            u32::from(*b)
        } else {
            u32::from(*b) << 8
        };
    }
    ac += (ac >> 16) & 0xffff;
    (ac & 0xffff) as u16
}

/// The SHA-256 DS digest (RFC 4509) of a DNSKEY RDATA owned by `zone`.
///
/// # Errors
/// [`ZoneError::Name`] for a zone that is not a DNS name.
pub fn ds_digest(zone: &str, dnskey_rdata: &[u8]) -> Result<[u8; 32], ZoneError> {
    let mut h = sha2::Sha256::new();
    h.update(wire_name(zone)?);
    h.update(dnskey_rdata);
    Ok(h.finalize().into())
}

/// A domain name in canonical wire form (lower case, uncompressed).
fn wire_name(zone: &str) -> Result<Vec<u8>, ZoneError> {
    let mut out = Vec::new();
    for label in zone.trim_end_matches('.').split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err(ZoneError::Name(zone.into()));
        }
        out.push(label.len() as u8);
        out.extend(label.bytes().map(|b| b.to_ascii_lowercase()));
    }
    out.push(0);
    if out.len() > 255 {
        return Err(ZoneError::Name(zone.into()));
    }
    Ok(out)
}

/// What the zone says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZoneContent {
    /// The `_ank` TXT.
    pub record: AnkRecord,
    /// The latest (cosigned) checkpoint note.
    pub checkpoint: Option<Vec<u8>>,
    /// The SSH door's host key digest (SSHFP `4 2`), served at the apex.
    pub sshfp: Option<[u8; 32]>,
}

/// The live, signed `_ank.<domain>` zone, shared by the server and whoever
/// publishes into it.
pub struct AnkZone {
    origin: Name,
    lower: LowerName,
    key: Option<ZoneKey>,
    nx: Option<NxProofKind>,
    current: RwLock<Arc<InMemoryZoneHandler>>,
    serial: std::sync::atomic::AtomicU32,
}

impl std::fmt::Debug for AnkZone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AnkZone({})", self.origin)
    }
}

impl AnkZone {
    /// A zone for `_ank.<domain>`, signed with `key` (`None` serves it
    /// unsigned, which validating clients refuse: for tests of exactly that).
    ///
    /// # Errors
    /// [`ZoneError::Name`], or [`ZoneError::Sign`] for the first signing.
    pub fn new(
        domain: &str,
        key: Option<ZoneKey>,
        content: &ZoneContent,
    ) -> Result<Arc<AnkZone>, ZoneError> {
        let origin = Name::from_ascii(crate::records::ank_name(domain))
            .map_err(|_| ZoneError::Name(domain.into()))?;
        wire_name(&origin.to_ascii())?;
        let nx = key.as_ref().map(|_| NxProofKind::Nsec);
        let empty = InMemoryZoneHandler::empty(
            origin.clone(),
            ZoneType::Primary,
            AxfrPolicy::Deny,
            nx.clone(),
        );
        let zone = Arc::new(AnkZone {
            lower: LowerName::new(&origin),
            origin,
            key,
            nx,
            current: RwLock::new(Arc::new(empty)),
            serial: std::sync::atomic::AtomicU32::new(0),
        });
        zone.publish(content)?;
        Ok(zone)
    }

    /// The zone's name, `_ank.<domain>.`.
    pub fn origin(&self) -> String {
        self.origin.to_ascii()
    }

    /// Builds and signs the zone for `content` and swaps it in.
    ///
    /// # Errors
    /// [`ZoneError::Sign`].
    pub fn publish(&self, content: &ZoneContent) -> Result<(), ZoneError> {
        use std::sync::atomic::Ordering;
        // The serial is the time, strictly increasing within a run.
        let now = u32::try_from(ank_common::now_ms() / 1000).unwrap_or(u32::MAX);
        let prev = self.serial.load(Ordering::SeqCst);
        let serial = now.max(prev.wrapping_add(1));
        self.serial.store(serial, Ordering::SeqCst);

        let sign = |e: String| ZoneError::Sign(e);
        let origin = &self.origin;
        let mut records: BTreeMap<RrKey, RecordSet> = BTreeMap::new();
        let mut add = |name: &Name, data: RData| {
            let r = Record::from_rdata(name.clone(), TTL, data);
            records
                .entry(RrKey::new(LowerName::new(name), r.record_type()))
                .or_insert_with(|| RecordSet::new(name.clone(), r.record_type(), serial))
                .insert(r, serial);
        };
        let hostmaster = Name::from_ascii(format!("hostmaster.{}", origin.to_ascii()))
            .map_err(|e| sign(e.to_string()))?;
        add(
            origin,
            RData::SOA(SOA::new(
                origin.clone(),
                hostmaster,
                serial,
                3600,
                600,
                7 * 86400,
                TTL,
            )),
        );
        let txt = content.record.to_txt();
        add(
            origin,
            RData::TXT(TXT::from_bytes(split_strings(txt.as_bytes()))),
        );
        if let Some(fp) = content.sshfp {
            add(
                origin,
                RData::SSHFP(SSHFP::new(
                    sshfp::Algorithm::Ed25519,
                    sshfp::FingerprintType::SHA256,
                    fp.to_vec(),
                )),
            );
        }
        if let Some(cp) = &content.checkpoint {
            let name = Name::from_ascii(format!("checkpoint.{}", origin.to_ascii()))
                .map_err(|e| sign(e.to_string()))?;
            add(&name, RData::TXT(TXT::from_bytes(split_strings(cp))));
        }
        let mut handler = InMemoryZoneHandler::new(
            origin.clone(),
            records,
            ZoneType::Primary,
            AxfrPolicy::Deny,
            self.nx.clone(),
        )
        .map_err(sign)?;
        if let Some(key) = &self.key {
            handler
                .add_zone_signing_key_mut(key.signer(origin)?)
                .map_err(|e| sign(e.to_string()))?;
            handler.secure_zone_mut().map_err(|e| sign(e.to_string()))?;
        }
        let mut cur = self
            .current
            .write()
            .map_err(|_| sign("the zone lock is poisoned".into()))?;
        *cur = Arc::new(handler);
        Ok(())
    }

    fn handler(&self) -> Arc<InMemoryZoneHandler> {
        match self.current.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// A catalog holding only this zone, for [`hickory_server::Server`].
    pub fn catalog(self: &Arc<Self>) -> Catalog {
        let mut c = Catalog::new();
        c.upsert(
            self.lower.clone(),
            vec![Arc::new(Live(self.clone())) as Arc<dyn ZoneHandler>],
        );
        c
    }
}

/// The zone handler the catalog holds: it answers from whatever signed zone
/// is current.
struct Live(Arc<AnkZone>);

#[async_trait::async_trait]
impl ZoneHandler for Live {
    fn zone_type(&self) -> ZoneType {
        ZoneType::Primary
    }

    fn axfr_policy(&self) -> AxfrPolicy {
        AxfrPolicy::Deny
    }

    fn origin(&self) -> &LowerName {
        &self.0.lower
    }

    async fn lookup(
        &self,
        name: &LowerName,
        rtype: RecordType,
        request_info: Option<&RequestInfo<'_>>,
        lookup_options: LookupOptions,
    ) -> LookupControlFlow<AuthLookup> {
        let h = self.0.handler();
        h.lookup(name, rtype, request_info, lookup_options).await
    }

    async fn search(
        &self,
        request: &Request,
        lookup_options: LookupOptions,
    ) -> (LookupControlFlow<AuthLookup>, Option<TSigResponseContext>) {
        let h = self.0.handler();
        h.search(request, lookup_options).await
    }

    async fn nsec_records(
        &self,
        name: &LowerName,
        lookup_options: LookupOptions,
    ) -> LookupControlFlow<AuthLookup> {
        let h = self.0.handler();
        h.nsec_records(name, lookup_options).await
    }

    async fn nsec3_records(
        &self,
        info: Nsec3QueryInfo<'_>,
        lookup_options: LookupOptions,
    ) -> LookupControlFlow<AuthLookup> {
        let h = self.0.handler();
        h.nsec3_records(info, lookup_options).await
    }

    fn nx_proof_kind(&self) -> Option<&NxProofKind> {
        self.0.nx.as_ref()
    }
}

/// A running server for a zone; dropping it stops it.
pub struct ZoneServer {
    /// The address answering over UDP and TCP.
    pub addr: std::net::SocketAddr,
    _server: hickory_server::Server<Catalog>,
}

impl std::fmt::Debug for ZoneServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ZoneServer({})", self.addr)
    }
}

/// Binds UDP and then TCP on the same address (port 0 picks one free for
/// UDP) and serves `zone` there. Needs a Tokio runtime.
///
/// # Errors
/// I/O errors binding.
pub fn start(zone: &Arc<AnkZone>, addr: std::net::SocketAddr) -> std::io::Result<ZoneServer> {
    let (udp, tcp) = bind_both(addr)?;
    Ok(ZoneServer {
        addr: udp.local_addr()?,
        _server: serve(zone, udp, tcp)?,
    })
}

/// UDP and TCP sockets on one port. With port 0 the system picks the UDP
/// port, which another program may hold for TCP: then another is picked.
fn bind_both(
    addr: std::net::SocketAddr,
) -> std::io::Result<(std::net::UdpSocket, std::net::TcpListener)> {
    let mut tries = 0;
    loop {
        let udp = std::net::UdpSocket::bind(addr)?;
        match std::net::TcpListener::bind(udp.local_addr()?) {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(e)
                if addr.port() == 0 && e.kind() == std::io::ErrorKind::AddrInUse && tries < 100 =>
            {
                tries += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Serves `zone` over UDP and TCP on sockets already bound (non-blocking
/// std sockets are made so here). TCP connections idle for 10 s are closed.
///
/// # Errors
/// I/O errors converting the sockets.
pub fn serve(
    zone: &Arc<AnkZone>,
    udp: std::net::UdpSocket,
    tcp: std::net::TcpListener,
) -> std::io::Result<hickory_server::Server<Catalog>> {
    udp.set_nonblocking(true)?;
    tcp.set_nonblocking(true)?;
    let mut server = hickory_server::Server::new(zone.catalog());
    server.register_socket(tokio::net::UdpSocket::from_std(udp)?);
    server.register_listener(
        tokio::net::TcpListener::from_std(tcp)?,
        Duration::from_secs(10),
        64 * 1024,
    );
    Ok(server)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_tag_and_ds_match_rfc4034_example_shape() {
        // RFC 8080 section 6.1 example: the Ed25519 DNSKEY of example.com
        // and its DS (key tag 3613, SHA-256 digest).
        let public = B64
            .decode("l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4=")
            .unwrap_or_default();
        let mut rdata = vec![1, 1, 3, 15];
        rdata.extend_from_slice(&public);
        assert_eq!(key_tag(&rdata), 3613);
        assert_eq!(
            hex::encode_upper(ds_digest("example.com", &rdata).unwrap_or_default()),
            "3AA5AB37EFCE57F737FC1627013FEE07BDF241BD10F3B1964AB55C78E79A304B"
        );
    }

    #[test]
    fn names_are_checked() {
        assert!(matches!(wire_name("a..b"), Err(ZoneError::Name(_))));
        assert!(matches!(
            wire_name(&"x".repeat(64)),
            Err(ZoneError::Name(_))
        ));
    }
}
