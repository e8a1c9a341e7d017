//! Finding tracefs, and mounting it at /sys/kernel/tracing when it is not mounted.
use std::fs;
use std::io;
use std::path::PathBuf;
use std::sync::OnceLock;

/// Where rperf mounts tracefs when nothing else has.
pub const DEFAULT_MOUNT: &str = "/sys/kernel/tracing";

/// The tracefs root: found in /proc/mounts, under debugfs, or mounted at [`DEFAULT_MOUNT`].
pub fn root() -> io::Result<PathBuf> {
    static ROOT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    ROOT.get_or_init(|| find_or_mount().map_err(|e| e.to_string()))
        .clone()
        .map_err(io::Error::other)
}

fn mounted() -> Option<PathBuf> {
    let mounts = fs::read_to_string("/proc/mounts").ok()?;
    let mut debugfs = None;
    for line in mounts.lines() {
        let mut f = line.split_whitespace();
        let (_dev, dir, fstype) = (f.next()?, f.next()?, f.next()?);
        match fstype {
            "tracefs" => return Some(PathBuf::from(dir)),
            "debugfs" => debugfs = Some(PathBuf::from(dir).join("tracing")),
            _ => {}
        }
    }
    debugfs.filter(|p| p.join("events").is_dir())
}

fn find_or_mount() -> io::Result<PathBuf> {
    if let Some(p) = mounted() {
        return Ok(p);
    }
    let target = c"/sys/kernel/tracing";
    // SAFETY: all pointers are NUL-terminated static strings; data may be NULL for tracefs.
    let r = unsafe {
        libc::mount(
            c"nodev".as_ptr(),
            target.as_ptr(),
            c"tracefs".as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    if r != 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(
            e.kind(),
            format!(
                "tracefs is not mounted and mounting it at {DEFAULT_MOUNT} failed ({e}): \
                 run as root or `mount -t tracefs nodev {DEFAULT_MOUNT}`"
            ),
        ));
    }
    Ok(PathBuf::from(DEFAULT_MOUNT))
}

/// Reads a tracefs file. Some (events/header_page, header_event) answer only a read at
/// offset 0, so the first read asks for up to 1 MiB at once; later reads collect the rest.
pub fn read_file(path: &std::path::Path) -> io::Result<Vec<u8>> {
    use std::io::Read;
    let mut f = fs::File::open(path)?;
    let mut buf = vec![0u8; 1 << 20];
    let mut len = 0;
    loop {
        if len == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
        match f.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(len);
    Ok(buf)
}
