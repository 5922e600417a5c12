//! Log-server and mailbox benchmarks (`ank-bench sequencer|populate|lookup|publish|mail`).
//! The figures and commands are recorded in docs/benchmarks.md.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ank_log_server::Log;
use ank_log_server::sequencer::{Job, Settings, start};
use ank_proofs::api::{PublishAuth, PublishRequest};
use ank_proofs::{Address, Authorization, Device, KeySet};
use anyhow::{Result, bail};
use tokio::sync::oneshot;

/// The deterministic signing key of bench user `i` (for users below `keyed`).
pub fn user_key(i: u64) -> ed25519_dalek::SigningKey {
    let seed = ank_proofs::hash::sha256(format!("ank bench user {i}").as_bytes());
    ed25519_dalek::SigningKey::from_bytes(&seed.0)
}

pub fn user_address(i: u64) -> Address {
    Address::parse(&format!("u{i}@bench.example")).unwrap_or_else(|_| unreachable!())
}

fn key_set_for(signing: &ed25519_dalek::SigningKey) -> KeySet {
    KeySet::new(vec![Device {
        name: "bench".into(),
        signing_key: signing.verifying_key().to_bytes(),
        encryption_key: [9; 32],
    }])
    .unwrap_or_default()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Appends `n` pre-authorised bindings (users `start..start+n`) through the
/// real sequencer; returns (elapsed, per-publish latencies).
fn append(
    log: &Arc<Log>,
    tree: ank_proofs::TreeBuilder,
    first: u64,
    n: u64,
    keyed: u64,
    batch: usize,
    interval: Duration,
) -> Result<(Duration, Vec<Duration>)> {
    let settings = Settings {
        interval,
        max_batch: batch,
        queue: 1 << 20,
    };
    let (queue, seq) = start(Arc::clone(log), tree, settings)?;
    let shared = key_set_for(&user_key(u64::MAX));
    let (done_tx, done_rx) = std::sync::mpsc::channel::<(Instant, oneshot::Receiver<_>)>();
    let collector = std::thread::spawn(move || {
        let mut lat = Vec::new();
        for (t, rx) in done_rx {
            match rx.blocking_recv() {
                Ok(Ok(_)) => lat.push(t.elapsed()),
                other => return Err(format!("append failed: {other:?}")),
            }
        }
        Ok(lat)
    });
    let t0 = Instant::now();
    for i in first..first + n {
        let ks = if i < keyed {
            key_set_for(&user_key(i))
        } else {
            shared.clone()
        };
        let (tx, rx) = oneshot::channel();
        let mut job = Job {
            label: user_address(i).label(),
            version: 1,
            key_set: ks,
            authorization: Authorization::Enrollment,
            token: None,
            reply: tx,
        };
        loop {
            match queue.submit(job) {
                Ok(()) => break,
                Err(j) => {
                    job = *j;
                    std::thread::sleep(Duration::from_micros(200));
                }
            }
        }
        let _ = done_tx.send((Instant::now(), rx));
    }
    drop(done_tx);
    let lat = collector
        .join()
        .map_err(|_| anyhow::anyhow!("collector panicked"))?
        .map_err(anyhow::Error::msg)?;
    let elapsed = t0.elapsed();
    drop(queue);
    let _ = seq.join();
    Ok((elapsed, lat))
}

/// `ank bench sequencer`: durable appends/s and latency against batch size.
pub fn sequencer(entries: u64, batches: &[usize], dir: &Path) -> Result<()> {
    for &batch in batches {
        let d = dir.join(format!("seq-{batch}"));
        let _ = std::fs::remove_dir_all(&d);
        let (log, tree, _) = Log::open(&d, "bench.example/ank")?;
        let (elapsed, mut lat) =
            append(&log, tree, 0, entries, 0, batch, Duration::from_millis(5))?;
        lat.sort();
        println!(
            "batch {batch:>6}: {entries} appends in {:.2} s = {:>8.0} appends/s; latency p50 {:.1} ms, p99 {:.1} ms; {} checkpoints",
            elapsed.as_secs_f64(),
            entries as f64 / elapsed.as_secs_f64(),
            percentile(&lat, 0.5).as_secs_f64() * 1e3,
            percentile(&lat, 0.99).as_secs_f64() * 1e3,
            log.metrics
                .batches
                .load(std::sync::atomic::Ordering::Relaxed),
        );
        drop(log);
        let _ = std::fs::remove_dir_all(&d);
    }
    Ok(())
}

/// `ank bench populate`: a data directory with `bindings` users, the first
/// `keyed` of them with their own keys (for `bench publish`).
pub fn populate(data: &Path, bindings: u64, keyed: u64, batch: usize) -> Result<()> {
    let (log, tree, _) = Log::open(data, "bench.example/ank")?;
    // Bindings, not entries: the tree also holds a map-root entry per batch.
    let have = log.map().len() as u64;
    if have >= bindings {
        println!("{} already holds {have} bindings", data.display());
        return Ok(());
    }
    if have > 0 {
        bail!(
            "{} holds {have} bindings, fewer than {bindings}; remove it first",
            data.display()
        );
    }
    let (elapsed, _) = append(
        &log,
        tree,
        0,
        bindings,
        keyed,
        batch,
        Duration::from_millis(5),
    )?;
    let db = std::fs::metadata(data.join("log.sqlite"))?.len()
        + std::fs::metadata(data.join("log.sqlite-wal"))
            .map(|m| m.len())
            .unwrap_or(0);
    println!(
        "populated {bindings} bindings in {:.1} s ({:.0}/s); {} entries with the map roots; database {} bytes = {:.0} bytes per binding",
        elapsed.as_secs_f64(),
        bindings as f64 / elapsed.as_secs_f64(),
        log.latest().size,
        db,
        db as f64 / bindings as f64
    );
    Ok(())
}

async fn load<F, Fut>(
    concurrency: usize,
    duration: Duration,
    total: Option<u64>,
    f: F,
) -> Result<(u64, Duration, Vec<Duration>)>
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<()>> + Send,
{
    let f = Arc::new(f);
    let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (f, next) = (Arc::clone(&f), Arc::clone(&next));
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if total.is_some_and(|t| i >= t) || (total.is_none() && t0.elapsed() >= duration) {
                    return Ok::<_, anyhow::Error>(lat);
                }
                let t = Instant::now();
                f(i).await?;
                lat.push(t.elapsed());
            }
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    let elapsed = t0.elapsed();
    all.sort();
    Ok((all.len() as u64, elapsed, all))
}

