//! Unwinding rules read from an ELF file's CFI sections alone: the headers and
//! `.eh_frame_hdr`/`.eh_frame` (or `.debug_frame` where there is no `.eh_frame`) are read with
//! positioned reads, never the whole image, so a 150 MB library costs its few MB of CFI.
//!
//! framehop reads no instruction bytes for ELF modules (only for Mach-O and PE), so the text
//! section's address is all it needs of it.
use std::fs::File;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use framehop::ExplicitModuleSectionInfo;
use object::read::elf::{ElfFile64, ProgramHeader};
use object::{Endianness, Object, ObjectSection};

use crate::{mapped_vaddr, Bytes, Error, ProcessUnwinder};

/// The CFI of one ELF file, read once and shared (cheaply cloned) by every mapping of it.
#[derive(Debug, Clone)]
pub struct ElfCfi {
    endian: Endianness,
    headers: Vec<object::elf::ProgramHeader64<Endianness>>,
    text: Option<Range<u64>>,
    got: Option<Range<u64>>,
    eh_frame: Option<(Range<u64>, Bytes)>,
    eh_frame_hdr: Option<(Range<u64>, Bytes)>,
    debug_frame: Option<Bytes>,
    /// The file has a non-empty `.debug_frame` (read only when it has no `.eh_frame`).
    has_debug_frame: bool,
    entry: u64,
    size: usize,
    /// The exact walk's pass over the FDEs, shared by every mapping of the file.
    scan: crate::exact::FdeScan,
}

fn whole(data: Vec<u8>) -> Bytes {
    let range = 0..data.len();
    Bytes {
        data: Arc::from(data),
        range,
    }
}

impl ElfCfi {
    /// Reads the headers and CFI sections of the ELF file `file`. Fails with
    /// [`Error::TooLarge`] before reading them when they hold more than `max_bytes`.
    pub fn read(file: &File, max_bytes: usize) -> Result<ElfCfi, Error> {
        Self::read_file(file, max_bytes, false)
    }

    fn read_file(file: &File, max_bytes: usize, debug_only: bool) -> Result<ElfCfi, Error> {
        let len = file.metadata().map_err(Error::Io)?.len();
        let cache = object::read::ReadCache::new(file);
        let read = |(off, size): (u64, u64)| -> Result<Bytes, Error> {
            let mut v = vec![0u8; size as usize];
            file.read_exact_at(&mut v, off).map_err(Error::Io)?;
            Ok(whole(v))
        };
        Self::from_elf(&cache, len, max_bytes, read, debug_only)
    }

    /// The same from an image in memory (the `[vdso]`, copied out of this process).
    pub fn parse(data: &[u8], max_bytes: usize) -> Result<ElfCfi, Error> {
        let read = |(off, size): (u64, u64)| -> Result<Bytes, Error> {
            let v = data
                .get(off as usize..(off + size) as usize)
                .ok_or(Error::NotElf("a CFI section lies past the end".into()))?;
            Ok(whole(v.to_vec()))
        };
        Self::from_elf(data, data.len() as u64, max_bytes, read, false)
    }

