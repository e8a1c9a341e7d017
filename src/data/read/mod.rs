//! Reading perf.data, file or pipe mode, written by Linux perf or by `rperf record`.
//!
//! Parsing is done by the `linux-perf-data` crate (which also sorts records by time using
//! FINISHED_ROUND); this module turns its records into the few plain shapes the session and
//! the commands need, and its errors into messages that name the file.
use std::borrow::Cow;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use anyhow::{anyhow, Context, Result};
use linux_perf_data::{PerfFileReader, PerfFileRecord};
use linux_perf_event_reader::{CpuMode, EventRecord, SampleRecord};

use super::header::FileHeader;
use crate::abi::{MAGIC, MAGIC_SWAPPED};

pub mod live;
mod pipeline;
mod rounds;

/// An event of the file: its name and what its samples carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventInfo {
    /// Name as perf shows it (`cpu-clock:ppp`, `sched:sched_switch`).
    pub name: String,
    /// The tracefs id, for tracepoint events.
    pub tracepoint: Option<u64>,
    /// Whether samples carry a CPU.
    pub has_cpu: bool,
    /// Whether samples carry call chains.
    pub has_callchain: bool,
    /// Whether samples carry a period (freq mode) or use the attr's fixed one.
    pub fixed_period: Option<u64>,
    /// The sampling frequency in freq mode (perf's titles say `4000 Hz`).
    pub freq: Option<u64>,
}

/// Facts from the file header and features.
#[derive(Debug, Clone, Default)]
pub struct Header {
    /// Events in attr order.
    pub events: Vec<EventInfo>,
    /// Raw TRACING_DATA feature, when present.
    pub tracing_data: Option<Vec<u8>>,
    /// The user-space binaries the BUILD_ID feature lists, with their build-ids, sorted by
    /// path: the ones samples hit (loaded up front, in parallel) and how to recognise them
    /// when the path now holds another file.
    pub hits: Vec<(String, Vec<u8>)>,
    /// The first and last sample times the SAMPLE_TIME feature records (perf's `--time`
    /// percentages are shares of this span).
    pub sample_time: Option<(u64, u64)>,
    /// The build-id the BUILD_ID feature gives the kernel (`[kernel.kallsyms]`).
    pub kernel_build_id: Option<Vec<u8>>,
}

impl Header {
    /// A sample's weight: its own period, else its event's fixed one (`-c`), else 1.
    fn period(&self, event: usize, sampled: Option<u64>) -> u64 {
        sampled
            .or(self.events.get(event).and_then(|e| e.fixed_period))
            .unwrap_or(1)
    }
}

/// Where an address was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Kernel.
    Kernel,
    /// User space.
    User,
    /// Anything else (hypervisor, guest).
    Other,
}

impl From<CpuMode> for Mode {
    fn from(m: CpuMode) -> Mode {
        match m {
            CpuMode::Kernel | CpuMode::GuestKernel => Mode::Kernel,
            CpuMode::User | CpuMode::GuestUser => Mode::User,
            _ => Mode::Other,
        }
    }
}

/// A sample, borrowed from the reader's buffer.
#[derive(Debug, Clone)]
pub struct Sample<'a> {
    /// Index into [`Header::events`].
    pub event: usize,
    /// Position among the file's samples in read order (0, 1, 2…): the same on every read.
    pub index: u64,
    /// Process id.
    pub pid: i32,
    /// Thread id.
    pub tid: i32,
    /// Timestamp (ns).
    pub time: u64,
    /// CPU, when sampled.
    pub cpu: Option<u32>,
    /// Instruction pointer.
    pub ip: u64,
    /// Where `ip` is.
    pub mode: Mode,
    /// Weight.
    pub period: u64,
    /// Kernel-written chain including PERF_CONTEXT_* markers, if sampled (borrowed from a
    /// buffer the reader reuses, so no allocation per sample).
    pub callchain: Option<&'a [u64]>,
    /// Tracepoint payload.
    pub raw: Option<Cow<'a, [u8]>>,
    /// The user registers sampled (`--call-graph dwarf`: all general-purpose ones; `-g`'s
    /// leaf fixer: bp, sp and ip), when ip, sp and bp are among them.
    pub user_regs: Option<UserRegs>,
    /// The copied user stack (its dynamic size), when sampled.
    pub user_stack: Option<&'a [u8]>,
    /// The task's cgroup id (`--all-cgroups`), when sampled.
    pub cgroup: Option<u64>,
    /// PERF_SAMPLE_WEIGHT's value, or WEIGHT_STRUCT's first 32 bits (what perf calls the
    /// weight), when sampled.
    pub weight: Option<u64>,
}

/// A sample's user registers, in perf's x86-64 numbering (AX 0, BX 1, CX 2, DX 3, SI 4,
/// DI 5, BP 6, SP 7, IP 8, ..., R8 16 to R15 23), those the attr's `sample_regs_user` asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserRegs {
    /// AX to IP, then R8 to R15: the general-purpose registers (perf's 9 to 15, flags and
    /// segment registers, are of no use to an unwinder and not kept).
    values: [u64; 17],
    /// Bit n: perf's register n was sampled (and, if kept, is in `values`).
    mask: u32,
}

impl UserRegs {
    /// perf's x86-64 numbers of the instruction, stack and frame pointers.
    pub const IP: u32 = 8;
    /// Stack pointer.
    pub const SP: u32 = 7;
    /// Frame pointer.
    pub const BP: u32 = 6;

    /// The registers of `mask` (perf numbers), read in the kernel's order (ascending
    /// numbers) by `value(i)` for the i-th one sampled; `None` without ip, sp and bp, or
    /// when a value is missing.
    fn from_mask(mask: u64, mut value: impl FnMut(usize) -> Option<u64>) -> Option<UserRegs> {
        let mut regs = UserRegs::EMPTY;
        let mut i = 0;
        for r in 0..64u32 {
            if mask & (1 << r) == 0 {
                continue;
            }
            let v = value(i)?;
            i += 1;
            regs.set(r, v);
        }
        regs.complete()
    }

