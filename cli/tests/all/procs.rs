//! Helpers for tests that run real `ank serve` processes.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The mailbox's storage secret in tests.
pub const TEST_STORAGE_KEY: &str = "ank test storage key, not secret";

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_ank")
}

/// A running `ank serve`.
pub struct Server {
    pub child: Child,
    pub url: String,
    pub vkey: String,
    pub addr: String,
    pub first_lines: Vec<String>,
}

impl Server {
    /// What `ank serve` printed after `key` (`"tls:"`, `"host:"`, …) in its
    /// first lines, trimmed.
    pub fn printed(&self, key: &str) -> &str {
        self.first_lines
            .iter()
            .find_map(|l| l.trim().strip_prefix(key))
            .unwrap_or_else(|| panic!("no {key} line in {:?}", self.first_lines))
            .trim()
    }

    /// Starts `ank serve` on a free loopback port and waits until it listens.
    pub fn start(data: &Path, extra: &[&str]) -> Result<Server, String> {
        Self::start_as(data, extra, "example.org", None)
    }

    /// Starts `ank serve` for `domain`, with `$ANK_HOME` (its trust file) at `home`.
    pub fn start_as(
        data: &Path,
        extra: &[&str],
        domain: &str,
        home: Option<&Path>,
    ) -> Result<Server, String> {
        let mut cmd = Command::new(bin());
        if let Some(h) = home {
            cmd.env("ANK_HOME", h);
        }
        cmd.args(["serve", "--domain", domain, "--data"]).arg(data);
        if !extra.contains(&"--listen") {
            cmd.args(["--listen", "127.0.0.1:0"]);
        }
        cmd.args(extra).env("ANK_STORAGE_KEY", TEST_STORAGE_KEY);
        // The startup report ends with the `size:` line.
        Self::spawn(cmd, "size:")
    }

    /// Starts `ank witness serve --data DATA --listen 127.0.0.1:0` with `extra`.
    pub fn witness(data: &Path, extra: &[&str]) -> Result<Server, String> {
        Self::watcher("witness", data, extra)
    }

    /// Starts `ank audit serve --data DATA` with `extra`.
    pub fn auditor(data: &Path, extra: &[&str]) -> Result<Server, String> {
        Self::watcher("audit", data, extra)
    }

    /// `ank ROLE serve --data DATA`, on loopback unless `extra` says where.
    fn watcher(role: &str, data: &Path, extra: &[&str]) -> Result<Server, String> {
        let mut cmd = Command::new(bin());
        cmd.args([role, "serve", "--data"]).arg(data);
        if !extra.contains(&"--listen") {
            cmd.args(["--listen", "127.0.0.1:0"]);
        }
        cmd.args(extra);
        Self::spawn(cmd, "logs:")
    }

