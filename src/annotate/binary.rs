//! The code an annotation reads: the sampled binary checked against the recording, or the
//! kernel's text from /proc/kcore.

/// A binary opened for disassembly: its bytes and objdump's names for it.
pub struct Binary {
    pub data: rperf_symbols::file::Bytes,
    /// The path objdump would be given (perf skips its lines that name it).
    pub path: String,
    pub names: super::names::Names,
    pub lines: Option<rperf_symbols::Lines>,
    pub symbols: Option<rperf_symbols::ElfSymbols>,
    /// For the kernel: its symbols (sizes are the gaps between them); code from kcore.
    pub kernel: Option<rperf_symbols::Kallsyms>,
}

/// Opens the binary recorded as `path` for disassembly: the one that ran (by build-id),
/// never another build of it.
pub fn open_binary(
    syms: &crate::session::Symbolizer,
    path: &str,
    kernel: bool,
    want: Option<&[u8]>,
    source: bool,
) -> std::result::Result<Binary, String> {
    if kernel {
        if let Err(e) = std::fs::File::open(KCORE) {
            return Err(kernel_code_unreadable(&e));
        }
        let ks = rperf_symbols::Kallsyms::load(crate::dirs::cache_dir().as_deref());
        if ks.is_empty() {
            return Err("the kernel's symbols are hidden (kptr_restrict): run as root".into());
        }
        let names = super::names::Names::functions(
            ks.iter()
                .filter(|s| s.module.is_none())
                .map(|s| (s.addr, s.name.to_string())),
        );
        return Ok(Binary {
            data: rperf_symbols::file::Bytes::new(Vec::new()),
            path: KCORE.to_string(),
            names,
            lines: None,
            symbols: None,
            kernel: Some(ks),
        });
    }
    if path == "[vdso]" {
        let image = rperf_symbols::vdso_image().ok_or("the vDSO image is not readable")?;
        let plt = rperf_symbols::plt_entries(&image);
        let names = super::names::Names::load(&image, None, &plt);
        let symbols = rperf_symbols::ElfSymbols::parse(&image).ok();
        return Ok(Binary {
            data: rperf_symbols::file::Bytes::new(image),
            path: path.to_string(),
            names,
            lines: None,
            symbols,
            kernel: None,
        });
    }
    if !path.starts_with('/') {
        return Err(format!("{path} is not a file that can be disassembled"));
    }
    // Another build there and none cached: read_checked names both build-ids.
    let (file, root) = syms
        .locate(path)
        .unwrap_or_else(|| (std::path::PathBuf::from(path), syms.symfs.clone()));
    let real = match &root {
        Some(r) => r.join(file.strip_prefix("/").unwrap_or(&file)),
        None => file.clone(),
    };
    let data = read_checked(&real, want)?;
    let plt = rperf_symbols::plt_entries(&data);
    // objdump merges a separate debug file's symbols only when it reads that file for
    // source lines (-S).
    let debug = source
        .then(|| rperf_symbols::debug_file(&file, root.as_deref()))
        .flatten()
        .and_then(|p| rperf_symbols::file::map_regular(&p).ok());
    let names = super::names::Names::load(&data, debug.as_deref(), &plt);
    let lines = rperf_symbols::Lines::load(&file, root.as_deref());
    let symbols = rperf_symbols::ElfSymbols::load_with_debug(&file, root.as_deref()).ok();
    Ok(Binary {
        data,
        path: real.to_string_lossy().into_owned(),
        names,
        lines,
        symbols,
        kernel: None,
    })
}

/// Where kernel code is read: the running kernel's memory as an ELF core file.
pub const KCORE: &str = "/proc/kcore";

/// Why kernel functions cannot be disassembled here.
pub fn kernel_code_unreadable(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "kernel code is read from /proc/kcore, which this \
                                         kernel does not provide (CONFIG_PROC_KCORE)"
            .to_string(),
        std::io::ErrorKind::PermissionDenied => {
            "kernel code is read from /proc/kcore, which only root can read (run as root)"
                .to_string()
        }
        _ => format!("cannot read /proc/kcore: {e}"),
    }
}

/// `len` bytes of kernel code at `addr`, from the PT_LOAD segment of kcore that maps it.
/// kcore is as large as the address space: only its headers and those bytes are read.
pub fn kcore_code(addr: u64, len: u64) -> std::result::Result<Vec<u8>, String> {
    let f = std::fs::File::open(KCORE).map_err(|e| kernel_code_unreadable(&e))?;
    core_code(&f, addr, len)
}

