//! Function symbols of an ELF file (.symtab, else .dynsym), looked up by file offset.
use std::path::Path;

use object::read::elf::{ElfFile64, ProgramHeader, SectionHeader as _, Sym as _};
use object::{Endianness, Object, ObjectSymbol};
use object::{ObjectSection, ObjectSymbolTable};

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::file::Bytes;
use crate::Error;

/// One function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Symbol {
    /// Start virtual address.
    pub start: u64,
    /// Size in bytes (0 extended to the next symbol).
    pub size: u64,
    /// Demangled name.
    pub name: String,
}

/// A loaded segment: file offsets `[offset, offset + filesz)` map to `vaddr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Segment {
    offset: u64,
    vaddr: u64,
    filesz: u64,
}

/// Where a function's name is, not the name: its file offset in the binary (or, with
/// [`Name::DEBUG`], in its separate debug file), and whether it names a PLT stub (printed
/// `name@plt`). One word, because a large library has hundreds of thousands of functions and
/// only the few that samples hit are ever printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Name(u64);

impl Name {
    const PLT: u64 = 1 << 63;
    const DEBUG: u64 = 1 << 62;
    /// The offset of no name (a PLT slot whose relocation names no symbol).
    const NONE: u64 = Name::DEBUG - 1;

    fn new(offset: Option<usize>, debug: bool, plt: bool) -> Name {
        let off = offset
            .and_then(|o| u64::try_from(o).ok())
            .filter(|&o| o < Name::NONE)
            .unwrap_or(Name::NONE);
        Name(off | if debug { Name::DEBUG } else { 0 } | if plt { Name::PLT } else { 0 })
    }

    fn offset(self) -> Option<usize> {
        let off = self.0 & Name::NONE;
        (off != Name::NONE).then_some(off as usize)
    }

    fn in_debug(self) -> Name {
        Name(self.0 | Name::DEBUG)
    }
}

/// One function of the table, sorted by `start`; its name stays in the file until printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    start: u64,
    size: u64,
    name: Name,
}

/// The files a table's names are in, kept (mapped) for as long as the table lives.
#[derive(Debug, Default)]
struct Names {
    file: Option<Bytes>,
    debug: Option<Bytes>,
    /// Names demangled so far (for [`ElfSymbols::demangled`]).
    demangled: AtomicUsize,
}

impl Names {
    /// The name as the symbol table spells it (mangled), up to its terminating NUL.
    fn raw(&self, name: Name) -> &[u8] {
        let data = match (name.0 & Name::DEBUG != 0, &self.file, &self.debug) {
            (false, Some(d), _) | (true, _, Some(d)) => &d[..],
            _ => &[],
        };
        let rest = name.offset().and_then(|o| data.get(o..)).unwrap_or(&[]);
        let len = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
        &rest[..len]
    }

    /// The name perf prints: demangled, with `@plt` for a PLT stub (bytes that are not
    /// UTF-8 print as U+FFFD).
    fn text(&self, name: Name) -> String {
        self.demangled.fetch_add(1, Ordering::Relaxed);
        let raw = String::from_utf8_lossy(self.raw(name));
        let text = demangle(&raw);
        if name.0 & Name::PLT != 0 {
            format!("{text}@plt")
        } else {
            text
        }
    }
}

/// The function table of one binary, immutable once built (shareable across threads).
#[derive(Debug, Default)]
pub struct ElfSymbols {
    syms: Vec<Entry>,
    segments: Vec<Segment>,
    /// Whether the names came from a full .symtab (not just exported .dynsym names).
    from_symtab: bool,
    names: Names,
    /// The names demangled so far, by index in `syms`: each once, when first looked up.
    demangled: Mutex<HashMap<usize, Box<str>>>,
    /// Functions whose name binutils takes from another alias than perf's (see
    /// [`ElfSymbols::binutils_alias`]), by start address; usually empty.
    binutils: Vec<(u64, Name)>,
    /// Where in `syms` each stretch of addresses starts, made at the first lookup.
    buckets: std::sync::OnceLock<Buckets>,
}

/// A coarse index over a sorted table's start addresses: the address span cut into about
/// as many equal buckets as there are functions, each holding the number of functions that
/// start before it. A lookup then searches the few entries of one bucket instead of
/// striding over a table of hundreds of thousands (megabytes: a cache miss a step).
#[derive(Debug, Default)]
struct Buckets {
    base: u64,
    shift: u32,
    before: Vec<u32>,
}

impl Buckets {
    fn new(syms: &[Entry]) -> Buckets {
        let (Some(lo), Some(hi)) = (syms.first(), syms.last()) else {
            return Buckets::default();
        };
        let span = hi.start - lo.start;
        let want = syms.len() as u64;
        let mut shift = 0;
        while span >> shift > want {
            shift += 1;
        }
        let count = (span >> shift) as usize + 1;
        let mut before = Vec::with_capacity(count + 1);
        let mut i = 0;
        for b in 0..=count as u64 {
            // Past the address space every function starts before the bucket.
            match u64::try_from(u128::from(lo.start) + (u128::from(b) << shift)) {
                Ok(at) => {
                    while i < syms.len() && syms[i].start < at {
                        i += 1;
                    }
                }
                Err(_) => i = syms.len(),
            }
            before.push(u32::try_from(i).unwrap_or(u32::MAX));
        }
        Buckets {
            base: lo.start,
            shift,
            before,
        }
    }

