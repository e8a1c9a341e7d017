//! The printer: perf trace's line for each syscall entry and exit, fault and tracepoint,
//! the threads' names and counts from side-band records, and the summary at the end.
use std::collections::HashMap;

use anyhow::{Context, Result};

use super::{beauty, summary, syscalls, u32_at, u64_at, Source, Thread, Tracer, ARGS_ALIGNMENT};
use crate::data::read::{Mode, Record, Sample};
use crate::sys::topology;

impl Tracer {
    pub(super) fn thread(&mut self, tid: i32) -> &mut Thread {
        let live = self.live;
        self.threads.entry(tid).or_insert_with(|| Thread {
            comm: if live { topology::comm_of(tid) } else { None },
            ..Thread::default()
        })
    }

    fn comm_of(&self, tid: i32) -> String {
        self.threads
            .get(&tid)
            .and_then(|t| t.comm.clone())
            .unwrap_or_else(|| format!(":{tid}"))
    }

    fn tstamp(&self, t: u64, s: &mut String) {
        use std::fmt::Write as _;
        if t > 0 {
            // Signed: an event older than the first one read (another CPU's ring drained
            // later) prints a negative time rather than wrapping.
            let _ = write!(
                s,
                "{:10.3} ",
                (t as i64 - self.base_time as i64) as f64 / 1e6
            );
        } else {
            s.push_str("         ? ");
        }
    }

    /// perf's entry head: timestamp, duration, comm/tid.
    fn head(&self, tid: i32, duration: u64, calculated: bool, tstamp: u64) -> String {
        use std::fmt::Write as _;
        let mut s = String::new();
        self.tstamp(tstamp, &mut s);
        if self.show_duration {
            if calculated {
                let _ = write!(s, "({:6.3} ms): ", duration as f64 / 1e6);
            } else {
                s.push_str("(         ): ");
            }
        }
        self.comm_tid(tid, &mut s);
        s
    }

    fn comm_tid(&self, tid: i32, s: &mut String) {
        use std::fmt::Write as _;
        if !self.multiple_threads {
            return;
        }
        if self.show_comm {
            let c = self.comm_of(tid);
            let c: String = c.chars().take(14).collect();
            let _ = write!(s, "{c}/");
        }
        let _ = write!(s, "{tid} ");
    }

    fn emit(&mut self, s: &str) -> Result<()> {
        self.out
            .write_all(s.as_bytes())
            .context("writing the trace")
    }

    fn interrupted_entry(&mut self) -> Result<()> {
        if self.failure_only {
            return Ok(());
        }
        let Some(cur) = self.current else {
            return Ok(());
        };
        let Some(t) = self.threads.get(&cur) else {
            return Ok(());
        };
        if !t.entry_pending {
            return Ok(());
        }
        let mut line = self.head(cur, 0, false, t.entry_time);
        let body = format!("{})", t.entry_str);
        let pad = if body.len() < ARGS_ALIGNMENT - 4 {
            ARGS_ALIGNMENT - 4 - body.len()
        } else {
            0
        };
        line.push_str(&body);
        if pad > 0 {
            line.push_str(&" ".repeat(pad));
        }
        line.push_str(" ...\n");
        self.threads
            .get_mut(&cur)
            .expect("thread seen")
            .entry_pending = false;
        self.printed += 1;
        self.emit(&line)
    }

    /// Whether `--max-events` is reached.
    pub(super) fn max_reached(&self) -> bool {
        self.max_events.is_some_and(|m| self.printed >= m)
    }

    /// The lines of a sample's call chain, or `None` when `--min-stack` hides the event.
    fn chain_lines(
        &mut self,
        pid: i32,
        tid: i32,
        kernel: bool,
        chain: Option<&Sample<'_>>,
    ) -> Option<Vec<String>> {
        let (Some(c), Some(maps)) = (chain, self.faults.as_mut()) else {
            return Some(Vec::new());
        };
        let lines = maps.chain_lines(pid, tid, kernel, c, self.max_stack);
        (lines.len() >= self.min_stack).then_some(lines)
    }

