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

/// A USDT marker from `.note.stapsdt`.
#[derive(Debug, Clone)]
pub struct SdtNote {
    /// Provider.
    pub provider: String,
    /// Marker name.
    pub name: String,
    /// Virtual address of the marker (adjusted to where `.stapsdt.base` really is).
    pub pc: u64,
    /// Virtual address of its semaphore, 0 when it has none.
    pub semaphore: u64,
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
    /// Loadable segments with their memory size (semaphores live in .bss-like tails).
    mem_segments: Vec<(u64, u64, u64)>,
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
        let mem_segments = file
            .segments()
            .map(|s| (s.address(), s.file_range().0, s.size()))
            .collect();
        let sdt = sdt_notes(&file);
        Ok(Binary {
            path,
            dwarf_path,
            segments,
            symbols,
            debug,
            sdt,
            mem_segments,
        })
    }

    /// The file offset of virtual address `vaddr` (what a uprobe is placed at).
    pub fn file_offset(&self, vaddr: u64) -> Option<u64> {
        self.segments
            .iter()
            .find(|&&(va, _, size)| vaddr >= va && vaddr < va + size)
            .map(|&(va, off, _)| vaddr - va + off)
    }

    /// The file offset of a semaphore at `vaddr` (what the kernel's reference counter
    /// takes): it may lie past the file's bytes of its segment.
    pub fn semaphore_offset(&self, vaddr: u64) -> Option<u64> {
        self.mem_segments
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
pub fn path_ends_with(path: &str, suffix: &str) -> bool {
    let suffix = suffix.trim_start_matches("./");
    path == suffix
        || path
            .strip_suffix(suffix)
            .is_some_and(|rest| rest.ends_with('/'))
}

/// The markers of `.note.stapsdt`: each note (owner `stapsdt`, type 3) holds the marker's
/// address, the link-time address of `.stapsdt.base`, the semaphore's address, then the
/// provider, name and operands as NUL-terminated strings.
fn sdt_notes(file: &ElfFile64<'_, Endianness>) -> Vec<SdtNote> {
    let Some(sec) = file.section_by_name(".note.stapsdt") else {
        return Vec::new();
    };
    let Ok(data) = sec.data() else {
        return Vec::new();
    };
    let real_base = file.section_by_name(".stapsdt.base").map(|s| s.address());
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
        // Prelinking moves code: the distance .stapsdt.base moved applies to every address.
        let shift = real_base.map_or(0, |b| b.wrapping_sub(base));
        out.push(SdtNote {
            provider,
            name,
            pc: pc.wrapping_add(shift),
            semaphore: if sem == 0 { 0 } else { sem.wrapping_add(shift) },
            args,
        });
    }
    out
}

/// One SDT operand (`-8@%rax`, `8@-80(%rbx)`, `4@$5`) as the kernel's fetch argument with
/// its type (`%ax:s64`, `-80(%bx):u64`, `\5:u32`); `None` for what uprobes cannot fetch
/// (symbols relative to %rip, segment registers).
pub fn sdt_fetch(operand: &str) -> Option<String> {
    let (ty, op) = match operand.split_once('@') {
        Some((size, op)) => {
            let n: i32 = size.parse().ok()?;
            let bits = n.unsigned_abs() * 8;
            (Some(format!("{}{bits}", if n < 0 { 's' } else { 'u' })), op)
        }
        None => (None, operand),
    };
    let fetch = if let Some(imm) = op.strip_prefix('$') {
        imm.parse::<i64>().ok()?;
        format!("\\{imm}")
    } else if let Some(reg) = op.strip_prefix('%') {
        format!("%{}", x86_reg(reg)?)
    } else {
        let open = op.find('(')?;
        let reg = op[open..].strip_prefix("(%")?.strip_suffix(')')?;
        let off = &op[..open];
        let off: i64 = if off.is_empty() { 0 } else { off.parse().ok()? };
        format!("{off:+}(%{})", x86_reg(reg)?)
    };
    Some(match ty {
        Some(t) => format!("{fetch}:{t}"),
        None => fetch,
    })
}

/// An x86-64 register of any width as the kernel's fetch syntax names it (`eax` → `ax`).
fn x86_reg(r: &str) -> Option<&'static str> {
    const REGS: [(&str, [&str; 4]); 9] = [
        ("ax", ["rax", "eax", "ax", "al"]),
        ("bx", ["rbx", "ebx", "bx", "bl"]),
        ("cx", ["rcx", "ecx", "cx", "cl"]),
        ("dx", ["rdx", "edx", "dx", "dl"]),
        ("si", ["rsi", "esi", "si", "sil"]),
        ("di", ["rdi", "edi", "di", "dil"]),
        ("bp", ["rbp", "ebp", "bp", "bpl"]),
        ("sp", ["rsp", "esp", "sp", "spl"]),
        ("ip", ["rip", "eip", "ip", "ip"]),
    ];
    if let Some((k, _)) = REGS.iter().find(|(_, names)| names.contains(&r)) {
        return Some(k);
    }
    const HIGH: [&str; 8] = ["r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"];
    HIGH.iter()
        .find(|h| {
            r.strip_prefix(**h)
                .is_some_and(|rest| matches!(rest, "" | "d" | "w" | "b"))
        })
        .copied()
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
            .and_then(|s| s.uncompressed_data().ok())
            .unwrap_or(Cow::Borrowed(&[])))
    })
    .ok()?;
    Some((sections, endian))
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
        // An out-of-line method or inline instance names itself through its declaration.
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
    fn sdt_operands_become_fetch_arguments() {
        assert_eq!(sdt_fetch("-8@%rax").as_deref(), Some("%ax:s64"));
        assert_eq!(sdt_fetch("8@-80(%rbx)").as_deref(), Some("-80(%bx):u64"));
        assert_eq!(sdt_fetch("4@8(%rsp)").as_deref(), Some("+8(%sp):u32"));
        assert_eq!(sdt_fetch("4@(%r12)").as_deref(), Some("+0(%r12):u32"));
        assert_eq!(sdt_fetch("-4@%r9d").as_deref(), Some("%r9:s32"));
        assert_eq!(sdt_fetch("-4@$5").as_deref(), Some("\\5:s32"));
        assert_eq!(sdt_fetch("8@foo(%rip)"), None);
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