    /// Only the instruction, stack and frame pointers (what `-g`'s leaf fixer and the live
    /// views sample).
    pub fn from_ip_sp_bp(ip: u64, sp: u64, bp: u64) -> UserRegs {
        let mut regs = UserRegs::EMPTY;
        regs.set(Self::IP, ip);
        regs.set(Self::SP, sp);
        regs.set(Self::BP, bp);
        regs
    }

    const EMPTY: UserRegs = UserRegs {
        values: [0; 17],
        mask: 0,
    };

    /// Where perf's register `r` is kept.
    fn slot(r: u32) -> Option<usize> {
        match r {
            0..=8 => Some(r as usize),
            16..=23 => Some(r as usize - 7),
            _ => None,
        }
    }

    fn set(&mut self, r: u32, v: u64) {
        if let Some(i) = Self::slot(r) {
            self.values[i] = v;
            self.mask |= 1 << r;
        }
    }

    /// The registers, when ip, sp and bp are among them.
    fn complete(self) -> Option<UserRegs> {
        let need = (1 << Self::IP) | (1 << Self::SP) | (1 << Self::BP);
        (self.mask & need == need).then_some(self)
    }

    /// Register `r` (perf's number), when sampled.
    pub fn get(&self, r: u32) -> Option<u64> {
        let i = Self::slot(r)?;
        (self.mask & (1 << r) != 0).then(|| self.values[i])
    }

    /// The instruction pointer (always sampled: see [`Sample::user_regs`]).
    pub fn ip(&self) -> u64 {
        self.values[Self::IP as usize]
    }

    /// The stack pointer.
    pub fn sp(&self) -> u64 {
        self.values[Self::SP as usize]
    }

    /// The frame pointer.
    pub fn bp(&self) -> u64 {
        self.values[Self::BP as usize]
    }
}

/// The records the session and commands care about.
///
/// A sample is the largest variant by far (its registers); it stays unboxed because
/// samples are most records, and a move costs less than an allocation each.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Record<'a> {
    /// A sample.
    Sample(Sample<'a>),
    /// A thread got a name (exec or prctl).
    Comm {
        /// Process.
        pid: i32,
        /// Thread.
        tid: i32,
        /// New name.
        name: String,
        /// Caused by exec.
        exec: bool,
        /// When and where it was written (its sample_id: the task that renamed it, or
        /// zeros for a name synthesized at the start).
        at: SideId,
    },
    /// A thread or process was created.
    Fork {
        /// New process id.
        pid: i32,
        /// Parent process id.
        ppid: i32,
        /// New thread id.
        tid: i32,
        /// The thread that forked it (its name is inherited).
        ptid: i32,
        /// Written by the recorder for a task that already ran when recording began
        /// (PERF_RECORD_MISC_FORK_EXEC): its own MMAP records follow, so nothing of the
        /// parent's address space is copied.
        synthesized: bool,
    },
    /// A thread exited.
    Exit {
        /// Process.
        pid: i32,
        /// Thread.
        tid: i32,
    },
    /// A mapping (MMAP or MMAP2).
    Mmap {
        /// Process (-1 for the kernel).
        pid: i32,
        /// Start address.
        start: u64,
        /// Length.
        len: u64,
        /// File offset of `start`.
        pgoff: u64,
        /// Path or pseudo-name.
        path: String,
        /// Kernel or user.
        mode: Mode,
        /// Executable (code can be unwound in it).
        exec: bool,
    },
    /// Records the kernel dropped.
    Lost {
        /// How many.
        count: u64,
    },
    /// Samples an event lost, as perf record reads them from the kernel at the end
    /// (PERF_RECORD_LOST_SAMPLES; perf report's "Total Lost Samples").
    LostSamples {
        /// How many.
        count: u64,
    },
    /// A cgroup's id and path below the cgroup root (PERF_RECORD_CGROUP).
    Cgroup {
        /// The id samples carry.
        id: u64,
        /// Path, `/` for the root.
        path: String,
        /// When and where it was written (its sample_id).
        at: SideId,
    },
    /// A task's namespaces (PERF_RECORD_NAMESPACES): (device, inode) of each, in the
    /// kernel's order (net, uts, ipc, pid, user, mnt, cgroup).
    Namespaces {
        /// Process.
        pid: i32,
        /// Thread.
        tid: i32,
        /// (dev, inode) per namespace.
        ns: Vec<(u64, u64)>,
        /// When and where it was written (its sample_id: the forking task for a new one).
        at: SideId,
    },
}

/// A side-band record's sample_id fields, for the commands that print the record itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SideId {
    /// Process of the sample_id (0 when absent or synthesized).
    pub pid: i32,
    /// Thread of the sample_id (0 when absent or synthesized).
    pub tid: i32,
    /// Timestamp (0 when absent or synthesized).
    pub time: u64,
    /// CPU, when recorded.
    pub cpu: Option<u32>,
}

impl Sample<'_> {
    /// The same sample with other chain, payload and stack (the scalars copied): how a
    /// sample moves between buffers.
    pub fn with_parts<'b>(
        &self,
        callchain: Option<&'b [u64]>,
        raw: Option<Cow<'b, [u8]>>,
        user_stack: Option<&'b [u8]>,
    ) -> Sample<'b> {
        Sample {
            event: self.event,
            index: self.index,
            pid: self.pid,
            tid: self.tid,
            time: self.time,
            cpu: self.cpu,
            ip: self.ip,
            mode: self.mode,
            period: self.period,
            callchain,
            raw,
            user_regs: self.user_regs,
            user_stack,
            cgroup: self.cgroup,
            weight: self.weight,
        }
    }
}

impl Record<'_> {
    /// A side-band record, which owns all it holds, free of the reader's buffers; `None`
    /// for samples (see [`Sample::with_parts`]).
    pub fn detach(self) -> Option<Record<'static>> {
        Some(match self {
            Record::Sample(_) => return None,
            Record::Comm {
                pid,
                tid,
                name,
                exec,
                at,
            } => Record::Comm {
                pid,
                tid,
                name,
                exec,
                at,
            },
            Record::Fork {
                pid,
                ppid,
                tid,
                ptid,
                synthesized,
            } => Record::Fork {
                pid,
                ppid,
                tid,
                ptid,
                synthesized,
            },
            Record::Exit { pid, tid } => Record::Exit { pid, tid },
            Record::Mmap {
                pid,
                start,
                len,
                pgoff,
                path,
                mode,
                exec,
            } => Record::Mmap {
                pid,
                start,
                len,
                pgoff,
                path,
                mode,
                exec,
            },
            Record::Lost { count } => Record::Lost { count },
            Record::LostSamples { count } => Record::LostSamples { count },
            Record::Cgroup { id, path, at } => Record::Cgroup { id, path, at },
            Record::Namespaces { pid, tid, ns, at } => Record::Namespaces { pid, tid, ns, at },
        })
    }
}