    fn from_elf<'d, R: object::ReadRef<'d>>(
        data: R,
        len: u64,
        max_bytes: usize,
        read: impl Fn((u64, u64)) -> Result<Bytes, Error>,
        debug_only: bool,
    ) -> Result<ElfCfi, Error> {
        let elf =
            ElfFile64::<Endianness, R>::parse(data).map_err(|e| Error::NotElf(e.to_string()))?;
        let endian = elf.endian();
        let span = |name: &str| {
            elf.section_by_name(name)
                .map(|s| s.address()..s.address() + s.size())
        };
        // A section stored as is: its addresses and where its bytes lie in the file (never
        // past its end: a damaged header must not size a read).
        let plain = |name: &str| {
            let s = elf.section_by_name(name)?;
            let c = s.compressed_file_range().ok()?;
            if c.format != object::CompressionFormat::None {
                return None;
            }
            let (off, size) = s.file_range()?;
            (off.checked_add(size)? <= len)
                .then_some((s.address()..s.address() + s.size(), (off, size)))
        };
        let eh_frame = plain(".eh_frame").filter(|_| !debug_only);
        let eh_frame_hdr = eh_frame.as_ref().and(plain(".eh_frame_hdr"));
        let mut want = [&eh_frame, &eh_frame_hdr]
            .iter()
            .filter_map(|s| s.as_ref().map(|(_, (_, size))| *size))
            .sum::<u64>();
        let debug_section = elf.section_by_name(".debug_frame").filter(|s| s.size() > 0);
        let has_debug_frame = debug_section.is_some();
        // framehop prefers .eh_frame: .debug_frame is read only when there is none.
        let debug = if eh_frame.is_none() {
            debug_section.and_then(|s| Some((s.compressed_file_range().ok()?, s)))
        } else {
            None
        };
        if let Some((c, _)) = &debug {
            if c.offset.saturating_add(c.compressed_size) > len {
                return Err(Error::NotElf(".debug_frame lies past the end".into()));
            }
            want += c.compressed_size + c.uncompressed_size;
        }
        if want > max_bytes as u64 {
            return Err(Error::TooLarge {
                needed: want,
                max: max_bytes as u64,
            });
        }
        let eh_frame = eh_frame.map(|(r, at)| Ok::<_, Error>((r, read(at)?)));
        let eh_frame = eh_frame.transpose()?;
        let eh_frame_hdr = eh_frame_hdr.map(|(r, at)| Ok::<_, Error>((r, read(at)?)));
        let eh_frame_hdr = eh_frame_hdr.transpose()?;
        let debug_frame = match debug {
            Some((c, _)) if c.format == object::CompressionFormat::None => {
                Some(read((c.offset, c.uncompressed_size))?)
            }
            // A compressed one (`-gz`, Go) is inflated: framehop reads plain CFI.
            Some((_, s)) => s.uncompressed_data().ok().map(|d| whole(d.into_owned())),
            None => None,
        };
        let mut cfi = ElfCfi {
            endian,
            headers: elf.elf_program_headers().to_vec(),
            entry: elf.entry(),
            text: span(".text"),
            got: span(".got"),
            eh_frame,
            eh_frame_hdr,
            debug_frame,
            has_debug_frame,
            size: 0,
            scan: Default::default(),
        };
        cfi.size = cfi.held();
        Ok(cfi)
    }

    fn held(&self) -> usize {
        [&self.eh_frame, &self.eh_frame_hdr]
            .iter()
            .filter_map(|s| s.as_ref().map(|(_, b)| b.len()))
            .chain(self.debug_frame.as_ref().map(|b| b.len()))
            .sum()
    }

    /// Whether the file has a `.debug_frame` of its own (read or not): without one, a
    /// stripped binary's CFI may be in its separate debug file ([`ElfCfi::use_debug_file`]).
    pub fn has_debug_frame(&self) -> bool {
        self.has_debug_frame
    }

    /// Takes the `.debug_frame` of `debug`, the separate debug file of a binary without one
    /// of its own: compilers write `.debug_frame` only for code without `.eh_frame`, so what
    /// `.eh_frame` the binary has is the C runtime's and is dropped (framehop would look no
    /// further than it). Returns whether the debug file had any; reads nothing else of it.
    pub fn use_debug_file(&mut self, debug: &File, max_bytes: usize) -> Result<bool, Error> {
        if self.has_debug_frame {
            return Ok(false);
        }
        let d = ElfCfi::read_file(debug, max_bytes, true)?;
        let Some(frame) = d.debug_frame else {
            return Ok(false);
        };
        self.debug_frame = Some(frame);
        self.scan = Default::default();
        self.eh_frame = None;
        self.eh_frame_hdr = None;
        self.size = self.held();
        Ok(true)
    }