    fn sys_enter(&mut self, tid: i32, time: u64, raw: &[u8]) -> Result<()> {
        let id = u64_at(raw, self.enter_id) as i64;
        let Some(sc) = self.table.get(id) else {
            return Ok(());
        };
        let args: [u64; 6] = std::array::from_fn(|i| u64_at(raw, self.enter_args + 8 * i));
        self.thread(tid).nr_events += 1;
        self.thread(tid).traced = true;
        if self.duration_ns.is_none() && !self.summary_only {
            self.interrupted_entry()?;
        }
        // The entry line is only ever printed outside -s: don't build it there.
        let mut s = String::new();
        if !self.summary_only {
            s = self.entry_str(&sc, &args);
        }
        let t = self.thread(tid);
        t.entry_time = time;
        t.entry_str = s;
        if sc.is_exit {
            t.entry_pending = false;
            if !(self.duration_ns.is_some() || self.summary_only || self.failure_only) {
                let entry = self.threads[&tid].entry_str.clone();
                let mut line = self.head(tid, 0, false, time);
                let body = format!("{entry})");
                line.push_str(&body);
                let pad = ARGS_ALIGNMENT.saturating_sub(body.len()).max(1);
                line.push_str(&" ".repeat(pad));
                line.push_str("= ?\n");
                self.emit(&line)?;
            }
        } else {
            t.entry_pending = true;
        }
        self.current = Some(tid);
        Ok(())
    }

    /// `name(arg: value, ...` as perf builds it at a syscall's entry.
    fn entry_str(&self, sc: &syscalls::Syscall, args: &[u64; 6]) -> String {
        let mut s = format!("{}(", sc.name);
        let mut mask = 0u32;
        let mut first = true;
        for (i, a) in sc.args.iter().enumerate() {
            if mask & (1 << i) != 0 {
                continue;
            }
            let v = args.get(i).copied().unwrap_or(0);
            if v == 0 && !beauty::shows_zero(a.beauty) {
                continue;
            }
            if !first {
                s.push_str(", ");
            }
            first = false;
            s.push_str(&a.name);
            s.push_str(": ");
            mask |= beauty::masks(a.beauty, i, v);
            let threads = &self.threads;
            beauty::print(
                a.beauty,
                v,
                &|pid| threads.get(&pid).and_then(|t| t.comm.clone()),
                &mut s,
            );
        }
        s
    }

    fn sys_exit(
        &mut self,
        tid: i32,
        time: u64,
        raw: &[u8],
        chain: Option<&Sample<'_>>,
    ) -> Result<()> {
        let id = u64_at(raw, self.exit_id) as i64;
        let Some(sc) = self.table.get(id) else {
            return Ok(());
        };
        let ret = u64_at(raw, self.exit_ret) as i64;
        let summary = self.summary;
        let t = self.thread(tid);
        t.nr_events += 1;
        t.traced = true;
        if summary {
            let d = if t.entry_time != 0 && time > t.entry_time {
                time - t.entry_time
            } else {
                0
            };
            t.stats.update(id, d, ret);
        }
        let entry_time = t.entry_time;
        let pending = t.entry_pending;
        let (duration, calculated) = if entry_time != 0 {
            (time.saturating_sub(entry_time), true)
        } else {
            (0, false)
        };
        let filtered = match self.duration_ns {
            Some(min) => !calculated || (duration as f64) < min,
            None => false,
        };
        let pid = self.pid_of(tid);
        let chain_lines = if filtered || self.summary_only {
            None
        } else {
            self.chain_lines(pid, tid, true, chain)
        };
        let Some(chain_lines) = chain_lines else {
            self.thread(tid).entry_pending = false;
            return Ok(());
        };
        if self.summary_only || (ret >= 0 && self.failure_only) {
            self.thread(tid).entry_pending = false;
            return Ok(());
        }
        let mut line = self.head(tid, duration, calculated, entry_time);
        let printed = if pending {
            let e = &self.threads[&tid].entry_str;
            line.push_str(e);
            e.len()
        } else {
            let c = format!(" ... [continued]: {}()", sc.name);
            line.push_str(&c);
            c.len()
        } + 1;
        line.push(')');
        let pad = ARGS_ALIGNMENT.saturating_sub(printed).max(1);
        line.push_str(&" ".repeat(pad));
        line.push_str("= ");
        if ret < 0 {
            line.push_str(&beauty::errno_text(ret));
        } else if ret == 0 && sc.timeout {
            line.push_str("0 (Timeout)");
        } else if sc.hexret {
            line.push_str(&format!("{ret:#x}"));
        } else if sc.errpid {
            // perf prints a pid only when it knows that thread (not the child's 0, not
            // a parent outside the trace).
            if let Some(t) = self.threads.get(&(ret as i32)) {
                line.push_str(&ret.to_string());
                if let Some(c) = &t.comm {
                    line.push_str(&format!(" ({c})"));
                }
            }
        } else {
            line.push_str(&ret.to_string());
        }
        line.push('\n');
        for l in &chain_lines {
            line.push_str(l);
        }
        self.thread(tid).entry_pending = false;
        self.printed += 1;
        self.emit(&line)
    }

