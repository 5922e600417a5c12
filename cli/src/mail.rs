//! The mailbox in `ank serve`, and the user's `ank send` and `ank fetch`.

use ank_client::home::{DeviceKeys, ank_home};
use ank_client::mail::MailClient;
use ank_common::fs::{create_private_dir, replace_private, write_private};
use ank_mailbox::{Envelope, Payload};
use ank_proofs::Address;
use anyhow::{Context as _, Result, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::runtime;
use crate::user::LogFlags;

/// The single address this device has keys for, or the one asked for.
fn own_address(given: Option<&str>) -> Result<Address> {
    if let Some(a) = given {
        return Ok(Address::parse(a)?);
    }
    let dir = ank_home().join("keys");
    let mut found: Vec<Address> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| {
                    e.file_name()
                        .to_str()?
                        .strip_suffix(".json")
                        .map(str::to_owned)
                })
                .filter(|n| !n.ends_with(".pending"))
                .filter_map(|n| Address::parse(&n).ok())
                .collect()
        })
        .unwrap_or_default();
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => bail!("this device has no keys; run `ank init ADDRESS` first"),
        _ => bail!("this device has keys for several addresses; say which with --from / ADDRESS"),
    }
}

/// The mailbox of `address`'s domain: `--server`, or the trusted log's URL
/// with its TLS pin.
fn mailbox(address: &Address, log: &LogFlags) -> Result<MailClient> {
    if let Some(s) = log.server() {
        return Ok(MailClient::new(s.trim_end_matches('/'))?);
    }
    let t = crate::user::log_of(address.domain()).with_context(|| {
        format!(
            "no log or mailbox found for {}: its DNS publishes none that validates (or run `ank trust add`)",
            address.domain()
        )
    })?;
    Ok(MailClient::new_pinned(
        t.url.trim_end_matches('/'),
        t.tls_pin,
    )?)
}

/// How mail travels.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Via {
    /// The domain's HTTPS mailbox.
    #[default]
    Https,
    /// The domain's Bangmail SSH door, its host key checked against the
    /// SSHFP the domain publishes (or the trust file's).
    Ssh,
}

/// A domain's mailbox, reached one way or the other.
enum Door {
    Http(MailClient),
    Ssh {
        endpoint: ank_ssh::client::Endpoint,
        domain: String,
    },
}

fn door(address: &Address, log: &LogFlags, via: Via) -> Result<Door> {
    match via {
        Via::Https => Ok(Door::Http(mailbox(address, log)?)),
        Via::Ssh => {
            let t = crate::user::log_of(address.domain())?;
            let (addr, fp) = t.ssh.with_context(|| {
                format!(
                    "{} publishes no SSH door: no ssh= with a validated SSHFP in its DNS, and no ssh= and sshfp= in the trust file",
                    address.domain()
                )
            })?;
            Ok(Door::Ssh {
                endpoint: ank_ssh::client::Endpoint {
                    addr,
                    host_key_sha256: fp,
                },
                domain: address.domain().to_owned(),
            })
        }
    }
}

/// Runs one Bangmail command on `endpoint`: its standard output, or the
/// error it reported.
async fn ssh_command(
    endpoint: &ank_ssh::client::Endpoint,
    user: &str,
    seed: Option<&[u8; 32]>,
    command: &str,
    stdin: &[u8],
) -> Result<Vec<u8>> {
    let out = ank_ssh::client::run(endpoint, user, seed, command, stdin).await?;
    if out.status != Some(0) {
        let said = String::from_utf8_lossy(if out.stderr.is_empty() {
            &out.stdout
        } else {
            &out.stderr
        })
        .trim()
        .to_owned();
        bail!(
            "`{command}` over SSH failed (exit {:?}): {said}",
            out.status
        );
    }
    Ok(out.stdout)
}

