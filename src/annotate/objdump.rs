//! The text `objdump -d -l -S -C --no-show-raw-insn --start-address --stop-address` prints
//! for one function, which perf annotate reads: made in process, from the decoded
//! instructions (`disasm`), objdump's names (`names`) and its `-l`/`-S` source interleaving
//! (DWARF lines through the symbols crate, and the source files themselves).
use std::collections::HashMap;

use iced_x86::{Decoder, DecoderOptions};
use rperf_symbols::{LineRow, Lines};

use super::disasm::Disasm;
use super::names::Names;

/// How objdump is asked to print.
#[derive(Debug, Clone, Copy, Default)]
pub struct Style {
    /// `-M intel`.
    pub intel: bool,
    /// Without `--no-show-raw-insn`: the instruction bytes before the text.
    pub raw: bool,
    /// `-S`: source lines between the instructions.
    pub source: bool,
}

/// The code of a function in one section.
pub struct Chunk<'a> {
    /// The section's name (objdump heads its part with it and prefers names from it).
    pub section: &'a str,
    /// First address.
    pub start: u64,
    /// The bytes.
    pub code: &'a [u8],
}

/// One function to print: its code, in each code section its range overlaps (perf's
/// ranges can run past a section: `_init` to the first PLT entry), and its name.
pub struct Function<'a> {
    /// The parts, by address.
    pub chunks: Vec<Chunk<'a>>,
    /// The name objdump heads the function with when no symbol is at its start.
    pub name: &'a str,
}

/// A source file objdump prints lines of, with what it printed so far.
struct SourceFile {
    lines: Option<Vec<String>>,
    last_line: u32,
    max_printed: u32,
}

/// objdump's `show_line` state for one run.
struct ShowLine<'a> {
    lines: Option<&'a Lines>,
    rows: Vec<LineRow>,
    prev_function: Option<String>,
    prev_line: u32,
    prev_discriminator: u32,
    files: HashMap<String, SourceFile>,
    source: bool,
}

impl ShowLine<'_> {
    fn discriminator(&self, addr: u64) -> u32 {
        let i = self.rows.partition_point(|r| r.addr <= addr);
        i.checked_sub(1)
            .map(|i| self.rows[i].discriminator)
            .unwrap_or(0)
    }

    /// What objdump prints before the instruction at `addr`.
    fn show(&mut self, addr: u64, out: &mut Vec<String>) {
        let Some(lines) = self.lines else {
            return;
        };
        let frames = lines.frames(addr);
        let Some(inner) = frames.first() else {
            return;
        };
        let function = inner.function.clone().filter(|f| !f.is_empty());
        let file = inner.file.clone().filter(|f| !f.is_empty());
        let line = inner.line.unwrap_or(0);
        let discriminator = self.discriminator(addr);
        if let Some(f) = &function {
            if self.prev_function.as_deref() != Some(f) {
                // A demangled C++ name carries its parameters; objdump adds none then.
                if f.contains('(') {
                    out.push(format!("{f}:"));
                } else {
                    out.push(format!("{f}():"));
                }
                self.prev_line = u32::MAX;
            }
        }
        if line > 0 && (line != self.prev_line || discriminator != self.prev_discriminator) {
            let name = file.as_deref().unwrap_or("???");
            if discriminator > 0 {
                out.push(format!("{name}:{line} (discriminator {discriminator})"));
            } else {
                out.push(format!("{name}:{line}"));
            }
        }
        if self.source && line > 0 {
            if let Some(name) = &file {
                let p = self
                    .files
                    .entry(name.clone())
                    .or_insert_with(|| SourceFile {
                        lines: read_source(name),
                        last_line: 0,
                        max_printed: 0,
                    });
                if p.lines.is_some() && line != p.last_line {
                    // Five lines of context the first time, then what was not shown yet.
                    let mut l = line.saturating_sub(5).max(1);
                    if p.max_printed >= l {
                        l = if p.max_printed < line {
                            p.max_printed + 1
                        } else {
                            line
                        };
                    }
                    if let Some(text) = &p.lines {
                        for n in l..=line {
                            match text.get(n as usize - 1) {
                                Some(t) => out.push(t.clone()),
                                None => break,
                            }
                        }
                    }
                    p.max_printed = p.max_printed.max(line);
                    p.last_line = line;
                }
            }
        }
        if function.is_some() {
            self.prev_function = function;
        }
        if line > 0 {
            self.prev_line = line;
        }
        self.prev_discriminator = discriminator;
    }
}

