//! TLS for every ank client: TLS 1.3 only, and, when the trust file gives
//! one, a pin: the SHA-256 of the server certificate's SubjectPublicKeyInfo
//! (DANE-EE `3 1 1` semantics, RFC 7671: the key is what is trusted, so no
//! CA chain and no name match are needed). Without a pin the system's roots
//! are used, as WebPKI.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::{DigitallySignedStruct, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

/// Checks a server's key by the SHA-256 of its SubjectPublicKeyInfo: only
/// the pinned one when there is a pin, any when recording for [`probe`]
/// (nothing read over such a connection is trusted). The handshake's
/// signature is always verified.
#[derive(Debug)]
struct KeyVerifier {
    pin: Option<[u8; 32]>,
    seen: std::sync::Mutex<Option<[u8; 32]>>,
    provider: Arc<CryptoProvider>,
}

impl KeyVerifier {
    fn new(pin: Option<[u8; 32]>, provider: &Arc<CryptoProvider>) -> KeyVerifier {
        KeyVerifier {
            pin,
            seen: std::sync::Mutex::new(None),
            provider: Arc::clone(provider),
        }
    }
}

impl ServerCertVerifier for KeyVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let spki = webpki::EndEntityCert::try_from(end_entity)
            .map_err(|_| rustls::Error::InvalidCertificate(rustls::CertificateError::BadEncoding))?
            .subject_public_key_info();
        let digest = ank_proofs::hash::sha256(spki.as_ref()).0;
        if let Ok(mut g) = self.seen.lock() {
            *g = Some(digest);
        }
        if self.pin.is_some_and(|p| p != digest) {
            return Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ));
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        // Only a probe offers TLS 1.2; ank's clients never do.
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A rustls client configuration: TLS 1.3 only, aws-lc-rs, trusting only
/// the key pinned, with ALPN h2 and http/1.1 (reqwest needs ALPN set on a
/// configuration it did not make).
///
/// # Errors
/// When the provider refuses TLS 1.3 (it does not).
pub fn pinned_config(pin: [u8; 32]) -> Result<rustls::ClientConfig, rustls::Error> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut cfg = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(KeyVerifier::new(Some(pin), &provider)))
        .with_no_client_auth();
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(cfg)
}

/// What a TLS handshake with a server showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// The SHA-256 of the certificate's SubjectPublicKeyInfo.
    pub spki_sha256: [u8; 32],
    /// The ALPN protocol agreed, if any.
    pub alpn: Option<String>,
}

/// Shakes hands with `host:port` offering only TLS 1.3 (`tls13`) or only
/// TLS 1.2, whatever its certificate: for `ank doctor`.
///
/// # Errors
/// A text saying why the connection or the handshake failed.
pub async fn probe(host: &str, port: u16, tls13: bool) -> Result<Probe, String> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let version: &'static rustls::SupportedProtocolVersion = if tls13 {
        &rustls::version::TLS13
    } else {
        &rustls::version::TLS12
    };
    let verifier = Arc::new(KeyVerifier::new(None, &provider));
    let mut cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[version])
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::clone(&verifier) as Arc<dyn ServerCertVerifier>)
        .with_no_client_auth();
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let name = ServerName::try_from(host.to_owned()).map_err(|e| format!("{host:?}: {e}"))?;
    let tcp = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        tokio::net::TcpStream::connect((host, port)),
    )
    .await
    .map_err(|_| format!("{host}:{port}: connecting timed out"))?
    .map_err(|e| format!("{host}:{port}: {e}"))?;
    let tls = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        tokio_rustls::TlsConnector::from(Arc::new(cfg)).connect(name, tcp),
    )
    .await
    .map_err(|_| format!("{host}:{port}: the handshake timed out"))?
    .map_err(|e| e.to_string())?;
    let alpn = tls
        .get_ref()
        .1
        .alpn_protocol()
        .map(|p| String::from_utf8_lossy(p).into_owned());
    let spki_sha256 = verifier
        .seen
        .lock()
        .ok()
        .and_then(|g| *g)
        .ok_or("the server sent no certificate")?;
    Ok(Probe { spki_sha256, alpn })
}