impl Door {
    /// Submits `envs`, all for `to`, from `keys.address`.
    async fn submit(&self, to: &Address, keys: &DeviceKeys, envs: &[Envelope]) -> Result<()> {
        match self {
            Door::Http(m) => {
                for env in envs {
                    m.submit(env).await?;
                }
            }
            Door::Ssh { endpoint, .. } => {
                let mut input = Vec::new();
                for env in envs {
                    serde_json::to_writer(&mut input, env)?;
                    input.push(b'\n');
                }
                // The sender's full address as the SSH user. A door binds
                // only its own domain's names: another domain's sender is
                // anonymous; one of its own proves the key it logged.
                let from = &keys.address;
                let signing = keys.signing.to_bytes();
                let seed = (from.domain() == to.domain()).then_some(&signing);
                ssh_command(
                    endpoint,
                    &from.to_string(),
                    seed,
                    &format!("bangmail-receive {}", to.local()),
                    &input,
                )
                .await?;
            }
        }
        Ok(())
    }

    /// One page of the mailbox of `keys.address` (over SSH, all of it).
    async fn fetch_page(
        &self,
        keys: &DeviceKeys,
        after: Option<&str>,
    ) -> Result<ank_client::mail::MailPage> {
        match self {
            Door::Http(m) => Ok(m.fetch_page(keys, after, 100).await?),
            Door::Ssh { endpoint, domain } => {
                let user = keys.address.local();
                debug_assert_eq!(keys.address.domain(), domain);
                let out = ssh_command(
                    endpoint,
                    user,
                    Some(&keys.signing.to_bytes()),
                    &format!("bangmail-fetch {user}"),
                    b"",
                )
                .await?;
                let messages = out
                    .split(|b| *b == b'\n')
                    .filter(|l| !l.is_empty())
                    .map(serde_json::from_slice)
                    .collect::<Result<Vec<Envelope>, _>>()
                    .context("the door's answer is not envelope JSON lines")?;
                Ok(ank_client::mail::MailPage {
                    messages,
                    next: None,
                    ttl_ms: None,
                })
            }
        }
    }

    async fn ack(&self, keys: &DeviceKeys, ids: &[String]) -> Result<()> {
        match self {
            Door::Http(m) => {
                m.ack(keys, ids).await?;
            }
            Door::Ssh { endpoint, .. } => {
                let user = keys.address.local();
                for chunk in ids.chunks(200) {
                    ssh_command(
                        endpoint,
                        user,
                        Some(&keys.signing.to_bytes()),
                        &format!("bangmail-ack {user} {}", chunk.join(" ")),
                        b"",
                    )
                    .await?;
                }
            }
        }
        Ok(())
    }
}

pub fn send(
    to: &str,
    from: Option<&str>,
    subject: &str,
    body: Option<String>,
    log: &LogFlags,
    via: Via,
) -> Result<()> {
    let to = Address::parse(to)?;
    let from = own_address(from)?;
    let rt = runtime()?;
    // A key change whose answer was lost is settled first: it decides which key signs.
    if ank_client::home::PendingChange::load(&ank_home(), &from)?.is_some() {
        let own = crate::user::client_for(&from, &LogFlags::default())?;
        rt.block_on(crate::user::settle(
            &own,
            &from,
            ank_client::home::DEFAULT_KEEP_OLD_MS,
        ))?;
    }
    let keys = DeviceKeys::load(&ank_home(), &from)?;
    let body = match body {
        Some(b) => b,
        None => std::io::read_to_string(std::io::stdin()).context("reading the body from stdin")?,
    };
    let now = ank_common::now_ms();
    let payload = Payload::new(from.clone(), to.clone(), now, subject, &body)?;
    // The recipient's current keys, proven by its log before anything is sealed to them.
    let client = crate::user::client_for(&to, log)?;
    let (raw_answer, answer) = rt.block_on(client.lookup_with_answer(&to))?;
    let Some((_, entry)) = answer.binding() else {
        bail!("{to} is absent from its log; nothing was sent");
    };
    let ks = &entry.key_set;
    if ks.devices().is_empty() {
        bail!("{to} has revoked every key; nothing was sent");
    }
    let door = door(&to, log, via)?;
    let mut envs = Vec::new();
    for d in ks.devices() {
        let id: [u8; 16] = ank_common::random()?;
        let mut env = Envelope::create(&payload, &d.encryption_key, &keys.signing, id)?;
        // The proof this sender verified for the key, as evidence for the mailbox.
        env.recipient_proof = Some(raw_answer.clone());
        envs.push((d.name.clone(), id, env));
    }
    let all: Vec<Envelope> = envs.iter().map(|(_, _, e)| e.clone()).collect();
    rt.block_on(door.submit(&to, &keys, &all))
        .with_context(|| format!("sending to {to}"))?;
    for (device, id, _) in &envs {
        println!("sent to {to} (device {device}), id {}", STANDARD.encode(id));
    }
    Ok(())
}

