//! The perf ABI in one place: the `perf_event_attr` layout and its bits, the PERF_RECORD_*
//! types and header.misc bits, the PERF_CONTEXT_* call chain markers, and the perf.data
//! file's own numbers (magic, header, feature bits, the records only perf.data carries).
//!
//! The numbers the kernel's uapi header defines come from perf-event-open-sys's bindings;
//! the attr's flag bits (a bitfield there, with no constants) and perf.data's numbers (from
//! perf's `util/header.h` and `util/event.h`) are spelled out here. Plain data only: no
//! system calls, and nothing of rperf above it.

use perf_event_open_sys::bindings as b;

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
    /// NAMESPACES records (a task's namespaces at fork and exec).
    pub const NAMESPACES: u64 = 1 << 28;
    /// KSYMBOL records.
    pub const KSYMBOL: u64 = 1 << 29;
    /// BPF_EVENT records.
    pub const BPF_EVENT: u64 = 1 << 30;
    /// CGROUP records (a cgroup's id and path when it is made).
    pub const CGROUP: u64 = 1 << 32;
}

/// perf_event_attr.read_format bits.
pub mod read_format {
    use super::b;

    /// time_enabled follows the value.
    pub const TOTAL_TIME_ENABLED: u64 = b::PERF_FORMAT_TOTAL_TIME_ENABLED as u64;
    /// time_running follows.
    pub const TOTAL_TIME_RUNNING: u64 = b::PERF_FORMAT_TOTAL_TIME_RUNNING as u64;
    /// The event id follows.
    pub const ID: u64 = b::PERF_FORMAT_ID as u64;
    /// Read the whole group.
    pub const GROUP: u64 = b::PERF_FORMAT_GROUP as u64;
    /// The number of samples the event lost follows (Linux 6.0+).
    pub const LOST: u64 = b::PERF_FORMAT_LOST as u64;
}

/// perf_event_attr.sample_type bits.
pub mod sample {
    use super::b;

    /// Instruction pointer.
    pub const IP: u64 = b::PERF_SAMPLE_IP as u64;
    /// pid and tid.
    pub const TID: u64 = b::PERF_SAMPLE_TID as u64;
    /// Timestamp.
    pub const TIME: u64 = b::PERF_SAMPLE_TIME as u64;
    /// Data address.
    pub const ADDR: u64 = b::PERF_SAMPLE_ADDR as u64;
    /// Counter values.
    pub const READ: u64 = b::PERF_SAMPLE_READ as u64;
    /// Kernel and user frame-pointer chain.
    pub const CALLCHAIN: u64 = b::PERF_SAMPLE_CALLCHAIN as u64;
    /// Event id.
    pub const ID: u64 = b::PERF_SAMPLE_ID as u64;
    /// CPU number.
    pub const CPU: u64 = b::PERF_SAMPLE_CPU as u64;
    /// Period.
    pub const PERIOD: u64 = b::PERF_SAMPLE_PERIOD as u64;
    /// Stream id.
    pub const STREAM_ID: u64 = b::PERF_SAMPLE_STREAM_ID as u64;
    /// Tracepoint raw data.
    pub const RAW: u64 = b::PERF_SAMPLE_RAW as u64;
    /// Branch stack.
    pub const BRANCH_STACK: u64 = b::PERF_SAMPLE_BRANCH_STACK as u64;
    /// User registers.
    pub const REGS_USER: u64 = b::PERF_SAMPLE_REGS_USER as u64;
    /// User stack bytes.
    pub const STACK_USER: u64 = b::PERF_SAMPLE_STACK_USER as u64;
    /// Id at a fixed position (first in samples, last in sample_id trailers).
    pub const IDENTIFIER: u64 = b::PERF_SAMPLE_IDENTIFIER as u64;
    /// Weight (one word).
    pub const WEIGHT: u64 = b::PERF_SAMPLE_WEIGHT as u64;
    /// Weight as a struct (one word too).
    pub const WEIGHT_STRUCT: u64 = b::PERF_SAMPLE_WEIGHT_STRUCT as u64;
    /// Data source.
    pub const DATA_SRC: u64 = b::PERF_SAMPLE_DATA_SRC as u64;
    /// Transaction.
    pub const TRANSACTION: u64 = b::PERF_SAMPLE_TRANSACTION as u64;
    /// Interrupt-time registers.
    pub const REGS_INTR: u64 = b::PERF_SAMPLE_REGS_INTR as u64;
    /// Physical data address.
    pub const PHYS_ADDR: u64 = b::PERF_SAMPLE_PHYS_ADDR as u64;
    /// The task's cgroup id (cgroup v2's), after PHYS_ADDR.
    pub const CGROUP: u64 = b::PERF_SAMPLE_CGROUP as u64;
}

