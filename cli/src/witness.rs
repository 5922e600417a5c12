//! `ank witness`: a C2SP tlog-witness for the logs it is given.

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context as _, Result, bail};
use clap::{Args, Subcommand};

use ank_auditor::witness::{Witness, WitnessDir};

#[derive(Subcommand, Debug)]
pub enum WitnessCmd {
    /// Serve `POST /add-checkpoint` (C2SP tlog-witness v1.0.0), cosigning
    /// each checkpoint consistent with the last one cosigned for its log.
    Serve(WitnessServe),
    /// Print the witness's verifier key (cosignature/v1, type 0x04).
    Vkey {
        /// The witness's data directory.
        #[arg(long)]
        data: PathBuf,
        /// Print its ML-DSA-44 key (type 0x06) instead.
        #[arg(long)]
        mldsa: bool,
    },
}

#[derive(Args, Debug)]
pub struct WitnessServe {
    /// Data directory: the witness key (`witness.key`, made on first start)
    /// and the last cosigned checkpoint of each log (`witness.sqlite`).
    #[arg(long)]
    data: PathBuf,
    /// The witness's name (its key's name), required on first start.
    #[arg(long)]
    name: Option<String>,
    /// Address to listen on (loopback only until TLS arrives).
    #[arg(long, default_value = "127.0.0.1:7380")]
    listen: std::net::SocketAddr,
    /// The verifier key of a log to witness (its name is the log's origin); repeatable.
    #[arg(long = "log", required = true)]
    logs: Vec<String>,
}

pub fn run(c: WitnessCmd) -> Result<()> {
    match c {
        WitnessCmd::Vkey { data, mldsa } => {
            let dir = WitnessDir(data.clone());
            let key = dir
                .read_key()
                .with_context(|| format!("{} holds no witness key", data.display()))?;
            if mldsa {
                println!("{}", dir.mldsa(key.name())?.vkey());
            } else {
                println!("{}", key.verifier().to_text());
            }
            Ok(())
        }
        WitnessCmd::Serve(a) => serve(a),
    }
}

/// A witness's data directory, its key (made, named `name`, on first
/// use) and its lock, held while `who` runs.
pub(crate) fn open_dir(
    data: &std::path::Path,
    name: Option<&str>,
    who: &str,
) -> Result<(WitnessDir, ank_proofs::SignerKey, std::fs::File)> {
    let dir = WitnessDir(data.to_owned());
    let key = dir.key_or_create(name)?;
    let lock_path = data.join("lock");
    ank_common::fs::ensure_private_file(&lock_path)
        .with_context(|| format!("creating {}", lock_path.display()))?;
    let lock = std::fs::File::options().write(true).open(&lock_path)?;
    if lock.try_lock().is_err() {
        bail!(
            "{} is in use by another {who} (its lock file is held); stop that one first",
            data.display()
        );
    }
    Ok((dir, key, lock))
}

/// Plain HTTP only on loopback until TLS arrives.
pub(crate) fn loopback_only(listen: &std::net::SocketAddr) -> Result<()> {
    if !listen.ip().is_loopback() {
        bail!(
            "plain HTTP is only served on loopback until TLS arrives; use --listen 127.0.0.1:PORT"
        );
    }
    Ok(())
}

fn serve(a: WitnessServe) -> Result<()> {
    loopback_only(&a.listen)?;
    let logs = a
        .logs
        .iter()
        .map(|v| crate::vkey_arg(v))
        .collect::<Result<Vec<_>>>()?;
    let (dir, key, lock) = open_dir(&a.data, a.name.as_deref(), "ank witness")?;
    let mldsa = dir.mldsa(key.name())?;
    let witness: Arc<Witness> = Witness::open_checked(key, Some(mldsa), &logs, &dir.db(), None)?;
    let nofile = ank_log_server::conn::raise_nofile_limit();
    let rt = crate::runtime()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(a.listen)
            .await
            .with_context(|| format!("listening on {}", a.listen))?;
        let addr = listener.local_addr()?;
        {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "ank witness {}", witness.vkey().name());
            let _ = writeln!(out, "  vkey: {}", witness.vkey().to_text());
            if let Some(m) = witness.mldsa_vkey() {
                let _ = writeln!(out, "  ml-dsa-44: {}", m);
            }
            let _ = writeln!(out, "  url:  http://{addr}/");
            let _ = writeln!(out, "  logs: {}", logs.len());
            let _ = out.flush();
        }
        let limits = ank_log_server::conn::Limits {
            max_connections: usize::try_from(nofile.saturating_sub(64))
                .unwrap_or(usize::MAX)
                .clamp(1, 4096),
            ..Default::default()
        };
        ank_log_server::conn::serve(
            listener,
            ank_auditor::witness_router(witness),
            limits,
            crate::operator::shutdown_signal(),
        )
        .await?;
        drop(lock);
        Ok(())
    })
}