    /// How many of `syms` start at or below `vaddr` (`partition_point`, bucket first).
    fn count_at_or_below(&self, syms: &[Entry], vaddr: u64) -> usize {
        let whole =
            |from: usize, to: usize| from + syms[from..to].partition_point(|s| s.start <= vaddr);
        if self.before.is_empty() || syms.len() > u32::MAX as usize {
            return whole(0, syms.len());
        }
        let Some(off) = vaddr.checked_sub(self.base) else {
            return 0;
        };
        let b = (off >> self.shift) as usize;
        match (self.before.get(b), self.before.get(b + 1)) {
            (Some(&from), Some(&to)) => whole(from as usize, to as usize),
            _ => whole(*self.before.last().unwrap_or(&0) as usize, syms.len()),
        }
    }
}

/// Demangles Rust and C++ names as perf prints them (no Rust hash suffix).
pub fn demangle(name: &str) -> String {
    if let Ok(d) = rustc_demangle::try_demangle(rust_mangled(name)) {
        return format!("{d:#}");
    }
    if name.starts_with("_Z") {
        if let Ok(sym) = cpp_demangle::Symbol::new(name) {
            // perf shows C++ names without their parameter lists, and so without the
            // return type a template function's name carries (c++filt -p).
            let opts = cpp_demangle::DemangleOptions::new()
                .no_params()
                .no_return_type();
            if let Ok(s) = sym.demangle_with_options(&opts) {
                // cpp_demangle prints an empty template parameter pack as a trailing
                // ", " (`Manager<Module, >`); binutils, and so perf, print nothing.
                let mut s = literal_suffixes(&s.replace(", >", ">"));
                // Without the parameter list binutils also leaves out a member function's
                // qualifiers (`operator() const` is perf's `operator()`).
                while let Some(t) = [" const", " volatile", " &&", " &"]
                    .iter()
                    .find_map(|q| s.strip_suffix(q))
                {
                    s.truncate(t.len());
                }
                return s;
            }
        }
    }
    name.to_string()
}

/// Integer literals of template arguments as binutils spells them: `8u`, `8ul`, `8l`,
/// `8ll`, `8ull`, where cpp_demangle writes a cast (`(unsigned int)8`). Other types keep
/// the cast in both (`(char)65`, `(short)8`).
fn literal_suffixes(s: &str) -> String {
    const CASTS: [(&str, &str); 5] = [
        ("(unsigned long long)", "ull"),
        ("(unsigned long)", "ul"),
        ("(unsigned int)", "u"),
        ("(long long)", "ll"),
        ("(long)", "l"),
    ];
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    'scan: while let Some(i) = rest.find('(') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        for (cast, suffix) in CASTS {
            let Some(after) = rest.strip_prefix(cast) else {
                continue;
            };
            let sign = usize::from(after.starts_with('-'));
            let digits = after[sign..].bytes().take_while(u8::is_ascii_digit).count();
            if digits > 0 {
                out.push_str(&after[..sign + digits]);
                out.push_str(suffix);
                rest = &after[sign + digits..];
                continue 'scan;
            }
        }
        out.push('(');
        rest = &rest[1..];
    }
    out.push_str(rest);
    out
}

/// The mangled part of a Rust name, without the `.cold`/`.warm`/`.llvm.N` suffix that
/// compilers and post-link optimisers (BOLT splits rustc's own functions) append: binutils'
/// demangler, and so perf, print none of them, while rustc-demangle keeps all but `.llvm.`.
fn rust_mangled(name: &str) -> &str {
    if name.starts_with("_R") {
        // v0 names use only [_0-9a-zA-Z]: the first dot begins the suffix.
        return name.split('.').next().unwrap_or(name);
    }
    // Legacy names (`_ZN` length-prefixed elements `E`) may hold dots inside elements
    // (`..` for `::`), so the suffix is what follows the closing `E`.
    let Some(rest) = name.strip_prefix("_ZN") else {
        return name;
    };
    let bytes = rest.as_bytes();
    let mut i = 0;
    while i < bytes.len() && bytes[i].is_ascii_digit() {
        let digits = bytes[i..].iter().take_while(|b| b.is_ascii_digit()).count();
        let Ok(n) = rest[i..i + digits].parse::<usize>() else {
            return name;
        };
        i += digits + n;
    }
    if bytes.get(i) == Some(&b'E') && bytes.get(i + 1) == Some(&b'.') {
        &name[..3 + i + 1]
    } else {
        name
    }
}

