//! The walk of the data section in perf's delivery order, each record's raw bytes and
//! decoded fields.
use super::*;

/// The output and what it needs to know while records are printed.
pub(super) struct Dumper<'w, 't> {
    pub(super) w: &'w mut dyn Write,
    pub(super) name: String,
    pub(super) combined: u64,
    pub(super) id_all: bool,
    pub(super) texts: &'t FxHashMap<u64, String>,
    /// Samples printed so far: the index of the next.
    pub(super) samples: u64,
    pub(super) out: String,
}

impl Dumper<'_, '_> {
    pub(super) fn flush(&mut self) -> Result<()> {
        self.w.write_all(self.out.as_bytes())?;
        self.out.clear();
        Ok(())
    }

    /// The lines every record starts with: where it lies, its bytes in hex and as text.
    pub(super) fn head(&mut self, off: usize, rec: &[u8]) {
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

    pub(super) fn flush_quiet(&mut self) -> std::io::Result<()> {
        let r = self.w.write_all(self.out.as_bytes());
        self.out.clear();
        r
    }

    /// `OFFSET [SIZE]: PERF_RECORD_NAME` after the timestamp columns.
    pub(super) fn title(&mut self, off: usize, rec: &[u8]) {
        let _ = write!(
            self.out,
            "{off:#x} [{:#x}]: PERF_RECORD_{}",
            rec.len(),
            type_name(u32_at(rec, 0))
        );
    }

    /// A record perf handles as it reads it (types from 64 on).
    pub(super) fn user(&mut self, off: usize, rec: &[u8]) -> Result<()> {
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
    pub(super) fn kernel(
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
    pub(super) fn sample(&mut self, a: &Attr, rec: &[u8], misc: u16) {
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
