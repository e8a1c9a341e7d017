//! `rperf annotate`: perf annotate's `--stdio` text. Samples are counted per function and
//! instruction in one replay; each function is then disassembled in process (iced-x86,
//! printed as objdump prints it) with its source lines from DWARF, and laid out as perf
//! lays out objdump's output.
use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Result};
use object::{Object, ObjectSection};

use crate::annotate::objdump::{self, Function, Style};
use crate::annotate::{self, Histogram, PercentType, Totals};
use crate::replay::{Filter, Item, Replay};
use crate::session::DsoId;

/// What `rperf annotate` was asked.
#[derive(Debug, Clone, Default)]
pub struct AnnotateConfig {
    /// The perf.data to read.
    pub input: PathBuf,
    /// `--symfs`.
    pub symfs: Option<PathBuf>,
    /// Only this function (positional or `-s`).
    pub symbol: Option<String>,
    /// `--dsos`: only functions in these binaries (short or full names).
    pub dsos: Vec<String>,
    /// How the instructions are printed (`-M`, `--asm-raw`, `--no-source`).
    pub style: Style,
    /// `--percent-type`.
    pub percent: PercentType,
    /// `-l/--print-line`: a summary of the hottest source lines first.
    pub print_line: bool,
    /// `-C/--cpu`.
    pub filter: Filter,
    /// `--stdio2`: perf's second text layout (its browser's lines).
    pub stdio2: bool,
}

/// A function with samples.
struct Entry {
    event: usize,
    dso: DsoId,
    /// Start in the binary's own addresses (objdump's).
    start: u64,
    name: String,
    hist: Histogram,
    by_offset: HashMap<u64, (u64, u64)>,
}

/// A binary opened for disassembly: its bytes and objdump's names for it.
struct Binary {
    data: rperf_symbols::file::Bytes,
    /// The path objdump would be given (perf skips its lines that name it).
    path: String,
    names: annotate::names::Names,
    lines: Option<rperf_symbols::Lines>,
    symbols: Option<rperf_symbols::ElfSymbols>,
    /// For the kernel: its symbols (sizes are the gaps between them); code from kcore.
    kernel: Option<rperf_symbols::Kallsyms>,
}

/// Runs `rperf annotate`.
pub fn run(cfg: AnnotateConfig) -> Result<ExitCode> {
    let mut stdout = std::io::stdout().lock();
    let warnings = write_annotations(&cfg, &mut stdout)?;
    stdout.flush()?;
    drop(stdout);
    for w in warnings {
        eprintln!("rperf: {w}");
    }
    Ok(ExitCode::SUCCESS)
}

/// The annotations `cfg` asks for as text (report's browser shows them), and the
/// functions that could not be annotated.
pub fn text(cfg: &AnnotateConfig) -> Result<(String, Vec<String>)> {
    let mut out = Vec::new();
    let warnings = write_annotations(cfg, &mut out)?;
    Ok((String::from_utf8_lossy(&out).into_owned(), warnings))
}