fn lossy(raw: linux_perf_event_reader::RawData) -> String {
    String::from_utf8_lossy(&raw.as_slice()).into_owned()
}

/// Whether any event of the perf.data file at `path` samples user stacks (DWARF call
/// graphs), from its attr section alone. False for pipe input and anything unreadable.
pub fn has_user_stacks(path: &Path) -> bool {
    use std::io::{Seek, SeekFrom};
    let Ok(mut f) = File::open(path) else {
        return false;
    };
    let h = match FileHeader::read(&mut f) {
        Ok(h) if h.is_perf_data() => h,
        _ => return false,
    };
    let (attr_size, off, size) = (h.attr_size, h.attrs.offset, h.attrs.size);
    if attr_size < 32 || size > 1 << 24 || f.seek(SeekFrom::Start(off)).is_err() {
        return false;
    }
    let mut attrs = vec![0u8; size as usize];
    if f.read_exact(&mut attrs).is_err() {
        return false;
    }
    // Each entry: the attr, then its ids section (offset, size).
    attrs.chunks(attr_size as usize).any(|a| {
        a.get(24..32)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_le_bytes)
            .is_some_and(|st| st & crate::abi::sample::STACK_USER != 0)
    })
}

/// Opens the perf.data named by `-i`, with the hint a missing file deserves.
pub fn open_input(path: &Path) -> Result<File> {
    File::open(path).map_err(|e| {
        anyhow!(
            "cannot open {}: {e}{}",
            path.display(),
            if e.kind() == std::io::ErrorKind::NotFound {
                " (record one with `rperf record`, or pass -i FILE)"
            } else {
                ""
            }
        )
    })
}

/// Reads every record of `path` ("-" for stdin in pipe mode) in time order.
pub fn read(path: &Path, mut f: impl FnMut(&Header, Record)) -> Result<Header> {
    let named = || format!("reading {}", path.display());
    if path.as_os_str() == "-" {
        let (framed, cut) = Framed::new(BufReader::new(std::io::stdin().lock()));
        let reader = PerfFileReader::parse_pipe(framed).map_err(|e| explain_pipe(path, e))?;
        let header = drive(path, reader, &mut f).with_context(named)?;
        warn_if_cut(path, &cut);
        return Ok(header);
    }
    let file = open_input(path)?;
    let mut head = [0u8; 16];
    let mut file = file;
    let n = file.read(&mut head).unwrap_or(0);
    use std::io::Seek;
    file.seek(std::io::SeekFrom::Start(0))?;
    let h = FileHeader::parse(&head[..n]);
    if n < 8 || (&h.magic != MAGIC && &h.magic != MAGIC_SWAPPED) {
        return Err(anyhow!(
            "{} is not a perf.data file (it does not start with \"PERFILE2\")",
            path.display()
        ));
    }
    if n >= 16 && h.is_perf_data() && h.is_pipe() {
        let (framed, cut) = Framed::new(BufReader::new(file));
        let reader = PerfFileReader::parse_pipe(framed).map_err(|e| explain_pipe(path, e))?;
        let header = drive(path, reader, &mut f).with_context(named)?;
        warn_if_cut(path, &cut);
        return Ok(header);
    }
    let data = check_sections(path, &mut file)?;
    let reader = PerfFileReader::parse_file(BufReader::with_capacity(1 << 16, file))
        .map_err(|e| explain(path, e))?;
    if !rounds::supported(&reader.perf_file) {
        return drive(path, reader, &mut f).with_context(named);
    }
    let header = header_of(&reader.perf_file);
    let perf_file = &reader.perf_file;
    let parser = rounds::Parser::new(perf_file);
    let produce = |sink: &mut dyn FnMut(Record)| {
        let mut conv = Converter::default();
        rounds::read(path, perf_file, &parser, data, |raw| {
            parser.parse(raw, |attr, rec| match rec {
                rounds::Parsed::Body { format, misc, body } => {
                    if let Some(r) = conv.decode(&header, attr, format, misc, body) {
                        sink(r);
                    }
                }
                rounds::Parsed::Sample(s) => sink(conv.sample(&header, attr, s)),
                rounds::Parsed::Other(raw, r) => {
                    if let Some(r) = conv.convert(&header, attr, raw, r) {
                        sink(r);
                    }
                }
            })
        })
    };
    // With a second CPU the file is read and decoded beside the caller's work.
    if std::thread::available_parallelism().is_ok_and(|n| n.get() > 1) {
        pipeline::run(produce, |r| f(&header, r)).with_context(named)?;
    } else {
        produce(&mut |r| f(&header, r)).with_context(named)?;
    }
    Ok(header)
}

/// perf's warning for a pipe-mode stream that ends inside a record (the records before the
/// cut have been delivered; like perf, this is not an error).
fn warn_if_cut(path: &Path, cut: &std::rc::Rc<std::cell::Cell<bool>>) {
    if cut.get() {
        let what = if path.as_os_str() == "-" {
            "the stream on stdin".to_string()
        } else {
            path.display().to_string()
        };
        eprintln!(
            "Warning: unexpected end of event stream: {what} ends inside a record \
             (cut short; the records before the cut are shown)"
        );
    }
}

/// A pipe-mode stream passed through unchanged while its record framing is followed, so
/// that an end inside a record (a truncated stream) can be told from a clean one: the
/// parser treats both as the end of the stream.
struct Framed<R> {
    inner: R,
    /// Bytes of the current record (or of the 16-byte pipe header) still to come.
    skip: u64,
    /// The next record header (or AUXTRACE size field) being collected.
    head: [u8; 8],
    have: usize,
    /// Collecting an AUXTRACE record's size field (its trace data follows the record).
    aux: bool,
    /// The rest of that AUXTRACE record's body, after its size field.
    skip_after_aux: u64,
    cut: std::rc::Rc<std::cell::Cell<bool>>,
}