/// Sorts by address, keeps one name per address, and gives zero-sized symbols the room up
/// to the next one. Among several names for one address the one perf would show wins:
/// sized, non-weak, global, fewest leading underscores, longest. Only names still tied after
/// size and rank (aliases) are demangled to decide. `syms` comes in symbol-table order;
/// beside the table, the addresses where binutils names the function after another alias
/// than perf's: its `elf_find_function` keeps the first symbol of the table among those of
/// one start and size (identical code folded by the linker: `memmap2::Mmap::advise` and
/// `memmap2::MmapMut::advise` at one address, perf showing the longer name).
fn finish(syms: Vec<(Entry, u8)>, names: &Names) -> (Vec<Entry>, Vec<(u64, Name)>) {
    // The table position rides along in what would be padding.
    let mut syms: Vec<(Entry, u8, u32)> = syms
        .into_iter()
        .enumerate()
        .map(|(i, (e, r))| (e, r, u32::try_from(i).unwrap_or(u32::MAX)))
        .collect();
    syms.sort_by(|(a, ra, _), (b, rb, _)| {
        a.start
            .cmp(&b.start)
            .then((b.size != 0).cmp(&(a.size != 0)))
            .then(ra.cmp(rb))
    });
    let mut binutils = Vec::new();
    let key = |e: &Entry| {
        let name = names.text(e.name);
        (underscores(&name), std::cmp::Reverse(name.len()))
    };
    let mut out: Vec<Entry> = Vec::with_capacity(syms.len());
    let mut i = 0;
    while i < syms.len() {
        let (first, rank, _) = syms[i];
        // A linear scan: groups are short, and a binary search per group strays over a
        // vector of hundreds of thousands of entries.
        let end = i + syms[i..]
            .iter()
            .take_while(|(e, _, _)| e.start == first.start)
            .count();
        let tied = syms[i..end]
            .iter()
            .take_while(|(e, r, _)| (e.size != 0) == (first.size != 0) && *r == rank)
            .count();
        let mut best = first;
        if tied > 1 {
            // The first of the equally good ones wins, as a stable sort would keep it.
            let mut best_key = key(&first);
            for (e, _, _) in &syms[i + 1..i + tied] {
                let k = key(e);
                if k < best_key {
                    (best, best_key) = (*e, k);
                }
            }
        }
        if end - i > 1 {
            let earliest = syms[i..end]
                .iter()
                .filter(|(e, _, _)| e.size == best.size)
                .min_by_key(|(_, _, at)| *at)
                .map(|(e, _, _)| e.name);
            if let Some(name) = earliest.filter(|n| *n != best.name) {
                binutils.push((best.start, name));
            }
        }
        out.push(best);
        i = end;
    }
    // Zero-sized symbols (hand-written assembly) extend to the next symbol; the last one
    // (`_fini` of a stripped library's debug file) to the end of the page after its own,
    // as perf's symbols__fixup_end does.
    for i in 0..out.len() {
        if out[i].size == 0 {
            let start = out[i].start;
            out[i].size = match out.get(i + 1) {
                Some(n) => n.start - start,
                None => (start.saturating_add(0xfff) & !0xfff).saturating_add(0x1000) - start,
            };
        }
    }
    (out, binutils)
}

/// The file offset of `name`, a slice of `data` (the names object hands out borrow the
/// image), when it is valid UTF-8.
fn offset_in(data: &[u8], name: &[u8]) -> Option<usize> {
    std::str::from_utf8(name).ok()?;
    let off = (name.as_ptr() as usize).checked_sub(data.as_ptr() as usize)?;
    (off + name.len() <= data.len()).then_some(off)
}

/// `name@plt` entries, one per .rela.plt relocation, laid out as on x86-64: 16-byte
/// entries in .plt.sec when present, else at the end of .plt, after its header. The header
/// is 16 bytes from GNU ld and lld but 32 from mold, so its size is what the entries leave.
fn plt_symbols(file: &ElfFile64<'_, Endianness>) -> Vec<Entry> {
    const ENTRY: u64 = 16;
    let endian = file.endian();
    let (base, first) = match (
        file.section_by_name(".plt.sec"),
        file.section_by_name(".plt"),
    ) {
        (Some(sec), _) => (sec.address(), 0),
        (None, Some(plt)) => (plt.address(), plt.size()),
        _ => return Vec::new(),
    };
    let Some(rela) = file.section_by_name(".rela.plt") else {
        return Vec::new();
    };
    let Ok(Some((relas, _link))) = rela.elf_section_header().rela(endian, file.data()) else {
        return Vec::new();
    };
    let entries = relas.len() as u64 * ENTRY;
    let first = match first {
        0 => 0,
        size if size >= entries + ENTRY => size - entries,
        _ => ENTRY,
    };
    let dynsyms = file.dynamic_symbol_table();
    relas
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let sym = r.r_sym(endian, false);
            let offset = if sym == 0 {
                None
            } else {
                dynsyms
                    .as_ref()
                    .and_then(|t| t.symbol_by_index(object::SymbolIndex(sym as usize)).ok())
                    .and_then(|s| s.name_bytes().ok())
                    .and_then(|n| offset_in(file.data(), n))
            };
            Entry {
                start: base + first + i as u64 * ENTRY,
                size: ENTRY,
                name: Name::new(offset, false, true),
            }
        })
        .collect()
}

/// The `name@plt` entries of an ELF image, as (address, name): the names objdump and perf
/// give PLT stubs (the same layout rules as the symbol table's).
pub fn plt_entries(data: &[u8]) -> Vec<(u64, String)> {
    let Ok(file) = ElfFile64::<Endianness>::parse(data) else {
        return Vec::new();
    };
    plt_symbols(&file)
        .into_iter()
        .filter_map(|e| {
            let off = e.name.offset()?;
            let len = data.get(off..)?.iter().position(|&b| b == 0)?;
            let name = String::from_utf8_lossy(&data[off..off + len]);
            Some((e.start, format!("{name}@plt")))
        })
        .collect()
}

