//! Source lines and inline frames from DWARF, through addr2line: a binary's own
//! `.debug_info`, or that of its separate debug file (found as for symbols).
use std::path::{Path, PathBuf};

use object::read::elf::ElfFile64;
use object::{Endianness, Object, ObjectSection};

use addr2line::gimli::SectionId;

use crate::elf::{debug_candidates, under_root};
use crate::file::Bytes;

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
    /// The DWARF entry of this function instance (its unit's and its own offsets in
    /// .debug_info): what binutils keeps a function's name on between lookups.
    pub instance: Option<(u64, u64)>,
    /// Where the instance's first address range starts (binutils' `arange.low`).
    pub low: Option<u64>,
}

impl InlineFrame {
    /// perf's srcline text: the file's base name and the line (`foo.c:12`).
    pub fn srcline(&self) -> Option<String> {
        let file = self.file.as_deref()?;
        let base = file.rsplit('/').next().unwrap_or(file);
        Some(format!("{base}:{}", self.line.unwrap_or(0)))
    }
}

type Reader<'a> = addr2line::gimli::EndianSlice<'a, addr2line::gimli::RunTimeEndian>;
type Context<'a> = addr2line::Context<Reader<'a>>;

/// The bytes the DWARF is read from: the mapped file (plain sections are read in place, so
/// only the pages a lookup touches are resident) and the compressed sections inflated.
struct Sections {
    file: Bytes,
    /// The inflated sections, one after another: in memory up to [`IN_MEMORY`] in all, else
    /// written to an unnamed temporary file and mapped, so that, like the plain sections,
    /// only the pages lookups touch are resident and [`Sections::release`] can let them go
    /// (a `-g` Rust binary's compressed DWARF inflates to tens of MB, most of which
    /// addr2line reads once, to index it); in memory when no such file can be made.
    inflated: Bytes,
    /// Each inflated section's place in `inflated`.
    places: Vec<(SectionId, std::ops::Range<usize>)>,
    /// Where the plain (mapped) DWARF sections lie in the file.
    plain: Vec<std::ops::Range<usize>>,
    little: bool,
}

/// Where inflated sections go as they are inflated: an unnamed file in the temporary
/// directory (O_TMPFILE: no name to find or race for, gone when the last handle closes),
/// mapped once complete; memory when no such file can be made or mapped.
enum Spill {
    File(std::fs::File),
    Memory(Vec<u8>),
}

impl Spill {
    fn new() -> Spill {
        use rustix::fs::{Mode, OFlags};
        rustix::fs::open(
            std::env::temp_dir(),
            OFlags::TMPFILE | OFlags::RDWR | OFlags::CLOEXEC,
            Mode::RUSR | Mode::WUSR,
        )
        .map_or(Spill::Memory(Vec::new()), |fd| {
            Spill::File(std::fs::File::from(fd))
        })
    }

    /// Appends `data` (the bytes written so far stay where they are).
    fn push(&mut self, data: &[u8], written: usize) {
        use std::io::{Seek, SeekFrom, Write};
        if let Spill::File(f) = self {
            if f.write_all(data).is_ok() {
                return;
            }
            // A full disk: what was written is read back and memory takes over.
            let mut back = vec![0; written];
            let ok = f.seek(SeekFrom::Start(0)).is_ok()
                && std::io::Read::read_exact(f, &mut back).is_ok();
            *self = Spill::Memory(if ok { back } else { Vec::new() });
        }
        if let Spill::Memory(v) = self {
            v.extend_from_slice(data);
        }
    }

    /// The `len` bytes pushed: mapped, or read back when there is no mapper.
    fn finish(self, len: usize) -> Option<Bytes> {
        use std::io::{Read, Seek, SeekFrom};
        let bytes = match self {
            Spill::File(mut f) => match crate::file::map_open(&f) {
                Some(mapped) => mapped,
                None => {
                    let mut back = Vec::with_capacity(len);
                    f.seek(SeekFrom::Start(0)).ok()?;
                    f.read_to_end(&mut back).ok()?;
                    Bytes::new(back)
                }
            },
            Spill::Memory(v) => Bytes::new(v),
        };
        (bytes.len() == len).then_some(bytes)
    }
}

self_cell::self_cell!(
    /// A binary's sections and addr2line's index over them, which borrows them.
    struct Indexed {
        owner: Sections,
        #[not_covariant]
        dependent: Context,
    }
);

