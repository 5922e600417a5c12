//! The client side: running one Bangmail command on a domain's SSH door.
//!
//! The server's host key is checked before anything else is sent: its
//! SHA-256 digest (SSHFP `4 2`) must be the one the domain publishes (in DNS
//! under DNSSEC, or in the trust file). A mismatch ends the connection
//! before authentication ([`SshError::HostKey`]); there is no "accept new
//! key" path.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use russh::client::{self, Handle};
use russh::keys::PrivateKeyWithHashAlg;
use russh::keys::PublicKeyOrCertificate;
use russh::{ChannelMsg, Disconnect};

/// Why a command could not be run.
#[derive(Debug, thiserror::Error)]
pub enum SshError {
    /// The connection or the SSH handshake.
    #[error("{addr}: {reason}")]
    Connect {
        /// Where.
        addr: String,
        /// What failed.
        reason: String,
    },
    /// The server's host key is not the published one.
    #[error(
        "{addr}: the server's host key {got} is not the one the domain publishes ({expected}); refused before authenticating"
    )]
    HostKey {
        /// Where.
        addr: String,
        /// The published SHA-256 digest, hex.
        expected: String,
        /// The served key's digest, hex.
        got: String,
    },
    /// Authentication was refused.
    #[error("{addr}: authentication as {user} refused")]
    Auth {
        /// Where.
        addr: String,
        /// As whom.
        user: String,
    },
    /// The channel or the command.
    #[error("{addr}: {reason}")]
    Channel {
        /// Where.
        addr: String,
        /// What failed.
        reason: String,
    },
}

/// Most bytes of standard output and error a command may answer with.
pub const MAX_OUTPUT: usize = 1 << 30;

/// Where a door is and which host key it must show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `host:port`.
    pub addr: String,
    /// SHA-256 of the host key's wire form (SSHFP `4 2`).
    pub host_key_sha256: [u8; 32],
}

/// What a command printed, and how it ended.
#[derive(Debug, Clone, Default)]
pub struct Output {
    /// Its exit status (`None`: the server sent none).
    pub status: Option<u32>,
    /// Standard output.
    pub stdout: Vec<u8>,
    /// Standard error.
    pub stderr: Vec<u8>,
}

struct Checker {
    expected: [u8; 32],
    seen: Arc<Mutex<Option<[u8; 32]>>>,
}

impl client::Handler for Checker {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let PublicKeyOrCertificate::PublicKey { key, .. } = key else {
            return Ok(false);
        };
        let got = crate::keys::host_digest(key);
        if let Ok(mut g) = self.seen.lock() {
            *g = Some(got);
        }
        Ok(got == self.expected)
    }
}

/// Connects to `endpoint` and checks its host key: the session, not yet
/// authenticated.
async fn connect(endpoint: &Endpoint) -> Result<Handle<Checker>, SshError> {
    let addr = endpoint.addr.clone();
    let connect = |reason: String| SshError::Connect {
        addr: addr.clone(),
        reason,
    };
    let config = Arc::new(client::Config {
        inactivity_timeout: Some(Duration::from_secs(60)),
        nodelay: true,
        ..Default::default()
    });
    let seen = Arc::new(Mutex::new(None));
    let checker = Checker {
        expected: endpoint.host_key_sha256,
        seen: Arc::clone(&seen),
    };
    let session: Result<Handle<Checker>, russh::Error> = tokio::time::timeout(
        Duration::from_secs(10),
        client::connect(config, endpoint.addr.as_str(), checker),
    )
    .await
    .map_err(|_| connect("no SSH handshake within 10 s".into()))?;
    match session {
        Ok(s) => Ok(s),
        Err(e) => {
            if let Some(got) = seen.lock().ok().and_then(|g| *g)
                && got != endpoint.host_key_sha256
            {
                return Err(SshError::HostKey {
                    addr,
                    expected: hex::encode(endpoint.host_key_sha256),
                    got: hex::encode(got),
                });
            }
            Err(connect(e.to_string()))
        }
    }
}

/// Connects to `endpoint`, checks its host key and leaves: what `ank
/// doctor` asks of a door.
///
/// # Errors
/// [`SshError::Connect`] or [`SshError::HostKey`].
pub async fn probe(endpoint: &Endpoint) -> Result<(), SshError> {
    let session = connect(endpoint).await?;
    let _ = session
        .disconnect(Disconnect::ByApplication, "", "en")
        .await;
    Ok(())
}

/// Runs `command` at `endpoint` as `user`: with public-key authentication
/// by the Ed25519 key of `seed` (an ank device key), or anonymously
/// (`none`) without one. `stdin` is sent, then EOF.
///
/// # Errors
/// [`SshError`]: the connection, the host key, authentication, the channel.
pub async fn run(
    endpoint: &Endpoint,
    user: &str,
    seed: Option<&[u8; 32]>,
    command: &str,
    stdin: &[u8],
) -> Result<Output, SshError> {
    let addr = endpoint.addr.clone();
    let connect_err = |reason: String| SshError::Connect {
        addr: addr.clone(),
        reason,
    };
    let mut session = connect(endpoint).await?;
    let auth = |e: russh::Error| connect_err(format!("authenticating: {e}"));
    let ok = match seed {
        Some(seed) => {
            let key = crate::keys::device_private_key(seed, user)
                .map_err(|e| connect_err(e.to_string()))?;
            session
                .authenticate_publickey(user, PrivateKeyWithHashAlg::new(Arc::new(key), None))
                .await
                .map_err(auth)?
                .success()
        }
        None => session
            .authenticate_none(user)
            .await
            .map_err(auth)?
            .success(),
    };
    if !ok {
        return Err(SshError::Auth {
            addr,
            user: user.to_owned(),
        });
    }
    let chan_err = |e: russh::Error| SshError::Channel {
        addr: addr.clone(),
        reason: e.to_string(),
    };
    let mut channel = session.channel_open_session().await.map_err(chan_err)?;
    channel.exec(true, command).await.map_err(chan_err)?;
    // Standard input goes in on its own task, while the answers come back:
    // a long input must not wait for output nobody reads.
    let writer = channel.make_writer();
    let input = stdin.to_vec();
    let feed = tokio::spawn(async move {
        use tokio::io::AsyncWriteExt as _;
        let mut w = writer;
        let r = w.write_all(&input).await;
        let _ = w.shutdown().await;
        r
    });
    let mut out = Output::default();
    while let Some(msg) = channel.wait().await {
        match msg {
            ChannelMsg::Data { data } => out.stdout.extend_from_slice(&data),
            ChannelMsg::ExtendedData { data, ext: 1 } => out.stderr.extend_from_slice(&data),
            ChannelMsg::ExitStatus { exit_status } => out.status = Some(exit_status),
            ChannelMsg::Close => break,
            _ => {}
        }
        if out.stdout.len() + out.stderr.len() > MAX_OUTPUT {
            feed.abort();
            let _ = session
                .disconnect(Disconnect::ByApplication, "", "en")
                .await;
            return Err(SshError::Channel {
                addr,
                reason: format!("the answer is over {MAX_OUTPUT} bytes"),
            });
        }
    }
    // The channel is over: input it did not take can go nowhere now (a
    // writer still waiting for window would wait for ever).
    feed.abort();
    let _ = session
        .disconnect(Disconnect::ByApplication, "", "en")
        .await;
    Ok(out)
}
