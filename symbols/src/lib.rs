//! rperf-symbols: maps addresses to function names, source lines and inline frames.
//!
//! A leaf crate (no dependency on the command line, perf.data or unwinding). Binaries are
//! loaded and indexed once; lookups are by file-relative address. The ELF/DWARF machinery
//! arrives with the report work; this first piece holds the kernel symbol table parser that
//! several commands share.
//!
//! ```
//! let ks = rperf_symbols::Kallsyms::parse("ffffffff81000000 T _text\nffffffff81000100 T start\n");
//! assert_eq!(ks.lookup(0xffffffff81000180).map(|s| s.name.as_str()), Some("start"));
//! ```
#![deny(missing_docs)]

pub mod buildid;
pub mod elf;
pub mod lines;
pub mod perfmap;

pub use buildid::{build_id, kernel_build_id};
pub use elf::{demangle, vdso_image, ElfSymbols, Symbol};
pub use lines::{InlineFrame, Lines};
pub use perfmap::PerfMap;

/// One kernel symbol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelSymbol {
    /// Start address.
    pub addr: u64,
    /// Symbol name.
    pub name: String,
    /// Module name, without brackets, when the symbol belongs to a module.
    pub module: Option<String>,
}

/// The kernel's symbol table, sorted by address.
#[derive(Debug, Default, Clone)]
pub struct Kallsyms {
    syms: Vec<KernelSymbol>,
}

impl Kallsyms {
    /// Parses the text of `/proc/kallsyms`. Lines that do not parse are skipped.
    pub fn parse(text: &str) -> Self {
        let mut syms: Vec<KernelSymbol> = text
            .lines()
            .filter_map(|line| {
                let mut it = line.split_whitespace();
                let addr = u64::from_str_radix(it.next()?, 16).ok()?;
                let _kind = it.next()?;
                let name = it.next()?.to_string();
                let module = it
                    .next()
                    .map(|m| m.trim_start_matches('[').trim_end_matches(']').to_string());
                Some(KernelSymbol { addr, name, module })
            })
            .collect();
        syms.sort_by_key(|s| s.addr);
        Kallsyms { syms }
    }

    /// The symbol whose range holds `addr` (the last one starting at or before it).
    pub fn lookup(&self, addr: u64) -> Option<&KernelSymbol> {
        let i = self.syms.partition_point(|s| s.addr <= addr);
        i.checked_sub(1).map(|i| &self.syms[i])
    }

    /// Number of symbols.
    pub fn len(&self) -> usize {
        self.syms.len()
    }

    /// Whether the table is empty (e.g. kallsyms hidden by kptr_restrict).
    pub fn is_empty(&self) -> bool {
        self.syms.is_empty()
    }
}

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
        assert_eq!(m.module.as_deref(), Some("mymod"));
    }
}
