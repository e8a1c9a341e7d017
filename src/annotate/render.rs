//! One function's annotation: disassembly with each line's share, source lines, the summary.
use object::{Object, ObjectSection};

use super::binary::{kcore_code, Binary};
use super::objdump::{self, Function};
use super::{Histogram, PercentType, Totals};
use crate::annotate;

/// A function with samples: where it starts (the binary's own address; the kernel's
/// absolute one), its name and its samples per offset.
#[derive(Debug, Clone, Default)]
pub struct Sampled {
    /// Start address.
    pub start: u64,
    /// Its name, as printed.
    pub name: String,
    /// Samples and period per offset from `start`.
    pub hist: Histogram,
}

/// How a function's text is laid out (`-M`, `--asm-raw`, `--no-source`, `--percent-type`,
/// `-l`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Layout {
    /// How the instructions are printed.
    pub style: objdump::Style,
    /// Which share a line shows.
    pub percent: PercentType,
    /// `-l`: a summary of the hottest source lines first.
    pub print_line: bool,
}

/// perf's text for one function.
#[allow(clippy::too_many_arguments)]
pub fn function(
    bin: &mut Binary,
    e: &Sampled,
    what: Names<'_>,
    totals: Totals,
    cfg: &Layout,
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
            if sh_flags & u64::from(object::elf::SHF_EXECINSTR) != 0);
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
pub type Names<'a> = (&'a str, &'a str, &'a str, Option<&'a (String, String)>);

/// perf's text for function `e`, whose `size` bytes lie in `parts` (section name, start,
/// bytes).
#[allow(clippy::too_many_arguments)]
pub fn render_one(
    bin: &mut Binary,
    e: &Sampled,
    parts: &[(String, u64, Vec<u8>)],
    size: u64,
    (long_name, title, event, head2): Names<'_>,
    totals: Totals,
    cfg: &Layout,
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
pub fn srclines(
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
pub fn summary(out: &mut String, paths: &[Option<(String, f64)>], long_name: &str) {
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
