//! Source lines and inline frames from DWARF, through addr2line: a binary's own
//! `.debug_info`, or that of its separate debug file (found as for symbols).
use std::path::{Path, PathBuf};

use object::read::elf::ElfFile64;
use object::{Endianness, Object};

use crate::elf::{debug_candidates, under_root};

/// One frame at an address: an inlined call or, last, the function that contains it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InlineFrame {
    /// Demangled function name, when DWARF names it.
    pub function: Option<String>,
    /// Source file (as recorded in DWARF: often absolute).
    pub file: Option<String>,
    /// Line in `file`.
    pub line: Option<u32>,
    /// Whether binutils' addr2line (which perf runs) takes the DWARF name as the
    /// function's own: a mangled linkage name, or any name in a language that does not
    /// mangle (C, assembler). Otherwise (Go, a C++ `main`) it names the innermost frame
    /// after the ELF symbol there instead.
    pub linkage: bool,
}

impl InlineFrame {
    /// perf's srcline text: the file's base name and the line (`foo.c:12`).
    pub fn srcline(&self) -> Option<String> {
        let file = self.file.as_deref()?;
        let base = file.rsplit('/').next().unwrap_or(file);
        Some(format!("{base}:{}", self.line.unwrap_or(0)))
    }
}

/// The DWARF of one binary, indexed on first use.
pub struct Lines {
    loader: addr2line::Loader,
    /// The file the DWARF came from.
    pub source: PathBuf,
}

impl std::fmt::Debug for Lines {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lines")
            .field("source", &self.source)
            .finish()
    }
}

fn has_dwarf(path: &Path) -> bool {
    let Ok(data) = crate::file::map_regular(path) else {
        return false;
    };
    ElfFile64::<Endianness>::parse(&*data)
        .map(|f| f.section_by_name(".debug_info").is_some())
        .unwrap_or(false)
}

/// The languages whose names binutils never demangles (its `mangle_style` 0): their
/// DWARF names are the functions' linkage names.
fn unmangled(lang: Option<addr2line::gimli::DwLang>) -> bool {
    use addr2line::gimli::constants::*;
    lang.is_some_and(|l| {
        [
            DW_LANG_C89,
            DW_LANG_C,
            DW_LANG_C99,
            DW_LANG_C11,
            DW_LANG_C17,
            DW_LANG_Cobol74,
            DW_LANG_Cobol85,
            DW_LANG_Fortran77,
            DW_LANG_Pascal83,
            DW_LANG_PLI,
            DW_LANG_UPC,
            DW_LANG_Mips_Assembler,
        ]
        .contains(&l)
    })
}

impl Lines {
    /// The DWARF for `path` (below `root` when given, as `--symfs`): the binary's own, or its
    /// separate debug file's. None when neither has any.
    pub fn load(path: &Path, root: Option<&Path>) -> Option<Lines> {
        let real = under_root(path, root);
        let source = if has_dwarf(&real) {
            real
        } else {
            let data = crate::file::map_regular(&real).ok()?;
            let file = ElfFile64::<Endianness>::parse(&*data).ok()?;
            debug_candidates(&file, path, root)
                .into_iter()
                .find(|c| has_dwarf(&c.path) && c.usable(&real))?
                .path
        };
        let loader = addr2line::Loader::new(&source).ok()?;
        Some(Lines { loader, source })
    }

    /// The frames at virtual address `vaddr`, innermost inlined call first, the containing
    /// function last; empty when DWARF does not cover the address.
    pub fn frames(&self, vaddr: u64) -> Vec<InlineFrame> {
        let mut out = Vec::new();
        // addr2line probes [vaddr, vaddr + 1), which overflows at the last address (a
        // debug build panics): no code lies there.
        if vaddr == u64::MAX {
            return out;
        }
        let Ok(mut it) = self.loader.find_frames(vaddr) else {
            return out;
        };
        while let Ok(Some(f)) = it.next() {
            // Demangled as symbols are, so that a function's DWARF name is its symbol's
            // name (perf compares the two to tell the containing function from inlined ones).
            let function = f
                .function
                .as_ref()
                .and_then(|n| n.raw_name().ok())
                .map(|n| crate::elf::demangle(&n));
            let linkage = f.function.as_ref().is_some_and(|n| {
                let raw = n.raw_name().unwrap_or_default();
                raw.starts_with("_Z") || raw.starts_with("_R") || unmangled(n.language)
            });
            let (file, line) = match &f.location {
                Some(l) => (l.file.map(str::to_string), l.line),
                None => (None, None),
            };
            out.push(InlineFrame {
                function,
                file,
                line,
                linkage,
            });
        }
        out
    }

    /// The source line of `vaddr` (the innermost, as perf's srcline).
    pub fn location(&self, vaddr: u64) -> Option<InlineFrame> {
        if vaddr == u64::MAX {
            return None;
        }
        let l = self.loader.find_location(vaddr).ok()??;
        Some(InlineFrame {
            function: None,
            file: l.file.map(str::to_string),
            line: l.line,
            linkage: false,
        })
    }
}
