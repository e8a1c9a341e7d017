//! perf_event_attr as a plain struct, and the pure builder that turns a parsed event plus a
//! command's options into the attr the kernel is asked for.
//!
//! Keeping this free of syscalls means every command line's attrs are unit-tested without
//! privileges, in the spirit of perf's `tests/attr`.

use crate::events::{Event, EventKind};

/// Bits of the attr's flag word (uapi `perf_event_attr` bitfield, in kernel order).
pub mod flag {
    /// Start disabled.
    pub const DISABLED: u64 = 1 << 0;
    /// Children inherit the counter.
    pub const INHERIT: u64 = 1 << 1;
    /// Always on the PMU.
    pub const PINNED: u64 = 1 << 2;
    /// Only group on the PMU.
    pub const EXCLUSIVE: u64 = 1 << 3;
    /// Don't count user.
    pub const EXCLUDE_USER: u64 = 1 << 4;
    /// Don't count kernel.
    pub const EXCLUDE_KERNEL: u64 = 1 << 5;
    /// Don't count hypervisor.
    pub const EXCLUDE_HV: u64 = 1 << 6;
    /// Don't count when idle.
    pub const EXCLUDE_IDLE: u64 = 1 << 7;
    /// Emit MMAP records.
    pub const MMAP: u64 = 1 << 8;
    /// Emit COMM records.
    pub const COMM: u64 = 1 << 9;
    /// sample_freq instead of sample_period.
    pub const FREQ: u64 = 1 << 10;
    /// Per-task counts on inherit.
    pub const INHERIT_STAT: u64 = 1 << 11;
    /// Enable on the next exec.
    pub const ENABLE_ON_EXEC: u64 = 1 << 12;
    /// Emit FORK/EXIT records.
    pub const TASK: u64 = 1 << 13;
    /// wakeup_watermark instead of wakeup_events.
    pub const WATERMARK: u64 = 1 << 14;
    /// Shift of the two precise_ip bits.
    pub const PRECISE_SHIFT: u32 = 15;
    /// Emit data MMAP records.
    pub const MMAP_DATA: u64 = 1 << 17;
    /// sample_id trailer on non-sample records.
    pub const SAMPLE_ID_ALL: u64 = 1 << 18;
    /// Don't count the host.
    pub const EXCLUDE_HOST: u64 = 1 << 19;
    /// Don't count guests.
    pub const EXCLUDE_GUEST: u64 = 1 << 20;
    /// No kernel callchain.
    pub const EXCLUDE_CALLCHAIN_KERNEL: u64 = 1 << 21;
    /// No user callchain.
    pub const EXCLUDE_CALLCHAIN_USER: u64 = 1 << 22;
    /// MMAP2 records.
    pub const MMAP2: u64 = 1 << 23;
    /// Flag COMM records caused by exec.
    pub const COMM_EXEC: u64 = 1 << 24;
    /// Use attr.clockid for timestamps.
    pub const USE_CLOCKID: u64 = 1 << 25;
    /// SWITCH records.
    pub const CONTEXT_SWITCH: u64 = 1 << 26;
    /// KSYMBOL records.
    pub const KSYMBOL: u64 = 1 << 29;
    /// BPF_EVENT records.
    pub const BPF_EVENT: u64 = 1 << 30;
}

/// perf_event_attr.read_format bits.
pub mod read_format {
    /// time_enabled follows the value.
    pub const TOTAL_TIME_ENABLED: u64 = 1 << 0;
    /// time_running follows.
    pub const TOTAL_TIME_RUNNING: u64 = 1 << 1;
    /// The event id follows.
    pub const ID: u64 = 1 << 2;
    /// Read the whole group.
    pub const GROUP: u64 = 1 << 3;
    /// The number of samples the event lost follows (Linux 6.0+).
    pub const LOST: u64 = 1 << 4;
}