impl<R: Read> Framed<R> {
    fn new(inner: R) -> (Framed<R>, std::rc::Rc<std::cell::Cell<bool>>) {
        let cut = std::rc::Rc::new(std::cell::Cell::new(false));
        let framed = Framed {
            inner,
            skip: 16,
            head: [0; 8],
            have: 0,
            aux: false,
            skip_after_aux: 0,
            cut: cut.clone(),
        };
        (framed, cut)
    }

    fn follow(&mut self, mut b: &[u8]) {
        while !b.is_empty() {
            if self.skip > 0 {
                let n = self.skip.min(b.len() as u64);
                self.skip -= n;
                b = &b[n as usize..];
                continue;
            }
            let n = (8 - self.have).min(b.len());
            self.head[self.have..self.have + n].copy_from_slice(&b[..n]);
            self.have += n;
            b = &b[n..];
            if self.have < 8 {
                return;
            }
            self.have = 0;
            if self.aux {
                // The AUXTRACE body's first field is the size of the data after the record.
                self.aux = false;
                let rest = self.skip_after_aux;
                self.skip = rest.saturating_add(u64::from_le_bytes(self.head));
                continue;
            }
            let kind = u32::from_le_bytes([self.head[0], self.head[1], self.head[2], self.head[3]]);
            let size = u64::from(u16::from_le_bytes([self.head[6], self.head[7]]));
            let body = size.saturating_sub(8);
            if kind == crate::abi::kind::AUXTRACE && body >= 8 {
                self.aux = true;
                self.skip_after_aux = body - 8;
            } else {
                self.skip = body;
            }
        }
    }
}

impl<R: Read> Read for Framed<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() && (self.skip > 0 || self.have > 0 || self.aux) {
            self.cut.set(true);
        }
        self.follow(&buf[..n]);
        Ok(n)
    }
}

/// Checks that every section the file header points at lies inside the file, before the
/// parser trusts those sizes (a damaged header could otherwise ask for exabytes).
/// Returns the data section's offset and size.
fn check_sections(path: &Path, file: &mut File) -> Result<(u64, u64)> {
    use std::io::{Seek, SeekFrom};
    let len = file.metadata()?.len();
    let h = FileHeader::read(file).map_err(|_| {
        anyhow!(
            "{} is truncated: shorter than perf.data's 104-byte header",
            path.display()
        )
    })?;
    let damaged = |what: &str| {
        anyhow!(
            "{} is damaged or truncated: its {what} lies beyond the end of the file ({len} bytes)",
            path.display()
        )
    };
    if !h.attrs.inside(len) {
        return Err(damaged("attribute section"));
    }
    if !h.data.inside(len) {
        return Err(damaged("data section"));
    }
    if !h.feature_table().inside(len) {
        return Err(damaged("feature table"));
    }
    if h.read_feature_table(file)?
        .iter()
        .any(|(_, s)| !s.inside(len))
    {
        return Err(damaged("feature section"));
    }
    file.seek(SeekFrom::Start(0))?;
    Ok((h.data.offset, h.data.size))
}

/// [`explain`] for pipe mode: a stream that ends inside its header records is cut short, in
/// perf's words.
fn explain_pipe(path: &Path, e: linux_perf_data::Error) -> anyhow::Error {
    match e {
        linux_perf_data::Error::IoError(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            anyhow!(
                "{} is truncated: unexpected end of event stream",
                path.display()
            )
        }
        e => explain(path, e),
    }
}

fn explain(path: &Path, e: linux_perf_data::Error) -> anyhow::Error {
    match e {
        linux_perf_data::Error::UnrecognizedMagicValue(m) => anyhow!(
            "{} is not a perf.data file (magic {:?}, expected \"PERFILE2\")",
            path.display(),
            String::from_utf8_lossy(&m)
        ),
        // A count or length in a header section that runs past the section's end.
        linux_perf_data::Error::IoError(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            anyhow!(
                "{} is damaged or truncated: a header section ends before the counts and \
                 lengths in it say",
                path.display()
            )
        }
        e => anyhow!("{} is damaged or truncated: {e}", path.display()),
    }
}

/// Events, tracing data and build-ids from the file's attrs and features.
fn header_of(perf_file: &linux_perf_data::PerfFile) -> Header {
    let events = perf_file
        .event_attributes()
        .iter()
        .map(|a| {
            let attr = &a.attr;
            let st = attr.sample_format;
            use linux_perf_event_reader::{AttrFlags, SampleFormat};
            EventInfo {
                name: a
                    .name()
                    .map(String::from)
                    .unwrap_or_else(|| "unknown".into()),
                tracepoint: match attr.type_ {
                    linux_perf_event_reader::PerfEventType::Tracepoint(id) => Some(id),
                    _ => None,
                },
                has_cpu: st.contains(SampleFormat::CPU),
                has_callchain: st.contains(SampleFormat::CALLCHAIN),
                fixed_period: match attr.sampling_policy {
                    linux_perf_event_reader::SamplingPolicy::Period(p)
                        if !attr.flags.contains(AttrFlags::FREQ) =>
                    {
                        Some(p.get())
                    }
                    _ => None,
                },
                freq: match attr.sampling_policy {
                    linux_perf_event_reader::SamplingPolicy::Frequency(f) => Some(f),
                    _ => None,
                },
            }
        })
        .collect();
    Header {
        events,
        tracing_data: perf_file
            .feature_section_data(linux_perf_data::Feature::TRACING_DATA)
            .map(<[u8]>::to_vec),
        sample_time: perf_file
            .feature_section_data(linux_perf_data::Feature::SAMPLE_TIME)
            .and_then(|d| {
                let first = u64::from_le_bytes(d.get(..8)?.try_into().ok()?);
                let last = u64::from_le_bytes(d.get(8..16)?.try_into().ok()?);
                Some((first, last))
            }),
        kernel_build_id: perf_file.build_ids().ok().and_then(|ids| {
            let (_, info) = ids
                .into_iter()
                .find(|(k, _)| matches!(k, linux_perf_data::DsoKey::Kernel))?;
            let mut id = info.build_id;
            if id.len() == 24 && id[20..] == [0; 4] {
                id.truncate(20);
            }
            Some(id)
        }),
        hits: perf_file
            .build_ids()
            .map(|ids| {
                let mut v: Vec<(String, Vec<u8>)> = ids
                    .into_iter()
                    .filter(|(k, _)| matches!(k, linux_perf_data::DsoKey::User { .. }))
                    .map(|(_, mut info)| {
                        // The record keeps 24 bytes for a 20-byte SHA-1 id: drop the padding.
                        if info.build_id.len() == 24 && info.build_id[20..] == [0; 4] {
                            info.build_id.truncate(20);
                        }
                        (
                            String::from_utf8_lossy(&info.path).into_owned(),
                            info.build_id,
                        )
                    })
                    .filter(|(p, _)| p.starts_with('/'))
                    .collect();
                v.sort();
                v
            })
            .unwrap_or_default(),
    }
}