pub(crate) fn report(what: &str, n: u64, elapsed: Duration, lat: &[Duration]) {
    println!(
        "{what}: {n} in {:.2} s = {:.0}/s; latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        elapsed.as_secs_f64(),
        n as f64 / elapsed.as_secs_f64(),
        percentile(lat, 0.5).as_secs_f64() * 1e3,
        percentile(lat, 0.99).as_secs_f64() * 1e3,
        lat.last().copied().unwrap_or_default().as_secs_f64() * 1e3
    );
}

pub(crate) fn http() -> Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .pool_max_idle_per_host(1024)
        .build()?)
}

/// POSTs every body (JSON) to `url` from `concurrency` tasks and reports
/// throughput and latency; each answer must be a success (or exactly `want`).
fn post_all(
    url: &str,
    bodies: Arc<Vec<String>>,
    concurrency: usize,
    want: Option<reqwest::StatusCode>,
    what: &str,
) -> Result<()> {
    let rt = crate::runtime()?;
    let client = http()?;
    let url = url.to_owned();
    let total = bodies.len() as u64;
    let (n, elapsed, lat) =
        rt.block_on(load(concurrency, Duration::MAX, Some(total), move |i| {
            let (client, url, bodies) = (client.clone(), url.clone(), Arc::clone(&bodies));
            async move {
                let r = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(bodies[i as usize].clone())
                    .send()
                    .await?;
                let ok = match want {
                    Some(w) => r.status() == w,
                    None => r.status().is_success(),
                };
                if !ok {
                    bail!(
                        "request {i}: HTTP {} {}",
                        r.status(),
                        r.text().await.unwrap_or_default()
                    );
                }
                r.bytes().await?;
                Ok(())
            }
        }))?;
    report(
        &format!("{what} ({concurrency} concurrent)"),
        n,
        elapsed,
        &lat,
    );
    Ok(())
}