/// perf_event_attr.sample_type bits.
pub mod sample {
    /// Instruction pointer.
    pub const IP: u64 = 1 << 0;
    /// pid and tid.
    pub const TID: u64 = 1 << 1;
    /// Timestamp.
    pub const TIME: u64 = 1 << 2;
    /// Data address.
    pub const ADDR: u64 = 1 << 3;
    /// Counter values.
    pub const READ: u64 = 1 << 4;
    /// Kernel and user frame-pointer chain.
    pub const CALLCHAIN: u64 = 1 << 5;
    /// Event id.
    pub const ID: u64 = 1 << 6;
    /// CPU number.
    pub const CPU: u64 = 1 << 7;
    /// Period.
    pub const PERIOD: u64 = 1 << 8;
    /// Stream id.
    pub const STREAM_ID: u64 = 1 << 9;
    /// Tracepoint raw data.
    pub const RAW: u64 = 1 << 10;
    /// Branch stack.
    pub const BRANCH_STACK: u64 = 1 << 11;
    /// User registers.
    pub const REGS_USER: u64 = 1 << 12;
    /// User stack bytes.
    pub const STACK_USER: u64 = 1 << 13;
    /// Id at a fixed position (first in samples, last in sample_id trailers).
    pub const IDENTIFIER: u64 = 1 << 16;
}

/// x86-64 user registers perf samples for DWARF unwinding: AX..FLAGS, CS, SS (bits 0-11)
/// and R8..R15 (bits 16-23), perf's PERF_REGS_MASK.
pub const X86_64_REGS_USER: u64 = 0xff0fff;

/// The user registers `-g` samples to find a frameless leaf's caller: bp, sp and ip.
pub const LEAF_REGS_USER: u64 = (1 << 6) | (1 << 7) | (1 << 8);

/// Bytes of user stack `-g` samples by default for the leaf's caller (see
/// `record::leaf`); a leaf's return address sits within its own small frame.
pub const DEFAULT_LEAF_STACK: u32 = 256;

/// How call chains are recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CallGraph {
    /// No call chains.
    #[default]
    None,
    /// Kernel-walked frame pointers (`-g`, `--call-graph fp`).
    Fp,
    /// Registers and this many bytes of user stack, unwound offline (`--call-graph dwarf`).
    Dwarf(u32),
}

/// How a sampling command (record) opens an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SamplingOptions {
    /// `-F`: samples per second (freq mode).
    pub freq: Option<u64>,
    /// `-c`: events per sample; wins over `freq`.
    pub period: Option<u64>,
    /// Call chain mode.
    pub call_graph: CallGraph,
    /// System-wide or `-C`: samples carry the CPU.
    pub cpu_wide: bool,
    /// More than one event: samples carry an id to find their attr.
    pub with_id: bool,
    /// Follow children (command and -p targets).
    pub inherit: bool,
    /// The workload is forked by us.
    pub enable_on_exec: bool,
    /// This event carries the side-band records (mmap, comm, fork/exit).
    pub tracking: bool,
    /// With frame-pointer chains: also sample bp/sp/ip and this many bytes of user stack
    /// so the recorder can put back a frameless leaf's caller (0: off).
    pub leaf_stack: u32,
    /// `-R`: raw data, time and CPU in every sample, as perf's --raw-samples.
    pub raw_samples: bool,
}

/// Attr sizes the kernel knows (PERF_ATTR_SIZE_VER0..7).
pub const ATTR_SIZE_VER0: u32 = 64;
/// VER1 adds config2 (bp_len).
pub const ATTR_SIZE_VER1: u32 = 72;
/// VER7 adds sig_data; perf 6.1 knows no larger size.
pub const ATTR_SIZE_VER7: u32 = 128;

