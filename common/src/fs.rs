//! Private, durable files.
//!
//! Everything ank writes on a user's or an operator's machine can be
//! sensitive (keys, mail, mail metadata, log databases): directories are
//! created 0700 and files 0600, and replaced files reach the disk before the
//! rename that publishes them.

use std::io::Write as _;
use std::path::Path;

/// Creates `dir` and any missing parents with mode 0700; an existing `dir`
/// is narrowed to 0700 (parents that already exist are left alone).
///
/// # Errors
/// I/O errors.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir)?;
    restrict(dir, 0o700)
}

/// Sets `path`'s permission bits (Unix only).
///
/// # Errors
/// I/O errors.
pub fn restrict(path: &Path, mode: u32) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}

fn private_options() -> std::fs::OpenOptions {
    let mut o = std::fs::OpenOptions::new();
    o.write(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    o
}

/// Writes a new file (an existing one is an error) readable by its owner
/// only, and syncs it.
///
/// # Errors
/// I/O errors; `AlreadyExists` for an existing file.
pub fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let mut f = private_options().create_new(true).open(path)?;
    f.write_all(contents)?;
    f.sync_all()
}

/// Replaces `path` atomically with `contents` (mode 0600): a temporary file
/// beside it is written and synced, renamed over `path`, and the directory
/// is synced. Concurrent writers each rename a complete file; the last wins.
///
/// # Errors
/// I/O errors.
pub fn replace_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let suffix: [u8; 8] = crate::random()?;
    let tmp = dir.join(format!(
        ".{name}.{}.tmp",
        suffix
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    ));
    let written = write_private(&tmp, contents).and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
        return written;
    }
    sync_dir(dir)
}

/// Makes sure `path` exists as a file with mode 0600 (created empty if
/// missing), so that a database opened on it, and the journal files sqlite
/// creates beside it with the same mode, are private.
///
/// # Errors
/// I/O errors.
pub fn ensure_private_file(path: &Path) -> std::io::Result<()> {
    match private_options().create_new(true).open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => restrict(path, 0o600),
        Err(e) => Err(e),
    }
}

/// Syncs a directory, so that a rename or a new file in it is durable.
///
/// # Errors
/// I/O errors.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    std::fs::File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}
