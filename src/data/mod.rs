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
use linux_perf_event_reader::{CpuMode, EventRecord};

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
    /// User ip, sp and bp, when user registers were sampled (`--call-graph dwarf`).
    pub user_regs: Option<[u64; 3]>,
    /// The copied user stack (its dynamic size), when sampled.
    pub user_stack: Option<&'a [u8]>,
}

/// The records the session and commands care about.
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
    let mut h = [0u8; 40];
    if f.read_exact(&mut h).is_err() || &h[..8] != b"PERFILE2" {
        return false;
    }
    let u = |o: usize| u64::from_le_bytes(h[o..o + 8].try_into().unwrap_or([0; 8]));
    let (attr_size, off, size) = (u(16), u(24), u(32));
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
            .is_some_and(|st| st & crate::sys::attr::sample::STACK_USER != 0)
    })
}

/// Reads every record of `path` ("-" for stdin in pipe mode) in time order.
pub fn read(path: &Path, mut f: impl FnMut(&Header, Record)) -> Result<Header> {
    let named = || format!("reading {}", path.display());
    if path.as_os_str() == "-" {
        let reader = PerfFileReader::parse_pipe(BufReader::new(std::io::stdin().lock()))
            .map_err(|e| explain(path, e))?;
        return drive(path, reader, &mut f).with_context(named);
    }
    let file = File::open(path).map_err(|e| {
        anyhow!(
            "cannot open {}: {e}{}",
            path.display(),
            if e.kind() == std::io::ErrorKind::NotFound {
                " (record one with `rperf record`, or pass -i FILE)"
            } else {
                ""
            }
        )
    })?;
    let mut head = [0u8; 16];
    let mut file = file;
    let n = file.read(&mut head).unwrap_or(0);
    use std::io::Seek;
    file.seek(std::io::SeekFrom::Start(0))?;
    if n < 8 || (&head[..8] != b"PERFILE2" && &head[..8] != b"2ELIFREP") {
        return Err(anyhow!(
            "{} is not a perf.data file (it does not start with \"PERFILE2\")",
            path.display()
        ));
    }
    if n >= 16
        && &head[..8] == b"PERFILE2"
        && u64::from_le_bytes(head[8..16].try_into().unwrap_or([0; 8])) == 16
    {
        let reader =
            PerfFileReader::parse_pipe(BufReader::new(file)).map_err(|e| explain(path, e))?;
        return drive(path, reader, &mut f).with_context(named);
    }
    check_sections(path, &mut file)?;
    let reader = PerfFileReader::parse_file(BufReader::with_capacity(1 << 20, file))
        .map_err(|e| explain(path, e))?;
    drive(path, reader, &mut f).with_context(named)
}

/// Checks that every section the file header points at lies inside the file, before the
/// parser trusts those sizes (a damaged header could otherwise ask for exabytes).
fn check_sections(path: &Path, file: &mut File) -> Result<()> {
    use std::io::{Seek, SeekFrom};
    let len = file.metadata()?.len();
    let mut h = [0u8; 104];
    file.read_exact(&mut h).map_err(|_| {
        anyhow!(
            "{} is truncated: shorter than perf.data's 104-byte header",
            path.display()
        )
    })?;
    let u = |o: usize| u64::from_le_bytes(h[o..o + 8].try_into().unwrap_or([0; 8]));
    let damaged = |what: &str| {
        anyhow!(
            "{} is damaged or truncated: its {what} lies beyond the end of the file ({len} bytes)",
            path.display()
        )
    };
    let inside = |off: u64, size: u64| off.checked_add(size).is_some_and(|end| end <= len);
    if !inside(u(24), u(32)) {
        return Err(damaged("attribute section"));
    }
    let (data_off, data_size) = (u(40), u(48));
    if !inside(data_off, data_size) {
        return Err(damaged("data section"));
    }
    let nfeat: u64 = (0..4).map(|i| u64::from(u(72 + 8 * i).count_ones())).sum();
    let table = data_off + data_size;
    if nfeat > 0 {
        if !inside(table, nfeat * 16) {
            return Err(damaged("feature table"));
        }
        let mut t = vec![0u8; (nfeat * 16) as usize];
        file.seek(SeekFrom::Start(table))?;
        file.read_exact(&mut t)?;
        for e in t.chunks_exact(16) {
            let off = u64::from_le_bytes(e[..8].try_into().unwrap_or([0; 8]));
            let size = u64::from_le_bytes(e[8..].try_into().unwrap_or([0; 8]));
            if !inside(off, size) {
                return Err(damaged("feature section"));
            }
        }
    }
    file.seek(SeekFrom::Start(0))?;
    Ok(())
}