/// perf_event_attr in plain fields. Serialized with [`Attr::to_bytes`] in kernel layout.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Attr {
    /// PERF_TYPE_*.
    pub type_: u32,
    /// Event config.
    pub config: u64,
    /// sample_period, or sample_freq when [`flag::FREQ`] is set.
    pub sample_period: u64,
    /// PERF_SAMPLE_* bits.
    pub sample_type: u64,
    /// PERF_FORMAT_* bits.
    pub read_format: u64,
    /// The bitfield word ([`flag`]).
    pub flags: u64,
    /// wakeup_events or wakeup_watermark.
    pub wakeup_events: u32,
    /// Breakpoint type.
    pub bp_type: u32,
    /// config1 (bp_addr for breakpoints).
    pub config1: u64,
    /// config2 (bp_len for breakpoints).
    pub config2: u64,
    /// Branch sampling filter.
    pub branch_sample_type: u64,
    /// Registers sampled in user space.
    pub sample_regs_user: u64,
    /// Bytes of user stack per sample.
    pub sample_stack_user: u32,
    /// Clock for timestamps.
    pub clockid: i32,
    /// Registers sampled at interrupt.
    pub sample_regs_intr: u64,
    /// AUX watermark.
    pub aux_watermark: u32,
    /// Callchain depth limit.
    pub sample_max_stack: u16,
}

impl Attr {
    /// Whether a flag bit is set.
    pub fn has(&self, f: u64) -> bool {
        self.flags & f != 0
    }

    /// precise_ip (0..=3).
    pub fn precise_ip(&self) -> u8 {
        ((self.flags >> flag::PRECISE_SHIFT) & 3) as u8
    }

    /// The smallest PERF_ATTR_SIZE_VER* that holds every field set.
    pub fn min_size(&self) -> u32 {
        if self.aux_watermark != 0 || self.sample_max_stack != 0 {
            112
        } else if self.sample_regs_intr != 0 {
            104
        } else if self.sample_regs_user != 0 || self.sample_stack_user != 0 || self.clockid != 0 {
            96
        } else if self.branch_sample_type != 0 {
            80
        } else if self.config2 != 0 {
            ATTR_SIZE_VER1
        } else {
            ATTR_SIZE_VER0
        }
    }

    /// Reads an attr in the kernel layout (as perf.data stores it), any size from VER0 on;
    /// fields past `b`'s end stay zero. None when shorter than VER0.
    pub fn from_bytes(b: &[u8]) -> Option<Attr> {
        if b.len() < ATTR_SIZE_VER0 as usize {
            return None;
        }
        let mut full = [0u8; 112];
        let n = b.len().min(full.len());
        full[..n].copy_from_slice(&b[..n]);
        let u32_at = |o: usize| u32::from_ne_bytes(full[o..o + 4].try_into().unwrap_or([0; 4]));
        let u64_at = |o: usize| u64::from_ne_bytes(full[o..o + 8].try_into().unwrap_or([0; 8]));
        Some(Attr {
            type_: u32_at(0),
            config: u64_at(8),
            sample_period: u64_at(16),
            sample_type: u64_at(24),
            read_format: u64_at(32),
            flags: u64_at(40),
            wakeup_events: u32_at(48),
            bp_type: u32_at(52),
            config1: u64_at(56),
            config2: u64_at(64),
            branch_sample_type: u64_at(72),
            sample_regs_user: u64_at(80),
            sample_stack_user: u32_at(88),
            clockid: u32_at(92) as i32,
            sample_regs_intr: u64_at(96),
            aux_watermark: u32_at(104),
            sample_max_stack: u16::from_ne_bytes([full[108], full[109]]),
        })
    }

    /// The attr in the kernel's byte layout, `size` bytes long (at least 64), with the size
    /// field set to `size`.
    pub fn to_bytes(&self, size: u32) -> Vec<u8> {
        let mut b = vec![0u8; (size.max(ATTR_SIZE_VER7)) as usize];
        let put32 =
            |b: &mut [u8], at: usize, v: u32| b[at..at + 4].copy_from_slice(&v.to_ne_bytes());
        let put64 =
            |b: &mut [u8], at: usize, v: u64| b[at..at + 8].copy_from_slice(&v.to_ne_bytes());
        put32(&mut b, 0, self.type_);
        put32(&mut b, 4, size);
        put64(&mut b, 8, self.config);
        put64(&mut b, 16, self.sample_period);
        put64(&mut b, 24, self.sample_type);
        put64(&mut b, 32, self.read_format);
        put64(&mut b, 40, self.flags);
        put32(&mut b, 48, self.wakeup_events);
        put32(&mut b, 52, self.bp_type);
        put64(&mut b, 56, self.config1);
        put64(&mut b, 64, self.config2);
        put64(&mut b, 72, self.branch_sample_type);
        put64(&mut b, 80, self.sample_regs_user);
        put32(&mut b, 88, self.sample_stack_user);
        put32(&mut b, 92, self.clockid as u32);
        put64(&mut b, 96, self.sample_regs_intr);
        put32(&mut b, 104, self.aux_watermark);
        b[108..110].copy_from_slice(&self.sample_max_stack.to_ne_bytes());
        b.truncate(size as usize);
        b
    }
}