/// `ank bench lookup`: random lookups among `bindings` users over HTTP.
pub fn lookup(
    url: &str,
    bindings: u64,
    concurrency: usize,
    duration: Duration,
    tls_pin: Option<&str>,
    http1: bool,
) -> Result<()> {
    let rt = crate::runtime()?;
    let client = match tls_pin {
        // TLS 1.3 with the server's key pinned, as ank's clients connect.
        Some(p) => {
            let pin = ank_common::b64_array::<32>(p)
                .ok_or_else(|| anyhow::anyhow!("--tls-pin is not base64 of 32 bytes"))?;
            let mut cfg = ank_client::tls::pinned_config(pin)?;
            if http1 {
                // A connection per concurrent request, as plain HTTP/1.1.
                cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
            }
            reqwest::Client::builder()
                .pool_max_idle_per_host(1024)
                .tls_backend_preconfigured(cfg)
                .build()?
        }
        None => http()?,
    };
    let base = url.trim_end_matches('/').to_owned();
    let (n, elapsed, lat) = rt.block_on(load(concurrency, duration, None, move |i| {
        let (client, base) = (client.clone(), base.clone());
        async move {
            // A cheap scramble spreads lookups over the whole keyspace.
            let user = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) % bindings;
            let r = client
                .get(format!("{base}/v1/lookup/{}", user_address(user)))
                .send()
                .await?;
            if !r.status().is_success() {
                bail!("lookup of user {user}: HTTP {}", r.status());
            }
            r.bytes().await?;
            Ok(())
        }
    }))?;
    report(
        &format!("lookups ({concurrency} concurrent)"),
        n,
        elapsed,
        &lat,
    );
    Ok(())
}

/// `ank bench publish`: signed key rotations (version 1 → 2) of `users` keyed users over HTTP.
pub fn publish(url: &str, first: u64, users: u64, concurrency: usize) -> Result<()> {
    // Sign everything first: the load generator should not compete with the server for CPU while measuring.
    let requests: Arc<Vec<String>> = Arc::new(
        (first..first + users)
            .map(|i| {
                let address = user_address(i);
                let fresh = user_key(i + 1_000_000_000);
                let req = PublishRequest::new(
                    &address,
                    2,
                    &key_set_for(&fresh),
                    PublishAuth::Key(&user_key(i)),
                    &[&fresh],
                );
                serde_json::to_string(&req).unwrap_or_default()
            })
            .collect(),
    );
    post_all(
        &format!("{}/v1/publish", url.trim_end_matches('/')),
        requests,
        concurrency,
        None,
        "signed publishes",
    )
}

/// `ank bench mail`: full-verification message submissions over HTTP. Registers
/// a sender and a recipient on the server's own domain (their tokens put into
/// `data`), seals and signs `messages` envelopes first, then posts them.
pub fn mail(url: &str, data: &Path, domain: &str, messages: u64, concurrency: usize) -> Result<()> {
    let rt = crate::runtime()?;
    let base = url.trim_end_matches('/').to_owned();
    let (_, bodies) = sealed_mail(&rt, &base, data, domain, messages)?;
    post_all(
        &format!("{base}/v1/messages"),
        Arc::new(bodies),
        concurrency,
        Some(reqwest::StatusCode::CREATED),
        "accepted messages",
    )
}

