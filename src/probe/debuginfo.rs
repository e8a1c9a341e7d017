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
    /// DWARF, when the binary has it.
    pub debug: Option<DebugInfo>,
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
            if s.is_undefined()
                || matches!(s.kind(), SymbolKind::Section | SymbolKind::File)
                || s.address() == 0
            {
                continue;
            }
            let Ok(name) = s.name() else { continue };
            if name.is_empty() {
                continue;
            }
            let ifunc = match s.flags() {
                SymbolFlags::Elf { st_info, .. } => st_info.st_type() == object::elf::STT_GNU_IFUNC,
                _ => false,
            };
            // Versioned names (`memcpy@@GLIBC_2.14`) are probed by their plain name.
            let name = name.split('@').next().unwrap_or(name).to_string();
            symbols.push(Sym {
                name,
                addr: s.address(),
                size: s.size(),
                func: s.kind() == SymbolKind::Text || ifunc,
                ifunc,
            });
        }
        symbols.sort_by_key(|s| s.addr);
        let debug = load_dwarf(&file);
        Ok(Binary {
            path,
            segments,
            symbols,
            debug,
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

    /// Functions named `name`, one per address.
    pub fn functions(&self, name: &str) -> Vec<&Sym> {
        let mut v: Vec<&Sym> = self
            .symbols
            .iter()
            .filter(|s| s.func && s.name == name)
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

    /// The lines with code in `f`, sorted.
    pub fn lines_of(&self, f: &Func) -> Vec<u32> {
        let mut v: Vec<u32> = self
            .rows
            .iter()
            .filter(|r| r.addr >= f.entry && r.addr < f.end)
            .filter(|r| self.files[r.file as usize] == f.file)
            .map(|r| r.line)
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }
}

/// Whether `path` is `suffix` or ends with `/suffix`.
fn path_ends_with(path: &str, suffix: &str) -> bool {
    let suffix = suffix.trim_start_matches("./");
    path == suffix
        || path
            .strip_suffix(suffix)
            .is_some_and(|rest| rest.ends_with('/'))
}

type R<'a> = gimli::EndianSlice<'a, gimli::RunTimeEndian>;

fn load_dwarf(file: &ElfFile64<'_, Endianness>) -> Option<DebugInfo> {
    let info = file.section_by_name(".debug_info")?;
    if info.size() == 0 {
        return None;
    }
    let endian = if file.is_little_endian() {
        gimli::RunTimeEndian::Little
    } else {
        gimli::RunTimeEndian::Big
    };
    let sections = gimli::DwarfSections::load(|id| -> Result<Cow<'_, [u8]>, ()> {
        Ok(file
            .section_by_name(id.name())
            .and_then(|s| s.uncompressed_data().ok())
            .unwrap_or(Cow::Borrowed(&[])))
    })
    .ok()?;
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
    let mut by_index: HashMap<u64, u32> = HashMap::new();
    let mut rows = program.rows();
    while let Ok(Some((h, row))) = rows.next_row() {
        if row.end_sequence() {
            continue;
        }
        let Some(line) = row.line() else { continue };
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
    let mut entries = unit.entries();
    while let Ok(Some(e)) = entries.next_dfs() {
        if e.tag() != gimli::DW_TAG_subprogram {
            continue;
        }
        let Some(low) = e
            .attr_value(gimli::DW_AT_low_pc)
            .and_then(|v| dwarf.attr_address(unit, v).ok().flatten())
        else {
            continue;
        };
        let end = match e.attr_value(gimli::DW_AT_high_pc) {
            Some(gimli::AttributeValue::Udata(n)) => low + n,
            Some(v) => dwarf
                .attr_address(unit, v)
                .ok()
                .flatten()
                .unwrap_or(low + 1),
            None => low + 1,
        };
        let Some(name) = e
            .attr_value(gimli::DW_AT_name)
            .and_then(|v| dwarf.attr_string(unit, v).ok())
        else {
            continue;
        };
        let file = match e.attr_value(gimli::DW_AT_decl_file) {
            Some(gimli::AttributeValue::FileIndex(i)) | Some(gimli::AttributeValue::Udata(i)) => {
                file_path(dwarf, unit, &header, i).unwrap_or_default()
            }
            _ => String::new(),
        };
        let line = match e.attr_value(gimli::DW_AT_decl_line) {
            Some(gimli::AttributeValue::Udata(n)) => u32::try_from(n).unwrap_or(0),
            _ => 0,
        };
        out.funcs.push(Func {
            name: name.to_string_lossy().into_owned(),
            entry: low,
            end,
            file,
            line,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