/// Mail older than the mailbox's TTL (by its signed timestamp) is refused
/// as a replay; this is the TTL assumed when a mailbox does not say, the
/// default of `ank serve`.
const DEFAULT_TTL_MS: u64 = 7 * 24 * 3600 * 1000;

/// Why a message is not shown.
enum Unshown {
    /// Sealed to another device of this address: left on the server for it.
    OtherDevice,
    /// Kept aside locally with the reason, and acknowledged.
    Quarantine(String),
}

/// Checks, verifies and opens one envelope.
fn open_one(
    rt: &tokio::runtime::Runtime,
    env: &Envelope,
    secrets: &[(x25519_dalek::StaticSecret, [u8; 32])],
    store_dir: &std::path::Path,
    now: u64,
    max_age_ms: u64,
) -> Result<(ank_mailbox::CheckedEnvelope, Payload), Unshown> {
    let checked = env
        .check()
        .map_err(|e| Unshown::Quarantine(format!("malformed: {e}")))?;
    let Some((secret, _)) = secrets.iter().find(|(_, p)| *p == checked.to_key) else {
        return Err(Unshown::OtherDevice);
    };
    if store_dir
        .join(format!("{}.json", hex_id(&checked.id)))
        .exists()
    {
        return Err(Unshown::Quarantine(
            "replayed: this message id was delivered before".into(),
        ));
    }
    let sender_ok = verify_sender(rt, env, &checked);
    match sender_ok {
        Ok(true) => {}
        Ok(false) => {
            return Err(Unshown::Quarantine(format!(
                "claims to be from {} but is not signed by a current key of it",
                checked.from
            )));
        }
        Err(e) => {
            return Err(Unshown::Quarantine(format!(
                "the sender {} could not be verified: {e:#}",
                checked.from
            )));
        }
    }
    let p = checked
        .open(&secret.to_bytes())
        .map_err(|e| Unshown::Quarantine(format!("does not open: {e}")))?;
    if p.timestamp_ms.saturating_add(max_age_ms) < now {
        return Err(Unshown::Quarantine(format!(
            "too old: sent at {} ms, longer ago than the mailbox keeps mail ({} s): a replay",
            p.timestamp_ms,
            max_age_ms / 1000
        )));
    }
    Ok((checked, p))
}

/// Whether the envelope's `from_key` is, or was when the mailbox accepted
/// the message, a current key of the sender, as the sender's own log proves:
/// the proof the mailbox kept at acceptance, checked under the sender log's
/// key from the trust file, or else a lookup now.
fn verify_sender(
    rt: &tokio::runtime::Runtime,
    env: &Envelope,
    checked: &ank_mailbox::CheckedEnvelope,
) -> Result<bool> {
    let client = crate::user::client_for(&checked.from, &LogFlags::default())?;
    let holds = |l: &ank_proofs::api::VerifiedLookup| {
        l.binding().is_some_and(|(_, e)| {
            e.key_set
                .devices()
                .iter()
                .any(|d| d.signing_key == checked.from_key)
        })
    };
    if let Some(proof) = &env.sender_proof
        && let Ok(l) = ank_proofs::api::verify_lookup(proof, &checked.from, client.vkey())
        && holds(&l)
    {
        // A true past state of the sender's log: consistent with what this user saw.
        rt.block_on(client.check_historical(l.checkpoint()))?;
        return Ok(true);
    }
    Ok(holds(&rt.block_on(client.lookup(&checked.from))?))
}

