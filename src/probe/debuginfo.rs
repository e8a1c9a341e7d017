//! What a probe needs to know of a binary: its symbols, its loadable segments (virtual
//! address ↔ file offset, the offset being what uprobes take) and, when it has DWARF, its
//! functions (entry, declaration file and line) and line table.
use std::borrow::Cow;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use object::read::elf::ElfFile64;
use object::{
    Endianness, Object, ObjectSection, ObjectSegment, ObjectSymbol, SymbolFlags, SymbolKind,
};

/// An ELF symbol.
#[derive(Debug, Clone)]
pub struct Sym {
    /// Name as in the table.
    pub name: String,
    /// Virtual address.
    pub addr: u64,
    /// Size in bytes.
    pub size: u64,
    /// A function (STT_FUNC or an indirect function).
    pub func: bool,
    /// A GNU indirect function: its address is the resolver's, not the code run.
    pub ifunc: bool,
}

/// A function DWARF describes with code.
#[derive(Debug, Clone)]
pub struct Func {
    /// Name.
    pub name: String,
    /// Entry address.
    pub entry: u64,
    /// End address (exclusive).
    pub end: u64,
    /// Declaration file (absolute when the compilation directory is known).
    pub file: String,
    /// Declaration line.
    pub line: u32,
    /// Index of its compilation unit.
    pub cu: u32,
    /// Address ranges of its code (more than one when the compiler split it).
    pub ranges: Vec<(u64, u64)>,
    /// An out-of-line copy of an inline function (named through DW_AT_abstract_origin).
    pub instance: bool,
    /// Its DIE's offset in its unit (DIE offsets follow the tree's depth-first order).
    pub die: usize,
    /// The unit offset of the DIE it is a concrete copy of (DW_AT_abstract_origin).
    pub origin: Option<usize>,
}

/// A function DWARF describes without code (an inline function's abstract instance): its
/// code is in the copies naming it as their DW_AT_abstract_origin.
#[derive(Debug, Clone)]
pub struct Abstract {
    /// Name.
    pub name: String,
    /// Its compilation unit.
    pub cu: u32,
    /// Its DIE's offset in its unit.
    pub die: usize,
    /// Declaration file.
    pub file: String,
}

/// Where perf probes a function through DWARF: a function's entry, or, for an inline
/// function, each of its copies (inlined or out of line).
#[derive(Debug, Clone)]
pub struct Instance {
    /// The entry address.
    pub entry: u64,
    /// The inlined copy's DIE (unit offset) whose variables the probe reads; `None` for a
    /// function of its own.
    pub inline_die: Option<usize>,
    /// Found by walking an inline function's copies (perf skips no prologue there).
    pub walked: bool,
}

/// One inlined copy of a function inside another.
#[derive(Debug, Clone)]
pub struct Inline {
    /// The inlined function's name.
    pub name: String,
    /// Its compilation unit.
    pub cu: u32,
    /// Index in [`DebugInfo::funcs`] of the function it is inlined into.
    pub func: Option<usize>,
    /// Index of the inline copy it sits in, if nested.
    pub parent: Option<usize>,
    /// The inlined function's declaration file and line.
    pub decl_file: String,
    /// See `decl_file`.
    pub decl_line: u32,
    /// Where it is called from.
    pub call_file: String,
    /// See `call_file`.
    pub call_line: u32,
    /// Entry address.
    pub entry: u64,
    /// Address ranges.
    pub ranges: Vec<(u64, u64)>,
    /// Its DIE's offset in its unit.
    pub die: usize,
    /// The unit offset of the abstract instance it copies.
    pub origin: Option<usize>,
}

/// A row of one unit's line table in libdw's order (by address, an end of sequence
/// before a row at the same address), end-of-sequence rows kept: what perf's reverse
/// lookup of an address's line sees.
#[derive(Debug, Clone, Copy)]
pub struct UnitRow {
    /// Address.
    pub addr: u64,
    /// Index into [`DebugInfo::files`].
    pub file: u32,
    /// Line.
    pub line: u32,
    /// Starts a statement.
    pub stmt: bool,
    /// Ends a sequence.
    pub end: bool,
}

fn in_ranges(ranges: &[(u64, u64)], addr: u64) -> bool {
    ranges.iter().any(|&(a, b)| a <= addr && addr < b)
}

/// Where perf's line walk starts (its `die_walk_lines`): a function, one inlined copy, or
/// a whole unit.
#[derive(Debug, Clone, Copy)]
pub enum LineRoot {
    /// [`DebugInfo::funcs`] index.
    Func(usize),
    /// [`DebugInfo::inlines`] index.
    Inline(usize),
    /// A unit.
    Unit(u32),
}

/// One row of the line table.
#[derive(Debug, Clone, Copy)]
pub struct Row {
    /// Address.
    pub addr: u64,
    /// Index into [`DebugInfo::files`].
    pub file: u32,
    /// Line.
    pub line: u32,
    /// Starts a statement.
    pub stmt: bool,
}

/// The DWARF facts probes use.
#[derive(Debug, Default)]
pub struct DebugInfo {
    /// Functions with code.
    pub funcs: Vec<Func>,
    /// Line rows, sorted by address.
    pub rows: Vec<Row>,
    /// Source file paths the rows name.
    pub files: Vec<String>,
    /// Inlined copies of functions.
    pub inlines: Vec<Inline>,
    /// Each unit's rows (see [`UnitRow`]).
    pub unit_rows: Vec<Vec<UnitRow>>,
    /// Functions without code of their own (inline functions' abstract instances).
    pub abstracts: Vec<Abstract>,
}

/// A USDT marker from `.note.stapsdt`.
#[derive(Debug, Clone)]
pub struct SdtNote {
    /// Provider.
    pub provider: String,
    /// Marker name.
    pub name: String,
    /// File offset of the marker: the note's address moved by the distance between the
    /// base address the note recorded and `.stapsdt.base`'s file offset (perf's rule, which
    /// also undoes prelinking).
    pub loc: u64,
    /// The semaphore as the uprobe's reference-counter offset, 0 when it has none: its
    /// address moved by `.probes`' address-to-offset distance (left as is without a
    /// `.probes` section, as perf leaves it).
    pub ref_ctr: u64,
    /// Operands as the note spells them (`-8@%rax 8@-80(%rbx)`).
    pub args: String,
}

/// A binary opened for probing.
#[derive(Debug)]
pub struct Binary {
    /// Its absolute, resolved path (what tracefs is given).
    pub path: PathBuf,
    /// Loadable segments: (vaddr, file offset, file size).
    segments: Vec<(u64, u64, u64)>,
    /// Symbols, sorted by address.
    pub symbols: Vec<Sym>,
    /// DWARF, when the binary or its separate debug file has it.
    pub debug: Option<DebugInfo>,
    /// The file that DWARF is in.
    pub dwarf_path: PathBuf,
    /// USDT markers.
    pub sdt: Vec<SdtNote>,
}

