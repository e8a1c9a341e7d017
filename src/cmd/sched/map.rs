//! `sched map`: a column per CPU with the task it runs, one line per context switch, tasks
//! named by two-character short names, as perf 6.1.
use std::fmt::Write as _;

use super::{Events, Kind, MapOpts, Threads};
use crate::data::{Record, Sample};
use crate::report::usec_time;

#[derive(Debug, Clone, Default)]
struct MapTask {
    short: Option<[u8; 2]>,
    comm_changed: bool,
}

pub(super) struct Map {
    opts: MapOpts,
    threads: Threads<MapTask>,
    /// Each CPU's current task's short name (kept by the CPU, as perf keeps the thread,
    /// even if its id is reused meanwhile).
    curr: Vec<Option<[u8; 2]>>,
    max_cpu: u32,
    comp: Vec<u32>,
    next1: u8,
    next2: u8,
}

impl Map {
    pub(super) fn new(opts: MapOpts) -> Map {
        Map {
            opts,
            threads: Threads::new(),
            curr: Vec::new(),
            max_cpu: configured_cpus(),
            comp: Vec::new(),
            next1: b'A',
            next2: b'0',
        }
    }

    pub(super) fn side(&mut self, rec: &Record) {
        self.threads.side(rec);
        if let Record::Comm { at, .. } = *rec {
            // perf marks the thread the record's sample id names, which is the task that
            // did the renaming: the idle task for the names synthesized at the start (ids
            // left zero), the writer for a name written through /proc/PID/comm.
            self.threads.get(at.pid, at.tid).data.comm_changed = true;
        }
    }

    pub(super) fn sample(&mut self, ev: &Events, kind: Kind, s: &Sample, out: &mut String) {
        if kind != Kind::Switch {
            return;
        }
        let Some(cpu) = s.cpu else { return };
        self.max_cpu = self.max_cpu.max(cpu);
        let mut new_cpu = false;
        let n = if self.opts.compact {
            if !self.comp.contains(&cpu) {
                self.comp.push(cpu);
                new_cpu = true;
            }
            self.comp.len()
        } else {
            self.max_cpu as usize
        };
        let next = ev.int(s, "next_pid") as i32;
        let prev = ev.int(s, "prev_pid") as i32;
        self.threads.get(-1, prev);
        let (next1, next2) = (self.next1, self.next2);
        let th = self.threads.get(-1, next);
        let new_short = th.data.short.is_none();
        if new_short {
            let short = if th.comm() == "swapper" {
                *b". "
            } else {
                [next1, next2]
            };
            th.data.short = Some(short);
        }
        let short = th.data.short.unwrap_or(*b"  ");
        let named = new_short || th.data.comm_changed;
        if new_short && short != *b". " {
            if self.next1 < b'Z' {
                self.next1 += 1;
            } else {
                self.next1 = b'A';
                self.next2 = if self.next2 < b'9' {
                    self.next2 + 1
                } else {
                    b'0'
                };
            }
        }
        let c = cpu as usize;
        if self.curr.len() <= c {
            self.curr.resize(c + 1, None);
        }
        self.curr[c] = Some(short);
        out.push_str("  ");
        for i in 0..n {
            let c = if self.opts.compact {
                self.comp[i]
            } else {
                i as u32
            };
            if self.opts.cpus.as_ref().is_some_and(|l| !l.contains(&c)) {
                continue;
            }
            out.push(if c == cpu { '*' } else { ' ' });
            match self.curr.get(c as usize).copied().flatten() {
                Some([a, b]) => {
                    out.push(a as char);
                    out.push(b as char);
                    out.push(' ');
                }
                None => out.push_str("   "),
            }
        }
        if self.opts.cpus.as_ref().is_some_and(|l| !l.contains(&cpu)) {
            // A line perf does not show leaves the name to show later.
            out.push('\n');
            return;
        }
        let _ = write!(out, "  {:>12} secs ", usec_time(s.time));
        if named {
            let th = self.threads.get(-1, next);
            th.data.comm_changed = false;
            let comm = th.comm();
            let _ = write!(
                out,
                "{}{} => {comm}:{next}",
                short[0] as char, short[1] as char
            );
        }
        if self.opts.compact && new_cpu {
            let _ = write!(out, " (CPU {cpu})");
        }
        out.push('\n');
    }
}

/// The CPUs this machine has configured (perf's `sysconf(_SC_NPROCESSORS_CONF)`): map's
/// column count starts there.
fn configured_cpus() -> u32 {
    std::fs::read_dir("/sys/devices/system/cpu")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter(|e| {
                    let n = e.file_name();
                    let n = n.to_string_lossy();
                    n.strip_prefix("cpu")
                        .is_some_and(|r| !r.is_empty() && r.bytes().all(|b| b.is_ascii_digit()))
                })
                .count() as u32
        })
        .unwrap_or(1)
        .max(1)
}