/// Writes the annotations to `out`; returns a line for each binary or function left out
/// (an error when nothing could be annotated).
fn write_annotations(cfg: &AnnotateConfig, stdout: &mut dyn Write) -> Result<Vec<String>> {
    let mut replay = Replay::new(&cfg.input, cfg.symfs.clone(), cfg.filter.clone(), true)?;
    let mut entries: HashMap<(usize, DsoId, u64), Entry> = HashMap::new();
    let mut totals: HashMap<usize, Totals> = HashMap::new();
    let header = replay.run(&cfg.input, |parts, _header, item| {
        let Item::Sample(s, _) = item else {
            return;
        };
        let found = parts.session.resolve(s.pid, s.ip, s.mode).and_then(|loc| {
            let sym = parts.syms.symbol(&parts.session, loc)?;
            let dso = &parts.session.dsos()[loc.dso as usize];
            let at = if dso.kernel || dso.path == "[vdso]" {
                loc.rel
            } else {
                parts.syms.vaddr(&parts.session, loc)?
            };
            Some((loc.dso, at - sym.offset, sym))
        });
        // perf drops the samples of other functions when one is named: its totals are
        // the named function's.
        if let Some(want) = &cfg.symbol {
            if found.as_ref().is_none_or(|(_, _, sym)| &sym.name != want) {
                return;
            }
        }
        let t = totals.entry(s.event).or_default();
        t.period += s.period;
        t.samples += 1;
        let Some((dso, start, sym)) = found else {
            return;
        };
        let e = entries
            .entry((s.event, dso, start))
            .or_insert_with(|| Entry {
                event: s.event,
                dso,
                start,
                name: sym.name.clone(),
                hist: Histogram::default(),
                by_offset: HashMap::new(),
            });
        e.hist.samples += 1;
        e.hist.period += s.period;
        let slot = e.by_offset.entry(sym.offset).or_default();
        slot.0 += 1;
        slot.1 += s.period;
    })?;
    let session = &replay.parts.session;
    let mut list: Vec<Entry> = entries.into_values().collect();
    list.retain(|e| {
        let dso = &session.dsos()[e.dso as usize];
        cfg.dsos.is_empty()
            || cfg
                .dsos
                .iter()
                .any(|d| d == &dso.path || d == dso.short_name())
    });
    // perf's order: most period first, then by binary name and address.
    let dso_name = |e: &Entry| session.dsos()[e.dso as usize].short_name().to_string();
    list.sort_by_cached_key(|e| {
        (
            e.event,
            std::cmp::Reverse(e.hist.period),
            dso_name(e),
            e.start,
        )
    });
    if list.is_empty() {
        // Samples that found no function may be in a binary gone or rebuilt since.
        for (path, id) in &header.hits {
            if let Err(problem) = check_binary(&replay.parts.syms, path, Some(id)) {
                bail!("{problem}");
            }
        }
        match &cfg.symbol {
            Some(s) => bail!(
                "no samples in function '{s}' in {} (rperf report --sort sym lists the \
                 sampled functions)",
                cfg.input.display()
            ),
            None => bail!("{} has no samples to annotate", cfg.input.display()),
        }
    }
    let build_ids: HashMap<&str, &[u8]> = header
        .hits
        .iter()
        .map(|(p, id)| (p.as_str(), id.as_slice()))
        .collect();
    let mut binaries: HashMap<DsoId, std::result::Result<Binary, String>> = HashMap::new();
    let mut printed = 0;
    let mut failed: Vec<(Option<DsoId>, usize, String)> = Vec::new();
    // perf marks an instruction with its source line when that differs from the last
    // one marked, in this function or an earlier one.
    let mut last_path: Option<String> = None;
    for mut e in list {
        let dso = &session.dsos()[e.dso as usize];
        let bin = binaries.entry(e.dso).or_insert_with(|| {
            open_binary(
                &replay.parts.syms,
                &dso.path,
                dso.kernel,
                build_ids.get(dso.path.as_str()).copied(),
                cfg.style.source,
            )
        });
        let bin = match bin {
            Ok(b) => b,
            Err(msg) => {
                // One line per binary, naming how many of its functions it leaves out.
                match failed.iter_mut().find(|(d, _, _)| *d == Some(e.dso)) {
                    Some((_, n, _)) => *n += 1,
                    None => failed.push((Some(e.dso), 1, msg.clone())),
                }
                continue;
            }
        };
        e.hist.hits = e.by_offset.iter().map(|(&o, &(n, p))| (o, n, p)).collect();
        let event = header
            .events
            .get(e.event)
            .map_or("unknown", |ev| ev.name.as_str());
        let title = dso.short_name().to_string();
        let long = dso.path.clone();
        let totals = totals[&e.event];
        // --stdio2's header: perf's browser title, then the function and its binary.
        let head2 = cfg.stdio2.then(|| {
            let freq = header.events.get(e.event).and_then(|ev| ev.freq);
            (
                format!(
                    "Samples: {} of event '{event}',{} Event count (approx.): {}, [percent: {}]",
                    crate::cmd::report::convert_unit(totals.samples),
                    freq.map(|f| format!(" {f} Hz,")).unwrap_or_default(),
                    totals.period,
                    cfg.percent.label()
                ),
                format!("{}() {long}", e.name),
            )
        });
        let what = (long.as_str(), title.as_str(), event, head2.as_ref());
        match annotate_one(bin, &e, what, totals, cfg, &mut last_path) {
            Ok(text) => {
                stdout.write_all(text.as_bytes())?;
                printed += 1;
            }
            Err(msg) => failed.push((None, 1, format!("{}: {msg}", e.name))),
        }
    }
    let all: Vec<String> = failed.iter().map(|f| failure(f, session)).collect();
    if printed == 0 {
        bail!("{}", all.join("; "));
    }
    Ok(all)
}