    #[allow(clippy::too_many_arguments)]
    fn fault(
        &mut self,
        tid: i32,
        time: u64,
        major: bool,
        ip: u64,
        addr: u64,
        kernel: bool,
        chain: Option<&Sample<'_>>,
    ) -> Result<()> {
        let pid = self.pid_of(tid);
        let Some(chain_lines) = self.chain_lines(pid, tid, kernel, chain) else {
            return Ok(());
        };
        let t = self.thread(tid);
        t.nr_events += 1;
        t.traced = true;
        if major {
            t.pfmaj += 1;
        } else {
            t.pfmin += 1;
        }
        if self.summary_only {
            return Ok(());
        }
        let mode = if kernel { Mode::Kernel } else { Mode::User };
        // perf's print_location: the faulting ip as sym+off (else the map-relative address,
        // else, as perf does, the sample's data address); the target as dso@offset.
        let (from, to, found) = match &mut self.faults {
            Some(f) => {
                let from = match f.session.resolve(pid, ip, mode) {
                    Some(loc) => match f.symbols.symbol(&f.session, loc) {
                        Some(sym) => format!("{}+{:#x}", sym.name, sym.offset),
                        None => format!("{:#x}", loc.rel),
                    },
                    None => format!("{addr:#x}"),
                };
                match f.session.resolve(pid, addr, mode) {
                    Some(loc) => {
                        let dso = &f.session.dsos()[loc.dso as usize].path;
                        let dso = dso.strip_suffix("_text").unwrap_or(dso);
                        (from, format!("{dso}@{:#x}", loc.rel), true)
                    }
                    None => (from, format!("{addr:#x}"), false),
                }
            }
            None => (format!("{ip:#x}"), format!("{addr:#x}"), false),
        };
        let mut line = self.head(tid, 0, true, time);
        line.push_str(&format!(
            "{}fault [{from}] => {to} ({}{})\n",
            if major { "maj" } else { "min" },
            if found { 'd' } else { '?' },
            if kernel { 'k' } else { '.' }
        ));
        for l in &chain_lines {
            line.push_str(l);
        }
        self.printed += 1;
        self.emit(&line)
    }

    /// The process of a thread (its own id when unknown).
    fn pid_of(&self, tid: i32) -> i32 {
        self.threads.get(&tid).and_then(|t| t.pid).unwrap_or(tid)
    }

    fn tracepoint(
        &mut self,
        idx: usize,
        tid: i32,
        time: u64,
        raw: &[u8],
        chain: Option<&Sample<'_>>,
    ) -> Result<()> {
        let pid = self.pid_of(tid);
        let Some(chain_lines) = self.chain_lines(pid, tid, true, chain) else {
            return Ok(());
        };
        self.interrupted_entry()?;
        let mut line = String::new();
        self.tstamp(time, &mut line);
        if self.trace_syscalls && self.show_duration {
            line.push_str("(         ): ");
        }
        self.comm_tid(tid, &mut line);
        let tp = &self.tps[idx];
        line.push_str(&tp.name);
        line.push('(');
        let mut first = true;
        for (ctype, name) in &tp.types {
            let Some(f) = tp.format.fields.iter().find(|f| &f.name == name) else {
                continue;
            };
            let text = if f.chars || f.dynamic {
                let (off, len) = if f.dynamic {
                    let v = u32_at(raw, f.offset);
                    ((v & 0xffff) as usize, (v >> 16) as usize)
                } else {
                    (f.offset, f.size)
                };
                let bytes = raw.get(off..off + len).unwrap_or(&[]);
                let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
                format!("\"{}\"", String::from_utf8_lossy(&bytes[..end]))
            } else {
                let mut v = match f.size {
                    1 => raw.get(f.offset).copied().unwrap_or(0) as u64,
                    2 => raw
                        .get(f.offset..f.offset + 2)
                        .map_or(0, |b| u16::from_ne_bytes([b[0], b[1]]) as u64),
                    4 => u32_at(raw, f.offset) as u64,
                    _ => u64_at(raw, f.offset),
                };
                if f.signed && f.size < 8 {
                    let shift = 64 - 8 * f.size as u32;
                    v = (((v << shift) as i64) >> shift) as u64;
                }
                if v == 0 {
                    continue;
                }
                let b = beauty::by_field(ctype, name);
                let mut s = String::new();
                let threads = &self.threads;
                beauty::print(
                    b,
                    v,
                    &|pid| threads.get(&pid).and_then(|t| t.comm.clone()),
                    &mut s,
                );
                s
            };
            if !first {
                line.push_str(", ");
            }
            first = false;
            line.push_str(name);
            line.push_str(": ");
            line.push_str(&text);
        }
        line.push_str(")\n");
        for l in &chain_lines {
            line.push_str(l);
        }
        self.printed += 1;
        self.emit(&line)
    }