/// How a counting command (stat) opens its events.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CountingOptions {
    /// Counters follow children (perf's default; `--no-inherit` clears it).
    pub inherit: bool,
    /// The workload is forked by us: leaders start disabled and enable on exec.
    pub enable_on_exec: bool,
}

/// Builds the attr `perf stat` would open for `ev`. `is_leader` is true for an event that
/// leads its group (every event outside a group leads itself).
pub fn counting_attr(ev: &Event, is_leader: bool, opts: CountingOptions) -> Option<Attr> {
    let (type_, cfg) = ev.kind.type_config()?;
    let mut a = Attr {
        type_,
        config: cfg[0],
        config1: cfg[1],
        config2: cfg[2],
        read_format: read_format::TOTAL_TIME_ENABLED | read_format::TOTAL_TIME_RUNNING,
        ..Attr::default()
    };
    if let EventKind::Breakpoint { addr, len, bp_type } = ev.kind {
        a.bp_type = bp_type;
        a.config1 = addr;
        a.config2 = len;
    }
    apply_modifiers(&mut a, ev);
    if opts.inherit {
        a.flags |= flag::INHERIT;
    }
    // Members follow their leader: only leaders are disabled and woken by exec.
    if is_leader {
        a.flags |= flag::DISABLED;
        if opts.enable_on_exec {
            a.flags |= flag::ENABLE_ON_EXEC;
        }
    }
    Some(a)
}

/// Builds the attr `perf record` would open for `ev`.
pub fn sampling_attr(ev: &Event, opts: SamplingOptions) -> Option<Attr> {
    let (type_, cfg) = ev.kind.type_config()?;
    let mut a = Attr {
        type_,
        config: cfg[0],
        config1: cfg[1],
        config2: cfg[2],
        sample_type: sample::IP | sample::TID | sample::TIME,
        flags: flag::DISABLED | flag::SAMPLE_ID_ALL,
        ..Attr::default()
    };
    if let EventKind::Breakpoint { addr, len, bp_type } = ev.kind {
        a.bp_type = bp_type;
        a.config1 = addr;
        a.config2 = len;
    }
    apply_modifiers(&mut a, ev);
    // Event terms (`period=`, `freq=`) win over the command line, as in perf.
    match (ev.period.or(opts.period), ev.freq.or(opts.freq)) {
        (Some(p), _) if ev.period.is_some() || ev.freq.is_none() => a.sample_period = p,
        (_, Some(f)) => {
            a.sample_period = f;
            a.flags |= flag::FREQ;
            // Only in frequency mode does each sample's weight vary. With a fixed period the
            // kernel treats PERIOD as "sample every software event, weight nr" instead.
            a.sample_type |= sample::PERIOD;
        }
        _ => a.sample_period = 1,
    }
    if matches!(ev.kind, EventKind::Tracepoint { .. }) {
        // perf's tracepoint events carry their raw record, the CPU and the period in every
        // sample, per task or not (script shows the `[cpu]` column for them).
        a.sample_type |= sample::RAW | sample::CPU | sample::PERIOD;
        if opts.period.is_none() && ev.period.is_none() {
            // perf samples every tracepoint hit unless told otherwise.
            a.sample_period = 1;
            a.flags &= !flag::FREQ;
        }
    }
    if opts.cpu_wide {
        a.sample_type |= sample::CPU;
    }
    if opts.raw_samples {
        a.sample_type |= sample::RAW | sample::TIME | sample::CPU;
    }
    if opts.with_id {
        a.sample_type |= sample::IDENTIFIER;
        a.read_format |= read_format::ID;
    }
    // As perf: the count of samples the kernel could not write can be read at the end.
    a.read_format |= read_format::LOST;
    match opts.call_graph {
        CallGraph::None => {}
        CallGraph::Fp => {
            a.sample_type |= sample::CALLCHAIN;
            if opts.leaf_stack > 0 {
                a.sample_type |= sample::REGS_USER | sample::STACK_USER;
                a.sample_regs_user = LEAF_REGS_USER;
                a.sample_stack_user = opts.leaf_stack;
            }
        }
        CallGraph::Dwarf(size) => {
            a.sample_type |= sample::CALLCHAIN | sample::REGS_USER | sample::STACK_USER;
            a.sample_regs_user = X86_64_REGS_USER;
            a.sample_stack_user = size;
            // The user part comes from unwinding the copied stack, not from frame pointers.
            a.flags |= flag::EXCLUDE_CALLCHAIN_USER;
        }
    }
    if opts.inherit {
        a.flags |= flag::INHERIT;
    }
    if opts.enable_on_exec {
        a.flags |= flag::ENABLE_ON_EXEC;
    }
    if opts.tracking {
        a.flags |= flag::MMAP | flag::MMAP2 | flag::COMM | flag::COMM_EXEC | flag::TASK;
        if matches!(opts.call_graph, CallGraph::Dwarf(_)) {
            // perf's unwinders look up stack and data addresses in the maps: record them too.
            a.flags |= flag::MMAP_DATA;
        }
    }
    Some(a)
}