/// One function's annotation for a live view (`rperf top`'s `a` key): the function `name`
/// starting at `start` (the binary's own address; the kernel's absolute one) in the binary
/// at `path`, with `hits` (offset from its start, samples, period), laid out as
/// `rperf annotate`.
pub fn live_function(
    syms: &crate::session::Symbolizer,
    path: &str,
    kernel: bool,
    start: u64,
    name: &str,
    hits: &[(u64, u64, u64)],
    event: &str,
) -> std::result::Result<String, String> {
    let style = Style {
        source: true,
        ..Style::default()
    };
    let mut bin = open_binary(syms, path, kernel, None, style.source)?;
    let samples: u64 = hits.iter().map(|h| h.1).sum();
    let period: u64 = hits.iter().map(|h| h.2).sum();
    let e = Entry {
        event: 0,
        dso: 0,
        start,
        name: name.to_string(),
        hist: Histogram {
            hits: hits.to_vec(),
            samples,
            period,
        },
        by_offset: HashMap::new(),
    };
    let title = if kernel {
        "[kernel.kallsyms]".to_string()
    } else {
        path.rsplit('/').next().unwrap_or(path).to_string()
    };
    let cfg = AnnotateConfig {
        style,
        ..AnnotateConfig::default()
    };
    let totals = Totals { samples, period };
    annotate_one(
        &mut bin,
        &e,
        (path, &title, event, None),
        totals,
        &cfg,
        &mut None,
    )
}

/// A failure's line: a function, or the functions with samples in one binary.
fn failure(
    (dso, n, msg): &(Option<DsoId>, usize, String),
    session: &crate::session::Session,
) -> String {
    match dso {
        Some(d) => {
            let name = session.dsos()[*d as usize].short_name();
            let what = if *n == 1 { "function" } else { "functions" };
            format!("cannot annotate the {n} {what} with samples in {name}: {msg}")
        }
        None => format!("cannot annotate {msg}"),
    }
}

/// Opens the binary recorded as `path` for disassembly: the one that ran (by build-id),
/// never another build of it.
fn open_binary(
    syms: &crate::session::Symbolizer,
    path: &str,
    kernel: bool,
    want: Option<&[u8]>,
    source: bool,
) -> std::result::Result<Binary, String> {
    if kernel {
        if let Err(e) = std::fs::File::open(KCORE) {
            return Err(kernel_code_unreadable(&e));
        }
        let ks = rperf_symbols::Kallsyms::load(crate::session::cache_dir().as_deref());
        if ks.is_empty() {
            return Err("the kernel's symbols are hidden (kptr_restrict): run as root".into());
        }
        let names = annotate::names::Names::functions(
            ks.iter()
                .filter(|s| s.module.is_none())
                .map(|s| (s.addr, s.name.to_string())),
        );
        return Ok(Binary {
            data: rperf_symbols::file::Bytes::new(Vec::new()),
            path: KCORE.to_string(),
            names,
            lines: None,
            symbols: None,
            kernel: Some(ks),
        });
    }
    if path == "[vdso]" {
        let image = rperf_symbols::vdso_image().ok_or("the vDSO image is not readable")?;
        let plt = rperf_symbols::plt_entries(&image);
        let names = annotate::names::Names::load(&image, None, &plt);
        let symbols = rperf_symbols::ElfSymbols::parse(&image).ok();
        return Ok(Binary {
            data: rperf_symbols::file::Bytes::new(image),
            path: path.to_string(),
            names,
            lines: None,
            symbols,
            kernel: None,
        });
    }
    if !path.starts_with('/') {
        return Err(format!("{path} is not a file that can be disassembled"));
    }
    // Another build there and none cached: read_checked names both build-ids.
    let (file, root) = syms
        .locate(path)
        .unwrap_or_else(|| (std::path::PathBuf::from(path), syms.symfs.clone()));
    let real = match &root {
        Some(r) => r.join(file.strip_prefix("/").unwrap_or(&file)),
        None => file.clone(),
    };
    let data = read_checked(&real, want)?;
    let plt = rperf_symbols::plt_entries(&data);
    // objdump merges a separate debug file's symbols only when it reads that file for
    // source lines (-S).
    let debug = source
        .then(|| rperf_symbols::debug_file(&file, root.as_deref()))
        .flatten()
        .and_then(|p| rperf_symbols::file::map_regular(&p).ok());
    let names = annotate::names::Names::load(&data, debug.as_deref(), &plt);
    let lines = rperf_symbols::Lines::load(&file, root.as_deref());
    let symbols = rperf_symbols::ElfSymbols::load_with_debug(&file, root.as_deref()).ok();
    Ok(Binary {
        data,
        path: real.to_string_lossy().into_owned(),
        names,
        lines,
        symbols,
        kernel: None,
    })
}

