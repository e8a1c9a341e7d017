//! Private cache files (the kernel's symbol table holds its real addresses): written only
//! into directories the effective user owns, mode 0600, created under a random name and
//! moved into place whole; read back only when they are that user's and private.
//!
//! Root running with another user's `$HOME` (`sudo -E`) must neither leave root-owned files
//! in that home nor trust what that user put there, so a cache directory whose nearest
//! existing ancestor belongs to someone other than the effective user (or root) is not used.
use std::fs::{self, DirBuilder};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::Path;

fn euid() -> u32 {
    rustix::process::geteuid().as_raw()
}

fn denied(path: &Path, why: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::PermissionDenied,
        format!("{}: {why}", path.display()),
    )
}

/// Whether `dir` (existing or not) may hold this user's private cache: the nearest existing
/// ancestor belongs to the effective user or to root, and `dir` itself, if it exists, is a
/// directory of the effective user that nobody else can write.
fn check_dir(dir: &Path) -> io::Result<()> {
    let me = euid();
    let mut probe = Some(dir);
    while let Some(p) = probe {
        match fs::metadata(p) {
            Ok(m) => {
                if m.uid() != me && m.uid() != 0 {
                    return Err(denied(p, "belongs to another user; not caching there"));
                }
                if p == dir && (m.uid() != me || !m.is_dir() || m.mode() & 0o022 != 0) {
                    return Err(denied(p, "not a private directory of this user"));
                }
                return Ok(());
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => probe = p.parent(),
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Writes `data` as the private cache file `path`, creating its directory (0700).
pub fn write(path: &Path, data: &[u8]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    check_dir(dir)?;
    DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    check_dir(dir)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".rperf-cache-")
        .permissions(fs::Permissions::from_mode(0o600))
        .tempfile_in(dir)?;
    tmp.write_all(data)?;
    tmp.persist(path).map(drop).map_err(|e| e.error)
}

/// The content of the cache file `path` when it is a regular file of the effective user that
/// only that user can read and write; None otherwise.
pub fn read(path: &Path) -> Option<Vec<u8>> {
    let mut f = crate::file::open_regular(path).ok()?;
    let m = f.metadata().ok()?;
    if m.uid() != euid() || m.mode() & 0o077 != 0 {
        return None;
    }
    let mut data = Vec::new();
    f.read_to_end(&mut data).ok()?;
    Some(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_private_and_read_back() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("a/b/cache");
        write(&p, b"secret").unwrap();
        assert_eq!(fs::metadata(&p).unwrap().mode() & 0o777, 0o600);
        assert_eq!(
            fs::metadata(d.path().join("a/b")).unwrap().mode() & 0o777,
            0o700
        );
        assert_eq!(read(&p).unwrap(), b"secret");
        // A cache others can read is not trusted (an older version wrote such files).
        fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(read(&p), None);
        write(&p, b"again").unwrap();
        assert_eq!(read(&p).unwrap(), b"again");
    }

    #[test]
    fn group_writable_directories_are_not_used() {
        let d = tempfile::tempdir().unwrap();
        fs::set_permissions(d.path(), fs::Permissions::from_mode(0o777)).unwrap();
        let e = write(&d.path().join("cache"), b"x").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::PermissionDenied);
        assert!(fs::read_dir(d.path()).unwrap().next().is_none());
    }
}