/// Adds the synthesized `name@plt` entries where the symbol table names no function: mold
/// writes its own `name$plt` symbols for its PLT, and perf shows those.
fn add_plt(syms: &mut Vec<(Entry, u8)>, plt: Vec<Entry>) {
    let named: std::collections::HashSet<u64> = syms.iter().map(|(s, _)| s.start).collect();
    syms.extend(
        plt.into_iter()
            .filter(|p| !named.contains(&p.start))
            .map(|p| (p, 0)),
    );
}

/// Lower is preferred: non-weak before weak, global before local.
fn rank(weak: bool, global: bool) -> u8 {
    u8::from(weak) * 2 + u8::from(!global)
}

fn underscores(name: &str) -> usize {
    name.bytes().take_while(|&b| b == b'_').count()
}

/// `path` below `root` (perf's `--symfs`), or `path` itself.
pub(crate) fn under_root(path: &Path, root: Option<&Path>) -> std::path::PathBuf {
    match root {
        Some(r) => r.join(path.strip_prefix("/").unwrap_or(path)),
        None => path.to_path_buf(),
    }
}

/// A place a binary's separate debug file may be, with the CRC its `.gnu_debuglink` names.
pub(crate) struct Candidate {
    pub(crate) path: std::path::PathBuf,
    /// The CRC-32 the debug link records (none for build-id paths, which name the contents).
    crc: Option<u32>,
}

impl Candidate {
    /// Whether `data` (the candidate's contents) is the file the link names: a stale debug
    /// file left from an earlier build has another CRC and would give wrong symbols.
    pub(crate) fn crc_matches(&self, data: &[u8]) -> bool {
        self.crc.is_none_or(|want| crc32fast::hash(data) == want)
    }

    /// Whether the candidate exists, is not `real` itself, and matches its CRC (the file
    /// is read in pieces for that).
    pub(crate) fn usable(&self, real: &Path) -> bool {
        use std::io::Read;
        if self.path == real || !self.path.is_file() {
            return false;
        }
        let Some(want) = self.crc else {
            return true;
        };
        let Ok(mut f) = crate::file::open_regular(&self.path) else {
            return false;
        };
        let mut h = crc32fast::Hasher::new();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            match f.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => h.update(&buf[..n]),
                Err(_) => return false,
            }
        }
        h.finalize() == want
    }
}

/// Where a binary's separate debug file may be: `/usr/lib/debug/.build-id/xx/yyyy.debug`,
/// then its `.gnu_debuglink` name next to it, in `.debug/`, or under `/usr/lib/debug` (all
/// below `root` when given).
pub(crate) fn debug_candidates(
    file: &ElfFile64<Endianness>,
    path: &Path,
    root: Option<&Path>,
) -> Vec<Candidate> {
    let mut candidates = Vec::new();
    if let Ok(Some(id)) = file.build_id() {
        let hex = crate::buildid::hex(id);
        if hex.len() > 2 {
            candidates.push(Candidate {
                path: under_root(
                    Path::new(&format!(
                        "/usr/lib/debug/.build-id/{}/{}.debug",
                        &hex[..2],
                        &hex[2..]
                    )),
                    root,
                ),
                crc: None,
            });
        }
    }
    if let Ok(Some((name, crc))) = file.gnu_debuglink() {
        let name = String::from_utf8_lossy(name).into_owned();
        if let Some(dir) = path.parent() {
            for p in [
                dir.join(&name),
                dir.join(".debug").join(&name),
                Path::new("/usr/lib/debug")
                    .join(dir.strip_prefix("/").unwrap_or(dir))
                    .join(&name),
            ] {
                candidates.push(Candidate {
                    path: under_root(&p, root),
                    crc: Some(crc),
                });
            }
        }
    }
    candidates
}

/// The separate debug file of the binary at `path` (below `root` when given), found by
/// build-id or `.gnu_debuglink` (with a matching CRC) as for symbols; None when there is
/// none.
pub fn debug_file(path: &Path, root: Option<&Path>) -> Option<std::path::PathBuf> {
    let real = under_root(path, root);
    let data = crate::file::map_regular(&real).ok()?;
    let file = ElfFile64::<Endianness>::parse(&*data).ok()?;
    debug_candidates(&file, path, root)
        .into_iter()
        .find(|c| c.usable(&real))
        .map(|c| c.path)
}

impl ElfSymbols {
    /// Loads a file's function symbols.
    pub fn load(path: &Path) -> Result<ElfSymbols, Error> {
        let data = crate::file::map_regular(path)?;
        Self::from_bytes(data).map_err(|e| e.at(path))
    }