/// Why a binary cannot be probed.
#[derive(Debug)]
pub enum OpenError {
    /// The path does not resolve.
    Path(std::io::Error),
    /// Not an ELF file (or one object cannot read).
    NotElf,
}

impl Binary {
    /// Opens `path` (resolved to an absolute path first, as perf does).
    pub fn open(path: &Path) -> Result<Binary, OpenError> {
        let path = std::fs::canonicalize(path).map_err(OpenError::Path)?;
        let data = rperf_symbols::file::map_regular(&path).map_err(|_| OpenError::NotElf)?;
        let file = ElfFile64::<Endianness>::parse(&*data).map_err(|_| OpenError::NotElf)?;
        let segments = file
            .segments()
            .map(|s| {
                let (off, size) = s.file_range();
                (s.address(), off, size)
            })
            .collect();
        let mut symbols: Vec<Sym> = Vec::new();
        let relocatable = is_relocatable(&file);
        let dynamic = file.symbols().next().is_none();
        let table: Vec<_> = if dynamic {
            file.dynamic_symbols().collect()
        } else {
            file.symbols().collect()
        };
        // A library exports old versions of a function beside the default one (`memcpy@
        // GLIBC_2.2.5` and `memcpy@@GLIBC_2.14`): a name probes the default, as a link would.
        let versions = if dynamic {
            file.elf_section_table()
                .versions(file.endian(), file.data())
                .ok()
                .flatten()
        } else {
            None
        };
        for s in table {
            if versions
                .as_ref()
                .is_some_and(|v| v.version_index(file.endian(), s.index()).is_hidden())
            {
                continue;
            }
            // (A relocatable object's first function is at 0 in its section.)
            if s.is_undefined()
                || matches!(s.kind(), SymbolKind::Section | SymbolKind::File)
                || (s.address() == 0 && !relocatable)
            {
                continue;
            }
            let Ok(name) = s.name() else { continue };
            if name.is_empty() {
                continue;
            }
            let ifunc = match s.flags() {
                SymbolFlags::Elf { st_info, .. } => st_info & 0xf == object::elf::STT_GNU_IFUNC,
                _ => false,
            };
            // Versioned names (`memcpy@@GLIBC_2.14`) are probed by their plain name.
            let name = name.split('@').next().unwrap_or(name).to_string();
            symbols.push(Sym {
                name,
                addr: symbol_address(&file, &s),
                size: s.size(),
                func: s.kind() == SymbolKind::Text || ifunc,
                ifunc,
            });
        }
        symbols.sort_by_key(|s| s.addr);
        // DWARF from the binary, else from its separate debug file (a -dbg package's
        // /usr/lib/debug/.build-id/…), as perf reads it.
        let mut debug = load_dwarf(&file);
        let mut dwarf_path = path.clone();
        if debug.is_none() {
            if let Some(dp) = rperf_symbols::debug_file(&path, None) {
                if let Ok(ddata) = rperf_symbols::file::map_regular(&dp) {
                    if let Ok(dfile) = ElfFile64::<Endianness>::parse(&*ddata) {
                        debug = load_dwarf(&dfile);
                        if debug.is_some() {
                            dwarf_path = dp;
                        }
                    }
                }
            }
        }
        let sdt = sdt_notes(&file);
        Ok(Binary {
            path,
            dwarf_path,
            segments,
            symbols,
            debug,
            sdt,
        })
    }

    /// The file offset of virtual address `vaddr` (what a uprobe is placed at).
    pub fn file_offset(&self, vaddr: u64) -> Option<u64> {
        self.segments
            .iter()
            .find(|&&(va, _, size)| vaddr >= va && vaddr < va + size)
            .map(|&(va, off, _)| vaddr - va + off)
    }

    /// The virtual address of file offset `off`.
    pub fn vaddr(&self, off: u64) -> Option<u64> {
        self.segments
            .iter()
            .find(|&&(_, o, size)| off >= o && off < o + size)
            .map(|&(va, o, _)| off - o + va)
    }

    /// Functions named `name`, one per address: by their symbol, or, as perf, by their
    /// demangled name without parameters (`ns::K::get` for `_ZN2ns1K3getEi`).
    pub fn functions(&self, name: &str) -> Vec<&Sym> {
        let plain = |raw: &str| {
            if !(raw.starts_with("_Z") || raw.starts_with("_R")) {
                return false;
            }
            let d = rperf_symbols::demangle(raw);
            d.split('(').next() == Some(name)
        };
        let mut v: Vec<&Sym> = self
            .symbols
            .iter()
            .filter(|s| s.func && (s.name == name || plain(&s.name)))
            .collect();
        v.dedup_by_key(|s| s.addr);
        v
    }

    /// The function symbol covering `vaddr`.
    pub fn symbol_at(&self, vaddr: u64) -> Option<&Sym> {
        self.symbols
            .iter()
            .filter(|s| s.func && s.addr <= vaddr && (vaddr < s.addr + s.size.max(1)))
            .max_by_key(|s| s.addr)
    }
}

impl DebugInfo {
    /// Where perf probes function `name` (declared in a file ending with `src`) when an inline
    /// function is among what it finds: in each unit, the first definition of that name in
    /// the unit's order; a function with code is probed at its entry, an inline function's
    /// abstract instance at every copy naming it (out-of-line copies and inlined ones, in the
    /// unit's order, less an inlined copy "called" from its own declaration: perf's
    /// `die_walk_instances`). `None` when no inline function is found (a plain function,
    /// probed as its symbols are).
    pub fn instances(&self, name: &str, src: Option<&str>) -> Option<Vec<Instance>> {
        let ok = |n: &str, file: &str| n == name && src.is_none_or(|s| tail_eq(file, s));
        let mut out = Vec::new();
        let mut inline = false;
        let units = self
            .funcs
            .iter()
            .map(|f| f.cu)
            .chain(self.abstracts.iter().map(|a| a.cu));
        let mut units: Vec<u32> = units.collect();
        units.sort_unstable();
        units.dedup();
        for cu in units {
            let func = self
                .funcs
                .iter()
                .filter(|f| f.cu == cu && ok(&f.name, &f.file))
                .min_by_key(|f| f.die);
            let abs = self
                .abstracts
                .iter()
                .filter(|a| a.cu == cu && ok(&a.name, &a.file))
                .min_by_key(|a| a.die);
            match (func, abs) {
                (Some(f), a) if a.is_none_or(|a| f.die < a.die) => out.push(Instance {
                    entry: f.entry,
                    inline_die: None,
                    walked: false,
                }),
                (_, Some(a)) => {
                    inline = true;
                    let copies = self
                        .funcs
                        .iter()
                        .filter(|f| f.cu == cu && f.origin == Some(a.die))
                        .map(|f| (f.die, f.entry, None));
                    let inlined = self
                        .inlines
                        .iter()
                        .filter(|n| n.cu == cu && n.origin == Some(a.die))
                        .filter(|n| (&n.call_file, n.call_line) != (&n.decl_file, n.decl_line))
                        .map(|n| (n.die, n.entry, Some(n.die)));
                    let mut all: Vec<_> = copies.chain(inlined).filter(|c| c.1 != 0).collect();
                    all.sort_by_key(|c| c.0);
                    out.extend(all.into_iter().map(|(_, entry, inline_die)| Instance {
                        entry,
                        inline_die,
                        walked: true,
                    }));
                }
                _ => {}
            }
        }
        (inline && !out.is_empty()).then_some(out)
    }

