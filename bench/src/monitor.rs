//! `ank-bench monitor`: a monitor's catch-up from size 0, verifying
//! everything, from a tile directory or a log's URL.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Result;

/// Catches up on the log at `source` (a directory or an http(s):// prefix)
/// under `vkey`, watching `address`; state in a fresh `state` directory.
pub fn monitor(source: &str, vkey: &str, address: &str, state: &Path) -> Result<()> {
    let _ = std::fs::remove_dir_all(state);
    let vkey = ank_proofs::VerifierKey::parse(vkey)?;
    let address = ank_proofs::Address::parse(address)?;
    let rt = crate::runtime()?;
    rt.block_on(async move {
        let src = Arc::new(ank_client::Source::parse(source)?);
        let note = src.get("checkpoint").await?;
        let cp = ank_proofs::verify_checkpoint(&note, &vkey, &[])?;
        let mut mon = ank_monitor::LogMonitor::open(state, cp.origin(), &[(address, vec![])])?;
        let t = Instant::now();
        let mut events = 0u64;
        mon.catch_up(src, &cp, |_| events += 1, |_, _| {}).await?;
        let s = t.elapsed().as_secs_f64();
        println!(
            "monitor catch-up: {} entries in {s:.2} s = {:.0} entries/s ({events} events for the watched address)",
            cp.size(),
            cp.size() as f64 / s
        );
        Ok(())
    })
}

/// Writes the log in `data` (an `ank serve` data directory) as a static
/// C2SP tile directory at `out`.
pub fn export_tiles(data: &Path, out: &Path) -> Result<()> {
    use ank_log_server::store::LogStore as _;
    let store = ank_log_server::store::SqliteStore::open(&data.join("log.sqlite"))?;
    let size = store
        .checkpoint()?
        .ok_or_else(|| anyhow::anyhow!("no checkpoint"))?
        .size;
    let entries = store.entries(0, size)?;
    let key = ank_log_server::DataDir(data.to_owned()).read_key()?;
    let _ = std::fs::remove_dir_all(out);
    for (path, bytes) in ank_test_vectors::tiled_log(&entries, &key)? {
        let p = out.join(path);
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d)?;
        }
        std::fs::write(p, bytes)?;
    }
    println!("wrote {size} entries as tiles under {}", out.display());
    Ok(())
}

/// An auditor's first follow of the log at `source` (directory or URL):
/// every entry mirrored durably, the tree recomputed, the map replayed with
/// every map root and key holder's signature checked.
pub fn audit(source: &str, vkey: &str, data: &Path) -> Result<()> {
    let _ = std::fs::remove_dir_all(data);
    std::fs::create_dir_all(data)?;
    let vkey = ank_proofs::VerifierKey::parse(vkey)?;
    let origin = vkey.name().to_owned();
    let domain = origin.split('/').next().unwrap_or_default().to_owned();
    let rt = crate::runtime()?;
    rt.block_on(async move {
        let auditor = ank_auditor::audit::Auditor::open(
            &data.join("audit.sqlite"),
            vec![ank_auditor::audit::LogSpec {
                domain,
                source: source.to_owned(),
                vkey,
            }],
        )?;
        let t = Instant::now();
        let found = auditor.follow(&origin).await?;
        let s = t.elapsed().as_secs_f64();
        let size = auditor
            .latest()?
            .first()
            .and_then(|n| n.lines().nth(1).and_then(|l| l.parse::<u64>().ok()))
            .unwrap_or(0);
        println!(
            "audit follow: {size} entries in {s:.2} s = {:.0} entries/s, durable, replayed ({} pieces of evidence)",
            size as f64 / s,
            found.len()
        );
        Ok(())
    })
}