    /// A sample of one of the traced events (`src`): `addr` is its data address (a fault's
    /// target), `chained` whether its event samples call chains (printed under its line).
    pub(super) fn sample(
        &mut self,
        src: Source,
        s: &Sample<'_>,
        addr: u64,
        chained: bool,
    ) -> Result<()> {
        let chain = chained.then_some(s);
        let (tid, time) = (s.tid, s.time);
        if self.threads.get(&tid).is_none_or(|t| t.pid.is_none()) {
            self.thread(tid).pid = Some(s.pid);
        }
        if self.base_time == 0 && !self.full_time {
            self.base_time = time;
        }
        let raw = s.raw.as_deref().unwrap_or(&[]);
        match src {
            Source::Enter => self.sys_enter(tid, time, raw),
            Source::Exit => self.sys_exit(tid, time, raw, chain),
            Source::Fault { major } => {
                self.fault(tid, time, major, s.ip, addr, s.mode == Mode::Kernel, chain)
            }
            Source::Runtime => {
                let runtime = u64_at(raw, self.runtime_at) as f64 / 1e6;
                let t = self.thread(tid);
                t.nr_events += 1;
                t.runtime_ms += runtime;
                Ok(())
            }
            Source::Tracepoint(i) => self.tracepoint(i, tid, time, raw, chain),
        }
    }

    /// A side-band record: threads' names, address spaces (for chains and faults), losses.
    pub(super) fn side(&mut self, r: &Record<'_>) -> Result<()> {
        match r {
            Record::Comm { tid, name, .. } => {
                self.thread(*tid).comm = Some(name.clone());
                Ok(())
            }
            Record::Fork { tid, ptid, .. } => {
                let c = self.threads.get(ptid).and_then(|t| t.comm.clone());
                let t = self.thread(*tid);
                if t.comm.is_none() {
                    t.comm = c;
                }
                Ok(())
            }
            Record::Mmap { .. } => {
                if let Some(f) = &mut self.faults {
                    f.session.apply(r);
                }
                Ok(())
            }
            Record::Lost { count } => self.emit(&format!("LOST {count} events!\n")),
            _ => Ok(()),
        }
    }

    /// Prints the summary when asked for and puts the output in place.
    pub(super) fn finish(mut self, errno_summary: bool) -> Result<()> {
        if self.summary {
            let mut names = HashMap::new();
            for t in self.threads.values() {
                for id in t.stats.ids() {
                    let n = self
                        .table
                        .get(id)
                        .map_or_else(|| id.to_string(), |s| s.name.to_string());
                    names.insert(id, n);
                }
            }
            let text = summary::render(
                &self.threads_for_summary(),
                self.nr_events,
                self.sched,
                errno_summary,
                &names,
            );
            self.emit(&text)?;
        }
        self.out.finish()
    }

    fn threads_for_summary(&self) -> Vec<summary::ThreadRow<'_>> {
        self.threads
            .iter()
            .filter(|(_, t)| t.traced)
            .map(|(&tid, t)| summary::ThreadRow {
                tid,
                comm: t.comm.clone().unwrap_or_else(|| format!(":{tid}")),
                nr_events: t.nr_events,
                pfmaj: t.pfmaj,
                pfmin: t.pfmin,
                runtime_ms: t.runtime_ms,
                stats: &t.stats,
            })
            .collect()
    }
}
