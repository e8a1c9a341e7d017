//! perf annotate's `--stdio` text for one function: objdump's output made in process
//! (`objdump`, over the `disasm` formatter and objdump's `names`), read as perf reads it
//! (line numbers, addresses, tabs), and printed with each instruction's share of the
//! samples.
pub mod binary;
pub mod disasm;
pub mod names;
pub mod objdump;
pub mod render;
pub mod stdio2;

use binary::open_binary;
use objdump::Style;
use render::{function, Layout, Sampled};

/// One line of an annotation, as perf keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// The instruction's address, for an instruction of the function.
    pub addr: Option<u64>,
    /// The text perf prints: after `addr:` for instructions, the whole line otherwise.
    pub text: String,
    /// perf's running line number (printed beside source and other lines).
    pub line_nr: i64,
}

/// perf's `expand_tabs`: each tab to the next multiple of eight columns.
fn expand_tabs(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    let mut col = 0;
    for c in s.chars() {
        if c == '\t' {
            let n = 8 - col % 8;
            out.extend(std::iter::repeat_n(' ', n));
            col += n;
        } else {
            out.push(c);
            col += 1;
        }
    }
    out
}

/// perf's `^/[^:]+:([0-9]+)`: a `/file:line` location line, and its line.
fn file_line(s: &str) -> Option<i64> {
    let rest = s.strip_prefix('/')?;
    let colon = rest.find(':')?;
    if colon == 0 {
        return None;
    }
    let digits: String = rest[colon + 1..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    if digits.is_empty() {
        return None;
    }
    // atoi: the digits' value (wrapping as C's would not matter for real line numbers).
    Some(digits.parse::<i64>().unwrap_or(0))
}

/// strtoull(s, 16) followed by ':': the address and what follows the colon.
fn address(s: &str) -> Option<(u64, &str)> {
    let t = s.trim_start();
    let t = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .unwrap_or(t);
    let n = t.bytes().take_while(u8::is_ascii_hexdigit).count();
    if n == 0 {
        return None;
    }
    let rest = t[n..].strip_prefix(':')?;
    // strtoull saturates; an address that long is no instruction of the function.
    let v = u64::from_str_radix(&t[..n], 16).unwrap_or(u64::MAX);
    Some((v, rest))
}

/// perf's reading of objdump's lines for the function `[start, end)`: lines naming the
/// binary `file` followed by `:` are skipped, location lines set the running line number,
/// instruction lines of the function keep their address.
pub fn parse(objdump: &[String], file: &str, start: u64, end: u64) -> Vec<Line> {
    let mut out = Vec::with_capacity(objdump.len());
    let mut line_nr: i64 = 0;
    for raw in objdump {
        if let Some(i) = raw.find(file) {
            if raw[i + file.len()..].starts_with(':') {
                continue;
            }
        }
        let text = expand_tabs(raw.trim());
        if let Some(n) = file_line(&text) {
            line_nr = n;
            continue;
        }
        let (addr, text) = match address(&text) {
            Some((a, rest)) if a >= start && a < end => (Some(a), rest.to_string()),
            _ => (None, text),
        };
        out.push(Line {
            addr,
            text,
            line_nr,
        });
        line_nr += 1;
    }
    out
}

/// perf's `--percent-type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PercentType {
    /// Share of the function's period (the default).
    #[default]
    LocalPeriod,
    /// Share of all samples' period.
    GlobalPeriod,
    /// Share of the function's samples.
    LocalHits,
    /// Share of all samples.
    GlobalHits,
}

impl PercentType {
    /// perf's spelling: `local-period`, `global-hits`…
    pub fn parse(s: &str) -> Option<PercentType> {
        Some(match s {
            "local-period" => PercentType::LocalPeriod,
            "global-period" => PercentType::GlobalPeriod,
            "local-hits" => PercentType::LocalHits,
            "global-hits" => PercentType::GlobalHits,
            _ => return None,
        })
    }