    /// Spawns `cmd` and reads its startup report (`vkey:` and `url:` lines)
    /// up to the line starting with `last`.
    pub fn spawn(mut cmd: Command, last: &str) -> Result<Server, String> {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| e.to_string())?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let mut first_lines = Vec::new();
        let (mut url, mut vkey) = (None, None);
        while !first_lines
            .last()
            .is_some_and(|l: &String| l.trim().starts_with(last))
        {
            match lines.next() {
                Some(Ok(l)) => {
                    if let Some(v) = l.trim().strip_prefix("vkey: ") {
                        vkey = Some(v.to_owned());
                    }
                    if let Some(u) = l.trim().strip_prefix("url: ") {
                        url = Some(u.trim().to_owned());
                    }
                    first_lines.push(l);
                }
                _ => {
                    let mut err = String::new();
                    if let Some(mut e) = child.stderr.take() {
                        let _ = e.read_to_string(&mut err);
                    }
                    let _ = child.wait();
                    return Err(err);
                }
            }
        }
        // Keep draining stdout and stderr so the server never blocks on a
        // full pipe.
        std::thread::spawn(move || for _ in lines {});
        if let Some(mut e) = child.stderr.take() {
            std::thread::spawn(move || std::io::copy(&mut e, &mut std::io::sink()));
        }
        let url = url.unwrap_or_default();
        let addr = url
            .trim_start_matches("https://")
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        Ok(Server {
            child,
            url,
            vkey: vkey.unwrap_or_default(),
            addr,
            first_lines,
        })
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `ank serve --domain example.org --listen 127.0.0.1:0 --data DATA`, not
/// started, with the environment as the caller sets it.
pub fn serve_command(data: &Path) -> Command {
    serve_command_at(data, "127.0.0.1:0")
}

/// As [`serve_command`], listening on `listen`.
pub fn serve_command_at(data: &Path, listen: &str) -> Command {
    let mut c = Command::new(bin());
    c.args([
        "serve",
        "--domain",
        "example.org",
        "--listen",
        listen,
        "--data",
    ])
    .arg(data);
    c
}

/// Runs `ank ARGS` with `$ANK_HOME` set, which must succeed: its stdout.
pub fn ank_ok(home: &Path, args: &[&str]) -> String {
    let (success, out, err) = ank_in(home, args);
    assert!(success, "ank {args:?} failed: {err}{out}");
    out
}

/// Runs `ank ARGS` with `$ANK_HOME` set; returns (success, stdout, stderr).
pub fn ank_in(home: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(bin())
        .args(args)
        .env("ANK_HOME", home)
        .env("ANK_STORAGE_KEY", TEST_STORAGE_KEY)
        .output()
        .expect("run ank");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A minimal HTTP/1.1 exchange (one request per connection).
pub fn http(
    addr: &str,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> std::io::Result<(u16, String)> {
    http_typed(addr, method, path, body).map(|(s, _, b)| (s, b))
}

/// As [`http`], also returning the response's `Content-Type`.
pub fn http_typed(
    addr: &str,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> std::io::Result<(u16, String, String)> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let body = body.unwrap_or("");
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut resp = Vec::new();
    s.read_to_end(&mut resp)?;
    let text = String::from_utf8_lossy(&resp).into_owned();
    let (head, rest) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no header end"))?;
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other("no status"))?;
    let content_type = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-type")
                .then(|| v.trim().to_owned())
        })
        .unwrap_or_default();
    Ok((status, content_type, rest.to_owned()))
}

/// A scratch directory removed when dropped.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Scratch {
        let d = std::env::temp_dir().join(format!("ank-proc-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        Scratch(d)
    }
}

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The size of the latest checkpoint a server at `url` (`http://host:port`) serves.
pub fn latest_size(url: &str) -> u64 {
    let addr = url.trim_start_matches("http://").trim_end_matches('/');
    let (status, body) = http(addr, "GET", "/checkpoint", None).unwrap();
    assert_eq!(status, 200, "{body}");
    body.lines()
        .nth(1)
        .and_then(|l| l.parse().ok())
        .unwrap_or_else(|| panic!("not a checkpoint: {body}"))
}

/// `../shared/vectors`, or `None` (with a printed reason) outside CI when it
/// is absent. Under `CI=true` a missing folder fails the test.
pub fn shared_vectors() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/vectors");
    if dir.is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI=true but the shared vectors are missing at {}",
        dir.display()
    );
    eprintln!("skipping: shared vectors not found at {}", dir.display());
    None
}

/// A loopback port free at the time of asking.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Writes the log in `data` (stopped) as a static C2SP tile directory at `out`.
pub fn export_tiles(data: &Path, out: &Path) {
    use ank_log_server::store::LogStore as _;
    let store = ank_log_server::store::SqliteStore::open(&data.join("log.sqlite")).unwrap();
    let size = store.checkpoint().unwrap().unwrap().size;
    let entries = store.entries(0, size).unwrap();
    let key = ank_log_server::DataDir(data.to_owned()).read_key().unwrap();
    let _ = std::fs::remove_dir_all(out);
    for (path, bytes) in ank_test_vectors::tiled_log(&entries, &key).unwrap() {
        let p = out.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }
}

/// The operator recovers `address` (`ank log recover` on `data`, run from
/// `operator`) with the keys of a new device "phone" made in `device_home`;
/// returns what the recovery printed.
pub fn recover_with_new_device(
    operator: &Path,
    device_home: &Path,
    address: &str,
    data: &Path,
) -> String {
    let (ok, init, err) = ank_in(device_home, &["init", address, "--device", "phone"]);
    assert!(ok, "{err}");
    let key = |name: &str| {
        init.lines()
            .find_map(|l| l.trim().strip_prefix(name))
            .unwrap()
            .trim()
            .to_owned()
    };
    let (ok, out, err) = ank_in(
        operator,
        &[
            "log",
            "recover",
            address,
            "--data",
            data.to_str().unwrap(),
            "--device",
            "phone",
            "--ed25519",
            &key("ed25519:"),
            "--x25519",
            &key("x25519:"),
        ],
    );
    assert!(ok, "{err}{out}");
    out
}