/// The sections addr2line reads for lines and inline frames: never the location lists,
/// macros or CFI, which a `-g` binary's DWARF is largely made of.
const NEEDED: [SectionId; 10] = [
    SectionId::DebugAbbrev,
    SectionId::DebugAddr,
    SectionId::DebugAranges,
    SectionId::DebugInfo,
    SectionId::DebugLine,
    SectionId::DebugLineStr,
    SectionId::DebugRanges,
    SectionId::DebugRngLists,
    SectionId::DebugStr,
    SectionId::DebugStrOffsets,
];

/// Inflated sections up to this size in all are kept in memory: writing them to the
/// temporary file and faulting them back costs two more copies, which for a separate debug
/// file like libc's (10 MB inflated) was a third of loading it. Larger ones (a `-g` Rust
/// binary's tens of MB) go to the file so that their pages can be let go.
const IN_MEMORY: usize = 32 << 20;

/// Compressed sections of at least this many bytes are inflated on threads of their own
/// (the largest, `.debug_info`, on the caller's): below it a thread costs more than it saves.
const OWN_THREAD: usize = 128 << 10;

/// The most a compressed section may claim to inflate to, per byte it holds. zlib cannot
/// exceed 1032:1 (a deflate stream spends at least about one bit per 258 bytes); zstd can go
/// further only on degenerate data, and DWARF compresses about tenfold.
const MAX_RATIO: u64 = 2048;

/// Whether a section compressed as `format` in `packed` bytes can hold `size` bytes: a
/// format this reader inflates, and no more than [`MAX_RATIO`] times its bytes.
fn plausibly_compressed(format: object::CompressionFormat, packed: u64, size: u64) -> bool {
    matches!(
        format,
        object::CompressionFormat::Zlib | object::CompressionFormat::Zstandard
    ) && size <= packed.saturating_mul(MAX_RATIO)
}

/// A compressed section: its bytes in the file and its size inflated.
struct Packed {
    id: SectionId,
    packed: std::ops::Range<usize>,
    format: object::CompressionFormat,
    size: usize,
}

/// Inflates the zlib stream `input` into `out`, which it must fill exactly.
fn inflate(input: &[u8], out: &mut [u8]) -> bool {
    use flate2::{Decompress, FlushDecompress, Status};
    let mut z = Decompress::new(true);
    loop {
        let (i, o) = (z.total_in() as usize, z.total_out() as usize);
        let (Some(rest_in), Some(rest_out)) = (input.get(i..), out.get_mut(o..)) else {
            return false;
        };
        match z.decompress(rest_in, rest_out, FlushDecompress::Finish) {
            Ok(Status::StreamEnd) => return z.total_out() as usize == out.len(),
            // A stream that makes no progress is cut short or longer than its header says.
            Ok(_) if z.total_in() as usize > i || z.total_out() as usize > o => {}
            _ => return false,
        }
    }
}