    /// Functions named `name` (defined in a file ending with `src`, when given).
    pub fn functions(&self, name: &str, src: Option<&str>) -> Vec<&Func> {
        self.funcs
            .iter()
            .filter(|f| f.name == name && src.is_none_or(|s| path_ends_with(&f.file, s)))
            .collect()
    }

    /// The function whose code covers `addr`.
    pub fn function_at(&self, addr: u64) -> Option<&Func> {
        self.funcs
            .iter()
            .filter(|f| f.entry <= addr && addr < f.end)
            .min_by_key(|f| f.end - f.entry)
    }

    /// Statement addresses of `line` in files ending with `src`, within `range` when given.
    pub fn line_addrs(
        &self,
        src: &str,
        line: u32,
        range: Option<std::ops::Range<u64>>,
    ) -> Vec<u64> {
        let mut v: Vec<u64> = self
            .rows
            .iter()
            .filter(|r| r.stmt && r.line == line)
            .filter(|r| path_ends_with(&self.files[r.file as usize], src))
            .filter(|r| range.as_ref().is_none_or(|rg| rg.contains(&r.addr)))
            .map(|r| r.addr)
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// The line a statement starts at exactly `addr`.
    pub fn stmt_at(&self, addr: u64) -> Option<Row> {
        self.rows.iter().find(|r| r.stmt && r.addr == addr).copied()
    }

    /// perf's reverse lookup of the line at `addr` in unit `cu` (`cu_find_lineinfo`): a
    /// function's declaration line at its entry, else the first statement row at exactly
    /// that address in libdw's order; `None` when there is none.
    pub fn reverse_line(&self, cu: u32, addr: u64) -> Option<(&str, u32)> {
        if let Some(f) = self
            .funcs
            .iter()
            .find(|f| f.cu == cu && in_ranges(&f.ranges, addr))
        {
            if f.entry == addr {
                return (!f.file.is_empty() && f.line > 0).then_some((f.file.as_str(), f.line));
            }
        }
        let rows = self.unit_rows.get(cu as usize)?;
        let last = rows.partition_point(|r| r.addr <= addr).checked_sub(1)?;
        let mut l = last;
        while l > 0 && rows[l - 1].addr == addr {
            l -= 1;
        }
        let r = rows[l..]
            .iter()
            .take_while(|r| r.addr <= addr)
            .find(|r| r.stmt)?;
        let file = self.files.get(r.file as usize)?;
        (r.line > 0).then_some((file.as_str(), r.line))
    }

    /// The innermost inline copy below `root` whose code holds `addr`.
    fn innermost_inline(&self, root: LineRoot, addr: u64) -> Option<&Inline> {
        let under = |mut i: usize| loop {
            let inl = &self.inlines[i];
            match (root, inl.parent) {
                (LineRoot::Inline(r), Some(p)) if p == r => return true,
                (LineRoot::Inline(_), Some(p)) => i = p,
                (LineRoot::Inline(_), None) => return false,
                (LineRoot::Func(f), _) => return inl.func == Some(f),
                (LineRoot::Unit(_), _) => return false,
            }
        };
        let depth = |mut i: usize| {
            let mut d = 0;
            while let Some(p) = self.inlines[i].parent {
                d += 1;
                i = p;
            }
            d
        };
        (0..self.inlines.len())
            .filter(|&i| in_ranges(&self.inlines[i].ranges, addr) && under(i))
            .max_by_key(|&i| depth(i))
            .map(|i| &self.inlines[i])
    }

    /// perf's line walk (`die_walk_lines`) from `root`: (file, line, address) of each
    /// statement row of the root's code not belonging to an inlined copy of another
    /// function (a copy's row counts where it is the call's line), then declaration lines
    /// at entries and inline call lines, in perf's order.
    pub fn walk_lines(&self, root: LineRoot) -> Vec<(&str, u32, u64)> {
        let mut out = Vec::new();
        let (cu, scope) = match root {
            LineRoot::Func(i) => {
                let f = &self.funcs[i];
                (f.cu, Some((&f.ranges, f.file.as_str(), f.line, f.entry)))
            }
            LineRoot::Inline(i) => {
                let n = &self.inlines[i];
                (
                    n.cu,
                    Some((&n.ranges, n.decl_file.as_str(), n.decl_line, n.entry)),
                )
            }
            LineRoot::Unit(u) => (u, None),
        };
        let rows = self.unit_rows.get(cu as usize).map_or(&[][..], |r| r);
        for r in rows.iter().filter(|r| r.stmt && !r.end) {
            if let Some((ranges, decf, decl, _)) = scope {
                if !in_ranges(ranges, r.addr) {
                    continue;
                }
                if let Some(inl) = self.innermost_inline(root, r.addr) {
                    let call_site = inl.call_file == decf && inl.call_line == r.line;
                    if !call_site && (inl.decl_line != decl || inl.decl_file != decf) {
                        continue;
                    }
                }
            }
            out.push((self.files[r.file as usize].as_str(), r.line, r.addr));
        }
        match scope {
            Some((_, decf, decl, entry)) => {
                if !decf.is_empty() {
                    out.push((decf, decl, entry));
                }
                let top = |n: &Inline| match root {
                    LineRoot::Func(f) => n.func == Some(f) && n.parent.is_none(),
                    LineRoot::Inline(i) => n.parent == Some(i),
                    LineRoot::Unit(_) => false,
                };
                for n in self.inlines.iter().filter(|n| top(n)) {
                    if !n.call_file.is_empty() && n.call_line > 0 {
                        out.push((n.call_file.as_str(), n.call_line, n.entry));
                    }
                }
            }
            None => {
                for (fi, f) in self.funcs.iter().enumerate().filter(|(_, f)| f.cu == cu) {
                    if !f.file.is_empty() {
                        out.push((f.file.as_str(), f.line, f.entry));
                    }
                    for n in self.inlines.iter().filter(|n| n.func == Some(fi)) {
                        if !n.call_file.is_empty() && n.call_line > 0 {
                            out.push((n.call_file.as_str(), n.call_line, n.entry));
                        }
                        if !n.decl_file.is_empty() {
                            out.push((n.decl_file.as_str(), n.decl_line, n.entry));
                        }
                    }
                }
            }
        }
        out
    }
}

/// The name a kernel module's .ko gives itself: the `name` of its `struct module`, which
/// `.gnu.linkonce.this_module` holds (at byte 24 on 64-bit kernels, where it has long
/// been, as perf reads it); `None` for an object without one.
pub fn module_name(path: &Path) -> Option<String> {
    let data = rperf_symbols::file::map_regular(path).ok()?;
    let file = ElfFile64::<Endianness>::parse(&*data).ok()?;
    let sec = file.section_by_name(".gnu.linkonce.this_module")?;
    let bytes = sec.data().ok()?.get(24..)?;
    let name = bytes.split(|&b| b == 0).next()?;
    (!name.is_empty()).then(|| String::from_utf8_lossy(name).into_owned())
}

/// perf's `strtailcmp`: whether one string ends the other.
pub fn tail_eq(a: &str, b: &str) -> bool {
    a.ends_with(b) || b.ends_with(a)
}

impl DebugInfo {
    /// Where perf's `-L FUNC` and `FUNC:N` look: the first unit defining `name` (declared
    /// in a file ending with `src`), its out-of-line definition, or when the function is
    /// inline its copies there; with the declaration (file, line) numbers count from.
    pub fn line_roots(
        &self,
        name: &str,
        src: Option<&str>,
    ) -> Option<(Vec<LineRoot>, String, u32)> {
        let ok = |n: &str, file: &str| n == name && src.is_none_or(|s| tail_eq(file, s));
        let cu = self
            .funcs
            .iter()
            .filter(|f| ok(&f.name, &f.file))
            .map(|f| f.cu)
            .chain(
                self.inlines
                    .iter()
                    .filter(|n| ok(&n.name, &n.decl_file))
                    .map(|n| n.cu),
            )
            .min()?;
        if let Some((i, f)) = self
            .funcs
            .iter()
            .enumerate()
            .find(|(_, f)| f.cu == cu && !f.instance && ok(&f.name, &f.file))
        {
            return Some((vec![LineRoot::Func(i)], f.file.clone(), f.line));
        }
        let mut roots = Vec::new();
        let mut decl = None;
        for (i, f) in self.funcs.iter().enumerate() {
            if f.cu == cu && ok(&f.name, &f.file) {
                roots.push(LineRoot::Func(i));
                decl.get_or_insert((f.file.clone(), f.line));
            }
        }
        for (i, n) in self.inlines.iter().enumerate() {
            if n.cu == cu && ok(&n.name, &n.decl_file) {
                roots.push(LineRoot::Inline(i));
                decl.get_or_insert((n.decl_file.clone(), n.decl_line));
            }
        }
        let (file, line) = decl?;
        Some((roots, file, line))
    }