    /// Loads a binary's symbols, taking them from its separate debug file when the binary
    /// itself is stripped: `/usr/lib/debug/.build-id/xx/yyyy.debug`, then `.gnu_debuglink`
    /// next to it, in `.debug/`, or under `/usr/lib/debug` (all below `root` when given, as
    /// perf's `--symfs`).
    pub fn load_with_debug(path: &Path, root: Option<&Path>) -> Result<ElfSymbols, Error> {
        let real = under_root(path, root);
        let data = crate::file::map_regular(&real)?;
        let mut table = Self::from_bytes(data.clone()).map_err(|e| e.at(&real))?;
        if table.from_symtab {
            return Ok(table);
        }
        let file = ElfFile64::<Endianness>::parse(&*data).map_err(|e| Error::not_elf(&real, e))?;
        for c in debug_candidates(&file, path, root) {
            if c.path == real {
                continue;
            }
            let Ok(dbg) = crate::file::map_regular(&c.path) else {
                continue;
            };
            if !c.crc_matches(&dbg) {
                continue;
            }
            if let Ok(d) = Self::from_bytes(dbg) {
                if d.from_symtab && !d.syms.is_empty() {
                    // Addresses are the binary's; its own program headers decide the layout,
                    // and its PLT (the debug file's is empty) keeps its @plt names.
                    let mut merged: Vec<(Entry, u8)> = d
                        .syms
                        .iter()
                        .map(|e| {
                            let name = e.name.in_debug();
                            (Entry { name, ..*e }, 1)
                        })
                        .collect();
                    add_plt(&mut merged, plt_symbols(&file));
                    table.names.debug = d.names.file;
                    table.syms = finish(merged, &table.names).0;
                    // The debug file's own aliases: binutils reads its symbol table.
                    table.binutils = (d.binutils.iter())
                        .map(|&(start, name)| (start, name.in_debug()))
                        .collect();
                    table.from_symtab = true;
                    break;
                }
            }
        }
        Ok(table)
    }

    /// Builds the table from an ELF image in memory (copied).
    pub fn parse(data: &[u8]) -> Result<ElfSymbols, Error> {
        Self::from_bytes(Bytes::new(data.to_vec()))
    }

    /// Builds the table from an ELF image, which it keeps: names are read from its string
    /// tables, and demangled, only when a lookup returns them.
    pub fn from_bytes(data: Bytes) -> Result<ElfSymbols, Error> {
        let file = ElfFile64::<Endianness>::parse(&*data).map_err(Error::image)?;
        let endian = file.endian();
        let mut segments: Vec<Segment> = file
            .elf_program_headers()
            .iter()
            .filter(|ph| ph.p_type(endian) == object::elf::PT_LOAD)
            .map(|ph| Segment {
                offset: ph.p_offset(endian),
                vaddr: ph.p_vaddr(endian),
                filesz: ph.p_filesz(endian),
            })
            .collect();
        segments.sort_by_key(|s| s.offset);
        // Functions, and untyped labels in code (assembly entry points such as
        // `_dl_start_user`), as perf's ELF loader takes them.
        let is_code = |s: &object::read::elf::ElfSymbol64<'_, '_, Endianness>| {
            if s.address() == 0 || s.is_undefined() {
                return false;
            }
            match s.elf_symbol().st_type() {
                object::elf::STT_FUNC | object::elf::STT_GNU_IFUNC => true,
                object::elf::STT_NOTYPE => {
                    s.section_index()
                        .and_then(|i| file.section_by_index(i).ok())
                        // By flag, not kind: in a separate debug file .text is NOBITS.
                        .is_some_and(|sec| {
                            sec.elf_section_header().sh_flags.get(endian)
                                & u64::from(object::elf::SHF_EXECINSTR)
                                != 0
                        })
                        && s.name_bytes().is_ok_and(|n| !n.is_empty())
                }
                _ => false,
            }
        };
        // Where a table's names are: the file range of its string table. A name is taken
        // as its offset there, without reading it (string tables are the bulk of a large
        // binary's symbols, and few of their names are ever printed).
        let strings = |index: object::SectionIndex| -> Option<(u64, u64)> {
            let sec = file.elf_section_table().section(index).ok()?;
            Some((sec.sh_offset(endian), sec.sh_size(endian)))
        };
        let collect = |it: object::read::elf::ElfSymbolIterator64<'_, '_, Endianness>,
                       strtab: Option<(u64, u64)>|
         -> Vec<(Entry, u8)> {
            let Some((base, len)) = strtab else {
                return Vec::new();
            };
            it.filter(|s| is_code(s))
                .filter_map(|s| {
                    // A name outside its table is no name: the symbol is skipped.
                    let at = u64::from(s.elf_symbol().st_name(endian));
                    let offset = (at < len).then(|| usize::try_from(base + at).ok())??;
                    let sym = Entry {
                        start: s.address(),
                        size: s.size(),
                        name: Name::new(Some(offset), false, false),
                    };
                    Some((sym, rank(s.is_weak(), s.is_global())))
                })
                .collect()
        };
        let tables = (
            file.elf_symbol_table().string_section(),
            file.elf_dynamic_symbol_table().string_section(),
        );
        let mut syms = collect(file.symbols(), strings(tables.0));
        let from_symtab = !syms.is_empty();
        if syms.is_empty() {
            syms = collect(file.dynamic_symbols(), strings(tables.1));
        }
        // name@plt for every PLT stub. (perf sometimes shows such a sample as the symbol
        // before the PLT, usually _init, depending on the shape of its symbol tree.) perf
        // makes them only when the table it read gave it symbols (functions or data): a
        // stripped program whose .dynsym defines nothing shows its PLT as addresses.
        let defines_any = || {
            file.dynamic_symbols().any(|s| {
                !s.is_undefined()
                    && s.address() != 0
                    && matches!(
                        s.elf_symbol().st_type(),
                        object::elf::STT_FUNC
                            | object::elf::STT_GNU_IFUNC
                            | object::elf::STT_OBJECT
                    )
            })
        };
        if !syms.is_empty() || defines_any() {
            add_plt(&mut syms, plt_symbols(&file));
        }
        let names = Names {
            file: Some(data.clone()),
            ..Names::default()
        };
        let (syms, binutils) = finish(syms, &names);
        // The symbol tables were read once, to index them; their names stay (unread) in
        // the string tables. A mapping need not keep them resident (perf, which copies its
        // symbols out, unmaps the file the same way).
        for sec in file.elf_section_table().iter() {
            let kind = sec.sh_type(endian);
            if kind == object::elf::SHT_SYMTAB || kind == object::elf::SHT_DYNSYM {
                let (off, len) = (sec.sh_offset(endian), sec.sh_size(endian));
                if let (Ok(start), Ok(end)) = (
                    usize::try_from(off),
                    usize::try_from(off.saturating_add(len)),
                ) {
                    data.release(start..end);
                }
            }
        }
        Ok(ElfSymbols {
            syms,
            segments,
            from_symtab,
            names,
            demangled: Mutex::default(),
            binutils,
            buckets: Default::default(),
        })
    }