    /// Whether the file offset `rel` (of an executable mapping) lies in the first `bytes`
    /// bytes of the ELF entry point: the outermost frame of a process.
    pub fn near_entry(&self, rel: u64, bytes: u64) -> bool {
        let e = self.endian;
        let vaddr = self
            .headers
            .iter()
            .filter(|ph| ph.p_type(e) == object::elf::PT_LOAD)
            .find_map(|ph| {
                let (off, size) = (ph.p_offset(e), ph.p_filesz(e));
                (off <= rel && rel < off.saturating_add(size)).then(|| rel - off + ph.p_vaddr(e))
            });
        vaddr.is_some_and(|v| (self.entry..self.entry.saturating_add(bytes)).contains(&v))
    }

    /// Bytes of CFI held (what a cap on loaded rules counts).
    pub fn size(&self) -> usize {
        self.size
    }

    /// Whether the file has any CFI at all (without, unwinding uses frame pointers).
    pub fn has_rules(&self) -> bool {
        self.eh_frame.is_some() || self.debug_frame.is_some()
    }
}

impl ProcessUnwinder {
    /// Adds the executable mapping `[start, end)` of the file `cfi` was read from, whose file
    /// offset `pgoff` is mapped at `start`. The section bytes are shared, not copied.
    pub fn add_cfi(
        &mut self,
        name: &str,
        cfi: &ElfCfi,
        start: u64,
        end: u64,
        pgoff: u64,
    ) -> Result<(), Error> {
        let vaddr_at_start =
            mapped_vaddr(&cfi.headers, cfi.endian, pgoff).ok_or(Error::NoSegment(pgoff))?;
        let info = ExplicitModuleSectionInfo {
            base_svma: 0,
            text_svma: cfi.text.clone(),
            got_svma: cfi.got.clone(),
            eh_frame_svma: cfi.eh_frame.as_ref().map(|(r, _)| r.clone()),
            eh_frame: cfi.eh_frame.as_ref().map(|(_, b)| b.clone()),
            eh_frame_hdr_svma: cfi.eh_frame_hdr.as_ref().map(|(r, _)| r.clone()),
            eh_frame_hdr: cfi.eh_frame_hdr.as_ref().map(|(_, b)| b.clone()),
            debug_frame: cfi.debug_frame.clone(),
            ..ExplicitModuleSectionInfo::default()
        };
        let base_avma = start.wrapping_sub(vaddr_at_start);
        self.add_module(name, start..end, base_avma, info, cfi.scan.clone());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_cfi_sections_are_read() {
        let exe = std::env::current_exe().unwrap();
        let file = File::open(&exe).unwrap();
        let cfi = ElfCfi::read(&file, usize::MAX).unwrap();
        assert!(cfi.has_rules());
        let file_size = file.metadata().unwrap().len() as usize;
        assert!(
            cfi.size() > 0 && cfi.size() < file_size / 2,
            "{} of {file_size}",
            cfi.size()
        );
        let held = |s: &Option<(Range<u64>, Bytes)>| {
            s.as_ref().map_or(0, |(r, b)| {
                assert_eq!(r.end - r.start, b.len() as u64);
                b.len()
            })
        };
        assert_eq!(cfi.size(), held(&cfi.eh_frame) + held(&cfi.eh_frame_hdr));
    }

    #[test]
    fn a_cap_below_the_cfi_size_refuses_before_reading() {
        let exe = std::env::current_exe().unwrap();
        let file = File::open(&exe).unwrap();
        let size = ElfCfi::read(&file, usize::MAX).unwrap().size();
        match ElfCfi::read(&file, size - 1) {
            Err(Error::TooLarge { needed, max }) => {
                assert!(needed >= size as u64 && max == size as u64 - 1)
            }
            other => panic!("{other:?}"),
        }
        assert!(ElfCfi::read(&file, size).is_ok());
    }

    #[test]
    fn not_elf_is_an_error() {
        let dir = std::env::temp_dir().join(format!("rperf-cfi-{}", std::process::id()));
        std::fs::write(&dir, b"not an ELF file at all, just text").unwrap();
        let r = ElfCfi::read(&File::open(&dir).unwrap(), usize::MAX);
        std::fs::remove_file(&dir).unwrap();
        assert!(matches!(r, Err(Error::NotElf(_))), "{r:?}");
    }
}
