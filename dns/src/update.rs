//! Keeping `_ank.<domain>` at another primary fresh: RFC 2136 dynamic
//! updates signed with TSIG (RFC 8945), for operators who keep their DNS
//! provider. The primary signs the zone (DNSSEC); ank only replaces its two
//! TXT records.
//!
//! One update message replaces both RRsets: it deletes the TXT set at
//! `_ank.<domain>` and at `checkpoint._ank.<domain>` and adds the new records,
//! which the primary applies atomically. It goes over TCP (the checkpoint
//! may not fit a UDP datagram), and the answer must carry a valid TSIG of the
//! same key and say NOERROR.
//!
//! # Key files
//!
//! BIND's format, as `tsig-keygen NAME` prints it:
//!
//! ```text
//! key "NAME" {
//!     algorithm hmac-sha256;
//!     secret "<base64>";
//! };
//! ```
//!
//! `hmac-sha256`, `hmac-sha384` and `hmac-sha512` are accepted.

use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use hickory_server::proto::op::{Message, OpCode, Query, ResponseCode, UpdateMessage as _};
use hickory_server::proto::rr::rdata::tsig::TsigAlgorithm;
use hickory_server::proto::rr::rdata::{SSHFP, TXT, sshfp};
use hickory_server::proto::rr::{DNSClass, Name, RData, Record, RecordType, TSigner};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::records::split_strings;
use crate::zone::ZoneContent;

/// Why an update failed.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    /// The key file.
    #[error("TSIG key {path}: {reason}")]
    Key {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// Building or signing the message.
    #[error("building the update: {0}")]
    Build(String),
    /// The connection.
    #[error("{server}: {reason}")]
    Io {
        /// The primary.
        server: SocketAddr,
        /// What failed.
        reason: String,
    },
    /// The answer's TSIG does not verify.
    #[error("{server}: the answer's TSIG does not verify: {reason}")]
    Signature {
        /// The primary.
        server: SocketAddr,
        /// What the verifier said.
        reason: String,
    },
    /// The primary refused (NOTAUTH for a key it does not accept, REFUSED…).
    #[error("{server} refused the update: {code}")]
    Refused {
        /// The primary.
        server: SocketAddr,
        /// Its response code.
        code: String,
    },
}

/// A TSIG key.
#[derive(Clone)]
pub struct TsigKey {
    name: Name,
    algorithm: TsigAlgorithm,
    secret: Vec<u8>,
}

impl std::fmt::Debug for TsigKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TsigKey({}, {:?})", self.name, self.algorithm)
    }
}

