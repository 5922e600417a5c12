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