    /// Translates a file offset (perf's map-relative address) to a virtual address.
    pub fn offset_to_vaddr(&self, offset: u64) -> Option<u64> {
        let i = self.segments.partition_point(|s| s.offset <= offset);
        let s = self.segments.get(i.checked_sub(1)?)?;
        // Sizes and addresses come from the file: sums past u64 are no address.
        if offset >= s.offset.saturating_add(s.filesz.max(1)) {
            return None;
        }
        (offset - s.offset).checked_add(s.vaddr)
    }

    /// The function containing virtual address `vaddr`, with the offset into it.
    pub fn lookup_vaddr(&self, vaddr: u64) -> Option<(Symbol, u64)> {
        let i = self
            .buckets
            .get_or_init(|| Buckets::new(&self.syms))
            .count_at_or_below(&self.syms, vaddr)
            .checked_sub(1)?;
        let s = self.syms.get(i)?;
        (vaddr < s.start.saturating_add(s.size.max(1))).then(|| (self.symbol(i), vaddr - s.start))
    }

    /// The function at file offset `offset`.
    pub fn lookup_offset(&self, offset: u64) -> Option<(Symbol, u64)> {
        self.lookup_vaddr(self.offset_to_vaddr(offset)?)
    }

    /// The `i`th function, its name demangled now unless it was before.
    fn symbol(&self, i: usize) -> Symbol {
        let e = self.syms[i];
        // A poisoned lock only means another lookup panicked; the names in it are whole.
        let mut done = self.demangled.lock().unwrap_or_else(|p| p.into_inner());
        let name = done
            .entry(i)
            .or_insert_with(|| self.names.text(e.name).into())
            .to_string();
        Symbol {
            start: e.start,
            size: e.size,
            name,
        }
    }

    /// The name binutils' addr2line gives the function that starts at `start` when it
    /// names it from the symbol table (perf's addr2line frames for code whose DWARF has no
    /// linkage name): another alias than perf's where the linker folded identical
    /// functions into one; None where it is perf's own name.
    pub fn binutils_alias(&self, start: u64) -> Option<String> {
        let i = self
            .binutils
            .binary_search_by_key(&start, |&(s, _)| s)
            .ok()?;
        Some(self.names.text(self.binutils[i].1))
    }

    /// Every function, by address (each name demangled: for tests and tools, not lookups).
    pub fn symbols(&self) -> impl Iterator<Item = Symbol> + '_ {
        (0..self.syms.len()).map(|i| self.symbol(i))
    }

    /// Whether the names came from a full symbol table (`.symtab`, the binary's or its debug
    /// file's), not just the exported `.dynsym` names of a stripped binary.
    pub fn from_symtab(&self) -> bool {
        self.from_symtab
    }

    /// How many names were demangled so far: names are demangled when first looked up, not
    /// when the table is built (only aliases of one address are, to pick perf's name).
    pub fn demangled(&self) -> usize {
        self.names.demangled.load(Ordering::Relaxed)
    }

    /// Number of functions.
    pub fn len(&self) -> usize {
        self.syms.len()
    }

    /// Whether no function symbols were found (a stripped binary).
    pub fn is_empty(&self) -> bool {
        self.syms.is_empty()
    }
}

