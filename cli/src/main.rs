//! `ank`: key-transparent mail. One binary; every role is a subcommand.

use std::io::{IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;

use ank_proofs::{Hash, Policy, TlogProof, VerifierKey, verify_consistency, verify_inclusion};
use anyhow::{Context as _, Result, bail};
use clap::{Args, Parser, Subcommand};

mod audit;
mod dns;
mod doctor;
mod mail;
mod monitor;
mod operator;
mod user;
mod witness;

#[derive(Parser, Debug)]
#[command(
    name = "ank",
    version,
    about = "Key-transparent mail: verifiable key logs, verified delivery"
)]
struct Cli {
    /// Resolve DNS through this server (IP:PORT) instead of the system's
    /// resolvers; ZONE=IP:PORT sends names at or under ZONE to that server
    /// (a stub zone). Repeatable; also $ANK_DNS_SERVER, comma-separated.
    #[arg(long, global = true, value_name = "[ZONE=]IP:PORT")]
    dns_server: Vec<String>,
    /// DNSSEC trust anchors, DS or DNSKEY records as `ank dns ds` prints
    /// them, instead of the IANA root keys (also $ANK_TRUST_ANCHOR).
    #[arg(long, global = true, value_name = "FILE")]
    trust_anchor: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

static DNS: std::sync::OnceLock<ank_client::discovery::ResolverSettings> =
    std::sync::OnceLock::new();

/// Where DNS discovery resolves from and what it trusts.
pub(crate) fn dns_settings() -> ank_client::discovery::ResolverSettings {
    DNS.get().cloned().unwrap_or_default()
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a domain's log and its mailbox on an embedded sqlite.
    Serve(Box<operator::Serve>),
    /// Operator commands on a log's data directory.
    #[command(subcommand)]
    Log(operator::LogCmd),
    /// This device's keys in other forms.
    #[command(subcommand)]
    Key(KeyCmd),
    /// Check a domain: its `_ank` records, DNSSEC, TLS 1.3, the pin, the
    /// checkpoints in DNS and at the log, witnesses, the mailbox.
    Doctor(doctor::Doctor),
    /// DNS: the records of `_ank.DOMAIN` and the DS for its parent zone.
    #[command(subcommand)]
    Dns(dns::DnsCmd),
    /// A C2SP tlog-witness: cosigns checkpoints consistent with what it saw.
    #[command(subcommand)]
    Witness(witness::WitnessCmd),
    /// Watch your addresses in their logs: every key change, and an alert
    /// (exit 2) for any you did not make.
    Monitor(monitor::Monitor),
    /// An auditor: replays logs, cosigns only what it verified, gossips.
    #[command(subcommand)]
    Audit(audit::AuditCmd),
    /// Create this device's keys for an address (under $ANK_HOME).
    Init {
        address: String,
        /// Device name (default: the host name).
        #[arg(long)]
        device: Option<String>,
    },
    /// Publish this device's keys as an address's first binding.
    Register {
        address: String,
        /// The operator's enrollment token (`ank log enroll`).
        #[arg(long, allow_hyphen_values = true)]
        token: String,
        #[command(flatten)]
        log: user::LogFlags,
    },
    /// Replace this device's keys, signed by its current key.
    Rotate {
        address: String,
        /// How long the replaced secret keys are kept, so that mail sealed
        /// to them still opens.
        #[arg(long, default_value = "30d", value_parser = operator::parse_duration)]
        keep_old: std::time::Duration,
        #[command(flatten)]
        log: user::LogFlags,
    },
    /// Remove every key of an address, signed by this device's current key.
    Revoke {
        address: String,
        #[command(flatten)]
        log: user::LogFlags,
    },
    /// Look an address up and verify the answer before printing it.
    Lookup {
        address: String,
        #[command(flatten)]
        log: user::LogFlags,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Send a plain-text message, sealed to the recipient's current keys as its log proves them.
    Send {
        to: String,
        /// The sending address (default: the only one this device has keys for).
        #[arg(long)]
        from: Option<String>,
        #[arg(long, default_value = "")]
        subject: String,
        /// The body (default: read from stdin).
        #[arg(long)]
        body: Option<String>,
        /// Through the HTTPS mailbox or the domain's SSH door.
        #[arg(long, value_enum, default_value_t)]
        via: mail::Via,
        #[command(flatten)]
        log: user::LogFlags,
    },
    /// Fetch, verify, decrypt, store under $ANK_HOME/mail and acknowledge this device's mail.
    Fetch {
        address: Option<String>,
        /// Print JSON lines.
        #[arg(long)]
        json: bool,
        /// Through the HTTPS mailbox or the domain's SSH door (with this
        /// device's key as the SSH key).
        #[arg(long, value_enum, default_value_t)]
        via: mail::Via,
        #[command(flatten)]
        log: user::LogFlags,
    },
    /// Manage the logs this user trusts ($ANK_HOME/trust).
    #[command(subcommand)]
    Trust(user::TrustCmd),
    /// Check outside data (proofs, notes, checkpoints, whole tiled logs) with ank's verifier.
    #[command(subcommand)]
    Verify(Verify),
}

#[derive(Subcommand, Debug)]
enum Verify {
    /// An RFC 9162 inclusion proof.
    Inclusion {
        #[arg(long, value_name = "B64")]
        leaf_hash: String,
        #[arg(long)]
        index: u64,
        #[arg(long)]
        size: u64,
        #[arg(long, value_name = "B64")]
        root: String,
        /// Proof hashes, leaf level first; repeat the flag.
        #[arg(long, value_name = "B64")]
        proof: Vec<String>,
    },
    /// An RFC 9162 consistency proof.
    Consistency {
        #[arg(long)]
        size1: u64,
        #[arg(long)]
        size2: u64,
        #[arg(long, value_name = "B64")]
        root1: String,
        #[arg(long, value_name = "B64")]
        root2: String,
        #[arg(long, value_name = "B64")]
        proof: Vec<String>,
    },
    /// A C2SP signed note; prints the verified text.
    Note {
        #[arg(long = "vkey", required = true)]
        vkeys: Vec<String>,
        file: PathBuf,
    },
    /// A signed C2SP checkpoint, optionally with a witness quorum or a tlog-policy.
    Checkpoint {
        #[command(flatten)]
        trust: Trust,
        /// The expected origin, for logs whose origin is not their key name
        /// (default: the key name, as C2SP logs do).
        #[arg(long)]
        origin: Option<String>,
        file: PathBuf,
    },
    /// A C2SP tlog-proof bundle for a leaf hash.
    TlogProof {
        #[command(flatten)]
        trust: Trust,
        #[arg(long, value_name = "B64")]
        leaf_hash: String,
        file: PathBuf,
    },
    /// A saved lookup answer (JSON, as `GET /v1/lookup/{address}` returns it).
    Lookup {
        #[arg(long)]
        vkey: String,
        file: PathBuf,
    },
    /// Evidence that a log signed two histories (`ank-evidence/v1`, as
    /// `ank` writes under $ANK_HOME/evidence/ when it meets one).
    Evidence {
        #[arg(long)]
        vkey: String,
        file: PathBuf,
    },
    /// Replay a served ank log (directory or URL): verify every tile, re-apply
    /// every entry to the map, and check the map root its checkpoint signs.
    Replay {
        source: String,
        #[arg(long)]
        vkey: String,
    },
    /// A whole C2SP tiled log: every bundle, every tile, the root, the signature.
    Tiles {
        /// A directory or an http(s):// prefix.
        source: String,
        #[arg(long)]
        vkey: String,
    },
}

/// Whom a checkpoint must be signed and cosigned by.
#[derive(Args, Debug)]
struct Trust {
    /// The log's verifier key (optional with --policy, which lists logs).
    #[arg(long)]
    vkey: Option<String>,
    /// A witness cosignature/v1 key; repeat the flag.
    #[arg(long = "witness")]
    witnesses: Vec<String>,
    /// Require this many distinct witness cosignatures.
    #[arg(long)]
    quorum: Option<usize>,
    /// A C2SP tlog-policy file whose quorum must be met.
    #[arg(long)]
    policy: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut dns = ank_client::discovery::ResolverSettings {
        trust_anchor: cli.trust_anchor.or_else(|| {
            std::env::var_os("ANK_TRUST_ANCHOR")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        }),
        ..Default::default()
    };
    let servers = if cli.dns_server.is_empty() {
        std::env::var("ANK_DNS_SERVER")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    } else {
        cli.dns_server
    };
    for s in &servers {
        if let Err(e) = dns.add_server(s) {
            eprintln!("error: --dns-server {e}");
            return ExitCode::FAILURE;
        }
    }
    let _ = DNS.set(dns);
    let result = match cli.command {
        Command::Serve(a) => operator::serve(*a),
        Command::Log(c) => operator::log(c),
        Command::Dns(c) => dns::run(c),
        Command::Doctor(d) => doctor::run(d),
        Command::Key(k) => key(k),
        Command::Witness(c) => witness::run(c),
        Command::Monitor(m) => monitor::run(m),
        Command::Audit(c) => audit::run(c),
        Command::Init { address, device } => user::init(&address, device),
        Command::Register {
            address,
            token,
            log,
        } => user::register(&address, token, &log),
        Command::Rotate {
            address,
            keep_old,
            log,
        } => user::rotate(&address, keep_old, &log),
        Command::Revoke { address, log } => user::revoke(&address, &log),
        Command::Lookup { address, log, json } => user::lookup(&address, &log, json),
        Command::Trust(c) => user::trust(c),
        Command::Send {
            to,
            from,
            subject,
            body,
            via,
            log,
        } => mail::send(&to, from.as_deref(), &subject, body, &log, via),
        Command::Fetch {
            address,
            json,
            via,
            log,
        } => mail::fetch(address.as_deref(), json, &log, via),
        Command::Verify(v) => verify(v),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.downcast_ref::<monitor::Alerted>().is_some() => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            // A log that showed two histories is not an ordinary failure.
            let fork = e.chain().any(|c| {
                matches!(
                    c.downcast_ref::<ank_client::state::StateError>(),
                    Some(ank_client::state::StateError::Fork { .. })
                ) || c.downcast_ref::<Misbehaved>().is_some()
                    || matches!(
                        c.downcast_ref::<ank_client::ClientError>(),
                        Some(ank_client::ClientError::State(
                            ank_client::state::StateError::Fork { .. }
                        ))
                    )
            });
            if fork {
                ExitCode::from(3)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

#[derive(Subcommand, Debug)]
enum KeyCmd {
    /// Print this device's Ed25519 key for ADDRESS as an OpenSSH public key
    /// (the same key the log binds; `ssh-ed25519 …`).
    ExportSsh {
        address: String,
        /// Also write the private key in OpenSSH form to FILE (mode 0600;
        /// an existing file is not replaced), for `ssh -i FILE`.
        #[arg(long)]
        private: Option<PathBuf>,
    },
}

fn key(k: KeyCmd) -> Result<()> {
    match k {
        KeyCmd::ExportSsh { address, private } => {
            let address = ank_proofs::Address::parse(&address)?;
            let keys = ank_client::home::DeviceKeys::load(&ank_client::home::ank_home(), &address)?;
            let public = keys.signing.verifying_key().to_bytes();
            println!(
                "{}",
                ank_ssh::keys::public_line(&public, &address.to_string())
            );
            if let Some(file) = private {
                let key = ank_ssh::keys::device_private_key(
                    &keys.signing.to_bytes(),
                    &address.to_string(),
                )?;
                let text = key
                    .to_openssh(ank_ssh::keys::LineEnding::LF)
                    .map_err(|e| anyhow::anyhow!("encoding the key: {e}"))?;
                ank_common::fs::write_private(&file, text.as_bytes())
                    .with_context(|| format!("writing {}", file.display()))?;
                eprintln!("wrote the private key to {} (0600)", file.display());
            }
        }
    }
    Ok(())
}

/// An error with its causes, `: `-separated.
pub(crate) fn error_text(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// A log caught signing what cannot be true, with the evidence kept: exit 3.
#[derive(Debug)]
struct Misbehaved(String);

impl std::fmt::Display for Misbehaved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Misbehaved {}

/// Map-root evidence after a replay found a contradicted map root: proven
/// against the log's checkpoint now (its tree holds the entry), with hashes
/// read from the log's tiles, and kept under `$ANK_HOME/evidence/`.
fn map_root_evidence(
    rt: &tokio::runtime::Runtime,
    source: &str,
    vkey: &ank_proofs::VerifierKey,
    replay: &ank_proofs::map::Replay,
) -> Result<std::path::PathBuf> {
    let source = ank_client::Source::parse(source)?;
    let note = rt.block_on(source.get("checkpoint"))?;
    let cp = ank_proofs::verify_checkpoint(&note, vkey, &[])?;
    let reader = ank_proofs::tile::TileHashReader::new(cp.size(), |t: &ank_proofs::Tile| {
        rt.block_on(source.get(&t.path()))
            .map_err(|_| ank_proofs::Error::MissingHash { index: t.index })
    });
    let evidence = replay
        .map_root_evidence(&cp, &reader)
        .context("the log's own tiles do not prove the contradiction")?;
    ank_client::state::LogState::new(&ank_client::home::ank_home())
        .keep_evidence(&evidence)
        .context("writing the evidence under $ANK_HOME/evidence/")
}

fn hash_arg(name: &str, s: &str) -> Result<Hash> {
    Hash::from_base64(s).with_context(|| format!("--{name} {s:?}"))
}

fn hashes_arg(v: &[String]) -> Result<Vec<Hash>> {
    v.iter().map(|s| hash_arg("proof", s)).collect()
}

pub(crate) fn vkey_arg(s: &str) -> Result<VerifierKey> {
    VerifierKey::parse(s).with_context(|| format!("verifier key {s:?}"))
}

fn read(path: &PathBuf) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}

/// Verifies a checkpoint note with a log key and/or a policy, then the quorum.
fn checkpoint_with_trust(
    note: &[u8],
    trust: &Trust,
    origin: Option<&str>,
) -> Result<ank_proofs::VerifiedCheckpoint> {
    let policy = match &trust.policy {
        Some(p) => Some(Policy::parse(&String::from_utf8_lossy(&read(p)?)).context("policy")?),
        None => None,
    };
    let mut wkeys = trust
        .witnesses
        .iter()
        .map(|w| vkey_arg(w))
        .collect::<Result<Vec<_>>>()?;
    if let Some(p) = &policy {
        for w in p.witnesses() {
            if !wkeys.contains(&w.key) {
                wkeys.push(w.key.clone());
            }
        }
    }
    let cp = match (&trust.vkey, &policy) {
        (Some(v), _) => {
            let key = vkey_arg(v)?;
            let origin = origin.unwrap_or(key.name());
            ank_proofs::verify_checkpoint_for_origin(note, &key, &wkeys, origin)?
        }
        (None, Some(p)) => p.verify(note)?,
        (None, None) => bail!("give --vkey or --policy"),
    };
    if let Some(k) = trust.quorum {
        cp.require_cosignatures(k)?;
    }
    if let Some(p) = &policy {
        p.check_quorum(&cp)?;
    }
    Ok(cp)
}

/// A tokio runtime for one command.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

/// Progress of a long walk over a log, drawn on stderr when it is a terminal
/// and the log is large.
pub(crate) fn progress_bar() -> impl FnMut(u64, u64) {
    let tty = std::io::stderr().is_terminal();
    let mut last = 0u64;
    move |done, total| {
        if tty && total >= 100_000 && (done - last >= total / 200 || done == total) {
            last = done;
            let pct = done * 100 / total.max(1);
            let bar = "#".repeat((pct / 4) as usize);
            eprint!("\r[{bar:<25}] {pct:>3}% {done}/{total} entries");
            let _ = std::io::stderr().flush();
            if done == total {
                eprintln!();
            }
        }
    }
}

fn describe(cp: &ank_proofs::VerifiedCheckpoint) -> String {
    let mut s = format!("{} size {} root {}", cp.origin(), cp.size(), cp.root());
    for c in cp.cosignatures() {
        s.push_str(&format!(
            "\n  cosigned by {} at {}",
            c.witness.name(),
            c.timestamp
        ));
    }
    s
}

fn verify(v: Verify) -> Result<()> {
    match v {
        Verify::Inclusion {
            leaf_hash,
            index,
            size,
            root,
            proof,
        } => {
            let leaf = hash_arg("leaf-hash", &leaf_hash)?;
            let root = hash_arg("root", &root)?;
            verify_inclusion(&leaf, index, size, &hashes_arg(&proof)?, &root)?;
            println!(
                "ok: leaf {leaf} is at index {index} of the tree of size {size} with root {root}"
            );
        }
        Verify::Consistency {
            size1,
            size2,
            root1,
            root2,
            proof,
        } => {
            let r1 = hash_arg("root1", &root1)?;
            let r2 = hash_arg("root2", &root2)?;
            verify_consistency(size1, size2, &hashes_arg(&proof)?, &r1, &r2)?;
            println!(
                "ok: the tree of size {size2} with root {r2} extends the tree of size {size1} with root {r1}"
            );
        }
        Verify::Note { vkeys, file } => {
            let keys = vkeys
                .iter()
                .map(|k| vkey_arg(k))
                .collect::<Result<Vec<_>>>()?;
            let note = ank_proofs::Note::parse(&read(&file)?)?;
            let verified = note.verify(&keys)?;
            let by: Vec<&str> = verified.verified().iter().map(|s| s.key.name()).collect();
            println!("ok: signed by {}", by.join(", "));
            print!("{}", verified.text());
        }
        Verify::Checkpoint {
            trust,
            origin,
            file,
        } => {
            let cp = checkpoint_with_trust(&read(&file)?, &trust, origin.as_deref())?;
            println!("ok: checkpoint {}", describe(&cp));
        }
        Verify::TlogProof {
            trust,
            leaf_hash,
            file,
        } => {
            let leaf = hash_arg("leaf-hash", &leaf_hash)?;
            let text = String::from_utf8(read(&file)?).context("tlog-proof is not UTF-8")?;
            let bundle = TlogProof::parse(&text)?;
            let cp = checkpoint_with_trust(bundle.checkpoint.as_bytes(), &trust, None)?;
            verify_inclusion(&leaf, bundle.index, cp.size(), &bundle.proof, cp.root())?;
            println!(
                "ok: leaf {leaf} is at index {} of checkpoint {}",
                bundle.index,
                describe(&cp)
            );
        }
        Verify::Lookup { vkey, file } => {
            let vkey = vkey_arg(&vkey)?;
            let resp: ank_proofs::api::LookupResponse =
                serde_json::from_slice(&read(&file)?).context("the file is not a lookup answer")?;
            let address = ank_proofs::Address::parse(&resp.address)?;
            let l = ank_proofs::api::verify_lookup(&resp, &address, &vkey)?;
            match l.binding() {
                Some((index, entry)) => println!(
                    "ok: {address} is current at version {} (index {}, {} device(s)) in checkpoint {}",
                    entry.version,
                    index,
                    entry.key_set.devices().len(),
                    describe(l.checkpoint())
                ),
                None => println!(
                    "ok: {address} is absent from checkpoint {}",
                    describe(l.checkpoint())
                ),
            }
        }
        Verify::Evidence { vkey, file } => {
            let vkey = vkey_arg(&vkey)?;
            let text = String::from_utf8(read(&file)?).context("evidence is not UTF-8")?;
            let v = ank_proofs::evidence::Evidence::parse(&text)?.verify(&vkey)?;
            match (&v.checkpoints[..], v.contradicted) {
                ([cp], Some(index)) => println!(
                    "ok: log {} signed a map root that its own entries contradict (map-root): entry {index} of size {} root {}",
                    cp.origin(),
                    cp.size(),
                    cp.root()
                ),
                ([a, b], _) => {
                    let kind = match v.kind {
                        ank_proofs::evidence::EvidenceKind::Inconsistent => {
                            "a larger tree that does not extend a smaller one"
                        }
                        _ => "two roots for one size",
                    };
                    println!(
                        "ok: log {} signed two histories ({kind}): size {} root {} and size {} root {}",
                        a.origin(),
                        a.size(),
                        a.root(),
                        b.size(),
                        b.root()
                    );
                }
                _ => bail!("evidence verified with an unexpected shape"),
            }
        }
        Verify::Replay { source, vkey } => {
            let vkey = vkey_arg(&vkey)?;
            let rt = runtime()?;
            let mut replay = ank_proofs::map::Replay::new();
            let walked = rt.block_on(ank_client::verify_tiles_with(
                ank_client::Source::parse(&source)?,
                &vkey,
                progress_bar(),
                |e| replay.push(e),
            ));
            let report = match walked {
                Err(ank_client::ClientError::Proof(
                    e @ ank_proofs::Error::ReplayMapRoot { .. },
                )) => {
                    let path = map_root_evidence(&rt, &source, &vkey, &replay)?;
                    return Err(anyhow::Error::new(Misbehaved(format!(
                        "{e}: the log signed a map root that its own entries contradict; evidence written to {}",
                        path.display()
                    ))));
                }
                other => other?,
            };
            // Every map-root entry was checked as it came; the tree must end with one.
            replay.check_end()?;
            println!(
                "ok: replayed {} entries ({} bindings, {} map roots) of {}: every map-root entry is the map of the bindings before it (the last: {}), and every key holder's change was signed by a key current before it ({} operator bindings)",
                replay.size(),
                replay.bindings(),
                replay.map_roots(),
                describe(&report.checkpoint),
                replay.root(),
                replay.operator_bindings()
            );
        }
        Verify::Tiles { source, vkey } => {
            let vkey = vkey_arg(&vkey)?;
            let source = ank_client::Source::parse(&source)?;
            let report =
                runtime()?.block_on(ank_client::verify_tiles(source, &vkey, progress_bar()))?;
            println!(
                "ok: tiled log {}: {} entry bundles and {} tiles recomputed from the entries",
                describe(&report.checkpoint),
                report.bundles,
                report.tiles
            );
        }
    }
    Ok(())
}