/// x86-64 user registers perf samples for DWARF unwinding: AX..FLAGS, CS, SS (bits 0-11)
/// and R8..R15 (bits 16-23), perf's PERF_REGS_MASK.
pub const X86_64_REGS_USER: u64 = 0xff0fff;

/// The user registers `-g` samples to find a frameless leaf's caller: bp, sp and ip.
pub const LEAF_REGS_USER: u64 = (1 << 6) | (1 << 7) | (1 << 8);

/// Attr sizes the kernel knows (PERF_ATTR_SIZE_VER0..7).
pub const ATTR_SIZE_VER0: u32 = b::PERF_ATTR_SIZE_VER0;
/// VER1 adds config2 (bp_len).
pub const ATTR_SIZE_VER1: u32 = b::PERF_ATTR_SIZE_VER1;
/// VER7 adds sig_data; perf 6.1 knows no larger size.
pub const ATTR_SIZE_VER7: u32 = b::PERF_ATTR_SIZE_VER7;

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

/// PERF_RECORD_* types: the kernel's, then the ones only perf.data carries (perf's
/// `enum perf_user_event_type`).
pub mod kind {
    use super::b;

    /// mmap of the kernel or a module.
    pub const MMAP: u32 = b::PERF_RECORD_MMAP;
    /// Lost records.
    pub const LOST: u32 = b::PERF_RECORD_LOST;
    /// Command name.
    pub const COMM: u32 = b::PERF_RECORD_COMM;
    /// Thread exit.
    pub const EXIT: u32 = b::PERF_RECORD_EXIT;
    /// Sampling throttled by the kernel.
    pub const THROTTLE: u32 = b::PERF_RECORD_THROTTLE;
    /// New thread or process.
    pub const FORK: u32 = b::PERF_RECORD_FORK;
    /// A sample.
    pub const SAMPLE: u32 = b::PERF_RECORD_SAMPLE;
    /// mmap with device and inode.
    pub const MMAP2: u32 = b::PERF_RECORD_MMAP2;
    /// Samples lost in the kernel (not ring overflow).
    pub const LOST_SAMPLES: u32 = b::PERF_RECORD_LOST_SAMPLES;
    /// A kernel symbol (BPF program, trampoline) appeared or went.
    pub const KSYMBOL: u32 = b::PERF_RECORD_KSYMBOL;
    /// A BPF program was loaded or unloaded.
    pub const BPF_EVENT: u32 = b::PERF_RECORD_BPF_EVENT;
    /// A context switch of a task event's task (attr.context_switch).
    pub const SWITCH: u32 = b::PERF_RECORD_SWITCH;
    /// A context switch on a CPU-wide event's CPU (attr.context_switch).
    pub const SWITCH_CPU_WIDE: u32 = b::PERF_RECORD_SWITCH_CPU_WIDE;
    /// A task's namespaces: pid, tid, then (dev, inode) per namespace.
    pub const NAMESPACES: u32 = b::PERF_RECORD_NAMESPACES;
    /// A cgroup's id and path.
    pub const CGROUP: u32 = b::PERF_RECORD_CGROUP;
    /// Pipe mode: an attr and its ids.
    pub const HEADER_ATTR: u32 = 64;
    /// Pipe mode: tracing data follows the record.
    pub const HEADER_TRACING_DATA: u32 = 66;
    /// Everything before this may be sorted and flushed.
    pub const FINISHED_ROUND: u32 = 68;
    /// Each sample id's event index, CPU and thread.
    pub const ID_INDEX: u32 = 69;
    /// AUX area data; its payload follows the record, outside the record's size.
    pub const AUXTRACE: u32 = 71;
    /// The threads recorded.
    pub const THREAD_MAP: u32 = 73;
    /// The CPUs recorded.
    pub const CPU_MAP: u32 = 74;
    /// An event's unit, scale, name or CPUs.
    pub const EVENT_UPDATE: u32 = 78;
    /// Pipe mode: a feature section.
    pub const HEADER_FEATURE: u32 = 80;
    /// Pipe mode: side-band synthesis is done.
    pub const FINISHED_INIT: u32 = 82;
}

