//! Keeps the README honest: every `$ ank …` example line runs and verifies.

use std::path::Path;
use std::process::Command;

#[test]
fn readme_examples_run() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let examples: Vec<&str> = readme
        .lines()
        .filter_map(|l| l.strip_prefix("$ ank "))
        .collect();
    assert!(examples.len() >= 6, "README lost its examples");
    for ex in examples {
        let out = Command::new(env!("CARGO_BIN_EXE_ank"))
            .args(ex.split_whitespace())
            .current_dir(&root)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.starts_with("ok"),
            "README example failed: ank {ex}\n{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // The README's test command is the one CI runs.
    let ci = std::fs::read_to_string(root.join(".ci/run")).unwrap();
    assert!(readme.contains("\ncargo test --workspace\n"));
    assert!(ci.lines().any(|l| l.starts_with("cargo test --workspace")));
}

/// The README's operator quick start runs as written (on a free port instead of 8080).
#[test]
fn readme_quick_start_runs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let block = readme
        .split("<!-- quickstart:begin -->")
        .nth(1)
        .and_then(|r| r.split("<!-- quickstart:end -->").next())
        .expect("README has a quick start block");
    let script = block
        .trim()
        .trim_start_matches("```sh")
        .trim_end_matches("```");
    // The server binds port 0; its address is read from what it prints,
    // and stands where the README says 127.0.0.1:8080.
    let mut lines = Vec::new();
    for line in script.lines() {
        if line.trim_start().starts_with("ank serve ") && line.trim_end().ends_with('&') {
            let l = line.trim_end().trim_end_matches('&').replace(
                "ank serve --domain",
                "ank serve --listen 127.0.0.1:0 --domain",
            );
            lines.push(format!("{l} > serve.out &"));
            lines.push(
                "until ADDR=$(sed -n 's|^  url:  http://\\(.*\\)/$|\\1|p' serve.out) && [ -n \"$ADDR\" ]; do sleep 0.1; done"
                    .to_owned(),
            );
        } else {
            lines.push(line.replace("127.0.0.1:8080", "$ADDR"));
        }
    }
    let script = lines.join("\n");
    assert!(
        script.contains("serve.out"),
        "the quick start starts ank serve"
    );
    let dir = std::env::temp_dir().join(format!("ank-quickstart-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_ank")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let full =
        format!("set -euo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n{script}");
    let out = Command::new("timeout")
        .args(["120", "bash", "-c", &full])
        .env("PATH", path)
        .current_dir(&dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success(),
        "quick start failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for want in [
        // Entry 0 is the empty map's root; each publish is a batch of its
        // own here, closed by a map-root entry.
        "registered alice@example.org: version 1 at index 1",
        "alice@example.org: current, version 1 at index 1, authorised by enrollment",
        "bob@example.org: absent",
        "rotated alice@example.org: version 2 at index 3",
        "\"authority\":\"key holder\"",
        "alice@example.org: version 2 at index 3 by key holder (signed by one of your keys)",
        "ok: tiled log example.org/ank size 5",
        "\"error\":\"missing_token\"",
        "ok: replayed 5 entries (2 bindings, 3 map roots) of example.org/ank size 5",
        "sent to alice@example.org (device laptop)",
        "Subject: Note to self",
        "ok: alice@example.org is current at version 2 (index 3",
    ] {
        assert!(
            stdout.contains(want),
            "quick start output lacks {want:?}:\n{stdout}"
        );
    }
}