fn explain(path: &Path, e: linux_perf_data::Error) -> anyhow::Error {
    match e {
        linux_perf_data::Error::UnrecognizedMagicValue(m) => anyhow!(
            "{} is not a perf.data file (magic {:?}, expected \"PERFILE2\")",
            path.display(),
            String::from_utf8_lossy(&m)
        ),
        e => anyhow!("{} is damaged or truncated: {e}", path.display()),
    }
}

fn drive<R: Read>(
    path: &Path,
    reader: PerfFileReader<R>,
    f: &mut impl FnMut(&Header, Record),
) -> Result<Header> {
    let PerfFileReader {
        mut perf_file,
        mut record_iter,
    } = reader;
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
            }
        })
        .collect();
    let header = Header {
        events,
        tracing_data: perf_file
            .feature_section_data(linux_perf_data::Feature::TRACING_DATA)
            .map(<[u8]>::to_vec),
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
    };
    let mut chain_buf: Vec<u64> = Vec::with_capacity(256);
    let mut sample_index = 0u64;
    let mut stack_buf: Vec<u8> = Vec::with_capacity(65536);
    loop {
        let rec = match record_iter.next_record(&mut perf_file) {
            Ok(Some(r)) => r,
            Ok(None) => break,
            Err(e) => return Err(anyhow!("{} is damaged or truncated: {e}", path.display())),
        };
        let PerfFileRecord::EventRecord { attr_index, record } = rec else {
            continue;
        };
        let parsed = match record.parse() {
            Ok(p) => p,
            // A record that does not parse is skipped, as perf does, rather than ending the read.
            Err(_) => continue,
        };
        let out = match parsed {
            EventRecord::Sample(s) => {
                let has_chain = match &s.callchain {
                    Some(c) => {
                        chain_buf.clear();
                        chain_buf.extend((0..c.len()).filter_map(|i| c.get(i)));
                        true
                    }
                    None => false,
                };
                // perf's x86-64 register numbers: BP 6, SP 7, IP 8.
                let user_regs = s
                    .user_regs
                    .as_ref()
                    .and_then(|r| Some([r.get(8)?, r.get(7)?, r.get(6)?]));
                let has_stack = match &s.user_stack {
                    Some((data, dyn_size)) => {
                        stack_buf.clear();
                        let d = data.as_slice();
                        let n = (*dyn_size as usize).min(d.len());
                        stack_buf.extend_from_slice(&d[..n]);
                        n > 0
                    }
                    None => false,
                };
                sample_index += 1;
                Record::Sample(Sample {
                    index: sample_index - 1,
                    event: attr_index,
                    pid: s.pid.unwrap_or(-1),
                    tid: s.tid.unwrap_or(-1),
                    time: s.timestamp.unwrap_or(0),
                    cpu: s.cpu,
                    ip: s.ip.unwrap_or(0),
                    mode: s.cpu_mode.into(),
                    period: s
                        .period
                        .or(header.events.get(attr_index).and_then(|e| e.fixed_period))
                        .unwrap_or(1),
                    callchain: has_chain.then_some(chain_buf.as_slice()),
                    raw: s.raw.map(|r| Cow::Owned(r.as_slice().into_owned())),
                    user_regs,
                    user_stack: has_stack.then_some(stack_buf.as_slice()),
                })
            }
            EventRecord::Comm(c) => Record::Comm {
                pid: c.pid,
                tid: c.tid,
                name: lossy(c.name),
                exec: c.is_execve,
            },
            EventRecord::Fork(r) => Record::Fork {
                pid: r.pid,
                ppid: r.ppid,
                tid: r.tid,
                ptid: r.ptid,
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
            // Not BPF output's own losses (misc bit 15), which perf leaves out of the total.
            EventRecord::Raw(r)
                if r.record_type == linux_perf_event_reader::RecordType::LOST_SAMPLES
                    && r.misc & (1 << 15) == 0 =>
            {
                let mut b = [0u8; 8];
                let mut data = r.data;
                let _ = data.read_exact(&mut b);
                Record::LostSamples {
                    count: u64::from_le_bytes(b),
                }
            }
            _ => continue,
        };
        f(&header, out);
    }
    Ok(header)
}
