//! `ank-bench ssh`: Bangmail's two commands over one SSH session each,
//! against a running `ank serve --ssh-listen` (start it with --mail-rate 0
//! and quotas above --messages).

use std::path::Path;
use std::time::Instant;

use anyhow::{Context as _, Result, bail};

/// `bangmail-receive` of `messages` envelopes in one session, then
/// `bangmail-fetch` of all of them in another.
pub fn ssh(
    url: &str,
    data: &Path,
    domain: &str,
    door: &str,
    sshfp: &str,
    messages: u64,
) -> Result<()> {
    let rt = crate::runtime()?;
    let base = url.trim_end_matches('/').to_owned();
    let (users, bodies) = crate::log::sealed_mail(&rt, &base, data, domain, messages)?;
    let fp: [u8; 32] = hex::decode(sshfp)
        .ok()
        .and_then(|v| v.try_into().ok())
        .context("--sshfp is not 64 hex digits")?;
    let endpoint = ank_ssh::client::Endpoint {
        addr: door.to_owned(),
        host_key_sha256: fp,
    };
    let mut input = Vec::new();
    for b in &bodies {
        input.extend_from_slice(b.as_bytes());
        input.push(b'\n');
    }
    let (sender, recipient) = (&users[0], &users[1]);
    let t = Instant::now();
    let out = rt.block_on(ank_ssh::client::run(
        &endpoint,
        &sender.address.to_string(),
        Some(&sender.signing.to_bytes()),
        &format!("bangmail-receive {}", recipient.address.local()),
        &input,
    ))?;
    let took = t.elapsed();
    let stored = out
        .stdout
        .split(|b| *b == b'\n')
        .filter(|l| l.windows(13).any(|w| w == b"\"stored\":true"))
        .count();
    if out.status != Some(0) || stored as u64 != messages {
        bail!(
            "bangmail-receive: exit {:?}, {stored} of {messages} stored: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .find(|l| l.contains("error"))
                .unwrap_or("")
        );
    }
    println!(
        "bangmail-receive, one session, full verification: {messages} in {:.2} s = {:.0}/s",
        took.as_secs_f64(),
        messages as f64 / took.as_secs_f64()
    );
    let t = Instant::now();
    let user = recipient.address.local();
    let out = rt.block_on(ank_ssh::client::run(
        &endpoint,
        user,
        Some(&recipient.signing.to_bytes()),
        &format!("bangmail-fetch {user}"),
        b"",
    ))?;
    let took = t.elapsed();
    let got = out
        .stdout
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .count();
    if out.status != Some(0) || got as u64 != messages {
        bail!("bangmail-fetch: exit {:?}, {got} of {messages}", out.status);
    }
    println!(
        "bangmail-fetch, one session: {got} messages ({} bytes) in {:.2} s = {:.0}/s",
        out.stdout.len(),
        took.as_secs_f64(),
        got as f64 / took.as_secs_f64()
    );
    Ok(())
}