    /// The lines perf numbers in `-L` from `roots`: in `file`, within `lines`, and the line
    /// perf finds again from the address (a line whose address another line claims is
    /// left out, as perf's reverse check leaves it).
    pub fn numbered_lines(
        &self,
        roots: &[LineRoot],
        file: &str,
        lines: std::ops::RangeInclusive<u32>,
    ) -> std::collections::BTreeSet<u32> {
        let mut out = std::collections::BTreeSet::new();
        for &root in roots {
            let cu = match root {
                LineRoot::Func(i) => self.funcs[i].cu,
                LineRoot::Inline(i) => self.inlines[i].cu,
                LineRoot::Unit(u) => u,
            };
            for (f, line, addr) in self.walk_lines(root) {
                if !tail_eq(f, file) || !lines.contains(&line) {
                    continue;
                }
                match self.reverse_line(cu, addr) {
                    Some((rf, rl)) if rl != line || rf != f => {}
                    _ => {
                        out.insert(line);
                    }
                }
            }
        }
        out
    }

    /// The first unit naming a file that ends with `src` (perf's `cu_find_realpath`), and
    /// that file; `all`: every such unit.
    pub fn units_with_file(&self, src: &str) -> Vec<(u32, String)> {
        let mut out = Vec::new();
        for (cu, rows) in self.unit_rows.iter().enumerate() {
            if let Some(r) = rows
                .iter()
                .find(|r| tail_eq(&self.files[r.file as usize], src))
            {
                out.push((cu as u32, self.files[r.file as usize].clone()));
            }
        }
        out
    }
}

/// Why a source line cannot be probed where perf's reverse check refuses it.
#[derive(Debug)]
pub struct SharedLine {
    /// Where perf suggests probing instead (`FUNC:REL` or `FILE:LINE`).
    pub instead: String,
}

impl DebugInfo {
    /// The addresses perf probes for `line` of the file ending with `src` (perf's
    /// `find_probe_point_by_line` over unit `cu`'s line walk, or every unit naming the file
    /// when `cu` is `None`): each row of that line, refused as a whole when the line perf
    /// finds again at one of them is another line of the same file (it shares that line's
    /// address); `func` names the function the line is counted from, for the suggestion.
    pub fn probe_line_addrs(
        &self,
        cu: Option<u32>,
        src: &str,
        line: u32,
        func: Option<&str>,
    ) -> Result<Vec<u64>, SharedLine> {
        let units: Vec<(u32, String)> = match cu {
            Some(c) => vec![(c, src.to_string())],
            None => self.units_with_file(src),
        };
        let mut out = Vec::new();
        for (cu, fname) in units {
            for (f, l, addr) in self.walk_lines(LineRoot::Unit(cu)) {
                if l != line || !tail_eq(f, &fname) {
                    continue;
                }
                if let Some((rf, rl)) = self.reverse_line(cu, addr) {
                    if rf == f && rl != l {
                        let scope = func.and_then(|name| {
                            let inl = self
                                .inlines
                                .iter()
                                .filter(|n| n.cu == cu && n.name == name)
                                .find(|n| in_ranges(&n.ranges, addr))
                                .map(|n| n.decl_line);
                            inl.or_else(|| {
                                self.funcs
                                    .iter()
                                    .find(|x| {
                                        x.cu == cu && x.name == name && in_ranges(&x.ranges, addr)
                                    })
                                    .map(|x| x.line)
                            })
                            .map(|d| format!("{name}:{}", rl.wrapping_sub(d) as i32))
                        });
                        return Err(SharedLine {
                            instead: scope.unwrap_or_else(|| format!("{rf}:{rl}")),
                        });
                    }
                }
                out.push(addr);
            }
        }
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }

    /// The function a line probe at `addr` is named after, as perf's best scope: of the
    /// functions and inlined copies covering it, the one declared nearest above `line`,
    /// else the innermost.
    pub fn scope_for_line(&self, addr: u64, line: u32) -> Option<&str> {
        self.best_scope(addr, None, None, line).map(|s| s.0)
    }

