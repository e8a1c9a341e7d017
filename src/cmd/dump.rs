//! `rperf script -D`: every record of a perf.data in perf's raw-dump layout — where it lies,
//! its bytes, its decoded fields — in perf's delivery order, each sample followed by the
//! lines script prints for it.
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::path::Path;

use anyhow::{bail, Result};
use rustc_hash::FxHashMap;

use crate::abi::kind;
use crate::data::header::FileHeader;

/// sample_type bits, in the order a sample's fields lie.
mod bit {
    pub const IP: u64 = 1 << 0;
    pub const TID: u64 = 1 << 1;
    pub const TIME: u64 = 1 << 2;
    pub const ADDR: u64 = 1 << 3;
    pub const READ: u64 = 1 << 4;
    pub const CALLCHAIN: u64 = 1 << 5;
    pub const ID: u64 = 1 << 6;
    pub const CPU: u64 = 1 << 7;
    pub const PERIOD: u64 = 1 << 8;
    pub const STREAM_ID: u64 = 1 << 9;
    pub const RAW: u64 = 1 << 10;
    pub const BRANCH_STACK: u64 = 1 << 11;
    pub const REGS_USER: u64 = 1 << 12;
    pub const STACK_USER: u64 = 1 << 13;
    pub const WEIGHT: u64 = 1 << 14;
    pub const DATA_SRC: u64 = 1 << 15;
    pub const IDENTIFIER: u64 = 1 << 16;
    pub const TRANSACTION: u64 = 1 << 17;
    pub const REGS_INTR: u64 = 1 << 18;
    pub const PHYS_ADDR: u64 = 1 << 19;
    pub const AUX: u64 = 1 << 20;
    pub const CGROUP: u64 = 1 << 21;
    pub const DATA_PAGE_SIZE: u64 = 1 << 22;
    pub const CODE_PAGE_SIZE: u64 = 1 << 23;
    pub const WEIGHT_STRUCT: u64 = 1 << 24;
}

/// x86-64's register names in perf_regs order (perf's `perf_reg_name`).
const X86_REGS: [&str; 24] = [
    "AX", "BX", "CX", "DX", "SI", "DI", "BP", "SP", "IP", "FLAGS", "CS", "SS", "DS", "ES", "FS",
    "GS", "R8", "R9", "R10", "R11", "R12", "R13", "R14", "R15",
];

/// What the dump needs of one event's attr.
#[derive(Clone, Copy, Default)]
struct Attr {
    sample_type: u64,
    read_format: u64,
    id_all: bool,
    regs_user: u64,
    period: u64,
}

/// The names perf gives record types (`perf_event__name`).
fn type_name(t: u32) -> &'static str {
    const KERNEL: [&str; 22] = [
        "TOTAL",
        "MMAP",
        "LOST",
        "COMM",
        "EXIT",
        "THROTTLE",
        "UNTHROTTLE",
        "FORK",
        "READ",
        "SAMPLE",
        "MMAP2",
        "AUX",
        "ITRACE_START",
        "LOST_SAMPLES",
        "SWITCH",
        "SWITCH_CPU_WIDE",
        "NAMESPACES",
        "KSYMBOL",
        "BPF_EVENT",
        "CGROUP",
        "TEXT_POKE",
        "AUX_OUTPUT_HW_ID",
    ];
    const USER: [&str; 19] = [
        "HEADER_ATTR",
        "HEADER_EVENT_TYPE",
        "HEADER_TRACING_DATA",
        "HEADER_BUILD_ID",
        "FINISHED_ROUND",
        "ID_INDEX",
        "AUXTRACE_INFO",
        "AUXTRACE",
        "AUXTRACE_ERROR",
        "THREAD_MAP",
        "CPU_MAP",
        "STAT_CONFIG",
        "STAT",
        "STAT_ROUND",
        "EVENT_UPDATE",
        "TIME_CONV",
        "HEADER_FEATURE",
        "COMPRESSED",
        "FINISHED_INIT",
    ];
    match t {
        0..=21 => KERNEL[t as usize],
        64..=82 => USER[(t - 64) as usize],
        _ => "UNKNOWN",
    }
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    b.get(at..at + 8)
        .and_then(|s| s.try_into().ok())
        .map_or(0, u64::from_le_bytes)
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4)
        .and_then(|s| s.try_into().ok())
        .map_or(0, u32::from_le_bytes)
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    b.get(at..at + 2)
        .and_then(|s| s.try_into().ok())
        .map_or(0, u16::from_le_bytes)
}