/// PERF_TYPE_SOFTWARE, the type of perf's `offcpu-time` event.
pub const TYPE_SOFTWARE: u32 = b::PERF_TYPE_SOFTWARE;
/// PERF_COUNT_SW_BPF_OUTPUT: the software config perf gives `offcpu-time`.
pub const SW_BPF_OUTPUT: u64 = b::PERF_COUNT_SW_BPF_OUTPUT as u64;

/// header.misc bits.
pub mod misc {
    use super::b;

    /// The cpumode bits.
    pub const CPUMODE_MASK: u16 = b::PERF_RECORD_MISC_CPUMODE_MASK as u16;
    /// Kernel space.
    pub const KERNEL: u16 = b::PERF_RECORD_MISC_KERNEL as u16;
    /// User space.
    pub const USER: u16 = b::PERF_RECORD_MISC_USER as u16;
    /// COMM caused by exec.
    pub const COMM_EXEC: u16 = b::PERF_RECORD_MISC_COMM_EXEC as u16;
    /// A FORK record the recorder synthesized for a task already running (same bit).
    pub const FORK_EXEC: u16 = b::PERF_RECORD_MISC_FORK_EXEC as u16;
    /// A SWITCH record of the task going out (else coming in).
    pub const SWITCH_OUT: u16 = b::PERF_RECORD_MISC_SWITCH_OUT as u16;
    /// perf.data's build-id entries: the id's real length is stored after it (perf's
    /// PERF_RECORD_MISC_BUILD_ID_SIZE, the kernel's reserved bit).
    pub const BUILD_ID_SIZE: u16 = b::PERF_RECORD_MISC_EXT_RESERVED as u16;
    /// LOST_SAMPLES of BPF output, not of the kernel (perf's
    /// PERF_RECORD_MISC_LOST_SAMPLES_BPF, the same reserved bit).
    pub const LOST_SAMPLES_BPF: u16 = b::PERF_RECORD_MISC_EXT_RESERVED as u16;
    /// A sample's ip is the instruction that caused the event (precise sampling).
    pub const EXACT_IP: u16 = b::PERF_RECORD_MISC_EXACT_IP as u16;
}

/// Call chain entry marking hypervisor frames after it.
pub const PERF_CONTEXT_HV: u64 = b::PERF_CONTEXT_HV;
/// Call chain entry marking kernel frames after it.
pub const PERF_CONTEXT_KERNEL: u64 = b::PERF_CONTEXT_KERNEL;
/// Call chain entry marking user frames after it.
pub const PERF_CONTEXT_USER: u64 = b::PERF_CONTEXT_USER;
/// Call chain entries at or above this value are context markers, not addresses.
pub const PERF_CONTEXT_MAX: u64 = b::PERF_CONTEXT_MAX;

/// perf.data magic: "PERFILE2" read as a little-endian u64.
pub const MAGIC: &[u8; 8] = b"PERFILE2";
/// The same magic written by a big-endian machine.
pub const MAGIC_SWAPPED: &[u8; 8] = b"2ELIFREP";
/// The file header's size (file mode).
pub const HEADER_SIZE: u64 = 104;
/// The header's size in pipe mode: magic and size alone.
pub const PIPE_HEADER_SIZE: u64 = 16;