/// `len` bytes at virtual address `addr` of the ELF core file `f`.
pub fn core_code(f: &std::fs::File, addr: u64, len: u64) -> std::result::Result<Vec<u8>, String> {
    use std::os::unix::fs::FileExt;
    let bad = || "/proc/kcore is not the ELF core file expected".to_string();
    let mut eh = [0u8; 64];
    f.read_exact_at(&mut eh, 0)
        .map_err(|e| format!("cannot read /proc/kcore: {e}"))?;
    if &eh[..4] != b"\x7fELF" || eh[4] != 2 || eh[5] != 1 {
        return Err(bad());
    }
    let u16_at = |b: &[u8], o: usize| u16::from_le_bytes([b[o], b[o + 1]]);
    let u64_at = |b: &[u8], o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap_or([0; 8]));
    let (phoff, phentsize, phnum) = (u64_at(&eh, 0x20), u16_at(&eh, 0x36), u16_at(&eh, 0x38));
    if phentsize < 56 || phnum == 0 {
        return Err(bad());
    }
    let mut ph = vec![0u8; usize::from(phentsize) * usize::from(phnum)];
    f.read_exact_at(&mut ph, phoff).map_err(|_| bad())?;
    for p in ph.chunks(usize::from(phentsize)) {
        let kind = u32::from_le_bytes([p[0], p[1], p[2], p[3]]);
        let (offset, vaddr, filesz) = (u64_at(p, 8), u64_at(p, 16), u64_at(p, 32));
        if kind == object::elf::PT_LOAD
            && vaddr <= addr
            && addr.saturating_add(len) <= vaddr.saturating_add(filesz)
        {
            let mut code = vec![0u8; len as usize];
            f.read_exact_at(&mut code, offset + (addr - vaddr))
                .map_err(|e| {
                    format!("cannot read kernel code at {addr:x} from /proc/kcore: {e}")
                })?;
            return Ok(code);
        }
    }
    Err(format!("/proc/kcore does not map {addr:x}"))
}

/// The binary at `real`, if it is the one with build-id `want` (when the file recorded
/// one): else why not, in words for the user.
pub fn read_checked(
    real: &std::path::Path,
    want: Option<&[u8]>,
) -> std::result::Result<rperf_symbols::file::Bytes, String> {
    let data = rperf_symbols::file::map_regular(real).map_err(|e| {
        format!(
            "cannot read {}: {e} (is the binary still there? --symfs names a copy of its root)",
            real.display()
        )
    })?;
    if let Some(want) = want.filter(|w| !w.is_empty()) {
        let have = rperf_symbols::buildid::build_id_of(&data).ok().flatten();
        if have.as_deref() != Some(want) {
            return Err(format!(
                "{} is not the binary that was recorded (build-id {} was recorded, the file \
                 has {}): annotate where it was recorded, or add the recorded binary with \
                 rperf buildid-cache -a",
                real.display(),
                rperf_symbols::buildid::hex(want),
                have.as_deref()
                    .map_or("none".to_string(), rperf_symbols::buildid::hex)
            ));
        }
    }
    Ok(data)
}

/// Whether the user-space binary recorded as `path` can be read as recorded.
pub fn check_binary(
    syms: &crate::session::Symbolizer,
    path: &str,
    want: Option<&[u8]>,
) -> std::result::Result<(), String> {
    if !path.starts_with('/') {
        return Ok(());
    }
    // Another build there and none cached: read_checked names both build-ids.
    let (file, root) = syms
        .locate(path)
        .unwrap_or_else(|| (std::path::PathBuf::from(path), syms.symfs.clone()));
    let real = match &root {
        Some(r) => r.join(file.strip_prefix("/").unwrap_or(&file)),
        None => file,
    };
    read_checked(&real, want).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A little ELF core file: a PT_NOTE, then a PT_LOAD mapping `code` at `vaddr`.
    fn core(vaddr: u64, code: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 64];
        f[..4].copy_from_slice(b"\x7fELF");
        f[4] = 2;
        f[5] = 1;
        f[0x20..0x28].copy_from_slice(&64u64.to_le_bytes());
        f[0x36..0x38].copy_from_slice(&56u16.to_le_bytes());
        f[0x38..0x3a].copy_from_slice(&2u16.to_le_bytes());
        let data_at = 64 + 2 * 56u64;
        for (kind, v, size) in [(4u32, 0u64, 0u64), (1, vaddr, code.len() as u64)] {
            let mut p = vec![0u8; 56];
            p[..4].copy_from_slice(&kind.to_le_bytes());
            p[8..16].copy_from_slice(&data_at.to_le_bytes());
            p[16..24].copy_from_slice(&v.to_le_bytes());
            p[32..40].copy_from_slice(&size.to_le_bytes());
            f.extend(p);
        }
        f.extend_from_slice(code);
        f
    }

    #[test]
    fn kernel_code_is_read_from_the_segment_that_maps_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kcore");
        let base = 0xffff_ffff_8100_0000;
        std::fs::write(&path, core(base, &[0x55, 0x48, 0x89, 0xe5, 0xc3])).unwrap();
        let f = std::fs::File::open(&path).unwrap();
        assert_eq!(core_code(&f, base + 1, 3).unwrap(), vec![0x48, 0x89, 0xe5]);
        // Past the segment, or before it: not mapped.
        assert!(core_code(&f, base + 3, 4)
            .unwrap_err()
            .contains("does not map"));
        assert!(core_code(&f, base - 1, 2).is_err());
        std::fs::write(
            &path,
            b"not an elf file, long enough to hold a header, really, yes it is ok",
        )
        .unwrap();
        let f = std::fs::File::open(&path).unwrap();
        assert!(core_code(&f, base, 1)
            .unwrap_err()
            .contains("not the ELF core file"));
    }
}