/// Registers a sender and a recipient, and seals and signs `messages`
/// envelopes (JSON) from one to the other: the users and the envelopes.
pub(crate) fn sealed_mail(
    rt: &tokio::runtime::Runtime,
    base: &str,
    data: &Path,
    domain: &str,
    messages: u64,
) -> Result<(Vec<ank_client::home::DeviceKeys>, Vec<String>)> {
    use ank_mailbox::{Envelope, Payload};
    let stamp = ank_common::now_ms();
    let users = register_users(rt, base, data, domain, stamp, &["sender", "recipient"])?;
    let (from, signing) = (&users[0].address, &users[0].signing);
    let to = &users[1].address;
    let to_key = users[1].public().encryption_key;
    let t = Instant::now();
    let bodies = (0..messages)
        .map(|i| {
            let p = Payload::new(
                from.clone(),
                to.clone(),
                stamp,
                "bench",
                &format!("message {i}: {}", "text ".repeat(40)),
            )?;
            let mut id = [0u8; 16];
            id[..8].copy_from_slice(&i.to_be_bytes());
            id[8..].copy_from_slice(&stamp.to_be_bytes());
            Ok(serde_json::to_string(&Envelope::create(
                &p, &to_key, signing, id,
            )?)?)
        })
        .collect::<Result<Vec<_>>>()?;
    eprintln!(
        "sealed and signed {messages} messages in {:.1?}",
        t.elapsed()
    );
    Ok((users, bodies))
}

/// Registers one user per name (`<name><stamp>@<domain>`) with keys derived
/// from its position, through `POST /v1/publish` with tokens put into `data`.
fn register_users(
    rt: &tokio::runtime::Runtime,
    base: &str,
    data: &Path,
    domain: &str,
    stamp: u64,
    names: &[&str],
) -> Result<Vec<ank_client::home::DeviceKeys>> {
    use ank_log_server::store::LogStore as _;
    let store = ank_log_server::DataDir(data.to_owned()).open_store()?;
    let client = http()?;
    let mut users = Vec::new();
    for (n, name) in names.iter().enumerate() {
        let address = Address::parse(&format!("{name}{stamp}@{domain}"))?;
        let seed = n as u8;
        let keys = ank_client::home::DeviceKeys {
            address: address.clone(),
            device: "bench".into(),
            signing: ed25519_dalek::SigningKey::from_bytes(&ank_proofs::hash::sha256(&[seed, 7]).0),
            encryption: ank_proofs::hash::sha256(&[seed, 9]).0.into(),
        };
        let ks = KeySet::new(vec![keys.public()])?;
        let token = format!("bench-{name}-{stamp}");
        store.put_token(
            &ank_proofs::hash::sha256(token.as_bytes()),
            &address.label(),
            stamp + 600_000,
        )?;
        let req = PublishRequest::new(
            &address,
            1,
            &ks,
            PublishAuth::Token(&token),
            &[&keys.signing],
        );
        let r = rt.block_on(async {
            client
                .post(format!("{base}/v1/publish"))
                .json(&req)
                .send()
                .await
        })?;
        if !r.status().is_success() {
            bail!("registering {address}: HTTP {}", r.status());
        }
        users.push(keys);
    }
    Ok(users)
}