impl Sections {
    /// Maps `path` and inflates its compressed DWARF sections; the compressed bytes' pages
    /// are let go once inflated.
    fn load(path: &Path) -> Option<Sections> {
        let file = crate::file::map_regular(path).ok()?;
        let elf = ElfFile64::<Endianness>::parse(&*file).ok()?;
        let mut packed = Vec::new();
        let mut plain = Vec::new();
        for id in NEEDED {
            let Some(s) = elf.section_by_name(id.name()) else {
                continue;
            };
            let c = s.compressed_file_range().ok()?;
            let at = c.offset as usize..(c.offset + c.compressed_size) as usize;
            if c.format == object::CompressionFormat::None {
                plain.push(c.offset as usize..(c.offset + c.uncompressed_size) as usize);
            } else {
                // Every buffer below is sized by the header's claim: a claim no stream of
                // these bytes can meet is a corrupt (or crafted) file, refused before any
                // allocation.
                if !plausibly_compressed(c.format, c.compressed_size, c.uncompressed_size) {
                    return None;
                }
                let size = usize::try_from(c.uncompressed_size).ok()?;
                file.get(at.clone())?;
                packed.push(Packed {
                    id,
                    packed: at,
                    format: c.format,
                    size,
                });
            }
        }
        let total = packed
            .iter()
            .try_fold(0usize, |n, p| n.checked_add(p.size))?;
        let mut places = Vec::new();
        let mut at = 0;
        for p in &packed {
            places.push((p.id, at..at + p.size));
            at += p.size;
        }
        // Formats other than zlib (zstd) through object, which inflates into a Vec.
        let other = |p: &Packed| {
            elf.section_by_name(p.id.name())
                .and_then(|s| s.uncompressed_data().ok())
                .filter(|d| d.len() == p.size)
        };
        let inflated = if total <= IN_MEMORY {
            let mut buf = vec![0u8; total];
            let mut parts = Vec::new();
            let mut rest = &mut buf[..];
            for p in &packed {
                let (part, tail) = rest.split_at_mut(p.size);
                parts.push((p, part));
                rest = tail;
            }
            let ok = std::thread::scope(|scope| {
                let largest = (0..parts.len()).max_by_key(|&i| parts[i].0.packed.len());
                let mut here = Vec::new();
                let mut spawned = Vec::new();
                for (i, (p, part)) in parts.into_iter().enumerate() {
                    let input = &file[p.packed.clone()];
                    if p.format != object::CompressionFormat::Zlib {
                        let Some(data) = other(p) else { return false };
                        part.copy_from_slice(&data);
                    } else if Some(i) != largest && p.packed.len() >= OWN_THREAD {
                        spawned.push(scope.spawn(move || inflate(input, part)));
                    } else {
                        here.push((input, part));
                    }
                }
                let mut ok = here.into_iter().all(|(input, part)| inflate(input, part));
                for t in spawned {
                    ok &= t.join().unwrap_or(false);
                }
                ok
            });
            if !ok {
                return None;
            }
            Bytes::new(buf)
        } else {
            let mut spill = Spill::new();
            let mut written = 0;
            for p in &packed {
                let data = if p.format == object::CompressionFormat::Zlib {
                    let mut out = vec![0u8; p.size];
                    inflate(&file[p.packed.clone()], &mut out).then_some(out)
                } else {
                    other(p).map(|d| d.into_owned())
                }?;
                spill.push(&data, written);
                written += data.len();
            }
            spill.finish(total)?
        };
        for p in &packed {
            file.release(p.packed.clone());
        }
        let little = elf.is_little_endian();
        drop(elf);
        Some(Sections {
            file,
            inflated,
            places,
            plain,
            little,
        })
    }

    /// Lets go of the mapped DWARF pages read so far: addr2line reads a unit's DIEs and
    /// line program once, into its own index, so a `-g` binary's hundreds of MB need not
    /// stay resident (the few pages read again, names, fault back in from the page cache).
    fn release(&self) {
        for r in &self.plain {
            self.file.release(r.clone());
        }
        self.inflated.release(0..self.inflated.len());
    }

    fn index(&self) -> Result<Context<'_>, addr2line::gimli::Error> {
        use addr2line::gimli::RunTimeEndian;
        let endian = if self.little {
            RunTimeEndian::Little
        } else {
            RunTimeEndian::Big
        };
        let elf = ElfFile64::<Endianness>::parse(&*self.file).ok();
        let mut dwarf = addr2line::gimli::Dwarf::load(|id| {
            let data: &[u8] = if !NEEDED.contains(&id) {
                &[]
            } else if let Some((_, r)) = self.places.iter().find(|(i, _)| *i == id) {
                self.inflated.get(r.clone()).unwrap_or(&[])
            } else {
                elf.as_ref()
                    .and_then(|e| e.section_by_name(id.name()))
                    .filter(|s| {
                        s.compressed_file_range()
                            .is_ok_and(|c| c.format == object::CompressionFormat::None)
                    })
                    .and_then(|s| s.data().ok())
                    .unwrap_or(&[])
            };
            Ok::<_, addr2line::gimli::Error>(Reader::new(data, endian))
        })?;
        // Units sharing an abbreviation table (most of a Rust binary's) parse it once.
        dwarf
            .populate_abbreviations_cache(addr2line::gimli::AbbreviationsCacheStrategy::Duplicates);
        Context::from_dwarf(dwarf)
    }
}

