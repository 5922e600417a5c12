//! TLS 1.3 for `ank serve`: rustls with aws-lc-rs only, X25519MLKEM768
//! preferred, ALPN `h2` and `http/1.1`.
//!
//! The certificate and key are PEM files (`--tls-cert`, `--tls-key`), or a
//! self-signed pair made once and kept in the data directory (`tls.crt`,
//! `tls.key`, 0600), whose public key stays the same across restarts so
//! that a DANE-EE pin of it stays valid. [`Reloadable::reload`] (on
//! SIGHUP) reads the files again: new handshakes use the new certificate,
//! open connections keep theirs.
//!
//! [`Reloadable::spki_sha256`] is the SHA-256 of the certificate's
//! SubjectPublicKeyInfo: the DANE-EE `3 1 1` data, base64.
//!
//! # Errors
//!
//! [`TlsError`]: a file that cannot be read, holds no certificate or no
//! key, or a key that is not the certificate's.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: {what}")]
    File { path: String, what: String },
    #[error("the key in {key} is not the key of the certificate in {cert}: {what}")]
    Mismatch {
        cert: String,
        key: String,
        what: String,
    },
}

/// Where the certificate chain and its key are.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl TlsFiles {
    /// The self-signed pair of a data directory, made (for `names`) on
    /// first use and kept.
    ///
    /// # Errors
    /// [`TlsError::File`] when it cannot be made or written.
    pub fn self_signed(dir: &Path, names: &[String]) -> Result<TlsFiles, TlsError> {
        let files = TlsFiles {
            cert: dir.join("tls.crt"),
            key: dir.join("tls.key"),
        };
        if files.cert.exists() && files.key.exists() {
            return Ok(files);
        }
        let bad = |what: String| TlsError::File {
            path: dir.display().to_string(),
            what,
        };
        let made = rcgen::generate_simple_self_signed(names.to_vec())
            .map_err(|e| bad(format!("making a self-signed certificate: {e}")))?;
        // The key first: a certificate without its key is never left behind.
        ank_common::fs::write_private(&files.key, made.signing_key.serialize_pem().as_bytes())
            .map_err(|e| bad(e.to_string()))?;
        ank_common::fs::write_private(&files.cert, made.cert.pem().as_bytes())
            .map_err(|e| bad(e.to_string()))?;
        Ok(files)
    }

    fn load(&self) -> Result<(Arc<CertifiedKey>, [u8; 32]), TlsError> {
        let bad = |p: &Path, what: String| TlsError::File {
            path: p.display().to_string(),
            what,
        };
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&self.cert)
            .map_err(|e| bad(&self.cert, e.to_string()))?
            .collect::<Result<_, _>>()
            .map_err(|e| bad(&self.cert, e.to_string()))?;
        let first = certs
            .first()
            .ok_or_else(|| bad(&self.cert, "no certificate".into()))?;
        let spki = webpki::EndEntityCert::try_from(first)
            .map_err(|e| bad(&self.cert, format!("not a certificate: {e}")))?
            .subject_public_key_info();
        let digest = ank_proofs::hash::sha256(spki.as_ref()).0;
        let key =
            PrivateKeyDer::from_pem_file(&self.key).map_err(|e| bad(&self.key, e.to_string()))?;
        let provider = rustls::crypto::aws_lc_rs::default_provider();
        let ck = CertifiedKey::from_der(certs, key, &provider).map_err(|e| TlsError::Mismatch {
            cert: self.cert.display().to_string(),
            key: self.key.display().to_string(),
            what: e.to_string(),
        })?;
        Ok((Arc::new(ck), digest))
    }
}

/// The served certificate, replaced on [`Reloadable::reload`].
#[derive(Debug)]
pub struct Reloadable {
    files: TlsFiles,
    current: RwLock<(Arc<CertifiedKey>, [u8; 32])>,
}

impl Reloadable {
    /// Loads `files`.
    ///
    /// # Errors
    /// [`TlsError`].
    pub fn load(files: TlsFiles) -> Result<Arc<Reloadable>, TlsError> {
        let current = files.load()?;
        Ok(Arc::new(Reloadable {
            files,
            current: RwLock::new(current),
        }))
    }

    /// Reads the files again; on an error the served certificate stays.
    ///
    /// # Errors
    /// [`TlsError`].
    pub fn reload(&self) -> Result<(), TlsError> {
        let next = self.files.load()?;
        match self.current.write() {
            Ok(mut g) => *g = next,
            Err(p) => *p.into_inner() = next,
        }
        Ok(())
    }

    /// SHA-256 of the served certificate's SubjectPublicKeyInfo, base64.
    pub fn spki_sha256(&self) -> String {
        let d = match self.current.read() {
            Ok(g) => g.1,
            Err(p) => p.into_inner().1,
        };
        ank_proofs::Hash(d).to_base64()
    }

    /// The rustls server configuration: TLS 1.3 only, aws-lc-rs, ALPN h2
    /// then http/1.1, this certificate.
    ///
    /// # Errors
    /// When the provider refuses TLS 1.3 (it does not).
    pub fn server_config(self: &Arc<Self>) -> Result<Arc<rustls::ServerConfig>, rustls::Error> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .with_no_client_auth()
            .with_cert_resolver(Arc::clone(self) as Arc<dyn ResolvesServerCert>);
        cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(cfg))
    }
}

impl ResolvesServerCert for Reloadable {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(match self.current.read() {
            Ok(g) => Arc::clone(&g.0),
            Err(p) => Arc::clone(&p.into_inner().0),
        })
    }
}
