//! Read-only mappings of the binaries a recording names, for the symbols crate (which holds
//! no `unsafe` code and so takes its mapper from here).
use std::fs::File;
use std::io;

use rperf_symbols::file::{Bytes, Source};

/// A read-only private mapping of a regular file.
struct Mapped(memmap2::Mmap);

impl AsRef<[u8]> for Mapped {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Source for Mapped {
    fn release(&self, range: std::ops::Range<usize>) {
        // Only whole pages inside the range: its first and last pages may hold bytes still
        // wanted (memmap2 widens a range to page boundaries).
        let page = super::ring::page_size();
        let start = range.start.next_multiple_of(page);
        let end = range.end - range.end % page;
        if start >= end {
            return;
        }
        // SAFETY: MADV_DONTNEED on a private mapping discards the process's pages of the
        // range. This mapping is PROT_READ, so no page of it was ever copied on write: what
        // is dropped are the page cache's pages, and the next read of the range faults the
        // same file contents back in (the caveat of a file changed meanwhile is the one
        // map_file's SAFETY comment discusses). No byte a live reference points at changes.
        // The range is in bounds (Bytes::release checks it against the length).
        let _ = unsafe {
            self.0
                .unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, start, end - start)
        };
    }
}

/// Maps `file` (opened by `rperf_symbols::file::open_regular`: a regular file, never a
/// FIFO or device) privately and read-only.
pub fn map_file(file: &File) -> io::Result<Bytes> {
    // SAFETY: memmap2 requires that the file not change while mapped, which no process
    // can promise for someone else's file. What a change can do here: the mapping is
    // MAP_PRIVATE and PROT_READ, so rperf never writes through it and no other mapping sees
    // anything of ours; a write to the file by its owner may still show through in pages not
    // yet read, which the parsers take as they take any corrupt binary (every offset and
    // count is bounds-checked against the slice, nothing trusts the bytes). A file truncated
    // while mapped makes reads past its new end fault with SIGBUS and end rperf: a crash, not
    // a wrong result or a memory error, and only for a binary rewritten in place (upgrades
    // replace binaries by rename, leaving this inode intact). Linux perf maps binaries the
    // same way (libelf's ELF_C_READ_MMAP); reading them whole instead copied hundreds of MB
    // per report. Only regular files reach this point, so the length is the file's.
    let map = unsafe { memmap2::MmapOptions::new().map_copy_read_only(file)? };
    Ok(Bytes::new(Mapped(map)))
}

/// Makes the symbols crate map binaries with [`map_file`] (once, at start-up).
pub fn install() {
    rperf_symbols::file::set_mapper(map_file);
}

#[cfg(test)]
mod tests {
    use super::*;
    use rperf_symbols::ElfSymbols;

    #[test]
    fn mapped_and_read_images_give_the_same_symbols() {
        let exe = std::env::current_exe().unwrap();
        let file = rperf_symbols::file::open_regular(&exe).unwrap();
        let mapped = ElfSymbols::from_bytes(map_file(&file).unwrap()).unwrap();
        let read = ElfSymbols::parse(&std::fs::read(&exe).unwrap()).unwrap();
        assert!(mapped.len() > 1000, "{}", mapped.len());
        assert_eq!(mapped.len(), read.len());
        assert!(mapped.symbols().eq(read.symbols()));
    }

    #[test]
    fn released_pages_read_back_the_same_bytes() {
        let exe = std::env::current_exe().unwrap();
        let bytes = map_file(&rperf_symbols::file::open_regular(&exe).unwrap()).unwrap();
        let len = bytes.len().min(1 << 20);
        let before = bytes[..len].to_vec();
        bytes.release(100..len - 100);
        assert_eq!(&bytes[..len], &before[..]);
        // Out of bounds is ignored, not an error or a fault.
        bytes.release(0..usize::MAX);
    }

    #[test]
    fn mapped_bytes_are_the_files_and_an_empty_file_is_empty() {
        use std::io::Write;
        let mut f = tempfile::NamedTempFile::new().unwrap();
        assert!(map_file(f.as_file()).unwrap().is_empty());
        f.write_all(b"\x7fELF and more").unwrap();
        install();
        let bytes = rperf_symbols::file::map_regular(f.path()).unwrap();
        assert_eq!(&*bytes, b"\x7fELF and more");
    }
}