/// The DWARF of one binary, indexed on first use. Only the DWARF sections are held (the
/// plain ones mapped, the compressed ones inflated); addr2line parses a unit's lines and
/// functions when an address in it is first looked up.
pub struct Lines {
    /// None only when indexing again failed (see [`Lines::reindex`]).
    indexed: std::cell::RefCell<Option<Indexed>>,
    /// The units addr2line has parsed since the index was made (their offsets in
    /// `.debug_info`) and their size there in all: see [`PARSED_BUDGET`].
    parsed: std::cell::RefCell<(std::collections::HashSet<u64>, u64)>,
    /// For split DWARF (`-gsplit-dwarf`: the units' bodies in `.dwo` files next to the
    /// objects), addr2line's own loader, which finds and reads them; made when first needed.
    split: std::sync::OnceLock<Option<addr2line::Loader>>,
    /// The file the DWARF came from.
    pub source: PathBuf,
    /// Lookups so far: every [`RELEASE_EVERY`] the DWARF pages read are let go.
    lookups: std::sync::atomic::AtomicUsize,
}

/// How many frame lookups read the DWARF between two releases of its pages: addr2line keeps
/// what it parsed of a unit, so pages are read again rarely, and a release per lookup
/// would cost more system calls than the faults it saves.
const RELEASE_EVERY: usize = 256;

/// How many bytes of units (their `.debug_info` entries and `.debug_line` programs)
/// addr2line may have parsed (into line tables, function lists, inlined-call trees) before
/// the index is made again, dropping them: addr2line keeps every unit it parsed, and a
/// flame graph of a recording that hit a few debug builds (hundreds of MB of DWARF each)
/// kept hundreds of MB of them. A unit parsed again costs time only where lookups come
/// back to it after such a drop; its results are the same.
const PARSED_BUDGET: u64 = 16 << 20;

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
        let sections = Sections::load(&source)?;
        let indexed = Indexed::try_new(sections, |s| s.index()).ok()?;
        indexed.borrow_owner().release();
        Some(Lines {
            indexed: std::cell::RefCell::new(Some(indexed)),
            parsed: Default::default(),
            split: std::sync::OnceLock::new(),
            source,
            lookups: std::sync::atomic::AtomicUsize::new(0),
        })
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
        self.parse(vaddr);
        self.with(|ctx| match ctx.find_frames(vaddr) {
            addr2line::LookupResult::Output(Ok(it)) => {
                collect(it, &mut out);
                instances(ctx, vaddr, &mut out);
            }
            addr2line::LookupResult::Output(Err(_)) => {}
            addr2line::LookupResult::Load { .. } => {
                let split = self
                    .split
                    .get_or_init(|| addr2line::Loader::new(&self.source).ok());
                if let Some(Ok(it)) = split.as_ref().map(|l| l.find_frames(vaddr)) {
                    collect(it, &mut out);
                }
            }
        });
        let n = self
            .lookups
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if n % RELEASE_EVERY == RELEASE_EVERY - 1 {
            self.release();
        }
        out
    }

    /// `f` over addr2line's index; None when there is none.
    fn with<T>(&self, f: impl FnOnce(&Context<'_>) -> T) -> Option<T> {
        let slot = self.indexed.borrow();
        Some(slot.as_ref()?.with_dependent(|_, ctx| f(ctx)))
    }

    fn release(&self) {
        if let Some(ix) = self.indexed.borrow().as_ref() {
            ix.borrow_owner().release();
        }
    }

    /// Before a lookup at `vaddr`: counts its unit as parsed and, when that unit is new and
    /// would take the units parsed past [`PARSED_BUDGET`], first drops them all by making
    /// the index again (a single unit over the budget stays until another is needed, so
    /// that lookups in it do not parse it each time).
    fn parse(&self, vaddr: u64) {
        use addr2line::gimli::ReaderOffset;
        let unit = self.with(|ctx| match ctx.find_dwarf_and_unit(vaddr) {
            // The unit's entries and its line program (a line-tables-only unit's bulk).
            addr2line::LookupResult::Output(Some(u)) => Some((
                u.header.offset().0.into_u64(),
                u.header.length_including_self() as u64
                    + u.line_program
                        .as_ref()
                        .map_or(0, |l| l.header().unit_length().into_u64()),
            )),
            _ => None,
        });
        let Some(Some((at, len))) = unit else { return };
        let mut parsed = self.parsed.borrow_mut();
        if parsed.0.contains(&at) {
            return;
        }
        if !parsed.0.is_empty() && parsed.1 + len > PARSED_BUDGET {
            parsed.0.clear();
            parsed.1 = 0;
            self.reindex();
        }
        parsed.0.insert(at);
        parsed.1 += len;
    }

    /// Drops addr2line's index and what it parsed, and indexes the same sections again.
    fn reindex(&self) {
        let mut slot = self.indexed.borrow_mut();
        if let Some(old) = slot.take() {
            let sections = old.into_owner();
            sections.release();
            *slot = Indexed::try_new(sections, |s| s.index()).ok();
        }
    }

    /// The source line of `vaddr` (the innermost, as perf's srcline).
    pub fn location(&self, vaddr: u64) -> Option<InlineFrame> {
        if vaddr == u64::MAX {
            return None;
        }
        self.parse(vaddr);
        let found = self.with(|ctx| {
            let l = ctx.find_location(vaddr).ok()??;
            Some(InlineFrame {
                function: None,
                file: l.file.map(str::to_string),
                line: l.line,
                linkage: false,
                instance: None,
                low: None,
            })
        });
        self.release();
        found.flatten()
    }
}