/// Where kernel code is read: the running kernel's memory as an ELF core file.
const KCORE: &str = "/proc/kcore";

/// Why kernel functions cannot be disassembled here.
fn kernel_code_unreadable(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "kernel code is read from /proc/kcore, which this \
                                         kernel does not provide (CONFIG_PROC_KCORE)"
            .to_string(),
        std::io::ErrorKind::PermissionDenied => {
            "kernel code is read from /proc/kcore, which only root can read (run as root)"
                .to_string()
        }
        _ => format!("cannot read /proc/kcore: {e}"),
    }
}

/// `len` bytes of kernel code at `addr`, from the PT_LOAD segment of kcore that maps it.
/// kcore is as large as the address space: only its headers and those bytes are read.
fn kcore_code(addr: u64, len: u64) -> std::result::Result<Vec<u8>, String> {
    let f = std::fs::File::open(KCORE).map_err(|e| kernel_code_unreadable(&e))?;
    core_code(&f, addr, len)
}

/// `len` bytes at virtual address `addr` of the ELF core file `f`.
fn core_code(f: &std::fs::File, addr: u64, len: u64) -> std::result::Result<Vec<u8>, String> {
    use std::os::unix::fs::FileExt;
    let bad = || "/proc/kcore is not the ELF core file expected".to_string();
    let mut eh = [0u8; 64];
    f.read_exact_at(&mut eh, 0)
        .map_err(|e| format!("cannot read /proc/kcore: {e}"))?;
    if &eh[..4] != b"\x7fELF" || eh[4] != 2 || eh[5] != 1 {
        return Err(bad());
    }
    let u16_at = |b: &[u8], o: usize| u16::from_le_bytes([b[o], b[o + 1]]);
    let u64_at = |b: &[u8], o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap_or([0; 8]));
    let (phoff, phentsize, phnum) = (u64_at(&eh, 0x20), u16_at(&eh, 0x36), u16_at(&eh, 0x38));
    if phentsize < 56 || phnum == 0 {
        return Err(bad());
    }
    let mut ph = vec![0u8; usize::from(phentsize) * usize::from(phnum)];
    f.read_exact_at(&mut ph, phoff).map_err(|_| bad())?;
    for p in ph.chunks(usize::from(phentsize)) {
        let kind = u32::from_le_bytes([p[0], p[1], p[2], p[3]]);
        let (offset, vaddr, filesz) = (u64_at(p, 8), u64_at(p, 16), u64_at(p, 32));
        if kind == object::elf::PT_LOAD.0
            && vaddr <= addr
            && addr.saturating_add(len) <= vaddr.saturating_add(filesz)
        {
            let mut code = vec![0u8; len as usize];
            f.read_exact_at(&mut code, offset + (addr - vaddr))
                .map_err(|e| {
                    format!("cannot read kernel code at {addr:x} from /proc/kcore: {e}")
                })?;
            return Ok(code);
        }
    }
    Err(format!("/proc/kcore does not map {addr:x}"))
}

/// The binary at `real`, if it is the one with build-id `want` (when the file recorded
/// one): else why not, in words for the user.
fn read_checked(
    real: &std::path::Path,
    want: Option<&[u8]>,
) -> std::result::Result<rperf_symbols::file::Bytes, String> {
    let data = rperf_symbols::file::map_regular(real).map_err(|e| {
        format!(
            "cannot read {}: {e} (is the binary still there? --symfs names a copy of its root)",
            real.display()
        )
    })?;
    if let Some(want) = want.filter(|w| !w.is_empty()) {
        let have = rperf_symbols::buildid::build_id_of(&data).ok().flatten();
        if have.as_deref() != Some(want) {
            return Err(format!(
                "{} is not the binary that was recorded (build-id {} was recorded, the file \
                 has {}): annotate where it was recorded, or add the recorded binary with \
                 rperf buildid-cache -a",
                real.display(),
                rperf_symbols::buildid::hex(want),
                have.as_deref()
                    .map_or("none".to_string(), rperf_symbols::buildid::hex)
            ));
        }
    }
    Ok(data)
}

