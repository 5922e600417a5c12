//! Writes the vectors into this crate's folder: `cargo run -p ank-test-vectors`.

fn main() -> std::io::Result<()> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for (path, bytes) in ank_test_vectors::generate() {
        let full = root.join(&path);
        if let Some(dir) = full.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&full, bytes)?;
    }
    println!("wrote the vectors under {}", root.display());
    Ok(())
}