/// A row of a line table: where a line's code starts, as objdump's `-l` reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineRow {
    /// First address of the row.
    pub addr: u64,
    /// Source line (0: none).
    pub line: u32,
    /// The DWARF discriminator (which block of a line), 0 when none.
    pub discriminator: u32,
}

impl Lines {
    /// The line-table rows of the unit that holds `start`, in the sequences that overlap
    /// `[start, end)`, by address; of rows at one address the last is kept (as addr2line
    /// does). objdump prints a line again when only its discriminator changes, so an
    /// annotation that reads like objdump's needs them, which addr2line does not give.
    pub fn rows(&self, start: u64, end: u64) -> Vec<LineRow> {
        let mut out = Vec::new();
        self.with(|ctx| {
            let addr2line::LookupResult::Output(Some(unit)) = ctx.find_dwarf_and_unit(start) else {
                return;
            };
            let Some(program) = unit.line_program.clone() else {
                return;
            };
            let mut rows = program.rows();
            let mut seq: Vec<LineRow> = Vec::new();
            while let Ok(Some((_, row))) = rows.next_row() {
                let addr = row.address();
                if row.end_sequence() {
                    let overlaps = seq.first().is_some_and(|f| f.addr < end) && addr > start;
                    if overlaps {
                        out.append(&mut seq);
                    }
                    seq.clear();
                    continue;
                }
                let r = LineRow {
                    addr,
                    line: row.line().map_or(0, |l| l.get() as u32),
                    discriminator: row.discriminator() as u32,
                };
                match seq.last_mut() {
                    Some(last) if last.addr == addr => *last = r,
                    _ => seq.push(r),
                }
            }
        });
        self.release();
        out.sort_by_key(|r| r.addr);
        out
    }
}

/// Completes each frame's instance (the unit's offset beside the entry's) and the start of
/// its first address range, from the unit that holds `vaddr` (frames of split DWARF keep
/// none: their entries are in another file).
fn instances(ctx: &Context<'_>, vaddr: u64, out: &mut [InlineFrame]) {
    use addr2line::gimli::ReaderOffset;
    let addr2line::LookupResult::Output(Some(unit)) = ctx.find_dwarf_and_unit(vaddr) else {
        for f in out.iter_mut() {
            f.instance = None;
        }
        return;
    };
    let base = unit.header.offset().0.into_u64();
    for f in out.iter_mut() {
        let Some((_, die)) = f.instance else { continue };
        f.instance = Some((base, die));
        let offset = addr2line::gimli::UnitOffset(die as usize);
        f.low = unit.entry(offset).ok().and_then(|e| {
            let mut ranges = unit.die_ranges(&e).ok()?;
            ranges.next().ok().flatten().map(|r| r.begin)
        });
    }
}

/// The frames `it` yields, as [`InlineFrame`]s, onto `out`.
fn collect<R: addr2line::gimli::Reader>(
    mut it: addr2line::FrameIter<'_, R>,
    out: &mut Vec<InlineFrame>,
) {
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
            instance: f.dw_die_offset.map(|o| {
                use addr2line::gimli::ReaderOffset;
                (0, o.0.into_u64())
            }),
            low: None,
        });
    }
}