    /// The header's words: `local period`…
    pub fn label(self) -> &'static str {
        match self {
            PercentType::LocalPeriod => "local period",
            PercentType::GlobalPeriod => "global period",
            PercentType::LocalHits => "local hits",
            PercentType::GlobalHits => "global hits",
        }
    }
}

/// Samples in one function, by offset from its start.
#[derive(Debug, Clone, Default)]
pub struct Histogram {
    /// (offset, samples, period), any order.
    pub hits: Vec<(u64, u64, u64)>,
    /// Samples in the function.
    pub samples: u64,
    /// Their period.
    pub period: u64,
}

/// What the shares are taken of beyond the function: the whole event's.
#[derive(Debug, Clone, Copy, Default)]
pub struct Totals {
    /// Samples (perf counts its histogram entries here; see the caller).
    pub samples: u64,
    /// Period.
    pub period: u64,
}

/// Each instruction line's share: the samples from its address up to the next
/// instruction's (or the function's end).
pub fn percents(
    lines: &[Line],
    start: u64,
    len: u64,
    hist: &Histogram,
    totals: Totals,
    kind: PercentType,
) -> Vec<Option<f64>> {
    let mut hits = hist.hits.clone();
    hits.sort_unstable();
    let instr: Vec<u64> = lines.iter().filter_map(|l| l.addr).collect();
    let mut next = 0;
    lines
        .iter()
        .map(|l| {
            let a = l.addr?;
            next += 1;
            let from = a - start;
            let to = instr.get(next).map_or(len, |n| n - start);
            let lo = hits.partition_point(|h| h.0 < from);
            let hi = hits.partition_point(|h| h.0 < to);
            let (n, p) = hits[lo..hi.max(lo)]
                .iter()
                .fold((0u64, 0u64), |(n, p), h| (n + h.1, p + h.2));
            let share = |part: u64, whole: u64| {
                if whole == 0 {
                    0.0
                } else {
                    100.0 * part as f64 / whole as f64
                }
            };
            Some(match kind {
                PercentType::LocalPeriod => share(p, hist.period),
                PercentType::GlobalPeriod => share(p, totals.period),
                PercentType::LocalHits => share(n, hist.samples),
                PercentType::GlobalHits => share(n, totals.samples),
            })
        })
        .collect()
}

/// perf's text for one annotated function: the header with `title` (the binary's name),
/// `event` and the function's sample count, then every line.
pub fn render(
    out: &mut String,
    lines: &[Line],
    percents: &[Option<f64>],
    title: &str,
    event: &str,
    samples: u64,
    kind: PercentType,
) {
    use std::fmt::Write;
    let header = format!(
        " {:<8.8}|\tSource code & Disassembly of {title} for {event} ({samples} samples, percent: {})\n",
        "Percent",
        kind.label()
    );
    out.push_str(&header);
    // perf underlines with as many dashes as the header had bytes, and four more.
    out.push_str(&"-".repeat(header.len() + 4));
    out.push('\n');
    let width = lines
        .iter()
        .rev()
        .find_map(|l| l.addr)
        .map_or(0, |a| format!("{a:x}").len());
    for (l, p) in lines.iter().zip(percents) {
        match (l.addr, p) {
            (Some(a), Some(p)) => {
                let _ = writeln!(out, " {p:7.2} :   {a:>width$x}:{}", l.text);
            }
            _ if l.text.is_empty() => out.push_str("         :\n"),
            _ => {
                let _ = writeln!(out, "         : {:<width$} {}", l.line_nr, l.text);
            }
        }
    }
}

