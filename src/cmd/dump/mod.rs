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

mod dumper;
mod print;

use dumper::*;
pub use print::print;
use print::*;

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