/// Whether the user-space binary recorded as `path` can be read as recorded.
fn check_binary(
    syms: &crate::session::Symbolizer,
    path: &str,
    want: Option<&[u8]>,
) -> std::result::Result<(), String> {
    if !path.starts_with('/') {
        return Ok(());
    }
    // Another build there and none cached: read_checked names both build-ids.
    let (file, root) = syms
        .locate(path)
        .unwrap_or_else(|| (std::path::PathBuf::from(path), syms.symfs.clone()));
    let real = match &root {
        Some(r) => r.join(file.strip_prefix("/").unwrap_or(&file)),
        None => file,
    };
    read_checked(&real, want).map(drop)
}

/// perf's text for one function.
#[allow(clippy::too_many_arguments)]
fn annotate_one(
    bin: &mut Binary,
    e: &Entry,
    what: Names<'_>,
    totals: Totals,
    cfg: &AnnotateConfig,
    last_path: &mut Option<String>,
) -> std::result::Result<String, String> {
    let long_name = what.0;
    if let Some(ks) = &bin.kernel {
        // A function runs to the next symbol; a megabyte bounds a gap at the table's end.
        let size = ks
            .next_start(e.start)
            .map_or(0, |n| n - e.start)
            .min(1 << 20);
        if size == 0 {
            return Err("its end is unknown (the last kernel symbol)".to_string());
        }
        let code = kcore_code(e.start, size)?;
        let parts = [(".text".to_string(), e.start, code)];
        return Ok(render_one(
            bin, e, &parts, size, what, totals, cfg, last_path,
        ));
    }
    let size = bin
        .symbols
        .as_ref()
        .and_then(|s| s.lookup_vaddr(e.start))
        .filter(|(s, off)| *off == 0 && s.size > 0)
        .map(|(s, _)| s.size)
        .ok_or_else(|| format!("no size for it in {long_name}"))?;
    let elf = object::read::elf::ElfFile64::<object::Endianness>::parse(&*bin.data)
        .map_err(|e| format!("{long_name} is not a 64-bit ELF file: {e}"))?;
    // The code sections the range overlaps, as objdump disassembles them.
    let end = e.start + size;
    let mut parts: Vec<(String, u64, Vec<u8>)> = Vec::new();
    for section in elf.sections() {
        let code = matches!(section.flags(), object::SectionFlags::Elf { sh_flags, .. }
            if sh_flags.0 & object::elf::SHF_EXECINSTR.0 != 0);
        let (lo, hi) = (section.address(), section.address() + section.size());
        if !code || hi <= e.start || lo >= end {
            continue;
        }
        let data = section
            .data()
            .map_err(|err| format!("cannot read {}: {err}", long_name))?;
        let from = e.start.max(lo);
        let to = end.min(hi);
        let bytes = data
            .get((from - lo) as usize..(to - lo) as usize)
            .ok_or("its code is outside the file")?;
        let name = section.name().unwrap_or("").to_string();
        parts.push((name, from, bytes.to_vec()));
    }
    drop(elf);
    if parts.is_empty() {
        return Err(format!(
            "{:x} lies in no code section of {long_name}",
            e.start
        ));
    }
    parts.sort_by_key(|p| p.1);
    Ok(render_one(
        bin, e, &parts, size, what, totals, cfg, last_path,
    ))
}

/// How a function's text names things: the binary's path and short name, the event, and
/// `--stdio2`'s two header lines.
type Names<'a> = (&'a str, &'a str, &'a str, Option<&'a (String, String)>);

/// perf's text for function `e`, whose `size` bytes lie in `parts` (section name, start,
/// bytes).
#[allow(clippy::too_many_arguments)]
fn render_one(
    bin: &mut Binary,
    e: &Entry,
    parts: &[(String, u64, Vec<u8>)],
    size: u64,
    (long_name, title, event, head2): Names<'_>,
    totals: Totals,
    cfg: &AnnotateConfig,
    last_path: &mut Option<String>,
) -> String {
    let text = objdump::disassemble(
        &Function {
            chunks: parts
                .iter()
                .map(|(section, start, code)| objdump::Chunk {
                    section,
                    start: *start,
                    code,
                })
                .collect(),
            name: &e.name,
        },
        &bin.path,
        &mut bin.names,
        bin.lines.as_ref(),
        cfg.style,
    );
    let end = e.start + size;
    let mut lines = annotate::parse(&text, &bin.path, e.start, end);
    let percents = annotate::percents(&lines, e.start, size, &e.hist, totals, cfg.percent);
    let mut out = String::new();
    if let Some((head, name_line)) = head2 {
        let syms = bin.symbols.as_ref();
        let resolve = |a: u64| {
            syms.and_then(|s| s.lookup_vaddr(a))
                .map(|(s, _)| s.name.to_string())
        };
        annotate::stdio2::render(
            &mut out, &lines, &percents, e.start, size, head, name_line, &resolve,
        );
        return out;
    }
    if cfg.print_line {
        let paths = srclines(&lines, &percents, bin.lines.as_ref(), title);
        summary(&mut out, &paths, long_name);
        for (l, p) in lines.iter_mut().zip(&paths) {
            if let Some((p, _)) = p {
                if last_path.as_deref() != Some(p.as_str()) {
                    l.text.push_str(" // ");
                    l.text.push_str(p);
                    *last_path = Some(p.clone());
                }
            }
        }
    }
    annotate::render(
        &mut out,
        &lines,
        &percents,
        title,
        event,
        e.hist.samples,
        cfg.percent,
    );
    out
}

