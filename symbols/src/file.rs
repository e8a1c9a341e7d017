//! Opening the files a recording names: regular files only, never blocking on a FIFO or
//! device that a crafted perf.data (or a changed system) puts at a binary's path; and their
//! bytes as [`Bytes`], mapped by the program's [`Mapper`] when it installs one.
use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::{Arc, OnceLock};

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

/// Where [`Bytes`] come from: anything that holds bytes, and may let go of the memory of a
/// range that will not be read again soon (a mapping drops those pages from the process; a
/// later read faults them back in from the file).
pub trait Source: AsRef<[u8]> + Send + Sync {
    /// A hint that `range` will not be read soon; the default does nothing.
    fn release(&self, range: std::ops::Range<usize>) {
        let _ = range;
    }
}

impl Source for Vec<u8> {}

/// The contents of a file (or an image in memory), shared and immutable: a mapping when the
/// program installed a [`Mapper`], else bytes read into memory. Binaries of hundreds of MB
/// are mapped so that only the pages a lookup touches (the symbol and string tables) are
/// read, and by the kernel's page cache rather than copied.
#[derive(Clone)]
pub struct Bytes(Arc<dyn Source>);

impl Bytes {
    /// Wraps anything that holds bytes (a `Vec<u8>`, a mapping).
    pub fn new(inner: impl Source + 'static) -> Bytes {
        Bytes(Arc::new(inner))
    }

    /// Tells the source that `range` will not be read soon (see [`Source::release`]): a
    /// symbol table is read once, to index it, and a mapping need not keep it resident.
    pub fn release(&self, range: std::ops::Range<usize>) {
        if range.start < range.end && range.end <= self.len() {
            self.0.release(range);
        }
    }
}

impl std::ops::Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        (*self.0).as_ref()
    }
}

impl std::fmt::Debug for Bytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Bytes({} bytes)", self.len())
    }
}

/// Maps an open regular file read-only. This crate holds no `unsafe` code, and mapping a
/// file is unsafe (the file may change under the mapping), so the program that links it
/// decides whether to map and supplies the function: see [`set_mapper`].
pub type Mapper = fn(&File) -> io::Result<Bytes>;

static MAPPER: OnceLock<Mapper> = OnceLock::new();

/// Installs the function [`map_regular`] maps files with (the first call wins; false when
/// one was installed already). Without one, files are read.
pub fn set_mapper(mapper: Mapper) -> bool {
    MAPPER.set(mapper).is_ok()
}

/// `file` mapped by the installed [`Mapper`]; None without one or when mapping fails.
pub(crate) fn map_open(file: &File) -> Option<Bytes> {
    MAPPER.get().and_then(|map| map(file).ok())
}

/// The contents of the regular file at `path`: mapped by the installed [`Mapper`], or read
/// when there is none or it fails (an empty file cannot be mapped).
pub fn map_regular(path: &Path) -> Result<Bytes, Error> {
    let mut file = open_regular(path)?;
    if let Some(map) = MAPPER.get() {
        if let Ok(bytes) = map(&file) {
            return Ok(bytes);
        }
    }
    let mut data = Vec::new();
    file.read_to_end(&mut data)
        .map_err(|e| Error::io(path, e))?;
    Ok(Bytes::new(data))
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
        assert!(map_regular(&fifo).is_err());
        assert!(map_regular(Path::new("/dev/null")).is_err());
        assert_eq!(&*map_regular(&f).unwrap(), b"text");
    }
}