/// Every instruction of the executable sections of the ELF file at `path` as
/// `objdump -d --no-show-raw-insn` prints it (`-M intel` with `intel`): (address, text).
/// For checking the disassembler against objdump, and for tools.
pub fn objdump_all(path: &std::path::Path, intel: bool) -> anyhow::Result<Vec<(u64, String)>> {
    use object::{Object, ObjectSection, SectionFlags};
    let data = rperf_symbols::file::map_regular(path)?;
    let file = object::File::parse(&*data)?;
    let plt = rperf_symbols::plt_entries(&data);
    let mut names = names::Names::load(&data, None, &plt);
    let mut dis = disasm::Disasm::new(intel);
    let mut out = Vec::new();
    for sec in file.sections() {
        let exec = matches!(sec.flags(), SectionFlags::Elf { sh_flags, .. } if sh_flags & u64::from(object::elf::SHF_EXECINSTR) != 0);
        if !exec {
            continue;
        }
        let Ok(code) = sec.data() else {
            continue;
        };
        names.prefer(sec.name().unwrap_or(""));
        let lookup = |a: u64| names.lookup(a);
        let mut decoder =
            iced_x86::Decoder::with_ip(64, code, sec.address(), iced_x86::DecoderOptions::NONE);
        while decoder.can_decode() {
            let ip = decoder.ip();
            let ins = decoder.decode();
            let at = (ip - sec.address()) as usize;
            out.push((ip, dis.format(&ins, &code[at..at + ins.len()], &lookup)));
        }
    }
    Ok(out)
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
    let e = Sampled {
        start,
        name: name.to_string(),
        hist: Histogram {
            hits: hits.to_vec(),
            samples,
            period,
        },
    };
    let title = if kernel {
        "[kernel.kallsyms]".to_string()
    } else {
        path.rsplit('/').next().unwrap_or(path).to_string()
    };
    let cfg = Layout {
        style,
        ..Layout::default()
    };
    let totals = Totals { samples, period };
    function(
        &mut bin,
        &e,
        (path, &title, event, None),
        totals,
        &cfg,
        &mut None,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_read_as_perf_reads_objdump() {
        let objdump: Vec<String> = [
            "",
            "/bin/x:     file format elf64-x86-64",
            "",
            "Disassembly of section .text:",
            "0000000000001180 <main>:",
            "main():",
            "/src/x.c:6 (discriminator 2)",
            "int main(void) {",
            "    1180:\tpush   %rbx",
            "    1181:\tret",
            "    2000:\tnop",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let lines = parse(&objdump, "/bin/x", 0x1180, 0x1182);
        let texts: Vec<(Option<u64>, &str, i64)> = lines
            .iter()
            .map(|l| (l.addr, l.text.as_str(), l.line_nr))
            .collect();
        assert_eq!(
            texts,
            vec![
                (None, "", 0),
                (None, "", 1),
                (None, "Disassembly of section .text:", 2),
                (None, "0000000000001180 <main>:", 3),
                (None, "main():", 4),
                (None, "int main(void) {", 6),
                (Some(0x1180), "   push   %rbx", 7),
                (Some(0x1181), "   ret", 8),
                // outside the function: a plain line, as perf keeps it
                (None, "2000:   nop", 9),
            ]
        );
    }

    #[test]
    fn shares_run_to_the_next_instruction() {
        let l = |a: Option<u64>| Line {
            addr: a,
            text: String::new(),
            line_nr: 0,
        };
        let lines = vec![l(Some(0x10)), l(None), l(Some(0x12)), l(Some(0x18))];
        let hist = Histogram {
            // a sample inside the second instruction counts for it
            hits: vec![(0, 1, 10), (3, 1, 30), (8, 2, 60)],
            samples: 4,
            period: 100,
        };
        let totals = Totals {
            samples: 8,
            period: 200,
        };
        let p = percents(&lines, 0x10, 9, &hist, totals, PercentType::LocalPeriod);
        assert_eq!(p, vec![Some(10.0), None, Some(30.0), Some(60.0)]);
        let p = percents(&lines, 0x10, 9, &hist, totals, PercentType::GlobalHits);
        assert_eq!(p, vec![Some(12.5), None, Some(12.5), Some(25.0)]);
    }
}
