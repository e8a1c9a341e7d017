//! Where rperf's output goes: standard output (`-`, and a closed pipe ends output quietly),
//! devices and FIFOs written in place, and regular files created exclusively beside their
//! destination and moved into place only when complete.
//!
//! rperf often runs as root in directories other users can write. A temporary file with a
//! predictable name there is an invitation to plant a symlink that root then truncates;
//! renaming over a device replaces the device. So every file rperf writes goes through
//! [`Output`]: temporary names are random and opened with `O_EXCL` (the `tempfile` crate), a
//! destination that is not a regular file is opened and written as it is, and a failed write
//! removes its temporary file on every path (the temporary file is deleted when dropped).
use std::fs::{self, File, OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Writes `s` to stdout; a closed pipe is not an error.
pub fn stdout(s: &str) -> io::Result<()> {
    let mut out = io::stdout().lock();
    match out.write_all(s.as_bytes()).and_then(|_| out.flush()) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        r => r,
    }
}

/// How a new regular file is made.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Mode bits of a new file (the umask applies).
    pub mode: u32,
    /// Rename an existing non-empty regular destination to `NAME.old` first (perf.data).
    pub keep_old: bool,
    /// Flush the data to the disk before it is moved into place.
    pub sync: bool,
}

impl Default for Options {
    /// A document for people to read: 0666 less the umask, no `.old`, no sync.
    fn default() -> Options {
        Options {
            mode: 0o666,
            keep_old: false,
            sync: false,
        }
    }
}

/// An output being written; nothing appears at a regular destination before [`Output::commit`].
#[derive(Debug)]
pub struct Output {
    dest: PathBuf,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    Stdout(io::Stdout),
    /// A device, FIFO or socket the user named: written where it is, never replaced.
    Direct(File),
    /// A regular file: written under a random name beside the destination.
    Staged {
        tmp: tempfile::NamedTempFile,
        opts: Options,
    },
}

/// What kind of destination a path names, decided before anything is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dest {
    /// `-`: standard output.
    Stdout,
    /// An existing FIFO (perf writes its pipe format there).
    Fifo,
    /// An existing device or socket.
    Special,
    /// A regular file, or nothing yet.
    Regular,
}

/// Classifies `path` (following a symlink the user named, as perf does).
pub fn dest_kind(path: &Path) -> io::Result<Dest> {
    use std::os::unix::fs::FileTypeExt;
    if path.as_os_str() == "-" {
        return Ok(Dest::Stdout);
    }
    match fs::metadata(path) {
        Ok(m) if m.is_dir() => Err(io::Error::new(
            io::ErrorKind::IsADirectory,
            "is a directory: name a file",
        )),
        Ok(m) if m.file_type().is_fifo() => Ok(Dest::Fifo),
        Ok(m) if !m.is_file() => Ok(Dest::Special),
        Ok(_) => Ok(Dest::Regular),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Dest::Regular),
        Err(e) => Err(e),
    }
}

/// tempfile names its random path in errors ("… at path /dir/.x.AbC123.rperf-tmp"); the
/// user named the destination, so the error is the system's alone (the caller adds the
/// destination).
fn without_temp_name(e: io::Error) -> io::Error {
    // The inner error is private to tempfile: its text, up to the path it appends.
    let text = e.to_string();
    match text.split_once(" at path ") {
        Some((plain, _)) => io::Error::new(e.kind(), plain.to_string()),
        None => e,
    }
}

impl Output {
    /// Starts writing `dest` (`-` is standard output).
    pub fn create(dest: &Path, opts: Options) -> io::Result<Output> {
        let kind = match dest_kind(dest)? {
            Dest::Stdout => Kind::Stdout(io::stdout()),
            Dest::Fifo | Dest::Special => Kind::Direct(OpenOptions::new().write(true).open(dest)?),
            Dest::Regular => {
                let name = dest
                    .file_name()
                    .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name"))?;
                let dir = match dest.parent() {
                    Some(p) if !p.as_os_str().is_empty() => p,
                    _ => Path::new("."),
                };
                let tmp = tempfile::Builder::new()
                    .prefix(&format!(".{}.", name.to_string_lossy()))
                    .suffix(".rperf-tmp")
                    .permissions(Permissions::from_mode(opts.mode))
                    .tempfile_in(dir)
                    .map_err(without_temp_name)?;
                Kind::Staged { tmp, opts }
            }
        };
        Ok(Output {
            dest: dest.to_path_buf(),
            kind,
        })
    }

    /// The destination as the user named it.
    pub fn dest(&self) -> &Path {
        &self.dest
    }

    /// Whether this is standard output.
    pub fn is_stdout(&self) -> bool {
        matches!(self.kind, Kind::Stdout(_))
    }

    /// The open file, for seeking (None for standard output).
    pub fn file(&mut self) -> Option<&mut File> {
        match &mut self.kind {
            Kind::Stdout(_) => None,
            Kind::Direct(f) => Some(f),
            Kind::Staged { tmp, .. } => Some(tmp.as_file_mut()),
        }
    }