/// A source file's lines, as objdump reads them (bytes that are not UTF-8 replaced).
fn read_source(path: &str) -> Option<Vec<String>> {
    let bytes = rperf_symbols::file::read_regular(std::path::Path::new(path)).ok()?;
    let text = String::from_utf8_lossy(&bytes);
    Some(text.lines().map(str::to_string).collect())
}

/// objdump's output for `f`, line by line: the preamble (`file`, as named on objdump's
/// command line, heads it), the function's label, then per instruction its source lines and
/// its `addr:\ttext` line.
pub fn disassemble(
    f: &Function<'_>,
    file: &str,
    names: &mut Names,
    lines: Option<&Lines>,
    style: Style,
) -> Vec<String> {
    let mut out = vec![
        String::new(),
        format!("{file}:     file format elf64-x86-64"),
        String::new(),
    ];
    let (Some(first), Some(last)) = (f.chunks.first(), f.chunks.last()) else {
        return out;
    };
    let end = last.start + last.code.len() as u64;
    let mut show = ShowLine {
        lines,
        rows: lines.map(|l| l.rows(first.start, end)).unwrap_or_default(),
        prev_function: None,
        prev_line: 0,
        prev_discriminator: 0,
        files: HashMap::new(),
        source: style.source,
    };
    let mut dis = Disasm::new(style.intel);
    for chunk in &f.chunks {
        out.push(String::new());
        out.push(format!("Disassembly of section {}:", chunk.section));
        names.prefer(chunk.section);
        let mut decoder = Decoder::with_ip(64, chunk.code, chunk.start, DecoderOptions::NONE);
        let mut first_ip = true;
        while decoder.can_decode() {
            let ip = decoder.ip();
            let ins = decoder.decode();
            // objdump heads each symbol's part with its label, and the first with the
            // nearest name.
            let label = match names.lookup(ip) {
                Some((n, at)) if at == ip => Some(n),
                Some((n, at)) if first_ip && at > ip => Some(format!("{n}-0x{:x}", at - ip)),
                Some((n, at)) if first_ip => Some(format!("{n}+0x{:x}", ip - at)),
                None if first_ip => Some(f.name.to_string()),
                _ => None,
            };
            if let Some(label) = label {
                out.push(String::new());
                out.push(format!("{ip:016x} <{label}>:"));
            }
            first_ip = false;
            let at = (ip - chunk.start) as usize;
            let bytes = &chunk.code[at..at + ins.len()];
            show.show(ip, &mut out);
            let lookup = |a: u64| names.lookup(a);
            let text = if ins.is_invalid() {
                "(bad)".to_string()
            } else {
                dis.format(&ins, bytes, &lookup)
            };
            if style.raw {
                // objdump's x86 layout: seven bytes a line, the rest on lines of their own.
                let mut hex = String::new();
                for b in bytes.iter().take(7) {
                    hex.push_str(&format!("{b:02x} "));
                }
                for _ in bytes.len().min(7)..7 {
                    hex.push_str("   ");
                }
                out.push(format!("{ip:8x}:\t{hex}\t{text}"));
                for (i, chunk) in bytes.chunks(7).enumerate().skip(1) {
                    let hex: String = chunk.iter().map(|b| format!("{b:02x} ")).collect();
                    out.push(format!("{:8x}:\t{hex}", ip + 7 * i as u64));
                }
            } else {
                out.push(format!("{ip:8x}:\t{text}"));
            }
        }
    }
    out
}