fn rss_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// `ank-bench fetch`: fills `recipients` mailboxes with `messages` messages
/// of about `body_bytes` each, then fetches every mailbox `rounds` times at
/// once, page by page (signed requests, nothing acknowledged), sampling the
/// server's RSS (`pid`) and `/healthz` latency meanwhile.
#[allow(clippy::too_many_arguments)]
pub fn fetch(
    url: &str,
    data: &Path,
    domain: &str,
    pid: u32,
    recipients: usize,
    messages: u64,
    body_bytes: usize,
    rounds: u32,
) -> Result<()> {
    use ank_mailbox::{Envelope, Payload};
    let rt = crate::runtime()?;
    let base = url.trim_end_matches('/').to_owned();
    let stamp = ank_common::now_ms();
    let mut names = vec!["sender".to_owned()];
    names.extend((0..recipients).map(|i| format!("reader{i}-")));
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let users = register_users(&rt, &base, data, domain, stamp, &names)?;
    let sender = &users[0];
    let readers = Arc::new(users[1..].to_vec());
    let body = "x".repeat(body_bytes.min(ank_mailbox::MAX_BODY));
    let t = Instant::now();
    let mut envelopes = Vec::new();
    for (r, reader) in readers.iter().enumerate() {
        let key = reader.public().encryption_key;
        for i in 0..messages {
            let p = Payload::new(
                sender.address.clone(),
                reader.address.clone(),
                stamp,
                "bench",
                &body,
            )?;
            let mut id = [0u8; 16];
            id[..8].copy_from_slice(&(i + ((r as u64) << 32)).to_be_bytes());
            id[8..].copy_from_slice(&stamp.to_be_bytes());
            envelopes.push(serde_json::to_string(&Envelope::create(
                &p,
                &key,
                &sender.signing,
                id,
            )?)?);
        }
    }
    eprintln!("sealed {} messages in {:.1?}", envelopes.len(), t.elapsed());
    post_all(
        &format!("{base}/v1/messages"),
        Arc::new(envelopes),
        32,
        Some(reqwest::StatusCode::CREATED),
        "stored messages",
    )?;
    let rss_before = rss_kib(pid).unwrap_or(0);
    let mailbox = ank_client::mail::MailClient::new(&base)?;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    // Samplers: RSS every 20 ms, /healthz every 50 ms.
    let sampler = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut max = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                max = max.max(rss_kib(pid).unwrap_or(0));
                std::thread::sleep(Duration::from_millis(20));
            }
            max
        })
    };
    let health = {
        let stop = Arc::clone(&stop);
        let addr = base
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        std::thread::spawn(move || -> Vec<Duration> {
            let mut lat = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let t = Instant::now();
                if healthz(&addr) {
                    lat.push(t.elapsed());
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            lat
        })
    };
    let t = Instant::now();
    let (pages, bytes) = rt.block_on(async {
        let mut tasks = Vec::new();
        for r in 0..readers.len() {
            let (mailbox, readers) = (mailbox.clone(), Arc::clone(&readers));
            tasks.push(tokio::spawn(async move {
                let keys = &readers[r];
                let (mut pages, mut bytes) = (0u64, 0u64);
                for _ in 0..rounds {
                    let mut after: Option<String> = None;
                    loop {
                        let page = mailbox.fetch_page(keys, after.as_deref(), 100).await?;
                        pages += 1;
                        bytes += page
                            .messages
                            .iter()
                            .map(|m| m.ciphertext.len() as u64)
                            .sum::<u64>();
                        match page.next {
                            Some(c) => after = Some(c),
                            None => break,
                        }
                    }
                }
                Ok::<_, anyhow::Error>((pages, bytes))
            }));
        }
        let mut total = (0, 0);
        for task in tasks {
            let (p, b) = task.await??;
            total.0 += p;
            total.1 += b;
        }
        Ok::<_, anyhow::Error>(total)
    })?;
    let elapsed = t.elapsed();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let max_rss = sampler.join().unwrap_or(0);
    let mut lat = health.join().unwrap_or_default();
    lat.sort();
    println!(
        "{} concurrent fetchers, {rounds} round(s): {pages} pages, {:.0} MB of ciphertext in {:.1?} ({:.0} MB/s)",
        readers.len(),
        bytes as f64 / 1e6,
        elapsed,
        bytes as f64 / 1e6 / elapsed.as_secs_f64()
    );
    println!(
        "server RSS: {:.1} MB before fetching, peak {:.1} MB while fetching",
        rss_before as f64 / 1024.0,
        max_rss as f64 / 1024.0
    );
    println!(
        "/healthz while fetching: {} samples, p50 {:.1?}, p99 {:.1?}, max {:.1?}",
        lat.len(),
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        lat.last().copied().unwrap_or_default()
    );
    Ok(())
}

/// One plain `GET /healthz` on a new connection; true on a 200.
fn healthz(addr: &str) -> bool {
    use std::io::{Read as _, Write as _};
    let Ok(mut c) = std::net::TcpStream::connect(addr) else {
        return false;
    };
    let _ = c.set_read_timeout(Some(Duration::from_secs(30)));
    if write!(
        c,
        "GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .is_err()
    {
        return false;
    }
    let mut r = Vec::new();
    let _ = c.read_to_end(&mut r);
    r.starts_with(b"HTTP/1.1 200")
}