/// Turns parsed records into [`Record`]s, keeping buffers for chains and stacks.
#[derive(Default)]
struct Converter {
    chain: Vec<u64>,
    stack: Vec<u8>,
    index: u64,
}

impl Converter {
    fn convert<'a>(
        &'a mut self,
        header: &Header,
        attr: usize,
        raw: &linux_perf_event_reader::RawEventRecord,
        parsed: &EventRecord<'a>,
    ) -> Option<Record<'a>> {
        Some(match parsed {
            EventRecord::Sample(s) => return Some(self.sample(header, attr, s)),
            EventRecord::Comm(c) => Record::Comm {
                pid: c.pid,
                tid: c.tid,
                name: lossy(c.name),
                exec: c.is_execve,
                at: side_id(raw),
            },
            EventRecord::Fork(r) => Record::Fork {
                pid: r.pid,
                ppid: r.ppid,
                tid: r.tid,
                ptid: r.ptid,
                synthesized: raw.misc & crate::abi::misc::FORK_EXEC != 0,
            },
            EventRecord::Exit(r) => Record::Exit {
                pid: r.pid,
                tid: r.tid,
            },
            EventRecord::Mmap(m) => Record::Mmap {
                pid: m.pid,
                start: m.address,
                len: m.length,
                pgoff: m.page_offset,
                path: lossy(m.path),
                mode: m.cpu_mode.into(),
                exec: m.is_executable,
            },
            EventRecord::Mmap2(m) => Record::Mmap {
                pid: m.pid,
                start: m.address,
                len: m.length,
                pgoff: m.page_offset,
                path: lossy(m.path),
                mode: m.cpu_mode.into(),
                exec: m.protection & libc::PROT_EXEC as u32 != 0,
            },
            EventRecord::Lost(l) => Record::Lost { count: l.count },
            // Not BPF output's own losses, which perf leaves out of the total.
            EventRecord::Raw(r)
                if r.record_type == linux_perf_event_reader::RecordType::LOST_SAMPLES
                    && r.misc & crate::abi::misc::LOST_SAMPLES_BPF == 0 =>
            {
                let mut b = [0u8; 8];
                let mut data = r.data;
                let _ = data.read_exact(&mut b);
                Record::LostSamples {
                    count: u64::from_le_bytes(b),
                }
            }
            EventRecord::Raw(r) if r.record_type.0 == crate::abi::kind::CGROUP => {
                let body = r.data.as_slice();
                let id = u64::from_le_bytes(body.get(..8)?.try_into().ok()?);
                let rest = body.get(8..)?;
                let end = rest.iter().position(|&c| c == 0).unwrap_or(rest.len());
                Record::Cgroup {
                    id,
                    path: String::from_utf8_lossy(&rest[..end]).into_owned(),
                    at: side_id(r),
                }
            }
            EventRecord::Raw(r) if r.record_type.0 == crate::abi::kind::NAMESPACES => {
                let body = r.data.as_slice();
                let word = |o: usize| -> Option<u64> {
                    Some(u64::from_le_bytes(body.get(o..o + 8)?.try_into().ok()?))
                };
                let pid = u32::from_le_bytes(body.get(..4)?.try_into().ok()?) as i32;
                let tid = u32::from_le_bytes(body.get(4..8)?.try_into().ok()?) as i32;
                // Bounded by the bytes there, whatever the count says.
                let n = usize::try_from(word(8)?).ok()?.min(body.len() / 16);
                let ns = (0..n)
                    .map_while(|i| Some((word(16 + 16 * i)?, word(24 + 16 * i)?)))
                    .collect();
                Record::Namespaces {
                    pid,
                    tid,
                    ns,
                    at: side_id(r),
                }
            }
            _ => return None,
        })
    }

    /// Decodes a sample where it lies, laid out by the event's `sample_type` as
    /// perf_event_open(2) describes it, without the general parser (which builds and moves
    /// a large struct per record). `None` when the body is shorter than its layout says.
    /// Only for formats without READ and BRANCH_STACK (see [`fast_format`]).
    fn decode<'a>(
        &'a mut self,
        header: &Header,
        attr: usize,
        (bits, regs_mask): (u64, u64),
        misc: u16,
        body: &'a [u8],
    ) -> Option<Record<'a>> {
        use crate::abi::sample as st;
        let word = |at: usize| -> Option<u64> {
            Some(u64::from_le_bytes(body.get(at..at + 8)?.try_into().ok()?))
        };
        let mut at = 0usize;
        // The fixed part: one word per field present, in this order.
        let mut field = |on: u64| -> Option<Option<u64>> {
            if bits & on == 0 {
                return Some(None);
            }
            at += 8;
            word(at - 8).map(Some)
        };
        field(st::IDENTIFIER)?;
        let ip = field(st::IP)?;
        let tid = field(st::TID)?;
        let time = field(st::TIME)?;
        field(st::ADDR)?;
        field(st::ID)?;
        field(st::STREAM_ID)?;
        let cpu = field(st::CPU)?;
        let period = field(st::PERIOD)?;
        let mut has_chain = false;
        if bits & st::CALLCHAIN != 0 {
            let n = usize::try_from(word(at)?).ok()?;
            let ips = body.get(at + 8..at.checked_add(8)?.checked_add(n.checked_mul(8)?)?)?;
            self.chain.clear();
            self.chain.extend(
                ips.chunks_exact(8)
                    .map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8]))),
            );
            at += 8 + n * 8;
            has_chain = true;
        }
        let mut raw = None;
        if bits & st::RAW != 0 {
            let n = u32::from_le_bytes(body.get(at..at + 4)?.try_into().ok()?) as usize;
            raw = Some(Cow::Borrowed(body.get(at + 4..at + 4 + n)?));
            at += 4 + n;
        }
        let mut user_regs = None;
        if bits & st::REGS_USER != 0 {
            let abi = word(at)?;
            at += 8;
            if abi != 0 {
                let n = regs_mask.count_ones() as usize;
                let regs = body.get(at..at + n * 8)?;
                user_regs = UserRegs::from_mask(regs_mask, |i| {
                    Some(u64::from_le_bytes(
                        regs.get(i * 8..i * 8 + 8)?.try_into().ok()?,
                    ))
                });
                at += n * 8;
            }
        }
        let mut user_stack = None;
        if bits & st::STACK_USER != 0 {
            let n = usize::try_from(word(at)?).ok()?;
            if n != 0 {
                let data = body.get(at + 8..at.checked_add(8)?.checked_add(n)?)?;
                let dyn_size = usize::try_from(word(at + 8 + n)?).ok()?;
                user_stack = Some(&data[..dyn_size.min(n)]).filter(|d| !d.is_empty());
                at = at.checked_add(16)?.checked_add(n)?;
            } else {
                at += 8;
            }
        }
        let cgroup = if bits & st::CGROUP != 0 {
            cgroup_after_stack(bits, body, at)
        } else {
            None
        };
        let weight = if bits & st::WEIGHT != 0 {
            word(at)
        } else if bits & st::WEIGHT_STRUCT != 0 {
            word(at).map(|w| w & 0xffff_ffff)
        } else {
            None
        };
        self.index += 1;
        Some(Record::Sample(Sample {
            index: self.index - 1,
            event: attr,
            pid: tid.map_or(-1, |t| t as u32 as i32),
            tid: tid.map_or(-1, |t| (t >> 32) as u32 as i32),
            time: time.unwrap_or(0),
            cpu: cpu.map(|c| c as u32),
            ip: ip.unwrap_or(0),
            mode: CpuMode::from_misc(misc).into(),
            period: header.period(attr, period),
            callchain: has_chain.then_some(self.chain.as_slice()),
            raw,
            user_regs,
            user_stack,
            cgroup,
            weight,
        }))
    }

    fn sample<'a>(&'a mut self, header: &Header, attr: usize, s: &SampleRecord<'a>) -> Record<'a> {
        let has_chain = match &s.callchain {
            Some(c) => {
                self.chain.clear();
                self.chain.extend((0..c.len()).filter_map(|i| c.get(i)));
                true
            }
            None => false,
        };
        let user_regs = s.user_regs.as_ref().and_then(|r| {
            let mut regs = UserRegs::EMPTY;
            for n in 0..24u32 {
                if let Some(v) = r.get(u64::from(n)) {
                    regs.set(n, v);
                }
            }
            regs.complete()
        });
        // The stack is borrowed where it lies, copied only when the parser's view of it is
        // in two pieces.
        let user_stack: Option<&'a [u8]> = match &s.user_stack {
            Some((data, dyn_size)) => match data.as_slice() {
                Cow::Borrowed(d) => Some(&d[..(*dyn_size as usize).min(d.len())]),
                Cow::Owned(d) => {
                    self.stack.clear();
                    self.stack
                        .extend_from_slice(&d[..(*dyn_size as usize).min(d.len())]);
                    Some(self.stack.as_slice())
                }
            },
            None => None,
        }
        .filter(|d| !d.is_empty());
        self.index += 1;
        Record::Sample(Sample {
            index: self.index - 1,
            event: attr,
            pid: s.pid.unwrap_or(-1),
            tid: s.tid.unwrap_or(-1),
            time: s.timestamp.unwrap_or(0),
            cpu: s.cpu,
            ip: s.ip.unwrap_or(0),
            mode: s.cpu_mode.into(),
            period: header.period(attr, s.period),
            callchain: has_chain.then_some(self.chain.as_slice()),
            raw: s.raw.map(|r| r.as_slice()),
            user_regs,
            user_stack,
            // The general parser (READ, BRANCH_STACK formats) reads neither.
            cgroup: None,
            weight: None,
        })
    }
}