/// Prints a message in a frame no body can imitate: every body line is
/// prefixed with `| `.
fn print_framed(id: &[u8; 16], p: &Payload) {
    let id = hex_id(id);
    let mut out = format!(
        "=== message {id} ===\nFrom: {}\nTo: {}\nDate: {} ms\nSubject: {}\n",
        p.from, p.to, p.timestamp_ms, p.subject
    );
    for line in p.body.split('\n') {
        out.push_str("| ");
        out.push_str(line);
        out.push('\n');
    }
    out.push_str(&format!("=== end {id} ===\n"));
    print!("{out}");
}

pub fn fetch(address: Option<&str>, json: bool, log: &LogFlags, via: Via) -> Result<()> {
    let address = own_address(address)?;
    let home = ank_home();
    let mailbox = door(&address, log, via)?;
    let rt = runtime()?;
    // A key change whose answer was lost is settled first: it decides which key signs.
    let client = crate::user::client_for(&address, log)?;
    rt.block_on(crate::user::settle(
        &client,
        &address,
        ank_client::home::DEFAULT_KEEP_OLD_MS,
    ))?;
    let keys = DeviceKeys::load(&home, &address)?;
    let now = ank_common::now_ms();
    let secrets: Vec<(x25519_dalek::StaticSecret, [u8; 32])> =
        ank_client::home::decryption_secrets(&home, &address, now)?
            .into_iter()
            .map(|s| {
                let p = x25519_dalek::PublicKey::from(&s).to_bytes();
                (s, p)
            })
            .collect();
    let store_dir = home.join("mail").join(address.to_string());
    let quarantine_dir = home.join("quarantine").join(address.to_string());
    create_private_dir(&store_dir)?;
    let (mut shown, mut quarantined) = (0usize, 0usize);
    let mut after: Option<String> = None;
    loop {
        let list = rt.block_on(mailbox.fetch_page(&keys, after.as_deref()))?;
        let mut done = Vec::new();
        for env in list.messages {
            let max_age = list.ttl_ms.unwrap_or(DEFAULT_TTL_MS);
            match open_one(&rt, &env, &secrets, &store_dir, now, max_age) {
                Ok((checked, p)) => {
                    let record = serde_json::json!({
                        "id": env.id, "from": p.from.to_string(), "to": p.to.to_string(),
                        "timestamp_ms": p.timestamp_ms, "subject": p.subject, "body": p.body,
                    });
                    let file = store_dir.join(format!("{}.json", hex_id(&checked.id)));
                    write_private(&file, &serde_json::to_vec_pretty(&record)?)
                        .with_context(|| format!("storing {}", file.display()))?;
                    if json {
                        println!("{record}");
                    } else {
                        print_framed(&checked.id, &p);
                    }
                    shown += 1;
                    done.push(env.id);
                }
                Err(Unshown::OtherDevice) => {}
                Err(Unshown::Quarantine(reason)) => {
                    create_private_dir(&quarantine_dir)?;
                    let name: String = ank_proofs::hash::sha256(env.id.as_bytes())
                        .0
                        .iter()
                        .take(16)
                        .map(|b| format!("{b:02x}"))
                        .collect();
                    let file = quarantine_dir.join(format!("{name}.json"));
                    let record = serde_json::json!({"reason": reason, "envelope": env});
                    replace_private(&file, &serde_json::to_vec_pretty(&record)?)?;
                    eprintln!(
                        "warning: message {} quarantined in {}: {reason}",
                        env.id,
                        file.display()
                    );
                    quarantined += 1;
                    done.push(env.id);
                }
            }
        }
        if !done.is_empty() {
            rt.block_on(mailbox.ack(&keys, &done))?;
        }
        match list.next {
            Some(c) => after = Some(c),
            None => break,
        }
    }
    if !json {
        eprintln!("{shown} message(s) fetched and acknowledged, {quarantined} quarantined");
    }
    Ok(())
}

fn hex_id(id: &[u8; 16]) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}