    /// perf's best scope at `addr` (its `find_best_scope`), from the function out to the
    /// innermost inlined copy covering it: the first named `function` when one is given,
    /// else, of those declared in a file ending with `file`, the one declared nearest above
    /// `line`; failing that the innermost. (name, the inlined copy's DIE when it is one.)
    pub fn best_scope(
        &self,
        addr: u64,
        function: Option<&str>,
        file: Option<&str>,
        line: u32,
    ) -> Option<(&str, Option<usize>)> {
        let funcs = self
            .funcs
            .iter()
            .filter(|f| in_ranges(&f.ranges, addr))
            .map(|f| (f.name.as_str(), f.file.as_str(), f.line, None));
        let mut inlines: Vec<&Inline> = self
            .inlines
            .iter()
            .filter(|n| in_ranges(&n.ranges, addr))
            .collect();
        // Unit order is the tree's: an outer copy before the copies inside it.
        inlines.sort_by_key(|n| (n.cu, n.die));
        let inlines = inlines.into_iter().map(|n| {
            (
                n.name.as_str(),
                n.decl_file.as_str(),
                n.decl_line,
                Some(n.die),
            )
        });
        let all: Vec<(&str, &str, u32, Option<usize>)> = funcs.chain(inlines).collect();
        let best = match function {
            Some(name) => all.iter().find(|c| c.0 == name),
            None => all
                .iter()
                .filter(|c| file.is_none_or(|f| path_ends_with(c.1, f)))
                .filter(|c| c.2 < line)
                .min_by_key(|c| line - c.2),
        };
        best.or_else(|| all.last()).map(|c| (c.0, c.3))
    }
}

/// Whether `path` is `suffix` or ends with `/suffix`.
pub fn path_ends_with(path: &str, suffix: &str) -> bool {
    let suffix = suffix.trim_start_matches("./");
    path == suffix
        || path
            .strip_suffix(suffix)
            .is_some_and(|rest| rest.ends_with('/'))
}

/// The USDT markers of the ELF file at `path`, without reading anything else of it (what
/// the build-id cache's `probes` file is made from).
pub fn sdt_notes_of(path: &Path) -> Result<Vec<SdtNote>, OpenError> {
    let data = rperf_symbols::file::map_regular(path).map_err(|_| OpenError::NotElf)?;
    let file = ElfFile64::<Endianness>::parse(&*data).map_err(|_| OpenError::NotElf)?;
    Ok(sdt_notes(&file))
}

/// The markers of `.note.stapsdt` (a non-allocated note section): each note (owner
/// `stapsdt`, type 3) holds the marker's address, the link-time address of
/// `.stapsdt.base`, the semaphore's address, then the provider, name and operands as
/// NUL-terminated strings.
fn sdt_notes(file: &ElfFile64<'_, Endianness>) -> Vec<SdtNote> {
    let Some(sec) = file.section_by_name(".note.stapsdt") else {
        return Vec::new();
    };
    // perf reads the notes only from a non-allocated note section.
    use object::read::elf::SectionHeader;
    let header = sec.elf_section_header();
    let note = header.sh_type(file.endian()) == object::elf::SHT_NOTE
        && header.sh_flags(file.endian()) & u64::from(object::elf::SHF_ALLOC) == 0;
    if !note {
        return Vec::new();
    }
    let Ok(data) = sec.data() else {
        return Vec::new();
    };
    let base_off = file
        .section_by_name(".stapsdt.base")
        .and_then(|s| s.file_range())
        .map_or(0, |(off, _)| off);
    // `.probes` (where <sys/sdt.h> puts semaphores): its address-to-offset distance.
    let probes = file
        .section_by_name(".probes")
        .and_then(|s| Some((s.address(), s.file_range()?.0)))
        .filter(|&(addr, off)| addr != 0 && off != 0);
    let little = file.is_little_endian();
    let u32_at = |b: &[u8], i: usize| -> Option<u32> {
        let v: [u8; 4] = b.get(i..i + 4)?.try_into().ok()?;
        Some(if little {
            u32::from_le_bytes(v)
        } else {
            u32::from_be_bytes(v)
        })
    };
    let u64_at = |b: &[u8], i: usize| -> Option<u64> {
        let v: [u8; 8] = b.get(i..i + 8)?.try_into().ok()?;
        Some(if little {
            u64::from_le_bytes(v)
        } else {
            u64::from_be_bytes(v)
        })
    };
    let align = |n: usize| (n + 3) & !3;
    let mut out = Vec::new();
    let mut i = 0;
    while let (Some(namesz), Some(descsz), Some(kind)) =
        (u32_at(data, i), u32_at(data, i + 4), u32_at(data, i + 8))
    {
        let (namesz, descsz) = (namesz as usize, descsz as usize);
        let name_at = i + 12;
        let desc_at = name_at + align(namesz);
        let next = desc_at + align(descsz);
        let (Some(owner), Some(desc)) = (
            data.get(name_at..name_at + namesz),
            data.get(desc_at..desc_at + descsz),
        ) else {
            break;
        };
        i = next;
        if kind != 3 || owner != b"stapsdt\0" {
            continue;
        }
        let (Some(pc), Some(base), Some(sem)) =
            (u64_at(desc, 0), u64_at(desc, 8), u64_at(desc, 16))
        else {
            continue;
        };
        let mut strings = desc.get(24..).unwrap_or(&[]).split(|&b| b == 0);
        let mut next_str = || String::from_utf8_lossy(strings.next().unwrap_or(&[])).into_owned();
        let (provider, name, args) = (next_str(), next_str(), next_str());
        let loc = if base_off != 0 {
            pc.wrapping_add(base_off).wrapping_sub(base)
        } else {
            pc
        };
        let ref_ctr = match probes {
            Some((addr, off)) if sem != 0 => sem.wrapping_sub(addr.wrapping_sub(off)),
            _ => sem,
        };
        out.push(SdtNote {
            provider,
            name,
            loc,
            ref_ctr,
            args,
        });
    }
    out
}

/// Why an SDT operand gives no fetch argument.
#[derive(Debug, PartialEq, Eq)]
pub enum SdtArgError {
    /// An operand uprobes cannot fetch (a constant, a symbol relative to %rip, scaled
    /// indexing): perf leaves it out and numbers the next one as if it were there.
    Skip,
    /// A size outside -8..=8: perf drops the whole marker.
    BadSize,
}

/// One SDT operand (`-8@%rax`, `8@-80(%rbx)`, `4@(%rsp)`) as the kernel's fetch argument with
/// its type (`%ax:s64`, `-80(%bx):u64`, `+0(%sp):u32`), following perf 6.1's x86 rules: only
/// `[+-][NUM][(]%REG[)]` is kept, registers renamed to the names uprobes know (a name
/// not in the table stays as written, `%rip` too), and a type only for sizes 1, 2, 4 and 8.
pub fn sdt_fetch(operand: &str) -> Result<String, SdtArgError> {
    let (suffix, op) = match operand.split_once('@') {
        Some((size, op)) => (sdt_size_suffix(size)?, op),
        None => ("", operand),
    };
    if op.contains(',') || op.contains('$') {
        return Err(SdtArgError::Skip);
    }
    // [+-]? [0-9]* \(? %[a-z][a-z0-9]+ \)?  — the whole operand.
    let (sign, rest) = match op.as_bytes().first() {
        Some(b'+' | b'-') => (&op[..1], &op[1..]),
        _ => ("", op),
    };
    let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    let (num, rest) = rest.split_at(digits);
    let (open, rest) = match rest.strip_prefix('(') {
        Some(r) => ("(", r),
        None => ("", rest),
    };
    let (reg, close) = match rest.strip_suffix(')') {
        Some(r) => (r, ")"),
        None => (rest, ""),
    };
    let name = reg.strip_prefix('%').ok_or(SdtArgError::Skip)?;
    let mut chars = name.chars();
    let well_formed = chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && name.len() >= 2
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !well_formed || reg.len() > 6 {
        return Err(SdtArgError::Skip);
    }
    let prefix = if open.is_empty() {
        ""
    } else if !sign.is_empty() {
        sign
    } else if !num.is_empty() {
        "+"
    } else {
        "+0"
    };
    Ok(format!(
        "{prefix}{num}{open}{}{close}{suffix}",
        x86_reg(reg)
    ))
}

/// A marker's fetch arguments (`arg1=%ax:s64`…), numbered by operand even where one is
/// left out; an operand with an invalid size fails the whole marker, as in perf.
pub fn sdt_args(note: &SdtNote) -> Result<Vec<String>, SdtArgError> {
    let mut out = Vec::new();
    for (i, op) in note.args.split_whitespace().enumerate() {
        match sdt_fetch(op) {
            Ok(f) => out.push(format!("arg{}={f}", i + 1)),
            Err(SdtArgError::Skip) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// The fetch type of an SDT operand's size (`-4` → `:s32`): none for sizes other than 1,
/// 2, 4 and 8; the size is read as C's strtol does (leading digits, else 0).
fn sdt_size_suffix(size: &str) -> Result<&'static str, SdtArgError> {
    let t = size.trim_start();
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    let n: i64 = digits[..end]
        .parse::<i64>()
        .unwrap_or(if end == 0 { 0 } else { i64::MAX });
    let n = if neg { -n } else { n };
    Ok(match n {
        -8 => ":s64",
        -4 => ":s32",
        -2 => ":s16",
        -1 => ":s8",
        1 => ":u8",
        2 => ":u16",
        4 => ":u32",
        8 => ":u64",
        -7..=7 => "",
        _ => return Err(SdtArgError::BadSize),
    })
}

/// An x86-64 register (`%rax`, `%r9d`) as uprobes names it (`%ax`, `%r9`). perf's table
/// compares the operand's name with each entry's first as many characters, so a name
/// that is a prefix of one (`%r8` of `%r8b`) takes that entry's target; others stay.
fn x86_reg(reg: &str) -> String {
    const TABLE: [(&str, &str); 52] = [
        ("%eax", "%ax"),
        ("%rax", "%ax"),
        ("%al", "%ax"),
        ("%ah", "%ax"),
        ("%ebx", "%bx"),
        ("%rbx", "%bx"),
        ("%bl", "%bx"),
        ("%bh", "%bx"),
        ("%ecx", "%cx"),
        ("%rcx", "%cx"),
        ("%cl", "%cx"),
        ("%ch", "%cx"),
        ("%edx", "%dx"),
        ("%rdx", "%dx"),
        ("%dl", "%dx"),
        ("%dh", "%dx"),
        ("%esi", "%si"),
        ("%rsi", "%si"),
        ("%sil", "%si"),
        ("%edi", "%di"),
        ("%rdi", "%di"),
        ("%dil", "%di"),
        ("%ebp", "%bp"),
        ("%rbp", "%bp"),
        ("%bpl", "%bp"),
        ("%rsp", "%sp"),
        ("%esp", "%sp"),
        ("%spl", "%sp"),
        ("%r8b", "%r8"),
        ("%r8w", "%r8"),
        ("%r8d", "%r8"),
        ("%r9b", "%r9"),
        ("%r9w", "%r9"),
        ("%r9d", "%r9"),
        ("%r10b", "%r10"),
        ("%r10w", "%r10"),
        ("%r10d", "%r10"),
        ("%r11b", "%r11"),
        ("%r11w", "%r11"),
        ("%r11d", "%r11"),
        ("%r12b", "%r12"),
        ("%r12w", "%r12"),
        ("%r12d", "%r12"),
        ("%r13b", "%r13"),
        ("%r13w", "%r13"),
        ("%r13d", "%r13"),
        ("%r14b", "%r14"),
        ("%r14w", "%r14"),
        ("%r14d", "%r14"),
        ("%r15b", "%r15"),
        ("%r15w", "%r15"),
        ("%r15d", "%r15"),
    ];
    TABLE
        .iter()
        .find(|(from, _)| from.as_bytes().get(..reg.len()) == Some(reg.as_bytes()))
        .map_or_else(|| reg.to_string(), |(_, to)| to.to_string())
}

type R<'a> = gimli::EndianSlice<'a, gimli::RunTimeEndian>;

/// The DWARF sections of `file` (inflated where compressed; absent ones empty) and its
/// byte order.
pub(crate) type Sections<'a> = gimli::DwarfSections<Cow<'a, [u8]>>;

/// See [`Sections`].
pub(crate) fn dwarf_sections<'a>(
    file: &ElfFile64<'a, Endianness>,
) -> Option<(Sections<'a>, gimli::RunTimeEndian)> {
    let endian = if file.is_little_endian() {
        gimli::RunTimeEndian::Little
    } else {
        gimli::RunTimeEndian::Big
    };
    let sections = gimli::DwarfSections::load(|id| -> Result<Cow<'a, [u8]>, ()> {
        Ok(file
            .section_by_name(id.name())
            .and_then(|s| section_data(file, &s))
            .unwrap_or(Cow::Borrowed(&[])))
    })
    .ok()?;
    Some((sections, endian))
}

/// Whether `file` is a relocatable object (a kernel module's .ko, a `gcc -c` output).
pub(crate) fn is_relocatable(file: &ElfFile64<'_, Endianness>) -> bool {
    file.kind() == object::ObjectKind::Relocatable
}

/// Where a relocatable object's section is taken to be: its file offset for code and data
/// (so that DWARF and symbol addresses become file offsets, as perf maps a module's
/// symbols), 0 for the rest (offsets into debug sections stay offsets).
fn section_base(file: &ElfFile64<'_, Endianness>, index: object::SectionIndex) -> u64 {
    let Ok(sec) = file.section_by_index(index) else {
        return 0;
    };
    let alloc = match sec.flags() {
        object::SectionFlags::Elf { sh_flags, .. } => {
            sh_flags & u64::from(object::elf::SHF_ALLOC) != 0
        }
        _ => false,
    };
    if alloc {
        sec.file_range().map_or(0, |(off, _)| off)
    } else {
        0
    }
}

/// The address of a symbol of `file`: in a relocatable object, its value moved by its
/// section's base (see [`section_base`]).
pub(crate) fn symbol_address<'a>(
    file: &ElfFile64<'a, Endianness>,
    sym: &impl ObjectSymbol<'a>,
) -> u64 {
    match (is_relocatable(file), sym.section_index()) {
        (true, Some(i)) => sym.address().wrapping_add(section_base(file, i)),
        _ => sym.address(),
    }
}