/// C's `%#x`: `0` for zero, `0x…` otherwise.
fn alt_hex(v: u64) -> String {
    if v == 0 {
        "0".into()
    } else {
        format!("{v:#x}")
    }
}

/// A NUL-terminated string in `b`.
fn c_str(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

/// Refuses what the dump cannot read before anything is printed: pipe streams (read once,
/// by the replay) and big-endian files.
pub fn check(input: &Path) -> Result<()> {
    if input.as_os_str() == "-" {
        bail!("script -D reads a perf.data file, not a stream on stdin: record to a file and pass -i FILE");
    }
    let mut f = crate::data::open_input(input)?;
    let mut head = Vec::new();
    std::io::Read::take(&mut f, crate::abi::HEADER_SIZE).read_to_end(&mut head)?;
    let h = FileHeader::parse(&head);
    if &h.magic != crate::abi::MAGIC || head.len() < 16 {
        bail!(
            "{} is not a little-endian perf.data file (it does not start with \"PERFILE2\")",
            input.display()
        );
    }
    if h.is_pipe() {
        bail!(
            "script -D reads file-mode perf.data, and {} is a pipe-mode stream: record with -o FILE",
            input.display()
        );
    }
    Ok(())
}

/// A record found in the data section, waiting for its turn.
#[derive(Clone, Copy)]
struct Rec {
    /// Offset in the file.
    off: usize,
    len: usize,
    time: u64,
}

/// The sample fields the dump prints, parsed with an attr's layout.
#[derive(Default)]
struct Fields {
    ip: u64,
    pid: i32,
    tid: i32,
    time: Option<u64>,
    addr: u64,
    cpu: Option<u32>,
    period: u64,
}

/// The id that tells which event a record belongs to, found with the first attr's layout
/// (perf's `id_pos`/`is_pos`).
fn record_id(first: &Attr, rec: &[u8], sample: bool) -> Option<u64> {
    let st = first.sample_type;
    if st & bit::IDENTIFIER != 0 {
        return Some(if sample {
            u64_at(rec, 8)
        } else {
            u64_at(rec, rec.len() - 8)
        });
    }
    if st & bit::ID == 0 {
        return None;
    }
    if sample {
        let before = [bit::IP, bit::TID, bit::TIME, bit::ADDR]
            .iter()
            .filter(|&&b| st & b != 0)
            .count();
        Some(u64_at(rec, 8 + before * 8))
    } else {
        let after = [bit::STREAM_ID, bit::CPU, bit::IDENTIFIER]
            .iter()
            .filter(|&&b| st & b != 0)
            .count();
        rec.len()
            .checked_sub(8 * (after + 1))
            .map(|at| u64_at(rec, at))
    }
}

/// The time and CPU a side-band record's trailer carries (`sample_id_all`).
fn id_sample(a: &Attr, rec: &[u8]) -> Fields {
    let st = a.sample_type;
    let n = [
        bit::TID,
        bit::TIME,
        bit::ID,
        bit::STREAM_ID,
        bit::CPU,
        bit::IDENTIFIER,
    ]
    .iter()
    .filter(|&&b| st & b != 0)
    .count();
    let mut f = Fields {
        pid: -1,
        tid: -1,
        ..Fields::default()
    };
    let Some(mut at) = rec.len().checked_sub(n * 8).filter(|&a| a >= 8) else {
        return f;
    };
    if st & bit::TID != 0 {
        f.pid = u32_at(rec, at) as i32;
        f.tid = u32_at(rec, at + 4) as i32;
        at += 8;
    }
    if st & bit::TIME != 0 {
        f.time = Some(u64_at(rec, at));
        at += 8;
    }
    if st & bit::ID != 0 {
        at += 8;
    }
    if st & bit::STREAM_ID != 0 {
        at += 8;
    }
    if st & bit::CPU != 0 {
        f.cpu = Some(u32_at(rec, at));
    }
    f
}

/// Prints the dump of `input`; `texts` holds what script printed for each sample (by its
/// index in delivery order).
pub fn print(input: &Path, texts: &FxHashMap<u64, String>, w: &mut dyn Write) -> Result<()> {
    let bytes = rperf_symbols::file::map_regular(input)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", input.display()))?;
    let b: &[u8] = &bytes;
    let h = FileHeader::parse(b);
    let damaged = |what: &str| {
        anyhow::anyhow!(
            "{} is damaged or truncated: {what} (record it again)",
            input.display()
        )
    };
    if !h.attrs.inside(b.len() as u64) || !h.data.inside(b.len() as u64) || h.attr_size < 16 {
        return Err(damaged("its attr or data section lies outside the file"));
    }
    // The attrs and the ids of each.
    let mut attrs = Vec::new();
    let mut by_id: FxHashMap<u64, usize> = FxHashMap::default();
    let (aoff, asz, esz) = (
        h.attrs.offset as usize,
        h.attrs.size as usize,
        h.attr_size as usize,
    );
    for (i, e) in b[aoff..aoff + asz].chunks_exact(esz).enumerate() {
        let flags = u64_at(e, 40);
        attrs.push(Attr {
            sample_type: u64_at(e, 24),
            read_format: u64_at(e, 32),
            id_all: flags & (1 << 18) != 0,
            regs_user: u64_at(e, 80),
            period: if flags & (1 << 10) != 0 {
                0
            } else {
                u64_at(e, 16)
            },
        });
        let ids = crate::data::header::Section {
            offset: u64_at(e, esz - 16),
            size: u64_at(e, esz - 8),
        };
        if ids.inside(b.len() as u64) {
            for k in 0..(ids.size / 8) as usize {
                by_id.insert(u64_at(b, ids.offset as usize + k * 8), i);
            }
        }
    }
    let Some(first) = attrs.first().copied() else {
        return Err(damaged("it describes no events"));
    };
    let combined = attrs.iter().fold(0, |t, a| t | a.sample_type);
    let attr_of = |rec: &[u8], sample: bool| -> Attr {
        if attrs.len() == 1 {
            return first;
        }
        record_id(&first, rec, sample)
            .and_then(|id| by_id.get(&id))
            .map_or(first, |&i| attrs[i])
    };
    let name = input.display().to_string();
    let mut d = Dumper {
        w,
        name,
        combined,
        id_all: first.id_all,
        texts,
        samples: 0,
        out: String::new(),
    };
    // perf's delivery order: user records and records without a time at once; the rest
    // queued by (time, offset) and released at each FINISHED_ROUND up to the largest time
    // seen before the round before, the remainder at the end.
    let (mut pos, end) = (
        h.data.offset as usize,
        (h.data.offset + h.data.size) as usize,
    );
    let mut queue: Vec<Rec> = Vec::new();
    let (mut next_flush, mut max_time) = (0u64, 0u64);
    while pos + 8 <= end {
        let t = u32_at(b, pos);
        let len = usize::from(u16_at(b, pos + 6));
        if len < 8 || pos + len > end {
            d.flush()?;
            return Err(damaged(&format!(
                "a record at byte {pos:#x} runs past its end"
            )));
        }
        let rec = &b[pos..pos + len];
        if t >= 64 {
            d.user(pos, rec)?;
            if t == kind::FINISHED_ROUND {
                queue.sort_by_key(|r| (r.time, r.off));
                let n = queue.partition_point(|r| r.time <= next_flush);
                for r in queue.drain(..n) {
                    d.kernel(r.off, &b[r.off..r.off + r.len], &attr_of)?;
                }
                next_flush = max_time;
            }
            // AUXTRACE's trace data follows the record.
            let extra = if t == kind::AUXTRACE {
                u64_at(rec, 8) as usize
            } else {
                0
            };
            pos = pos.saturating_add(len).saturating_add(extra);
            continue;
        }
        let sample = t == kind::SAMPLE;
        let a = attr_of(rec, sample);
        let time = if sample {
            parse_sample(&a, rec).0.time
        } else if a.id_all {
            id_sample(&a, rec).time
        } else {
            None
        };
        match time {
            Some(time) if time != 0 && time != u64::MAX => {
                max_time = max_time.max(time);
                queue.push(Rec {
                    off: pos,
                    len,
                    time,
                });
            }
            _ => d.kernel(pos, rec, &attr_of)?,
        }
        pos += len;
    }
    queue.sort_by_key(|r| (r.time, r.off));
    for r in queue {
        d.kernel(r.off, &b[r.off..r.off + r.len], &attr_of)?;
    }
    d.flush()?;
    Ok(())
}

/// The output and what it needs to know while records are printed.
struct Dumper<'w, 't> {
    w: &'w mut dyn Write,
    name: String,
    combined: u64,
    id_all: bool,
    texts: &'t FxHashMap<u64, String>,
    /// Samples printed so far: the index of the next.
    samples: u64,
    out: String,
}

impl Dumper<'_, '_> {
    fn flush(&mut self) -> Result<()> {
        self.w.write_all(self.out.as_bytes())?;
        self.out.clear();
        Ok(())
    }

    /// The lines every record starts with: where it lies, its bytes in hex and as text.
    fn head(&mut self, off: usize, rec: &[u8]) {
        let o = &mut self.out;
        let _ = write!(
            o,
            "\n{off:#x}@{} [{:#x}]: event: {}\n.\n. ... raw event: size {} bytes\n",
            self.name,
            rec.len(),
            u32_at(rec, 0),
            rec.len()
        );
        for (i, line) in rec.chunks(16).enumerate() {
            let _ = write!(o, ".  {:04x}: ", i * 16);
            for c in line {
                let _ = write!(o, " {c:02x}");
            }
            for _ in line.len()..16 {
                o.push_str("   ");
            }
            o.push_str("  ");
            for &c in line {
                o.push(if (0x20..0x7f).contains(&c) {
                    c as char
                } else {
                    '.'
                });
            }
            for _ in line.len()..16 {
                o.push(' ');
            }
            o.push('\n');
        }
        o.push('\n');
        if self.out.len() > 1 << 16 {
            // Written in pieces; errors surface at the next flush.
            let _ = self.flush_quiet();
        }
    }

    fn flush_quiet(&mut self) -> std::io::Result<()> {
        let r = self.w.write_all(self.out.as_bytes());
        self.out.clear();
        r
    }

    /// `OFFSET [SIZE]: PERF_RECORD_NAME` after the timestamp columns.
    fn title(&mut self, off: usize, rec: &[u8]) {
        let _ = write!(
            self.out,
            "{off:#x} [{:#x}]: PERF_RECORD_{}",
            rec.len(),
            type_name(u32_at(rec, 0))
        );
    }

    /// A record perf handles as it reads it (types from 64 on).
    fn user(&mut self, off: usize, rec: &[u8]) -> Result<()> {
        self.head(off, rec);
        // perf stamps them with an empty sample: CPU 0, time 0.
        if !self.id_all {
            self.out.push_str("-1 -1 ");
        } else {
            if self.combined & bit::CPU != 0 {
                self.out.push_str("0 ");
            }
            if self.combined & bit::TIME != 0 {
                self.out.push_str("0 ");
            }
        }
        self.title(off, rec);
        let t = u32_at(rec, 0);
        let o = &mut self.out;
        match t {
            kind::ID_INDEX => {
                let nr = u64_at(rec, 8);
                let _ = writeln!(o, " nr: {nr}");
                let each = 32;
                let n = (rec.len().saturating_sub(16) / each).min(nr as usize);
                for k in 0..n {
                    let at = 16 + k * each;
                    let _ = writeln!(
                        o,
                        " ... id: {}  idx: {}  cpu: {}  tid: {}",
                        u64_at(rec, at),
                        u64_at(rec, at + 8),
                        u64_at(rec, at + 16) as i64,
                        u64_at(rec, at + 24) as i64
                    );
                }
            }
            kind::THREAD_MAP => {
                let nr = u64_at(rec, 8) as usize;
                let n = nr.min(rec.len().saturating_sub(16) / 24);
                let _ = write!(o, " nr: {n} thread{}: ", if n > 1 { "s" } else { "" });
                for k in 0..n {
                    let pid = u64_at(rec, 16 + k * 24) as i64 as i32;
                    let _ = write!(o, "{}{pid}", if k > 0 { ", " } else { "" });
                }
                o.push('\n');
            }
            kind::CPU_MAP => {
                let _ = writeln!(o, ": {}", cpu_list(&rec[8..]));
            }
            kind::FINISHED_ROUND => o.push('\n'),
            kind::EVENT_UPDATE => {
                let _ = writeln!(o, "\n... id:    {}", u64_at(rec, 16));
                let data = &rec[24.min(rec.len())..];
                let _ = match u64_at(rec, 8) {
                    0 => writeln!(o, "... unit:  {}", c_str(data)),
                    1 => writeln!(o, "... scale: {:.6}", f64::from_bits(u64_at(data, 0))),
                    2 => writeln!(o, "... name:  {}", c_str(data)),
                    3 => writeln!(o, "... {}", cpu_list(data)),
                    _ => writeln!(o, "... unknown type"),
                };
            }
            _ => o.push_str(": unhandled!\n"),
        }
        Ok(())
    }

    /// A record delivered in time order.
    fn kernel(
        &mut self,
        off: usize,
        rec: &[u8],
        attr_of: &dyn Fn(&[u8], bool) -> Attr,
    ) -> Result<()> {
        let t = u32_at(rec, 0);
        let sample = t == kind::SAMPLE;
        let a = attr_of(rec, sample);
        self.head(off, rec);
        let f = if sample {
            parse_sample(&a, rec).0
        } else if a.id_all {
            id_sample(&a, rec)
        } else {
            Fields::default()
        };
        if !sample && !self.id_all {
            self.out.push_str("-1 -1 ");
        } else {
            if self.combined & bit::CPU != 0 {
                let _ = write!(self.out, "{} ", f.cpu.unwrap_or(u32::MAX));
            }
            if self.combined & bit::TIME != 0 {
                let _ = write!(self.out, "{} ", f.time.unwrap_or(u64::MAX));
            }
        }
        self.title(off, rec);
        let misc = u16_at(rec, 4);
        let o = &mut self.out;
        let pidtid = |o: &mut String, at: usize| {
            let _ = write!(
                o,
                "{}/{}",
                u32_at(rec, at) as i32,
                u32_at(rec, at + 4) as i32
            );
        };
        match t {
            kind::SAMPLE => {
                self.sample(&a, rec, misc);
                return Ok(());
            }
            kind::MMAP => {
                o.push(' ');
                pidtid(o, 8);
                let _ = writeln!(
                    o,
                    ": [{}({}) @ {}]: {} {}",
                    alt_hex(u64_at(rec, 16)),
                    alt_hex(u64_at(rec, 24)),
                    alt_hex(u64_at(rec, 32)),
                    if misc & (1 << 13) != 0 { 'r' } else { 'x' },
                    c_str(&rec[40.min(rec.len())..])
                );
            }
            kind::MMAP2 => {
                o.push(' ');
                pidtid(o, 8);
                let _ = write!(
                    o,
                    ": [{}({}) @ {} ",
                    alt_hex(u64_at(rec, 16)),
                    alt_hex(u64_at(rec, 24)),
                    alt_hex(u64_at(rec, 32)),
                );
                if misc & (1 << 14) != 0 {
                    let n = usize::from(rec.get(40).copied().unwrap_or(0)).min(20);
                    o.push('<');
                    for c in rec.get(44..44 + n).unwrap_or(&[]) {
                        let _ = write!(o, "{c:02x}");
                    }
                    o.push('>');
                } else {
                    let _ = write!(
                        o,
                        "{:02x}:{:02x} {} {}",
                        u32_at(rec, 40),
                        u32_at(rec, 44),
                        u64_at(rec, 48),
                        u64_at(rec, 56)
                    );
                }
                let (prot, flags) = (u32_at(rec, 64), u32_at(rec, 68));
                let _ = writeln!(
                    o,
                    "]: {}{}{}{} {}",
                    if prot & 1 != 0 { 'r' } else { '-' },
                    if prot & 2 != 0 { 'w' } else { '-' },
                    if prot & 4 != 0 { 'x' } else { '-' },
                    if flags & 1 != 0 { 's' } else { 'p' },
                    c_str(&rec[72.min(rec.len())..])
                );
            }
            kind::COMM => {
                let exec = if misc & (1 << 13) != 0 { " exec" } else { "" };
                let _ = writeln!(
                    o,
                    "{exec}: {}:{}/{}",
                    c_str(&rec[16.min(rec.len())..]),
                    u32_at(rec, 8) as i32,
                    u32_at(rec, 12) as i32
                );
            }
            kind::FORK | kind::EXIT => {
                let _ = writeln!(
                    o,
                    "({}:{}):({}:{})",
                    u32_at(rec, 8) as i32,
                    u32_at(rec, 16) as i32,
                    u32_at(rec, 12) as i32,
                    u32_at(rec, 20) as i32
                );
            }
            kind::LOST => {
                let _ = writeln!(o, ": id:{}: lost:{}", u64_at(rec, 8), u64_at(rec, 16));
            }
            kind::LOST_SAMPLES => {
                let _ = writeln!(o, ": nr:{}", u64_at(rec, 8));
            }
            kind::KSYMBOL => {
                let _ = writeln!(
                    o,
                    " addr {:x} len {} type {} flags 0x{:x} name {}",
                    u64_at(rec, 8),
                    u32_at(rec, 16),
                    u16_at(rec, 20),
                    u16_at(rec, 22),
                    c_str(&rec[24.min(rec.len())..])
                );
            }
            kind::BPF_EVENT => {
                let _ = writeln!(
                    o,
                    " type {}, flags {}, id {}",
                    u16_at(rec, 8),
                    u16_at(rec, 10),
                    u32_at(rec, 12)
                );
            }
            _ => o.push('\n'),
        }
        Ok(())
    }

    /// perf's `dump_sample`, then the lines script printed for the sample.
    fn sample(&mut self, a: &Attr, rec: &[u8], misc: u16) {
        let (f, at) = parse_sample(a, rec);
        let st = a.sample_type;
        let o = &mut self.out;
        let _ = writeln!(
            o,
            "(IP, 0x{misc:x}): {}/{}: {} period: {} addr: {}",
            f.pid,
            f.tid,
            alt_hex(f.ip),
            if st & bit::PERIOD != 0 {
                f.period
            } else {
                a.period
            },
            alt_hex(f.addr)
        );
        let mut at = at;
        if st & bit::CALLCHAIN != 0 {
            let nr = u64_at(rec, at);
            let _ = writeln!(o, "... FP chain: nr:{nr}");
            let n = (nr as usize).min(rec.len().saturating_sub(at + 8) / 8);
            for k in 0..n {
                let _ = writeln!(o, "..... {k:2}: {:016x}", u64_at(rec, at + 8 + k * 8));
            }
            at += 8 + n * 8;
        }
        // The fields after the chain, as far as this dump decodes them (a branch stack
        // ends it).
        let mut ok = true;
        if st & bit::RAW != 0 {
            at += 4 + u32_at(rec, at) as usize;
        }
        if st & bit::BRANCH_STACK != 0 {
            ok = false;
        }
        if ok && st & bit::REGS_USER != 0 {
            let abi = u64_at(rec, at);
            at += 8;
            let mask = a.regs_user;
            let name = match abi {
                1 => "32-bit",
                2 => "64-bit",
                _ => "none",
            };
            // Without an ABI (a kernel thread) no registers follow, and perf prints none.
            if abi != 0 {
                let _ = writeln!(o, "... user regs: mask 0x{mask:x} ABI {name}");
                for r in (0..64).filter(|r| mask & (1 << r) != 0) {
                    let reg = X86_REGS.get(r).copied().unwrap_or("unknown");
                    let _ = writeln!(o, ".... {reg:<5} 0x{:016x}", u64_at(rec, at));
                    at += 8;
                }
            }
        }
        if ok && st & bit::STACK_USER != 0 {
            // perf's offset is that of the size field.
            let size = u64_at(rec, at);
            let field = at;
            at += 8 + size as usize;
            let dyn_size = if size > 0 { u64_at(rec, at) } else { 0 };
            if size > 0 {
                at += 8;
            }
            let _ = writeln!(o, "... ustack: size {dyn_size}, offset 0x{field:x}");
        }
        if ok && st & (bit::WEIGHT | bit::WEIGHT_STRUCT) != 0 {
            let _ = writeln!(o, "... weight: {}", u64_at(rec, at));
            at += 8;
        }
        if ok && st & bit::DATA_SRC != 0 {
            let _ = writeln!(o, " . data_src: 0x{:x}", u64_at(rec, at));
            at += 8;
        }
        if ok && st & bit::TRANSACTION != 0 {
            let _ = writeln!(o, "... transaction: {:x}", u64_at(rec, at));
        }
        let _ = (bit::REGS_INTR, bit::PHYS_ADDR, bit::AUX, bit::CGROUP);
        let _ = (bit::DATA_PAGE_SIZE, bit::CODE_PAGE_SIZE, bit::READ);
        if let Some(t) = self.texts.get(&self.samples) {
            o.push_str(t);
        }
        self.samples += 1;
    }
}

/// The fields of a sample up to its call chain, and where the chain starts.
fn parse_sample(a: &Attr, rec: &[u8]) -> (Fields, usize) {
    let st = a.sample_type;
    let mut f = Fields {
        pid: -1,
        tid: -1,
        ..Fields::default()
    };
    let mut at = 8;
    let take = |at: &mut usize| {
        let v = u64_at(rec, *at);
        *at += 8;
        v
    };
    if st & bit::IDENTIFIER != 0 {
        take(&mut at);
    }
    if st & bit::IP != 0 {
        f.ip = take(&mut at);
    }
    if st & bit::TID != 0 {
        let v = take(&mut at);
        f.pid = v as u32 as i32;
        f.tid = (v >> 32) as u32 as i32;
    }
    if st & bit::TIME != 0 {
        f.time = Some(take(&mut at));
    }
    if st & bit::ADDR != 0 {
        f.addr = take(&mut at);
    }
    if st & bit::ID != 0 {
        take(&mut at);
    }
    if st & bit::STREAM_ID != 0 {
        take(&mut at);
    }
    if st & bit::CPU != 0 {
        f.cpu = Some(take(&mut at) as u32);
    }
    if st & bit::PERIOD != 0 {
        f.period = take(&mut at);
    }
    if st & bit::READ != 0 {
        // read_format: GROUP 8, TOTAL_TIME_ENABLED 1, TOTAL_TIME_RUNNING 2, ID 4, LOST 16.
        let rf = a.read_format;
        let per = 1 + usize::from(rf & 4 != 0) + usize::from(rf & 16 != 0);
        let times = usize::from(rf & 1 != 0) + usize::from(rf & 2 != 0);
        if rf & 8 != 0 {
            let nr = u64_at(rec, at) as usize;
            at += 8 * (1 + times) + 8 * per * nr.min(rec.len() / 8);
        } else {
            at += 8 * (per + times);
        }
    }
    (f, at)
}

/// perf's text of a CPU_MAP record's CPUs: ranges as `0-3,5`.
fn cpu_list(body: &[u8]) -> String {
    let mut cpus: Vec<i64> = Vec::new();
    match u16_at(body, 0) {
        0 => {
            let nr = usize::from(u16_at(body, 2));
            for k in 0..nr.min(body.len() / 2) {
                cpus.push(i64::from(u16_at(body, 4 + 2 * k) as i16));
            }
        }
        1 => {
            let nr = usize::from(u16_at(body, 2));
            let long = usize::from(u16_at(body, 4));
            let base = if long == 4 { 6 } else { 8 };
            for k in 0..nr.min(body.len() / long.max(4)) {
                let word = if long == 4 {
                    u64::from(u32_at(body, base + 4 * k))
                } else {
                    u64_at(body, base + 8 * k)
                };
                for bitn in 0..(long * 8) {
                    if word & (1 << bitn) != 0 {
                        cpus.push((k * long * 8 + bitn) as i64);
                    }
                }
            }
        }
        2 => {
            if body.get(2).copied().unwrap_or(0) != 0 {
                cpus.push(-1);
            }
            let (a, b) = (u16_at(body, 4), u16_at(body, 6));
            cpus.extend((i64::from(a)..=i64::from(b)).take(1 << 16));
        }
        _ => {}
    }
    let mut out = String::new();
    let mut k = 0;
    while k < cpus.len() {
        let start = k;
        while k + 1 < cpus.len() && cpus[k + 1] == cpus[k] + 1 {
            k += 1;
        }
        if !out.is_empty() {
            out.push(',');
        }
        if k > start {
            let _ = write!(out, "{}-{}", cpus[start], cpus[k]);
        } else {
            let _ = write!(out, "{}", cpus[start]);
        }
        k += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_maps_print_as_ranges() {
        // A list of 0,1,2,5; a range 0-1; a 64-bit mask of 0 and 2.
        let list = [0u8, 0, 4, 0, 0, 0, 1, 0, 2, 0, 5, 0];
        assert_eq!(cpu_list(&list), "0-2,5");
        let range = [2u8, 0, 0, 0, 0, 0, 1, 0];
        assert_eq!(cpu_list(&range), "0-1");
        let mut mask = vec![1u8, 0, 1, 0, 8, 0, 0, 0];
        mask.extend_from_slice(&5u64.to_le_bytes());
        assert_eq!(cpu_list(&mask), "0,2");
    }

    #[test]
    fn zero_prints_as_c_does_with_the_alternate_flag() {
        assert_eq!(alt_hex(0), "0");
        assert_eq!(alt_hex(0x2000), "0x2000");
    }
}