impl TsigKey {
    /// Reads a key file in BIND's format.
    ///
    /// # Errors
    /// [`UpdateError::Key`].
    pub fn read(path: &std::path::Path) -> Result<TsigKey, UpdateError> {
        let text = std::fs::read_to_string(path).map_err(|e| UpdateError::Key {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        TsigKey::parse(&text).map_err(|reason| UpdateError::Key {
            path: path.display().to_string(),
            reason,
        })
    }

    /// Parses `key "NAME" { algorithm ALG; secret "B64"; };`.
    ///
    /// # Errors
    /// A text naming what is missing or wrong.
    pub fn parse(text: &str) -> Result<TsigKey, String> {
        let text: String = text
            .lines()
            .map(|l| {
                l.split("//")
                    .next()
                    .unwrap_or("")
                    .split('#')
                    .next()
                    .unwrap_or("")
            })
            .collect::<Vec<_>>()
            .join(" ");
        let rest = text
            .trim()
            .strip_prefix("key")
            .ok_or("the file does not start with `key`")?;
        let (name, body) = rest.split_once('{').ok_or("no `{` after the key name")?;
        let name = name.trim().trim_matches('"');
        let name = Name::from_ascii(name).map_err(|e| format!("key name {name:?}: {e}"))?;
        let body = body.split('}').next().unwrap_or("");
        let (mut algorithm, mut secret) = (None, None);
        for stmt in body.split(';').map(str::trim).filter(|s| !s.is_empty()) {
            match stmt.split_once(char::is_whitespace) {
                Some(("algorithm", a)) => {
                    algorithm = Some(
                        match a.trim().trim_matches('"').to_ascii_lowercase().as_str() {
                            "hmac-sha256" => TsigAlgorithm::HmacSha256,
                            "hmac-sha384" => TsigAlgorithm::HmacSha384,
                            "hmac-sha512" => TsigAlgorithm::HmacSha512,
                            other => {
                                return Err(format!(
                                    "algorithm {other:?} is not hmac-sha256, -sha384 or -sha512"
                                ));
                            }
                        },
                    )
                }
                Some(("secret", s)) => {
                    secret = Some(
                        B64.decode(s.trim().trim_matches('"'))
                            .map_err(|_| "the secret is not base64".to_owned())?,
                    )
                }
                _ => return Err(format!("unknown statement {stmt:?}")),
            }
        }
        let secret = secret.ok_or("no secret")?;
        if secret.len() < 16 {
            return Err("the secret is shorter than 16 bytes".into());
        }
        Ok(TsigKey {
            name,
            algorithm: algorithm.ok_or("no algorithm")?,
            secret,
        })
    }

    fn signer(&self) -> Result<TSigner, UpdateError> {
        TSigner::new(
            self.secret.clone(),
            self.algorithm.clone(),
            self.name.clone(),
            300,
        )
        .map_err(|e| UpdateError::Build(e.to_string()))
    }
}

/// The update message replacing the zone's two TXT sets with `content`.
fn message(domain: &str, content: &ZoneContent, ttl: u32) -> Result<Message, UpdateError> {
    let bad = |e: String| UpdateError::Build(e);
    let origin =
        Name::from_ascii(crate::records::ank_name(domain)).map_err(|e| bad(e.to_string()))?;
    let cp_name = Name::from_ascii(crate::records::checkpoint_name(domain))
        .map_err(|e| bad(e.to_string()))?;
    let mut m = Message::query();
    m.metadata.op_code = OpCode::Update;
    m.metadata.recursion_desired = false;
    let mut zone = Query::new();
    zone.set_name(origin.clone())
        .set_query_class(DNSClass::IN)
        .set_query_type(RecordType::SOA);
    m.add_zone(zone);
    let mut replace = |name: &Name, data: Option<&[u8]>| {
        // RFC 2136 2.5.2: delete an RRset (class ANY, TTL 0, no RDATA).
        let mut delete = Record::update0(name.clone(), 0, RecordType::TXT).into_record_of_rdata();
        delete.dns_class = DNSClass::ANY;
        m.add_update(delete);
        if let Some(d) = data {
            m.add_update(Record::from_rdata(
                name.clone(),
                ttl,
                RData::TXT(TXT::from_bytes(split_strings(d))),
            ));
        }
    };
    replace(&origin, Some(content.record.to_txt().as_bytes()));
    replace(&cp_name, content.checkpoint.as_deref());
    if let Some(fp) = content.sshfp {
        let mut delete =
            Record::update0(origin.clone(), 0, RecordType::SSHFP).into_record_of_rdata();
        delete.dns_class = DNSClass::ANY;
        m.add_update(delete);
        m.add_update(Record::from_rdata(
            origin.clone(),
            ttl,
            RData::SSHFP(SSHFP::new(
                sshfp::Algorithm::Ed25519,
                sshfp::FingerprintType::SHA256,
                fp.to_vec(),
            )),
        ));
    }
    Ok(m)
}

/// Sends `content` for `domain` to the primary `server`, signed with `key`,
/// and checks its signed answer.
///
/// # Errors
/// [`UpdateError`].
pub async fn push(
    server: SocketAddr,
    key: &TsigKey,
    domain: &str,
    content: &ZoneContent,
    ttl: u32,
) -> Result<(), UpdateError> {
    let io = |reason: String| UpdateError::Io { server, reason };
    let mut m = message(domain, content, ttl)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|e| UpdateError::Build(e.to_string()))?
        .as_secs();
    let mut verifier = m
        .finalize(&key.signer()?, now)
        .map_err(|e| UpdateError::Build(e.to_string()))?
        .ok_or_else(|| UpdateError::Build("no TSIG verifier".into()))?;
    let bytes = m.to_vec().map_err(|e| UpdateError::Build(e.to_string()))?;
    let len = u16::try_from(bytes.len())
        .map_err(|_| UpdateError::Build(format!("the update is {} bytes", bytes.len())))?;
    let exchange = async {
        let mut tcp = tokio::net::TcpStream::connect(server).await?;
        let mut out = Vec::with_capacity(bytes.len() + 2);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&bytes);
        tcp.write_all(&out).await?;
        let n = tcp.read_u16().await?;
        let mut answer = vec![0; usize::from(n)];
        tcp.read_exact(&mut answer).await?;
        std::io::Result::Ok(answer)
    };
    let answer = tokio::time::timeout(Duration::from_secs(10), exchange)
        .await
        .map_err(|_| io("no answer within 10 s".into()))?
        .map_err(|e| io(e.to_string()))?;
    // An answer without a TSIG (a server that does not know the key says
    // NOTAUTH unsigned) has nothing to verify: report its code.
    // A primary that does not accept the key answers unsigned, or with a
    // TSIG that carries an error and no MAC (RFC 8945 5.3.2): report its
    // code; there is nothing to verify.
    let unsigned =
        Message::from_vec(&answer).map_err(|e| io(format!("a malformed answer: {e}")))?;
    let code = unsigned.metadata.response_code;
    match unsigned.signature() {
        None => {
            return Err(UpdateError::Refused {
                server,
                code: format!("{code} (an unsigned answer)"),
            });
        }
        Some(t) if t.data.error.is_some() || t.data.mac.is_empty() => {
            return Err(UpdateError::Refused {
                server,
                code: format!("{code}, TSIG error {:?}", t.data.error),
            });
        }
        Some(_) => {}
    }
    let verified = verifier
        .verify(&answer)
        .map_err(|e| UpdateError::Signature {
            server,
            reason: e.to_string(),
        })?;
    if verified.metadata.response_code != ResponseCode::NoError {
        return Err(UpdateError::Refused {
            server,
            code: verified.metadata.response_code.to_string(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_files_parse() {
        let k = TsigKey::parse(
            "key \"ank-update\" {\n\talgorithm hmac-sha256;\n\tsecret \"c2VjcmV0IHNlY3JldCBzZWNyZXQgc2VjcmV0IQ==\";\n};\n",
        );
        assert!(k.is_ok(), "{k:?}");
        assert!(
            TsigKey::parse(
                "key \"k\" { algorithm hmac-md5; secret \"c2VjcmV0IHNlY3JldCBzZWNyZXQ=\"; };"
            )
            .is_err_and(|e| e.contains("hmac-md5"))
        );
        assert!(
            TsigKey::parse("key \"k\" { algorithm hmac-sha256; secret \"c2hvcnQ=\"; };")
                .is_err_and(|e| e.contains("shorter"))
        );
        assert!(
            TsigKey::parse("key \"k\" { algorithm hmac-sha256; };")
                .is_err_and(|e| e == "no secret")
        );
        assert!(TsigKey::parse("zone x {}").is_err_and(|e| e.contains("key")));
    }
}