/// A section's bytes, inflated; in a relocatable object with its absolute relocations
/// applied (DWARF there holds zeros where addresses and cross-section offsets go).
pub(crate) fn section_data<'a>(
    file: &ElfFile64<'a, Endianness>,
    sec: &object::read::elf::ElfSection64<'a, '_, Endianness>,
) -> Option<Cow<'a, [u8]>> {
    let data = sec.uncompressed_data().ok()?;
    if !is_relocatable(file) || sec.relocations().next().is_none() {
        return Some(data);
    }
    let mut out = data.into_owned();
    let little = file.is_little_endian();
    for (off, r) in sec.relocations() {
        if r.kind() != object::RelocationKind::Absolute {
            continue;
        }
        let object::RelocationTarget::Symbol(idx) = r.target() else {
            continue;
        };
        let Ok(sym) = file.symbol_by_index(idx) else {
            continue;
        };
        let value = symbol_address(file, &sym).wrapping_add_signed(r.addend());
        let Ok(at) = usize::try_from(off) else {
            continue;
        };
        match r.size() {
            64 => {
                let b = if little {
                    value.to_le_bytes()
                } else {
                    value.to_be_bytes()
                };
                if let Some(dst) = out.get_mut(at..at + 8) {
                    dst.copy_from_slice(&b);
                }
            }
            32 => {
                let v = value as u32;
                let b = if little {
                    v.to_le_bytes()
                } else {
                    v.to_be_bytes()
                };
                if let Some(dst) = out.get_mut(at..at + 4) {
                    dst.copy_from_slice(&b);
                }
            }
            _ => {}
        }
    }
    Some(Cow::Owned(out))
}