/// The attr as written to perf.data. Frame-pointer events that sampled registers and stack
/// for the leaf's caller are written without them: the recorder consumed and dropped them,
/// and a file that announced them would make perf unwind it as a DWARF recording.
pub fn file_attr(a: &Attr) -> Attr {
    let mut f = *a;
    let fp_with_leaf = a.sample_type & sample::CALLCHAIN != 0
        && a.sample_type & sample::REGS_USER != 0
        && a.flags & flag::EXCLUDE_CALLCHAIN_USER == 0;
    if fp_with_leaf {
        f.sample_type &= !(sample::REGS_USER | sample::STACK_USER);
        f.sample_regs_user = 0;
        f.sample_stack_user = 0;
    }
    f
}

/// Sets the exclude/precise/pinned bits an event's modifiers ask for.
pub fn apply_modifiers(a: &mut Attr, ev: &Event) {
    let m = &ev.mods;
    let bits = [
        (m.exclude_user, flag::EXCLUDE_USER),
        (m.exclude_kernel, flag::EXCLUDE_KERNEL),
        (m.exclude_hv, flag::EXCLUDE_HV),
        (m.exclude_idle, flag::EXCLUDE_IDLE),
        (m.exclude_host, flag::EXCLUDE_HOST),
        (m.exclude_guest, flag::EXCLUDE_GUEST),
        (m.pinned, flag::PINNED),
        (m.exclusive, flag::EXCLUSIVE),
    ];
    for (on, bit) in bits {
        if on {
            a.flags |= bit;
        }
    }
    a.flags |= u64::from(m.precise.min(3)) << flag::PRECISE_SHIFT;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attrs_round_trip_through_bytes() {
        let a = Attr {
            type_: 2,
            config: 0x1234,
            sample_period: 4000,
            sample_type: sample::IP | sample::TID | sample::CALLCHAIN,
            read_format: read_format::ID,
            flags: flag::DISABLED | flag::FREQ,
            wakeup_events: 3,
            bp_type: 1,
            config1: 7,
            config2: 8,
            branch_sample_type: 9,
            sample_regs_user: LEAF_REGS_USER,
            sample_stack_user: 256,
            clockid: -1,
            sample_regs_intr: 5,
            aux_watermark: 6,
            sample_max_stack: 127,
        };
        assert_eq!(Attr::from_bytes(&a.to_bytes(ATTR_SIZE_VER7)), Some(a));
        // An old, short attr: later fields read as zero.
        let short = Attr::from_bytes(&a.to_bytes(ATTR_SIZE_VER0)).unwrap();
        assert_eq!((short.config, short.config2), (0x1234, 0));
        assert_eq!(Attr::from_bytes(&[0u8; 10]), None);
    }
    use crate::events::{parse_all, source::FakeSource};

    fn attrs(spec: &str, opts: CountingOptions) -> Vec<Attr> {
        let evs = parse_all(&[spec.to_string()], &FakeSource).unwrap();
        evs.iter()
            .enumerate()
            .map(|(i, e)| counting_attr(e, e.leader.is_none_or(|l| l == i), opts).unwrap())
            .collect()
    }

    const CMD: CountingOptions = CountingOptions {
        inherit: true,
        enable_on_exec: true,
    };
    const SYSWIDE: CountingOptions = CountingOptions {
        inherit: true,
        enable_on_exec: false,
    };

    #[test]
    fn stat_cycles_u_for_a_command() {
        // rperf stat -e cycles:u -- cmd
        let a = attrs("cycles:u", CMD)[0];
        assert_eq!((a.type_, a.config), (0, 0));
        assert_eq!(a.read_format, 3);
        assert!(a.has(flag::DISABLED) && a.has(flag::INHERIT) && a.has(flag::ENABLE_ON_EXEC));
        assert!(a.has(flag::EXCLUDE_KERNEL) && a.has(flag::EXCLUDE_HV));
        assert!(!a.has(flag::EXCLUDE_USER));
        assert_eq!(a.sample_period, 0);
    }

    #[test]
    fn stat_system_wide_does_not_enable_on_exec() {
        // rperf stat -a -e cs
        let a = attrs("cs", SYSWIDE)[0];
        assert_eq!((a.type_, a.config), (1, 3));
        assert!(a.has(flag::DISABLED));
        assert!(!a.has(flag::ENABLE_ON_EXEC));
    }

    #[test]
    fn group_members_are_not_disabled() {
        // rperf stat -e '{task-clock,page-faults}' -- cmd
        let v = attrs("{task-clock,page-faults}", CMD);
        assert!(v[0].has(flag::DISABLED) && v[0].has(flag::ENABLE_ON_EXEC));
        assert!(!v[1].has(flag::DISABLED) && !v[1].has(flag::ENABLE_ON_EXEC));
        assert_eq!((v[1].type_, v[1].config), (1, 2));
    }

    #[test]
    fn precise_cache_raw_pmu_tracepoint_breakpoint() {
        let v = attrs(
            "cycles:pp,LLC-load-misses,r1a2,cpu/event=0x3c,umask=1/,sched:sched_switch,mem:0x1000/8:w",
            CMD,
        );
        assert_eq!(v[0].precise_ip(), 2);
        assert!(v[0].has(flag::EXCLUDE_GUEST));
        assert_eq!((v[1].type_, v[1].config), (3, 2 | (1 << 16)));
        assert_eq!((v[2].type_, v[2].config), (4, 0x1a2));
        assert_eq!((v[3].type_, v[3].config), (4, 0x13c));
        assert_eq!((v[4].type_, v[4].config), (2, 316));
        assert_eq!(
            (v[5].type_, v[5].bp_type, v[5].config1, v[5].config2),
            (5, 2, 0x1000, 8)
        );
        assert_eq!(v[5].min_size(), ATTR_SIZE_VER1);
    }

    #[test]
    fn bytes_follow_kernel_layout() {
        let a = Attr {
            type_: 1,
            config: 3,
            sample_period: 4000,
            flags: flag::DISABLED | flag::FREQ,
            sample_stack_user: 8192,
            sample_max_stack: 127,
            ..Attr::default()
        };
        let b = a.to_bytes(ATTR_SIZE_VER7);
        assert_eq!(b.len(), 128);
        assert_eq!(u32::from_ne_bytes(b[4..8].try_into().unwrap()), 128);
        assert_eq!(u64::from_ne_bytes(b[16..24].try_into().unwrap()), 4000);
        assert_eq!(
            u64::from_ne_bytes(b[40..48].try_into().unwrap()),
            1 | 1 << 10
        );
        assert_eq!(u32::from_ne_bytes(b[88..92].try_into().unwrap()), 8192);
        assert_eq!(u16::from_ne_bytes(b[108..110].try_into().unwrap()), 127);
        assert_eq!(a.min_size(), 112);
        assert_eq!(a.to_bytes(64).len(), 64);
    }

    fn sampling(spec: &str, opts: SamplingOptions) -> Attr {
        let evs = parse_all(&[spec.to_string()], &FakeSource).unwrap();
        sampling_attr(&evs[0], opts).unwrap()
    }

    #[test]
    fn record_default_frequency_for_a_command() {
        // rperf record -F 4000 -- cmd
        let a = sampling(
            "cpu-clock",
            SamplingOptions {
                freq: Some(4000),
                inherit: true,
                enable_on_exec: true,
                tracking: true,
                ..SamplingOptions::default()
            },
        );
        assert_eq!((a.type_, a.config), (1, 0));
        assert_eq!(
            a.sample_type,
            sample::IP | sample::TID | sample::TIME | sample::PERIOD
        );
        assert!(a.has(flag::FREQ) && a.sample_period == 4000);
        assert!(
            a.has(flag::MMAP2) && a.has(flag::COMM) && a.has(flag::COMM_EXEC) && a.has(flag::TASK)
        );
        assert!(a.has(flag::SAMPLE_ID_ALL) && a.has(flag::ENABLE_ON_EXEC) && a.has(flag::INHERIT));
    }

    #[test]
    fn record_system_wide_fp_and_dwarf_chains() {
        // rperf record -a -g -c 10000 -e cpu-clock,page-faults
        let a = sampling(
            "cpu-clock",
            SamplingOptions {
                period: Some(10000),
                call_graph: CallGraph::Fp,
                cpu_wide: true,
                with_id: true,
                ..SamplingOptions::default()
            },
        );
        assert!(!a.has(flag::FREQ));
        assert_eq!(a.sample_period, 10000);
        assert_eq!(
            a.sample_type & sample::PERIOD,
            0,
            "fixed periods carry no PERIOD"
        );
        assert_eq!(
            a.sample_type & (sample::CPU | sample::CALLCHAIN | sample::IDENTIFIER),
            sample::CPU | sample::CALLCHAIN | sample::IDENTIFIER
        );
        assert!(
            !a.has(flag::MMAP2),
            "only the tracking event asks for side-band records"
        );
        // --call-graph dwarf,4096
        let d = sampling(
            "cpu-clock",
            SamplingOptions {
                freq: Some(99),
                call_graph: CallGraph::Dwarf(4096),
                ..SamplingOptions::default()
            },
        );
        assert_eq!(d.sample_regs_user, X86_64_REGS_USER);
        assert_eq!(d.sample_stack_user, 4096);
        assert!(d.sample_type & sample::STACK_USER != 0 && d.has(flag::EXCLUDE_CALLCHAIN_USER));
        assert_eq!(d.min_size(), 96);
    }

    #[test]
    fn record_tracepoints_sample_every_hit() {
        let a = sampling(
            "sched:sched_switch",
            SamplingOptions {
                freq: Some(4000),
                ..SamplingOptions::default()
            },
        );
        assert_eq!((a.type_, a.config, a.sample_period), (2, 316, 1));
        assert!(!a.has(flag::FREQ));
        let want = sample::RAW | sample::CPU | sample::PERIOD;
        assert_eq!(
            a.sample_type & want,
            want,
            "perf's tracepoint sample layout"
        );
        let p = sampling(
            "cycles:u",
            SamplingOptions {
                period: Some(5),
                ..SamplingOptions::default()
            },
        );
        assert!(p.has(flag::EXCLUDE_KERNEL));
        assert_eq!(p.sample_period, 5);
    }

    #[test]
    fn tool_events_open_nothing() {
        let evs = parse_all(&["duration_time".to_string()], &FakeSource).unwrap();
        assert!(counting_attr(&evs[0], true, CMD).is_none());
    }
}
