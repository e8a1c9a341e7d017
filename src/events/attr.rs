//! The pure builder that turns a parsed event plus a command's options into the
//! perf_event_attr the kernel is asked for (the layout itself is [`crate::abi::Attr`]).
//!
//! Keeping this free of syscalls means every command line's attrs are unit-tested without
//! privileges, in the spirit of perf's `tests/attr`.

use crate::abi::{flag, read_format, sample, Attr, LEAF_REGS_USER, X86_64_REGS_USER};
use crate::events::{Event, EventKind};

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
        assert_eq!(v[5].min_size(), crate::abi::ATTR_SIZE_VER1);
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