fn load_dwarf(file: &ElfFile64<'_, Endianness>) -> Option<DebugInfo> {
    let info = file.section_by_name(".debug_info")?;
    if info.size() == 0 {
        return None;
    }
    let (sections, endian) = dwarf_sections(file)?;
    let dwarf = sections.borrow(|s| gimli::EndianSlice::new(s, endian));
    let mut out = DebugInfo::default();
    let mut file_ids: HashMap<String, u32> = HashMap::new();
    let mut units = dwarf.units();
    while let Ok(Some(header)) = units.next() {
        let Ok(unit) = dwarf.unit(header) else {
            continue;
        };
        read_unit(&dwarf, &unit, &mut out, &mut file_ids);
    }
    out.rows.sort_by_key(|r| r.addr);
    Some(out)
}

/// The path of file `index` of a unit's line program as perf names it: joined to its
/// directory entry (not to the compilation directory, when that entry is relative), or the
/// bare name when no file is there any more.
fn file_path(
    dwarf: &gimli::Dwarf<R<'_>>,
    unit: &gimli::Unit<R<'_>>,
    header: &gimli::LineProgramHeader<R<'_>>,
    index: u64,
) -> Option<String> {
    let f = header.file(index)?;
    let name = dwarf.attr_string(unit, f.path_name()).ok()?;
    let name = name.to_string_lossy().into_owned();
    if name.starts_with('/') {
        return Some(name);
    }
    let mut p = PathBuf::new();
    if let Some(dir) = f.directory(header) {
        if let Ok(d) = dwarf.attr_string(unit, dir) {
            p.push(d.to_string_lossy().as_ref());
        }
    }
    p.push(&name);
    if p.exists() {
        Some(p.to_string_lossy().into_owned())
    } else {
        Some(name)
    }
}