/// The sample_id fields of a side-band record.
fn side_id(r: &linux_perf_event_reader::RawEventRecord) -> SideId {
    let c = r.common_data().unwrap_or_default();
    SideId {
        pid: c.pid.unwrap_or(0),
        tid: c.tid.unwrap_or(0),
        time: c.timestamp.unwrap_or(0),
        cpu: c.cpu,
    }
}

/// The cgroup id of a sample whose fields up to the user stack end at `at`: past weight,
/// data source, transaction and physical address (`None` when interrupt registers, whose
/// count the format does not carry here, lie between).
fn cgroup_after_stack(bits: u64, body: &[u8], mut at: usize) -> Option<u64> {
    use crate::abi::sample as st;
    let word = |at: usize| -> Option<u64> {
        Some(u64::from_le_bytes(body.get(at..at + 8)?.try_into().ok()?))
    };
    for f in [
        st::WEIGHT | st::WEIGHT_STRUCT,
        st::DATA_SRC,
        st::TRANSACTION,
    ] {
        if bits & f != 0 {
            at += 8;
        }
    }
    if bits & st::REGS_INTR != 0 {
        if word(at)? != 0 {
            return None;
        }
        at += 8;
    }
    if bits & st::PHYS_ADDR != 0 {
        at += 8;
    }
    word(at)
}