    /// Finishes the output: a regular file is moved into place (the old one renamed to
    /// `.old` first when asked); dropping an `Output` without committing removes its
    /// temporary file and leaves the destination as it was.
    pub fn commit(self) -> io::Result<()> {
        match self.kind {
            Kind::Stdout(mut s) => match s.flush() {
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
                r => r,
            },
            Kind::Direct(mut f) => f.flush(),
            Kind::Staged { tmp, opts } => {
                if opts.sync {
                    tmp.as_file().sync_all()?;
                }
                if opts.keep_old {
                    // Only a real, non-empty previous file is kept (a symlink planted there
                    // is simply replaced: rename acts on the link, not its target).
                    let old = fs::symlink_metadata(&self.dest);
                    if old.is_ok_and(|m| m.is_file() && m.len() > 0) {
                        let mut o = self.dest.clone().into_os_string();
                        o.push(".old");
                        fs::rename(&self.dest, o)?;
                    }
                }
                tmp.persist(&self.dest).map(drop).map_err(|e| e.error)
            }
        }
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.kind {
            Kind::Stdout(s) => s.write(buf),
            Kind::Direct(f) => f.write(buf),
            Kind::Staged { tmp, .. } => tmp.write(buf),
        }
    }

    // One writev for several pieces (perf.data's writer).
    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        match &mut self.kind {
            Kind::Stdout(s) => s.write_vectored(bufs),
            Kind::Direct(f) => f.write_vectored(bufs),
            Kind::Staged { tmp, .. } => tmp.write_vectored(bufs),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.kind {
            Kind::Stdout(s) => s.flush(),
            Kind::Direct(f) => f.flush(),
            Kind::Staged { tmp, .. } => tmp.flush(),
        }
    }
}

/// Writes `bytes` to `dest` as one [`Output`]; on any failure nothing is left behind.
pub fn write_file(dest: &Path, bytes: &[u8], opts: Options) -> io::Result<()> {
    let mut out = Output::create(dest, opts)?;
    match out.write_all(bytes) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe && out.is_stdout() => return Ok(()),
        r => r?,
    }
    out.commit()
}

/// Writes to standard output; a closed pipe (`| head`) is not an error worth a message.
pub fn print(bytes: &[u8]) -> anyhow::Result<()> {
    use anyhow::Context;
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|_| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => r.context("cannot write to standard output"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn dir(tag: &str) -> tempfile::TempDir {
        tempfile::Builder::new()
            .prefix(&format!("rperf-output-{tag}-"))
            .tempdir()
            .unwrap()
    }

    #[test]
    fn nothing_at_the_destination_until_commit() {
        let d = dir("commit");
        let dest = d.path().join("a.svg");
        let mut o = Output::create(&dest, Options::default()).unwrap();
        o.write_all(b"half").unwrap();
        assert!(!dest.exists());
        drop(o);
        assert!(!dest.exists());
        assert_eq!(fs::read_dir(d.path()).unwrap().count(), 0, "temp file left");
        write_file(&dest, b"whole", Options::default()).unwrap();
        assert_eq!(fs::read(&dest).unwrap(), b"whole");
        assert_eq!(fs::read_dir(d.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_planted_symlink_at_the_destination_is_replaced_not_followed() {
        let d = dir("plant");
        let victim = d.path().join("victim");
        fs::write(&victim, "keep").unwrap();
        let dest = d.path().join("perf.data");
        symlink(&victim, d.path().join("perf.data.old")).unwrap();
        fs::write(&dest, "first").unwrap();
        let opts = Options {
            mode: 0o600,
            keep_old: true,
            sync: true,
        };
        write_file(&dest, b"second", opts).unwrap();
        assert_eq!(fs::read(&victim).unwrap(), b"keep");
        assert_eq!(fs::read(&dest).unwrap(), b"second");
        let old = d.path().join("perf.data.old");
        assert!(fs::symlink_metadata(&old).unwrap().is_file());
        assert_eq!(fs::read(old).unwrap(), b"first");
        let mode = fs::metadata(&dest).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode & 0o077, 0, "perf.data is private: {mode:o}");
    }

    #[test]
    fn an_empty_previous_file_is_not_kept() {
        let d = dir("empty");
        let dest = d.path().join("perf.data");
        fs::write(&dest, "").unwrap();
        let opts = Options {
            keep_old: true,
            ..Options::default()
        };
        write_file(&dest, b"x", opts).unwrap();
        assert!(!d.path().join("perf.data.old").exists());
    }

    #[test]
    fn directories_are_refused_and_fifos_recognised() {
        let d = dir("kinds");
        let e = Output::create(d.path(), Options::default()).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::IsADirectory);
        assert_eq!(dest_kind(Path::new("-")).unwrap(), Dest::Stdout);
        assert_eq!(dest_kind(Path::new("/dev/null")).unwrap(), Dest::Special);
        assert_eq!(dest_kind(&d.path().join("new")).unwrap(), Dest::Regular);
    }

    #[test]
    fn errors_name_no_temporary_path() {
        let e = Output::create(Path::new("/nonexistent-rperf/x.data"), Options::default());
        let e = e.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        assert!(!e.to_string().contains("rperf-tmp"), "{e}");
    }

    #[test]
    fn a_relative_destination_stages_in_the_current_directory() {
        let o = Output::create(Path::new("rperf-output-test-rel.svg"), Options::default());
        let o = o.unwrap();
        assert!(!o.is_stdout());
        drop(o);
        assert!(!Path::new("rperf-output-test-rel.svg").exists());
    }
}
