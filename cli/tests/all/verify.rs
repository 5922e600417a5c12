//! `ank verify …` against outside vectors, our published vectors, tampered
//! copies, and a tiled log served over HTTP on loopback.

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine as _;

use crate::procs::Scratch;
use base64::engine::general_purpose::STANDARD;

const TESSERA_VKEY: &str =
    "example.com/log/testdata+33d7b496+AeHTu4Q3hEIMHNqc6fASMsq3rKNx280NI+oO5xCFkkSx";

fn ank(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ank"))
        .args(args)
        .output()
        .expect("run ank")
}

fn ok(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "ank failed: {}{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.starts_with("ok"), "{stdout}");
    stdout
}

fn fails(out: &Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "expected failure: {stderr}");
    assert!(
        stderr.contains(needle),
        "stderr {stderr:?} lacks {needle:?}"
    );
}

fn shared() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/vectors");
    if dir.is_dir() {
        return Some(dir);
    }
    assert_ne!(
        std::env::var("CI").as_deref(),
        Ok("true"),
        "CI=true but {} is missing",
        dir.display()
    );
    eprintln!("skipping: {} not found", dir.display());
    None
}

fn ours() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../test-vectors")
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

fn b64_of_hex(h: &str) -> String {
    STANDARD.encode(hex::decode(h).unwrap())
}

fn b64_list_of_hex(list: &serde_json::Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|h| b64_of_hex(h.as_str().unwrap()))
        .collect()
}

#[test]
fn tiles_tessera_directory_and_tampered_copy() {
    let Some(v) = shared() else { return };
    let log = v.join("transparency-dev-tessera/testdata/log");
    let out = ok(&ank(&[
        "verify",
        "tiles",
        log.to_str().unwrap(),
        "--vkey",
        TESSERA_VKEY,
    ]));
    assert!(out.contains("size 15"), "{out}");

    let copy = Scratch::new("tessera");
    copy_dir(&log, &copy);
    let bundle = copy.join("tile/entries/000.p/15");
    let mut b = std::fs::read(&bundle).unwrap();
    b[2] ^= 0x20; // "one" -> "One"
    std::fs::write(&bundle, b).unwrap();
    fails(
        &ank(&[
            "verify",
            "tiles",
            copy.to_str().unwrap(),
            "--vkey",
            TESSERA_VKEY,
        ]),
        "tile tile/0/000.p/15 does not match",
    );
    std::fs::remove_file(copy.join("tile/entries/000.p/15")).unwrap();
    fails(
        &ank(&[
            "verify",
            "tiles",
            copy.to_str().unwrap(),
            "--vkey",
            TESSERA_VKEY,
        ]),
        "000.p/15",
    );
    let other = "example.com/log/testdata+00000000+AeHTu4Q3hEIMHNqc6fASMsq3rKNx280NI+oO5xCFkkSx";
    fails(
        &ank(&["verify", "tiles", log.to_str().unwrap(), "--vkey", other]),
        "key ID 00000000 does not match",
    );
}

/// Serves `root` over HTTP/1.1 on loopback (GET only, one request per connection).
fn serve(root: PathBuf) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut reader = BufReader::new(s.try_clone().unwrap());
            let mut request = String::new();
            if reader.read_line(&mut request).is_err() {
                continue;
            }
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
            }
            let path = request
                .split(' ')
                .nth(1)
                .unwrap_or("/")
                .trim_start_matches('/')
                .to_owned();
            let body = if path.contains("..") {
                None
            } else {
                std::fs::read(root.join(&path)).ok()
            };
            let _ = match body {
                Some(b) => {
                    let _ = write!(
                        s,
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        b.len()
                    );
                    s.write_all(&b)
                }
                None => write!(
                    s,
                    "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                ),
            };
        }
    });
    format!("http://{addr}/")
}

#[test]
fn tiles_over_http() {
    let log_vkey = json(&ours().join("checkpoints.json"))["log_vkey"]
        .as_str()
        .unwrap()
        .to_owned();
    let url = serve(ours().join("tiled-log"));
    let out = ok(&ank(&["verify", "tiles", &url, "--vkey", &log_vkey]));
    assert!(out.contains("size 300"), "{out}");
    assert!(out.contains("2 entry bundles and 3 tiles"), "{out}");
    fails(
        &ank(&[
            "verify",
            "tiles",
            &format!("{url}missing/"),
            "--vkey",
            &log_vkey,
        ]),
        "HTTP 404",
    );
}