/// The (sample_type, sample_regs_user) that [`Converter::decode`] takes, or `None` for
/// formats with READ or BRANCH_STACK (variable-sized parts the general parser handles).
fn fast_format(info: &linux_perf_event_reader::RecordParseInfo) -> Option<(u64, u64)> {
    use crate::abi::sample as st;
    let bits = info.sample_format.bits();
    (bits & (st::READ | st::BRANCH_STACK) == 0).then_some((bits, info.sample_regs_user))
}

/// The sample decoders on arbitrary input, for the fuzz targets (see `crate::fuzzing`):
/// `sample_type`, `read_format`, `sample_regs_user` and `branch_sample_type` (8 bytes each,
/// little-endian), `misc` (2 bytes), then the record body. Both the in-place decoder and the
/// general parser run; neither may panic or allocate beyond the body's size.
#[doc(hidden)]
pub fn fuzz_sample(input: &[u8]) {
    use linux_perf_event_reader::{Endianness, PerfEventAttr, RawData, RecordParseInfo};
    let Some((head, body)) = input.split_at_checked(34) else {
        return;
    };
    let word = |i: usize| &head[i * 8..i * 8 + 8];
    let mut raw_attr = [0u8; 128];
    raw_attr[4..8].copy_from_slice(&128u32.to_le_bytes());
    raw_attr[24..32].copy_from_slice(word(0));
    raw_attr[32..40].copy_from_slice(word(1));
    raw_attr[80..88].copy_from_slice(word(2));
    raw_attr[72..80].copy_from_slice(word(3));
    let misc = u16::from_le_bytes([head[32], head[33]]);
    let Ok((attr, _)) = PerfEventAttr::parse::<_, byteorder::LittleEndian>(&raw_attr[..]) else {
        return;
    };
    let info = RecordParseInfo::new(&attr, Endianness::LittleEndian);
    let header = Header {
        events: vec![EventInfo {
            name: "fuzz".into(),
            tracepoint: None,
            has_cpu: true,
            has_callchain: true,
            fixed_period: None,
            freq: None,
        }],
        ..Header::default()
    };
    let mut conv = Converter::default();
    if let Some(format) = fast_format(&info) {
        let _ = conv.decode(&header, 0, format, misc, body);
    }
    if let Ok(s) =
        SampleRecord::parse::<byteorder::LittleEndian>(RawData::Single(body), misc, &info)
    {
        let _ = conv.sample(&header, 0, &s);
    }
}

/// Pipe mode and the files [`rounds`] does not take: linux-perf-data's own reader.
fn drive<R: Read>(
    path: &Path,
    reader: PerfFileReader<R>,
    f: &mut impl FnMut(&Header, Record),
) -> Result<Header> {
    let PerfFileReader {
        mut perf_file,
        mut record_iter,
    } = reader;
    let header = header_of(&perf_file);
    let mut conv = Converter::default();
    loop {
        let rec = match record_iter.next_record(&mut perf_file) {
            Ok(Some(r)) => r,
            Ok(None) => break,
            Err(e) => return Err(anyhow!("{} is damaged or truncated: {e}", path.display())),
        };
        let PerfFileRecord::EventRecord { attr_index, record } = rec else {
            continue;
        };
        // A record that does not parse is skipped, as perf does, rather than ending the read.
        let Some(parsed) = guarded(|| record.parse().ok()) else {
            continue;
        };
        if let Some(r) = conv.convert(&header, attr_index, &record, &parsed) {
            f(&header, r);
        }
    }
    Ok(header)
}