fn read_unit(
    dwarf: &gimli::Dwarf<R<'_>>,
    unit: &gimli::Unit<R<'_>>,
    out: &mut DebugInfo,
    file_ids: &mut HashMap<String, u32>,
) {
    let Some(program) = unit.line_program.clone() else {
        return;
    };
    let header = program.header().clone();
    let mut intern = |path: String, out: &mut DebugInfo| -> u32 {
        *file_ids.entry(path.clone()).or_insert_with(|| {
            out.files.push(path);
            (out.files.len() - 1) as u32
        })
    };
    let cu = out.unit_rows.len() as u32;
    let mut unit_rows: Vec<UnitRow> = Vec::new();
    let mut by_index: HashMap<u64, u32> = HashMap::new();
    let mut rows = program.rows();
    while let Ok(Some((h, row))) = rows.next_row() {
        let line = row.line();
        let idx = row.file_index();
        let id = match by_index.get(&idx) {
            Some(&id) => Some(id),
            None => file_path(dwarf, unit, h, idx).map(|p| {
                let id = intern(p, out);
                by_index.insert(idx, id);
                id
            }),
        };
        if let Some(id) = id {
            unit_rows.push(UnitRow {
                addr: row.address(),
                file: id,
                line: line.map_or(0, |l| u32::try_from(l.get()).unwrap_or(u32::MAX)),
                stmt: row.is_stmt(),
                end: row.end_sequence(),
            });
        }
        if row.end_sequence() {
            continue;
        }
        let Some(line) = line else { continue };
        let idx = row.file_index();
        let id = match by_index.get(&idx) {
            Some(&id) => id,
            None => {
                let Some(p) = file_path(dwarf, unit, h, idx) else {
                    continue;
                };
                let id = intern(p, out);
                by_index.insert(idx, id);
                id
            }
        };
        out.rows.push(Row {
            addr: row.address(),
            file: id,
            line: u32::try_from(line.get()).unwrap_or(u32::MAX),
            stmt: row.is_stmt(),
        });
    }
    // libdw's order: by address, an end of sequence first, otherwise as the program ran.
    unit_rows.sort_by_key(|r| (r.addr, !r.end));
    out.unit_rows.push(unit_rows);
    // (depth, the function or inline copy the entry at that depth is)
    let mut stack: Vec<(isize, Option<usize>, Option<usize>)> = Vec::new();
    let mut entries = unit.entries();
    while let Ok(Some(e)) = entries.next_dfs() {
        let depth = e.depth();
        while stack.last().is_some_and(|&(d, _, _)| d >= depth) {
            stack.pop();
        }
        let inlined = e.tag() == gimli::DW_TAG_inlined_subroutine;
        if e.tag() != gimli::DW_TAG_subprogram && !inlined {
            continue;
        }
        let mut ranges: Vec<(u64, u64)> = Vec::new();
        if let Ok(mut it) = dwarf.die_ranges(unit, e) {
            while let Ok(Some(r)) = it.next() {
                if r.begin < r.end {
                    ranges.push((r.begin, r.end));
                }
            }
        }
        let entry_pc = e
            .attr_value(gimli::DW_AT_entry_pc)
            .and_then(|v| dwarf.attr_address(unit, v).ok().flatten());
        let low = e
            .attr_value(gimli::DW_AT_low_pc)
            .and_then(|v| dwarf.attr_address(unit, v).ok().flatten());
        let die = e.offset().0;
        let origin = match e.attr_value(gimli::DW_AT_abstract_origin) {
            Some(gimli::AttributeValue::UnitRef(o)) => Some(o.0),
            _ => None,
        };
        let Some(low) = low.or_else(|| ranges.first().map(|r| r.0)) else {
            // A definition without code: an inline function's abstract instance, which
            // perf's search by name meets in the unit's order like any function.
            let declaration = e.attr_value(gimli::DW_AT_declaration).is_some();
            let name = e
                .attr_value(gimli::DW_AT_name)
                .and_then(|v| dwarf.attr_string(unit, v).ok());
            if let (false, false, Some(name)) = (inlined, declaration, name) {
                let file = match e.attr_value(gimli::DW_AT_decl_file) {
                    Some(gimli::AttributeValue::FileIndex(i))
                    | Some(gimli::AttributeValue::Udata(i)) => {
                        file_path(dwarf, unit, &header, i).unwrap_or_default()
                    }
                    _ => String::new(),
                };
                out.abstracts.push(Abstract {
                    name: name.to_string_lossy().into_owned(),
                    cu,
                    die,
                    file,
                });
            }
            continue;
        };
        let end = ranges
            .iter()
            .filter(|r| r.0 == low)
            .map(|r| r.1)
            .next()
            .unwrap_or(low + 1);
        // An out-of-line method or inline instance names itself through its declaration.
        let decl_is_origin = e.attr_value(gimli::DW_AT_abstract_origin).is_some();
        let decl = [gimli::DW_AT_specification, gimli::DW_AT_abstract_origin]
            .iter()
            .find_map(|&at| match e.attr_value(at) {
                Some(gimli::AttributeValue::UnitRef(o)) => unit.entry(o).ok(),
                _ => None,
            });
        let attr = |at: gimli::DwAt| {
            e.attr_value(at)
                .or_else(|| decl.as_ref().and_then(|d| d.attr_value(at)))
        };
        let Some(name) = attr(gimli::DW_AT_name).and_then(|v| dwarf.attr_string(unit, v).ok())
        else {
            continue;
        };
        let file = match attr(gimli::DW_AT_decl_file) {
            Some(gimli::AttributeValue::FileIndex(i)) | Some(gimli::AttributeValue::Udata(i)) => {
                file_path(dwarf, unit, &header, i).unwrap_or_default()
            }
            _ => String::new(),
        };
        let line = match attr(gimli::DW_AT_decl_line) {
            Some(gimli::AttributeValue::Udata(n)) => u32::try_from(n).unwrap_or(0),
            _ => 0,
        };
        let name = name.to_string_lossy().into_owned();
        let (func, parent) = stack.last().map_or((None, None), |&(_, f, i)| (f, i));
        if inlined {
            let call_file = match e.attr_value(gimli::DW_AT_call_file) {
                Some(gimli::AttributeValue::FileIndex(i))
                | Some(gimli::AttributeValue::Udata(i)) => {
                    file_path(dwarf, unit, &header, i).unwrap_or_default()
                }
                _ => String::new(),
            };
            let call_line = match e.attr_value(gimli::DW_AT_call_line) {
                Some(gimli::AttributeValue::Udata(n)) => u32::try_from(n).unwrap_or(0),
                _ => 0,
            };
            out.inlines.push(Inline {
                name,
                cu,
                func,
                parent,
                decl_file: file,
                decl_line: line,
                call_file,
                call_line,
                entry: entry_pc.unwrap_or(low),
                ranges,
                die,
                origin,
            });
            stack.push((depth, func, Some(out.inlines.len() - 1)));
            continue;
        }
        out.funcs.push(Func {
            name,
            entry: entry_pc.unwrap_or(low),
            end,
            file,
            line,
            cu,
            ranges,
            instance: decl_is_origin,
            die,
            origin,
        });
        stack.push((depth, Some(out.funcs.len() - 1), None));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sdt_operands_become_fetch_arguments() {
        let ok = |s: &str| Ok(s.to_string());
        assert_eq!(sdt_fetch("-8@%rax"), ok("%ax:s64"));
        assert_eq!(sdt_fetch("8@-80(%rbx)"), ok("-80(%bx):u64"));
        assert_eq!(sdt_fetch("4@8(%rsp)"), ok("+8(%sp):u32"));
        assert_eq!(sdt_fetch("4@+8(%rsp)"), ok("+8(%sp):u32"));
        assert_eq!(sdt_fetch("4@(%r12)"), ok("+0(%r12):u32"));
        assert_eq!(sdt_fetch("-4@%r9d"), ok("%r9:s32"));
        assert_eq!(sdt_fetch("-4@%ebp"), ok("%bp:s32"));
        assert_eq!(sdt_fetch("1@%ah"), ok("%ax:u8"));
        // A name perf's table lacks stays as written; odd sizes get no type.
        assert_eq!(sdt_fetch("8@%rip"), ok("%rip:u64"));
        assert_eq!(sdt_fetch("3@%rax"), ok("%ax"));
        assert_eq!(sdt_fetch("%rdi"), ok("%di"));
        // Constants, symbols and scaled indexing are left out; a size past 8 is refused.
        assert_eq!(sdt_fetch("-4@$5"), Err(SdtArgError::Skip));
        assert_eq!(sdt_fetch("8@foo(%rip)"), Err(SdtArgError::Skip));
        assert_eq!(sdt_fetch("8@(%rax,%rsi,8)"), Err(SdtArgError::Skip));
        assert_eq!(sdt_fetch("8@%xmm10"), ok("%xmm10:u64"));
        assert_eq!(sdt_fetch("8@%xmm100"), Err(SdtArgError::Skip));
        assert_eq!(sdt_fetch("16@%rax"), Err(SdtArgError::BadSize));
        let note = SdtNote {
            provider: "p".into(),
            name: "n".into(),
            loc: 0,
            ref_ctr: 0,
            args: "8@%rax -4@$1 -4@%edx".into(),
        };
        assert_eq!(sdt_args(&note).unwrap(), ["arg1=%ax:u64", "arg3=%dx:s32"]);
    }

    #[test]
    fn source_paths_match_by_whole_components() {
        assert!(path_ends_with("/tmp/pr/fx.c", "fx.c"));
        assert!(path_ends_with("/tmp/pr/fx.c", "pr/fx.c"));
        assert!(path_ends_with("/tmp/pr/fx.c", "./fx.c"));
        assert!(!path_ends_with("/tmp/pr/xfx.c", "fx.c"));
    }

    #[test]
    fn rperf_itself_maps_addresses_to_offsets_and_back() {
        let exe = std::env::current_exe().unwrap();
        let b = Binary::open(&exe).unwrap();
        let f = b.symbols.iter().find(|s| s.func).unwrap();
        let off = b.file_offset(f.addr).unwrap();
        assert_eq!(b.vaddr(off), Some(f.addr));
        assert!(matches!(
            Binary::open(Path::new("/proc/self/status")),
            Err(OpenError::NotElf)
        ));
    }
}
