//! `ank monitor` against a real `ank serve`: the user's own changes raise
//! no alert; an operator recovery of the address does (exit 2, and `--exec`
//! gets the alert as JSON).

use std::path::Path;

use crate::procs::{Scratch, Server, ank_in};

fn monitor(home: &Path, extra: &[&str]) -> (Option<i32>, String, String) {
    let out = std::process::Command::new(crate::procs::bin())
        .env("ANK_HOME", home)
        .arg("monitor")
        .args(extra)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn own_changes_are_quiet_and_a_recovery_alerts() {
    let dir = Scratch::new("monitor");
    let data = dir.join("data");
    let server = Server::start(&data, &["--interval", "20ms"]).unwrap();
    let alice = dir.join("alice");
    crate::history::register(&dir, &server, &alice, "alice@example.org");
    // bob's binding is not watched by alice.
    crate::history::register(&dir, &server, &dir.join("bob"), "bob@example.org");

    let (code, out, err) = monitor(&alice, &[]);
    assert_eq!(code, Some(0), "{err}{out}");
    assert!(
        out.starts_with("alice@example.org: version 1 at index 1 by enrollment (your enrollment)"),
        "{out}"
    );
    assert!(!out.contains("bob"), "{out}");
    // Nothing new: nothing printed.
    let (code, out, _) = monitor(&alice, &[]);
    assert_eq!((code, out.as_str()), (Some(0), ""));

    // Two rotations of her own: reported, no alert.
    for _ in 0..2 {
        assert!(ank_in(&alice, &["rotate", "alice@example.org"]).0);
    }
    let (code, out, err) = monitor(&alice, &["--json"]);
    assert_eq!(code, Some(0), "{err}{out}");
    let events: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.len(), 2, "{out}");
    for (e, v) in events.iter().zip([2, 3]) {
        assert_eq!(
            (
                e["version"].as_u64(),
                e["alert"].as_bool(),
                e["authority"].as_str()
            ),
            (Some(v), Some(false), Some("key holder"))
        );
    }

    // The operator replaces alice's keys: an alert, with --exec.
    let other = dir.join("other");
    crate::procs::recover_with_new_device(&other, &other, "alice@example.org", &data);
    // The recovery is logged by the sequencer shortly; wait for it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let caught = dir.join("alert.json");
    let exec = format!("cat > {}", caught.display());
    loop {
        let (code, out, err) = monitor(&alice, &["--exec", &exec]);
        if code == Some(2) {
            assert!(
                out.starts_with("ALERT alice@example.org: version 4"),
                "{out}"
            );
            assert!(err.contains("1 alert(s)"), "{err}");
            break;
        }
        assert_eq!(code, Some(0), "{err}{out}");
        assert!(std::time::Instant::now() < deadline, "no alert came");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let alert: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&caught).unwrap()).unwrap();
    assert_eq!(
        (
            alert["address"].as_str(),
            alert["version"].as_u64(),
            alert["authority"].as_str(),
            alert["alert"].as_bool(),
            alert["devices"][0]["name"].as_str()
        ),
        (
            Some("alice@example.org"),
            Some(4),
            Some("operator"),
            Some(true),
            Some("phone")
        )
    );
    // Reported once: the next run has nothing new.
    let (code, out, _) = monitor(&alice, &[]);
    assert_eq!((code, out.as_str()), (Some(0), ""));
}

/// `--follow` keeps watching: an operator recovery made while it runs
/// reaches `--exec` without restarting it.
#[test]
fn follow_keeps_watching() {
    let dir = Scratch::new("monitor-follow");
    let data = dir.join("data");
    let server = Server::start(&data, &["--interval", "20ms"]).unwrap();
    let alice = dir.join("alice");
    crate::history::register(&dir, &server, &alice, "alice@example.org");
    let caught = dir.join("alerts.jsonl");
    let mut follow = std::process::Command::new(crate::procs::bin())
        .env("ANK_HOME", &alice)
        .args([
            "monitor",
            "--follow",
            "--interval",
            "100ms",
            "--json",
            "--exec",
            &format!("cat >> {}", caught.display()),
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    crate::procs::recover_with_new_device(
        &dir.join("op"),
        &dir.join("phone"),
        "alice@example.org",
        &data,
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let alert = loop {
        if let Ok(text) = std::fs::read_to_string(&caught)
            && let Some(line) = text.lines().next()
        {
            break serde_json::from_str::<serde_json::Value>(line).unwrap();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no alert reached --exec"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert_eq!(
        (alert["authority"].as_str(), alert["alert"].as_bool()),
        (Some("operator"), Some(true))
    );
    // Still running: --follow does not stop at an alert.
    assert!(follow.try_wait().unwrap().is_none());
    let _ = follow.kill();
    let _ = follow.wait();
}