thread_local! {
    static QUIET: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs the third-party record parser so that a panic on damaged input becomes `None` (the
/// record is skipped) instead of ending the process with a backtrace.
fn guarded<T>(parse: impl FnOnce() -> Option<T>) -> Option<T> {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !QUIET.with(std::cell::Cell::get) {
                previous(info);
            }
        }));
    });
    // The record is written in place: moving it out of catch_unwind's result costs a copy
    // of a large struct per record.
    let mut slot = None;
    QUIET.with(|q| q.set(true));
    let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| slot = parse()));
    QUIET.with(|q| q.set(false));
    ok.ok().and(slot)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::abi::sample as st;

    /// A sample body for `bits`, with recognisable values in every field.
    fn body(bits: u64, regs_mask: u64, stack: usize) -> Vec<u8> {
        let mut b = Vec::new();
        let mut w = |v: u64| b.extend_from_slice(&v.to_le_bytes());
        for (on, v) in [
            (st::IDENTIFIER, 77u64),
            (st::IP, 0x40_1234),
            (st::TID, (43u64 << 32) | 42),
            (st::TIME, 123_456_789),
            (st::ADDR, 0xdead),
            (st::ID, 77),
            (st::STREAM_ID, 78),
            (st::CPU, 3),
            (st::PERIOD, 250_000),
        ] {
            if bits & on != 0 {
                w(v);
            }
        }
        if bits & st::CALLCHAIN != 0 {
            w(3);
            w(u64::MAX - 511); // PERF_CONTEXT_USER
            w(0x40_1234);
            w(0x40_5678);
        }
        if bits & st::RAW != 0 {
            // 4 + 12 bytes: 8-aligned, as the kernel pads it.
            b.extend_from_slice(&12u32.to_le_bytes());
            b.extend_from_slice(b"tracepoint!\0");
        }
        let mut w = |v: u64| b.extend_from_slice(&v.to_le_bytes());
        if bits & st::REGS_USER != 0 {
            w(2); // PERF_SAMPLE_REGS_ABI_64
            for r in 0..64u64 {
                if regs_mask & (1 << r) != 0 {
                    w(0x1000 + r);
                }
            }
        }
        if bits & st::STACK_USER != 0 {
            w(stack as u64);
            if stack > 0 {
                b.extend((0..stack).map(|i| i as u8));
                b.extend_from_slice(&(stack as u64 / 2).to_le_bytes());
            }
        }
        b
    }

    #[test]
    fn the_cgroup_id_is_found_past_the_stack_and_the_fields_before_it() {
        let header = Header {
            events: vec![EventInfo {
                name: "e".into(),
                tracepoint: None,
                has_cpu: false,
                has_callchain: true,
                fixed_period: None,
                freq: None,
            }],
            ..Header::default()
        };
        let leaf_regs: u64 = (1 << 6) | (1 << 7) | (1 << 8);
        for (extra, stack) in [
            (0, 0),
            (st::STACK_USER | st::REGS_USER, 64),
            (st::STACK_USER, 0),
            (st::WEIGHT | st::DATA_SRC | st::PHYS_ADDR, 0),
            (st::TRANSACTION | st::STACK_USER, 16),
        ] {
            let bits = st::IP | st::TID | st::TIME | st::CALLCHAIN | st::CGROUP | extra;
            let mut b = body(bits, leaf_regs, stack);
            for f in [st::WEIGHT, st::DATA_SRC, st::TRANSACTION, st::PHYS_ADDR] {
                if bits & f != 0 {
                    b.extend_from_slice(&0xaaaau64.to_le_bytes());
                }
            }
            b.extend_from_slice(&4242u64.to_le_bytes());
            let mut conv = Converter::default();
            let Some(Record::Sample(s)) = conv.decode(&header, 0, (bits, leaf_regs), 2, &b) else {
                panic!("{bits:#x} did not decode");
            };
            assert_eq!(s.cgroup, Some(4242), "{bits:#x}");
            assert_eq!(s.weight, (bits & st::WEIGHT != 0).then_some(0xaaaa));
            // Cut short: no id rather than a read past the end.
            let mut conv = Converter::default();
            if let Some(Record::Sample(s)) =
                conv.decode(&header, 0, (bits, leaf_regs), 2, &b[..b.len() - 4])
            {
                assert_eq!(s.cgroup, None);
            }
        }
    }

    #[test]
    fn decode_agrees_with_the_general_parser() {
        use linux_perf_event_reader::{Endianness, PerfEventAttr};
        let header = Header {
            events: vec![EventInfo {
                name: "e".into(),
                tracepoint: None,
                has_cpu: true,
                has_callchain: true,
                fixed_period: Some(99),
                freq: None,
            }],
            ..Header::default()
        };
        let leaf_regs: u64 = (1 << 6) | (1 << 7) | (1 << 8);
        let formats = [
            st::IP | st::TID | st::TIME | st::PERIOD | st::CALLCHAIN,
            st::IP | st::TID | st::TIME | st::CPU | st::PERIOD | st::CALLCHAIN | st::IDENTIFIER,
            st::IP | st::TID | st::TIME | st::ADDR | st::ID | st::STREAM_ID | st::CPU | st::RAW,
            st::IP | st::TID | st::TIME | st::REGS_USER | st::STACK_USER | st::CALLCHAIN,
            st::TID | st::TIME | st::STACK_USER,
            st::IP,
        ];
        for bits in formats {
            for (regs, stack) in [(leaf_regs, 64), (0xff_ffff, 0), (leaf_regs | 1, 24)] {
                let mut raw_attr = [0u8; 128];
                raw_attr[4..8].copy_from_slice(&128u32.to_le_bytes());
                raw_attr[24..32].copy_from_slice(&bits.to_le_bytes());
                raw_attr[80..88].copy_from_slice(&regs.to_le_bytes());
                raw_attr[88..92].copy_from_slice(&8192u32.to_le_bytes());
                let (attr, _) =
                    PerfEventAttr::parse::<_, byteorder::LittleEndian>(&raw_attr[..]).unwrap();
                let info =
                    linux_perf_event_reader::RecordParseInfo::new(&attr, Endianness::LittleEndian);
                let b = body(bits, regs, stack);
                let format = fast_format(&info).unwrap();
                let mut c1 = Converter::default();
                let fast = format!("{:?}", c1.decode(&header, 0, format, 2, &b));
                let mut c2 = Converter::default();
                let s = SampleRecord::parse::<byteorder::LittleEndian>(
                    linux_perf_event_reader::RawData::Single(&b),
                    2,
                    &info,
                )
                .unwrap_or_else(|e| panic!("{bits:#x} {regs:#x} {stack}: {e}"));
                let general = format!("{:?}", Some(c2.sample(&header, 0, &s)));
                assert_eq!(fast, general, "sample_type {bits:#x} regs {regs:#x}");
                // Cut short anywhere: never a panic, and no sample from a partial body.
                for cut in 0..b.len() {
                    let mut c = Converter::default();
                    let _ = c.decode(&header, 0, format, 2, &b[..cut]);
                }
            }
        }
    }

    /// perf's order: at each FINISHED_ROUND the records up to the previous round's latest
    /// time go out sorted; a record that arrives after its time went out follows later.
    #[test]
    fn rounds_release_records_as_perf_orders_them() {
        use crate::abi::{flag, Attr};
        use crate::data::write::encode::{self, kind, misc};
        use crate::data::write::Writer;
        let dir = std::env::temp_dir().join(format!("rperf-rounds-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let dest = dir.join("r.data");
        let bits = st::IP | st::TID | st::TIME;
        let attr = Attr {
            type_: 1,
            sample_period: 1,
            sample_type: bits,
            flags: flag::SAMPLE_ID_ALL,
            ..Attr::default()
        };
        let sample = |time: u64| {
            let mut r = Vec::new();
            r.extend_from_slice(&kind::SAMPLE.to_le_bytes());
            r.extend_from_slice(&misc::USER.to_le_bytes());
            r.extend_from_slice(&32u16.to_le_bytes());
            for v in [0x1000 + time, (7u64 << 32) | 7, time] {
                r.extend_from_slice(&v.to_le_bytes());
            }
            r
        };
        let mut recs = Vec::new();
        for round in [&[10u64, 30, 20][..], &[25, 40], &[5, 35]] {
            for &t in round {
                recs.extend(sample(t));
            }
            recs.extend(encode::finished_round());
        }
        let mut w = Writer::create(&dest, vec![(attr, vec![1])]).unwrap();
        w.write(&recs).unwrap();
        w.finish(Vec::new()).unwrap();
        let mut times = Vec::new();
        read(&dest, |_, r| {
            if let Record::Sample(s) = r {
                assert_eq!(s.ip, 0x1000 + s.time);
                times.push(s.time);
            }
        })
        .unwrap();
        // Round 1 releases nothing; round 2 everything up to 30; round 3 up to 40 (5 is
        // late: 10..30 went out already); the end the rest.
        assert_eq!(times, [10, 20, 25, 30, 5, 35, 40]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