/// `-l`: the source line of each instruction over 0.5% (perf's srcline: `file.c:12`, or
/// `binary[addr]` without DWARF), with its share.
fn srclines(
    lines: &[annotate::Line],
    percents: &[Option<f64>],
    dwarf: Option<&rperf_symbols::Lines>,
    title: &str,
) -> Vec<Option<(String, f64)>> {
    lines
        .iter()
        .zip(percents)
        .map(|(l, p)| {
            let (a, p) = (l.addr?, (*p)?);
            if p <= 0.5 {
                return None;
            }
            let path = dwarf
                .and_then(|d| d.location(a))
                .and_then(|f| f.srcline())
                .unwrap_or_else(|| format!("{title}[{a:x}]"));
            Some((path, p))
        })
        .collect()
}

/// `-l`'s summary: the source lines, hottest first.
fn summary(out: &mut String, paths: &[Option<(String, f64)>], long_name: &str) {
    use std::fmt::Write;
    let mut by_line: Vec<(String, f64)> = Vec::new();
    for (path, p) in paths.iter().flatten() {
        match by_line.iter_mut().find(|(k, _)| k == path) {
            Some(slot) => slot.1 += p,
            None => by_line.push((path.clone(), *p)),
        }
    }
    by_line.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let _ = write!(
        out,
        "\nSorted summary for file {long_name}\n----------------------------------------------\n\n"
    );
    if by_line.is_empty() {
        out.push_str(" Nothing higher than 0.5%\n");
    }
    for (path, p) in by_line {
        let _ = writeln!(out, " {p:7.2} {path}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A little ELF core file: a PT_NOTE, then a PT_LOAD mapping `code` at `vaddr`.
    fn core(vaddr: u64, code: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 64];
        f[..4].copy_from_slice(b"\x7fELF");
        f[4] = 2;
        f[5] = 1;
        f[0x20..0x28].copy_from_slice(&64u64.to_le_bytes());
        f[0x36..0x38].copy_from_slice(&56u16.to_le_bytes());
        f[0x38..0x3a].copy_from_slice(&2u16.to_le_bytes());
        let data_at = 64 + 2 * 56u64;
        for (kind, v, size) in [(4u32, 0u64, 0u64), (1, vaddr, code.len() as u64)] {
            let mut p = vec![0u8; 56];
            p[..4].copy_from_slice(&kind.to_le_bytes());
            p[8..16].copy_from_slice(&data_at.to_le_bytes());
            p[16..24].copy_from_slice(&v.to_le_bytes());
            p[32..40].copy_from_slice(&size.to_le_bytes());
            f.extend(p);
        }
        f.extend_from_slice(code);
        f
    }

    #[test]
    fn kernel_code_is_read_from_the_segment_that_maps_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kcore");
        let base = 0xffff_ffff_8100_0000;
        std::fs::write(&path, core(base, &[0x55, 0x48, 0x89, 0xe5, 0xc3])).unwrap();
        let f = std::fs::File::open(&path).unwrap();
        assert_eq!(core_code(&f, base + 1, 3).unwrap(), vec![0x48, 0x89, 0xe5]);
        // Past the segment, or before it: not mapped.
        assert!(core_code(&f, base + 3, 4)
            .unwrap_err()
            .contains("does not map"));
        assert!(core_code(&f, base - 1, 2).is_err());
        std::fs::write(
            &path,
            b"not an elf file, long enough to hold a header, really, yes it is ok",
        )
        .unwrap();
        let f = std::fs::File::open(&path).unwrap();
        assert!(core_code(&f, base, 1)
            .unwrap_err()
            .contains("not the ELF core file"));
    }
}
