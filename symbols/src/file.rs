//! Opening the files a recording names: regular files only, never blocking on a FIFO or
//! device that a crafted perf.data (or a changed system) puts at a binary's path.
use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use crate::Error;

/// Opens `path` for reading if it is a regular file. The open itself does not block (a FIFO
/// without a writer would wait forever) and the type is checked on the open file, so a
/// path swapped between a check and the open cannot slip through.
pub fn open_regular(path: &Path) -> Result<File, Error> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|e| Error::io(path, e))?;
    let meta = file.metadata().map_err(|e| Error::io(path, e))?;
    if !meta.is_file() {
        return Err(Error::io(
            path,
            io::Error::new(io::ErrorKind::InvalidInput, "not a regular file"),
        ));
    }
    Ok(file)
}

/// The whole content of the regular file at `path`.
pub fn read_regular(path: &Path) -> Result<Vec<u8>, Error> {
    let mut file = open_regular(path)?;
    let mut data = Vec::new();
    file.read_to_end(&mut data)
        .map_err(|e| Error::io(path, e))?;
    Ok(data)
}

/// The text of the regular file at `path` (invalid UTF-8 is an error).
pub fn read_regular_to_string(path: &Path) -> Result<String, Error> {
    let data = read_regular(path)?;
    String::from_utf8(data)
        .map_err(|e| Error::io(path, io::Error::new(io::ErrorKind::InvalidData, e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifos_and_devices_are_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let ok = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "mkfifo failed");
        let e = read_regular(&fifo).unwrap_err().to_string();
        assert!(e.contains("not a regular file"), "{e}");
        let e = read_regular(Path::new("/dev/null"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a regular file"), "{e}");
        assert!(read_regular(dir.path()).is_err());
        let f = dir.path().join("f");
        std::fs::write(&f, "text").unwrap();
        assert_eq!(read_regular_to_string(&f).unwrap(), "text");
    }
}