/// The running kernel's vDSO image, copied out of this process's own mapping: every process
/// on the machine maps the same image, so it symbolizes `[vdso]` frames of a recording made
/// here (as perf does with the copy it keeps).
pub fn vdso_image() -> Option<Vec<u8>> {
    use std::io::{Read, Seek, SeekFrom};
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    let line = maps.lines().find(|l| l.ends_with("[vdso]"))?;
    let (start, end) = line.split_whitespace().next()?.split_once('-')?;
    let (start, end) = (
        u64::from_str_radix(start, 16).ok()?,
        u64::from_str_radix(end, 16).ok()?,
    );
    let mut mem = std::fs::File::open("/proc/self/mem").ok()?;
    mem.seek(SeekFrom::Start(start)).ok()?;
    let mut buf = vec![0u8; usize::try_from(end.checked_sub(start)?).ok()?];
    mem.read_exact(&mut buf).ok()?;
    Some(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_lookups_agree_with_a_search_of_the_whole_table() {
        let table = |starts: &[u64]| -> Vec<Entry> {
            starts
                .iter()
                .map(|&start| Entry {
                    start,
                    size: 1,
                    name: Name::new(None, false, false),
                })
                .collect()
        };
        // Clustered starts (most in one bucket), a lone far one, the ends of the address
        // space, one entry, none.
        let mut clustered: Vec<u64> = (0..500).map(|i| 0x1000 + i * 3).collect();
        clustered.push(0x40_0000);
        let cases = [
            clustered,
            vec![0, 1, 2, u64::MAX - 1, u64::MAX],
            vec![0x5000],
            vec![],
            (0..4096).map(|i| 0x10_0000 + i * i * 7).collect(),
        ];
        for starts in cases {
            let syms = table(&starts);
            let b = Buckets::new(&syms);
            assert!(b.before.len() <= syms.len() + 2, "{}", b.before.len());
            let mut probes = vec![0, 1, u64::MAX, u64::MAX - 1];
            for &s in &starts {
                probes.extend([s.wrapping_sub(1), s, s.wrapping_add(1), s.wrapping_add(2)]);
            }
            for v in probes {
                assert_eq!(
                    b.count_at_or_below(&syms, v),
                    syms.partition_point(|s| s.start <= v),
                    "{v:#x} in {starts:x?}"
                );
            }
        }
    }

    #[test]
    fn zero_sized_symbols_reach_the_next_or_past_their_page() {
        let e = |start, size| {
            (
                Entry {
                    start,
                    size,
                    name: Name::new(None, false, false),
                },
                0,
            )
        };
        let (out, _) = finish(
            vec![e(0x1000, 0), e(0x1010, 8), e(0x833d8, 0)],
            &Names::default(),
        );
        let sizes: Vec<u64> = out.iter().map(|e| e.size).collect();
        // perf's symbols__fixup_end: the last one ends a page after its own page's end.
        assert_eq!(sizes, [0x10, 8, 0x85000 - 0x833d8]);
        let (aligned, _) = finish(vec![e(0x2000, 0)], &Names::default());
        assert_eq!(aligned[0].size, 0x1000);
    }

    #[test]
    fn folded_aliases_keep_perfs_name_and_binutils_first_one() {
        // Three names of one folded function, in symbol-table order: perf shows the
        // longest, binutils' addr2line the first of the table.
        let strings = b"\0m::Mmap::advise\0m::MmapMut::advise\0m::MmapRaw::adv\0solo\0";
        let names = Names {
            file: Some(Bytes::new(strings.to_vec())),
            ..Names::default()
        };
        let e = |start, off| {
            (
                Entry {
                    start,
                    size: 0x40,
                    name: Name::new(Some(off), false, false),
                },
                0,
            )
        };
        let (out, binutils) = finish(
            vec![e(0x2000, 1), e(0x2000, 17), e(0x2000, 36), e(0x3000, 51)],
            &names,
        );
        assert_eq!(out.len(), 2);
        assert_eq!(names.text(out[0].name), "m::MmapMut::advise");
        let table = ElfSymbols {
            syms: out,
            names,
            binutils,
            ..ElfSymbols::default()
        };
        assert_eq!(
            table.binutils_alias(0x2000).as_deref(),
            Some("m::Mmap::advise")
        );
        // A function without aliases, or whose first alias is perf's pick, has none.
        assert_eq!(table.binutils_alias(0x3000), None);
        let (_, none) = finish(vec![e(0x2000, 17), e(0x2000, 1)], &table.names);
        assert!(none.is_empty(), "{none:?}");
    }

    #[test]
    fn own_binary_resolves_its_functions() {
        let exe = std::env::current_exe().unwrap();
        let syms = ElfSymbols::load(&exe).unwrap();
        assert!(!syms.is_empty());
        let addr = own_binary_resolves_its_functions as *const () as usize as u64;
        // The test binary is PIE: find the load bias from /proc/self/maps.
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        let exe_s = exe.to_str().unwrap();
        let line = maps
            .lines()
            .find(|l| {
                l.ends_with(exe_s) && {
                    let r = l.split(' ').next().unwrap();
                    let (a, b) = r.split_once('-').unwrap();
                    let (a, b) = (
                        u64::from_str_radix(a, 16).unwrap(),
                        u64::from_str_radix(b, 16).unwrap(),
                    );
                    (a..b).contains(&addr)
                }
            })
            .unwrap();
        let f: Vec<&str> = line.split_whitespace().collect();
        let start = u64::from_str_radix(f[0].split('-').next().unwrap(), 16).unwrap();
        let pgoff = u64::from_str_radix(f[2], 16).unwrap();
        let (sym, off) = syms.lookup_offset(addr - start + pgoff).unwrap();
        assert!(
            sym.name.contains("own_binary_resolves_its_functions"),
            "{}",
            sym.name
        );
        assert_eq!(off, 0);
    }

    #[test]
    fn names_are_demangled_when_looked_up_and_once() {
        let exe = std::env::current_exe().unwrap();
        let syms = ElfSymbols::load(&exe).unwrap();
        assert!(syms.len() > 1000);
        // Building the table sorted thousands of functions and demangled almost none (only
        // aliases of one address, to pick the name perf shows).
        let built = syms.demangled();
        assert!(built * 10 < syms.len(), "{built} of {}", syms.len());
        let all: Vec<Symbol> = syms.symbols().collect();
        let addr = all
            .iter()
            .find(|s| {
                s.name
                    .ends_with("names_are_demangled_when_looked_up_and_once")
            })
            .unwrap()
            .start;
        // Each name once, however often it is looked up.
        assert_eq!(syms.demangled(), built + syms.len());
        assert!(syms.symbols().eq(all));
        assert_eq!(syms.demangled(), built + syms.len());
        let fresh = ElfSymbols::load(&exe).unwrap();
        let before = fresh.demangled();
        let (a, _) = fresh.lookup_vaddr(addr).unwrap();
        assert_eq!(fresh.demangled(), before + 1);
        let (b, off) = fresh.lookup_vaddr(addr + 1).unwrap();
        assert_eq!((fresh.demangled(), off), (before + 1, 1));
        assert_eq!(a, b);
        assert!(
            a.name.contains("elf::tests::names_are_demangled"),
            "{}",
            a.name
        );
    }

    #[test]
    fn demangles_rust_and_cpp() {
        assert_eq!(
            demangle("_ZN4core3fmt5write17h0123456789abcdefE"),
            "core::fmt::write"
        );
        assert_eq!(demangle("_Z3fooi"), "foo");
        assert_eq!(
            demangle("_ZNSt5ctypeIcEC2EPKtbm"),
            "std::ctype<char>::ctype"
        );
        assert_eq!(demangle("main"), "main");
        // Qualifiers of member functions go with the parameters, as in `c++filt -p`.
        assert_eq!(demangle("_ZNK1A1fEv"), "A::f");
        assert_eq!(demangle("_ZNKR1A1fEv"), "A::f");
        assert_eq!(demangle("_ZNKO1A1fEv"), "A::f");
        assert_eq!(demangle("_ZNVK1AclEv"), "A::operator()");
        // Integer template arguments carry binutils' suffixes, other literals their cast.
        assert_eq!(demangle("_Z1fILj8EEvv"), "f<8u>");
        assert_eq!(demangle("_Z1fILm8EEvv"), "f<8ul>");
        assert_eq!(demangle("_Z1fILy8EEvv"), "f<8ull>");
        assert_eq!(demangle("_Z1fILx8EEvv"), "f<8ll>");
        assert_eq!(demangle("_Z1fILl8EEvv"), "f<8l>");
        assert_eq!(demangle("_Z1fILin8EEvv"), "f<-8>");
        assert_eq!(demangle("_Z1fILc65EEvv"), "f<(char)65>");
        assert_eq!(demangle("_Z1fILh8EEvv"), "f<(unsigned char)8>");
        assert_eq!(demangle("_Z1fILb1EEvv"), "f<true>");
        // Suffixes of split or cloned functions are left out, as binutils does.
        assert_eq!(
            demangle("_RNvMs_NtNtCsaLBsNTKQP2p_11rustc_parse6parser4itemNtB6_6Parser15parse_item_enum.warm"),
            "<rustc_parse::parser::Parser>::parse_item_enum"
        );
        assert_eq!(
            demangle("_ZN4core3fmt5write17h0123456789abcdefE.cold"),
            "core::fmt::write"
        );
        assert_eq!(
            demangle("_ZN4core3ptr31drop_in_place$LT$std..rt..X$GT$17h0123456789abcdefE.cold.1"),
            "core::ptr::drop_in_place<std::rt::X>"
        );
        assert_eq!(demangle("_Z3foov.cold"), "foo");
        // A truncated legacy name stays as it is.
        assert_eq!(demangle("_ZN4core9"), "_ZN4core9");
        // An empty parameter pack prints as nothing, as c++filt prints it.
        assert_eq!(demangle("_ZN1MIiJEE1fEv"), "M<int>::f");
        // A template function's return type is left out, as `c++filt -p` does.
        assert_eq!(
            demangle("_ZN6corpus7chain_bImEET_S1_"),
            "corpus::chain_b<unsigned long>"
        );
    }

    #[test]
    fn vdso_has_clock_gettime() {
        let Some(img) = vdso_image() else {
            eprintln!("SKIP: no [vdso] mapping");
            return;
        };
        let t = ElfSymbols::parse(&img).unwrap();
        assert!(
            t.symbols().any(|s| s.name.contains("clock_gettime")),
            "{:?}",
            t.symbols().collect::<Vec<_>>()
        );
    }

    #[test]
    fn garbage_does_not_panic() {
        assert!(ElfSymbols::parse(b"\x7fELF garbage").is_err());
        assert!(ElfSymbols::load(Path::new("/nonexistent")).is_err());
    }
}