#[test]
fn inclusion_and_consistency_proofgen_literals() {
    let Some(v) = shared() else { return };
    let tree = json(&v.join("transparency-dev-merkle/extracted/rfc6962-reference-tree.json"));
    let lit = json(&v.join("transparency-dev-merkle/extracted/proofgen-literals.json"));
    let leaves = tree["node_hashes_by_level"][0].as_array().unwrap();
    let roots = tree["root_hashes_by_size"].as_array().unwrap();
    for p in lit["inclusion_proofs"].as_array().unwrap() {
        let i = p["leaf_index_0based"].as_u64().unwrap();
        let n = p["tree_size"].as_u64().unwrap();
        let leaf = b64_of_hex(leaves[i as usize].as_str().unwrap());
        let root = b64_of_hex(roots[n as usize].as_str().unwrap());
        let (is, ns) = (i.to_string(), n.to_string());
        let mut args = vec![
            "verify",
            "inclusion",
            "--leaf-hash",
            &leaf,
            "--index",
            &is,
            "--size",
            &ns,
            "--root",
            &root,
        ];
        let proof = b64_list_of_hex(&p["proof"]);
        for h in &proof {
            args.extend(["--proof", h]);
        }
        ok(&ank(&args));
        let wrong = b64_of_hex(roots[(n as usize + 1) % 9].as_str().unwrap());
        args[9] = &wrong;
        fails(&ank(&args), "root mismatch");
    }
    for p in lit["consistency_proofs"].as_array().unwrap() {
        let (a, b) = (p["size1"].as_u64().unwrap(), p["size2"].as_u64().unwrap());
        let (r1, r2) = (
            b64_of_hex(roots[a as usize].as_str().unwrap()),
            b64_of_hex(roots[b as usize].as_str().unwrap()),
        );
        let (s1, s2) = (a.to_string(), b.to_string());
        let mut args = vec![
            "verify",
            "consistency",
            "--size1",
            &s1,
            "--size2",
            &s2,
            "--root1",
            &r1,
            "--root2",
            &r2,
        ];
        let proof = b64_list_of_hex(&p["proof"]);
        for h in &proof {
            args.extend(["--proof", h]);
        }
        ok(&ank(&args));
        if !proof.is_empty() {
            args.truncate(args.len() - 2);
            fails(&ank(&args), "proof has");
        }
    }
    fails(
        &ank(&[
            "verify",
            "inclusion",
            "--leaf-hash",
            "AAAA",
            "--index",
            "0",
            "--size",
            "1",
            "--root",
            "AAAA",
        ]),
        "hash is 3 bytes",
    );
}

#[test]
fn note_checkpoint_policy_and_tlog_proof() {
    let Some(v) = shared() else { return };
    let dir = Scratch::new("notes");
    let ex = json(&v.join("c2sp/extracted/spec-examples.json"));
    let note = dir.join("note");
    std::fs::write(&note, ex["signed_note_example"]["note"].as_str().unwrap()).unwrap();
    let out = ok(&ank(&[
        "verify",
        "note",
        "--vkey",
        ex["signed_note_example"]["vkey"].as_str().unwrap(),
        note.to_str().unwrap(),
    ]));
    assert!(out.contains("This is an example message."));
    fails(
        &ank(&[
            "verify",
            "note",
            "--vkey",
            TESSERA_VKEY,
            note.to_str().unwrap(),
        ]),
        "no verifiable signatures",
    );

    let cps = json(&ours().join("checkpoints.json"));
    let (lv, wv) = (
        cps["log_vkey"].as_str().unwrap(),
        cps["witness_vkey"].as_str().unwrap(),
    );
    let cp = dir.join("checkpoint");
    std::fs::write(&cp, cps["valid"][3]["cosigned"].as_str().unwrap()).unwrap();
    let cpf = cp.to_str().unwrap();
    let out = ok(&ank(&[
        "verify",
        "checkpoint",
        "--vkey",
        lv,
        "--witness",
        wv,
        "--quorum",
        "1",
        cpf,
    ]));
    assert!(out.contains("cosigned by witness.ank.example"), "{out}");
    fails(
        &ank(&["verify", "checkpoint", "--vkey", lv, "--quorum", "1", cpf]),
        "quorum not met",
    );
    let policy = dir.join("policy");
    std::fs::write(&policy, format!("log {lv}\nwitness W {wv}\nquorum W\n")).unwrap();
    ok(&ank(&[
        "verify",
        "checkpoint",
        "--policy",
        policy.to_str().unwrap(),
        cpf,
    ]));
    std::fs::write(&cp, cps["valid"][3]["signed"].as_str().unwrap()).unwrap();
    fails(
        &ank(&[
            "verify",
            "checkpoint",
            "--policy",
            policy.to_str().unwrap(),
            cpf,
        ]),
        "quorum not met",
    );
    fails(
        &ank(&["verify", "checkpoint", "--vkey", TESSERA_VKEY, cpf]),
        "not signed by the log key example.com/log/testdata+33d7b496",
    );

    // The real sum.golang.org tree head: origin differs from its key name.
    let formats = json(&v.join("transparency-dev-formats/extracted/checkpoint-note-vectors.json"));
    let sum = &formats["real_world_checkpoints"][0];
    std::fs::write(&cp, sum["note"].as_str().unwrap()).unwrap();
    let sum_vkey = sum["vkey"].as_str().unwrap();
    fails(
        &ank(&["verify", "checkpoint", "--vkey", sum_vkey, cpf]),
        "checkpoint origin \"go.sum database tree\"",
    );
    let out = ok(&ank(&[
        "verify",
        "checkpoint",
        "--vkey",
        sum_vkey,
        "--origin",
        "go.sum database tree",
        cpf,
    ]));
    assert!(out.contains("size 6476701"), "{out}");

    let leaves = json(&ours().join("tlog-proofs/leaf-hashes.json"));
    let bundle = ours().join("tlog-proofs/entry-299.tlog-proof");
    let leaf = leaves["entry-299.tlog-proof"].as_str().unwrap();
    ok(&ank(&[
        "verify",
        "tlog-proof",
        "--vkey",
        lv,
        "--leaf-hash",
        leaf,
        bundle.to_str().unwrap(),
    ]));
    let other = leaves["entry-0.tlog-proof"].as_str().unwrap();
    fails(
        &ank(&[
            "verify",
            "tlog-proof",
            "--vkey",
            lv,
            "--leaf-hash",
            other,
            bundle.to_str().unwrap(),
        ]),
        "root mismatch",
    );
}
