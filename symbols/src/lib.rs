//! rperf-symbols: maps addresses to function names, source lines and inline frames.
//!
//! A leaf crate (no dependency on the command line, perf.data or unwinding). Binaries are
//! loaded and indexed once; lookups are by file-relative address: ELF symbol tables
//! ([`ElfSymbols`]), DWARF lines and inline frames ([`Lines`]), the kernel's symbols
//! ([`Kallsyms`]), JIT perf maps ([`PerfMap`]) and build-ids.
//!
//! ```
//! let ks = rperf_symbols::Kallsyms::parse("ffffffff81000000 T _text\nffffffff81000100 T start\n");
//! assert_eq!(ks.lookup(0xffffffff81000180).map(|s| s.name), Some("start"));
//! ```
#![deny(missing_docs)]
// Mapping files is unsafe: the program supplies it through `file::set_mapper`.
#![forbid(unsafe_code)]

pub mod buildid;
pub mod cache;
pub mod elf;
mod error;
pub mod file;
pub mod kallsyms;
pub mod lines;
pub mod perfmap;

pub use buildid::{build_id, kernel_build_id};
pub use elf::{debug_file, demangle, plt_entries, vdso_image, ElfSymbols, Symbol};
pub use error::Error;
pub use kallsyms::{Kallsyms, KernelSymbol};
pub use lines::{InlineFrame, LineRow, Lines};
pub use perfmap::PerfMap;

// The README's example is compiled and run with the doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kallsyms_lookup_picks_preceding_symbol_and_module() {
        let ks = Kallsyms::parse(
            "ffffffff81000200 t b\nffffffff81000100 T a\nffffffffc0000000 t m_fn\t[mymod]\nbad line\n",
        );
        assert_eq!(ks.len(), 3);
        assert_eq!(ks.lookup(0xffffffff81000100).unwrap().name, "a");
        assert_eq!(ks.lookup(0xffffffff810001ff).unwrap().name, "a");
        assert_eq!(ks.lookup(0xffffffff81000200).unwrap().name, "b");
        assert!(ks.lookup(0x1000).is_none());
        let m = ks.lookup(0xffffffffc0000010).unwrap();
        assert_eq!(m.module, Some("mymod"));
    }
}