/// Feature bits (HEADER_* in perf's header.h).
pub mod feature {
    /// Trace event formats.
    pub const TRACING_DATA: u32 = 1;
    /// Build ids of the binaries.
    pub const BUILD_ID: u32 = 2;
    /// Host name.
    pub const HOSTNAME: u32 = 3;
    /// Kernel release.
    pub const OSRELEASE: u32 = 4;
    /// Writer version.
    pub const VERSION: u32 = 5;
    /// Machine architecture.
    pub const ARCH: u32 = 6;
    /// CPUs available and online.
    pub const NRCPUS: u32 = 7;
    /// CPU model name.
    pub const CPUDESC: u32 = 8;
    /// CPU vendor/family/model/stepping.
    pub const CPUID: u32 = 9;
    /// Memory in kB.
    pub const TOTAL_MEM: u32 = 10;
    /// The command line.
    pub const CMDLINE: u32 = 11;
    /// Events with names and ids.
    pub const EVENT_DESC: u32 = 12;
    /// PMU names and types.
    pub const PMU_MAPPINGS: u32 = 16;
    /// First and last sample times.
    pub const SAMPLE_TIME: u32 = 21;
    /// The clock samples were timed with and its reading against wall-clock time.
    pub const CLOCK_DATA: u32 = 29;
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

    /// The attr layout matches the kernel's as perf-event-open-sys's bindings lay it out.
    #[test]
    fn layout_matches_the_uapi_struct() {
        use std::mem::offset_of;
        type A = b::perf_event_attr;
        let a = Attr {
            type_: 1,
            config: 2,
            sample_period: 3,
            sample_type: 4,
            read_format: 5,
            wakeup_events: 6,
            bp_type: 7,
            config1: 8,
            config2: 9,
            branch_sample_type: 10,
            sample_regs_user: 11,
            sample_stack_user: 12,
            clockid: 13,
            sample_regs_intr: 14,
            aux_watermark: 15,
            sample_max_stack: 16,
            ..Attr::default()
        };
        let bytes = a.to_bytes(ATTR_SIZE_VER7);
        let at = |o: usize, n: usize| {
            let mut v = [0u8; 8];
            v[..n].copy_from_slice(&bytes[o..o + n]);
            u64::from_ne_bytes(v)
        };
        let fields = [
            (offset_of!(A, type_), 4, 1),
            (offset_of!(A, size), 4, u64::from(ATTR_SIZE_VER7)),
            (offset_of!(A, config), 8, 2),
            (offset_of!(A, __bindgen_anon_1), 8, 3),
            (offset_of!(A, sample_type), 8, 4),
            (offset_of!(A, read_format), 8, 5),
            (offset_of!(A, __bindgen_anon_2), 4, 6),
            (offset_of!(A, bp_type), 4, 7),
            (offset_of!(A, __bindgen_anon_3), 8, 8),
            (offset_of!(A, __bindgen_anon_4), 8, 9),
            (offset_of!(A, branch_sample_type), 8, 10),
            (offset_of!(A, sample_regs_user), 8, 11),
            (offset_of!(A, sample_stack_user), 4, 12),
            (offset_of!(A, clockid), 4, 13),
            (offset_of!(A, sample_regs_intr), 8, 14),
            (offset_of!(A, aux_watermark), 4, 15),
            (offset_of!(A, sample_max_stack), 2, 16),
        ];
        for (off, n, want) in fields {
            assert_eq!(at(off, n), want, "field at offset {off}");
        }
    }

    /// The flag word's bits sit where the bindings' bitfield setters put them.
    #[test]
    fn flag_bits_match_the_uapi_bitfield() {
        let mut a = b::perf_event_attr::default();
        a.set_disabled(1);
        a.set_freq(1);
        a.set_enable_on_exec(1);
        a.set_sample_id_all(1);
        a.set_exclude_callchain_user(1);
        a.set_mmap2(1);
        a.set_comm_exec(1);
        a.set_bpf_event(1);
        a.set_precise_ip(3);
        let want = flag::DISABLED
            | flag::FREQ
            | flag::ENABLE_ON_EXEC
            | flag::SAMPLE_ID_ALL
            | flag::EXCLUDE_CALLCHAIN_USER
            | flag::MMAP2
            | flag::COMM_EXEC
            | flag::BPF_EVENT
            | 3 << flag::PRECISE_SHIFT;
        assert_eq!(a._bitfield_1.get(0, 64), want);
    }
}
