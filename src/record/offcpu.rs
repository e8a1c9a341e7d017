//! `record --off-cpu` without BPF: the sched:sched_switch tracepoint (sampled on every switch,
//! with the call chain) gives each task's stack and state when it leaves the CPU; the same
//! event's SWITCH records (attr.context_switch) say when it comes back. The drain hands each
//! batch through [`OffCpu::process`], which keeps the switch-out sample until the task's
//! switch-in and then writes one sample in its place: the stack of the switch-out, the
//! period the nanoseconds in between, under perf's event name `offcpu-time` (time blocked:
//! the task slept, in S, D or another waiting state) or `offcpu-runnable` (time the task was
//! preempted or yielded and waited, runnable, for a CPU: prev_state R or R+). The
//! tracepoint's own samples and the SWITCH records are consumed; the file holds only the
//! off-CPU samples, beside the CPU samples of the other events.
//!
//! A stretch starts at the SWITCH_OUT record, not at the sched_switch sample just before it
//! (taking that sample is still the thread's CPU time, which its CPU samples count).
//! Never a wrong weight: a switch-in is paired only with the switch-out just before it of
//! the same thread, in time order. The rings are read one after the other, so one pass
//! holds each ring's records up to a different moment; as perf's reader does, the switches
//! are sorted by time and paired only up to the latest time of the pass before, which every
//! ring has passed. When the rings lost records (LOST, THROTTLE) every half-pair from
//! before the loss is dropped and counted, as is a switch-out whose thread switched out
//! again before coming back. A ring that overflows says so (its LOST record) only once it
//! has room again, usually in the next pass: so a pair is written one pass after it closed,
//! and dropped if that pass saw a loss. Its time is then its switch-in, or the latest time
//! of the passes before when that is later, so perf's reader (which sorts a round against
//! the one before) never sees it behind what it already flushed. Not caught: a loss whose
//! ring stays silent for longer than a pass afterwards (no record to carry its LOST), the
//! kernel then reporting it only at the end (perf's "Total Lost Samples").
use rustc_hash::FxHashMap;

use crate::abi::{kind, misc, sample, Attr};
use crate::data::write::encode;

/// perf's name for off-CPU time (blocked time, as perf's BPF version counts it).
pub const BLOCKED_EVENT: &str = "offcpu-time";
/// Time a task was ready to run but waited for a CPU (preempted or yielded).
pub const RUNNABLE_EVENT: &str = "offcpu-runnable";
/// The ids of `offcpu-runnable` are the tracepoint's ids with this bit: kernel event ids
/// count up from 1 and never reach it.
pub const RUNNABLE_ID_BIT: u64 = 1 << 62;
/// Threads off CPU at once kept at most (their switch-out samples wait in memory).
pub const MAX_PENDING: usize = 1 << 16;
/// Bytes of switch-out samples waiting in the queue at most (`--call-graph dwarf` copies
/// 8 KiB of stack per switch): past it a switch-out keeps no stack and its stretch is left
/// out, counted; switch-ins are never dropped, so no pair ever spans a missing one.
pub const MAX_QUEUED_BYTES: usize = 128 << 20;

/// The sample_type bits a switch-out sample may have (what `sampling_attr` gives a
/// tracepoint with `-g`, `--call-graph dwarf` or `-R`).
const SUPPORTED: u64 = sample::IDENTIFIER
    | sample::IP
    | sample::TID
    | sample::TIME
    | sample::ID
    | sample::CPU
    | sample::PERIOD
    | sample::CALLCHAIN
    | sample::RAW
    | sample::REGS_USER
    | sample::STACK_USER;

/// The sched_switch `prev_state` value of an exiting task (EXIT_DEAD, EXIT_ZOMBIE): no
/// switch-in follows.
const STATE_DEAD: u64 = 0x10 | 0x20;
/// The state bits below TASK_REPORT_MAX: none set means the task was still runnable (R,
/// or R+ when preempted, which the tracepoint reports as TASK_REPORT_MAX itself).
const STATE_MASK: u64 = 0xff;

/// Where `prev_state` is in the tracepoint's raw data (from its tracefs format).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateField {
    /// Byte offset in the raw data.
    pub offset: usize,
    /// Size in bytes (4 or 8).
    pub size: usize,
}

/// What the off-CPU pass counted, for the summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Samples written for blocked time, and their nanoseconds.
    pub blocked: u64,
    /// Nanoseconds blocked.
    pub blocked_ns: u64,
    /// Samples written for runnable time.
    pub runnable: u64,
    /// Nanoseconds runnable.
    pub runnable_ns: u64,
    /// Of the samples, those of threads still off CPU when recording ended.
    pub at_end: u64,
    /// sched_switch samples read (and not written).
    pub consumed: u64,
    /// Switches dropped because a record between them was lost (or the thread table was
    /// full): their off-CPU time is missing, never mis-weighed.
    pub dropped: u64,
}

/// The byte offsets of one switch-out sample's fields.
#[derive(Debug, Clone, Copy)]
struct Fields {
    tid: Option<usize>,
    time: Option<usize>,
    period: Option<usize>,
    cpu: Option<usize>,
    /// The raw data, its u32 size included.
    raw: (usize, usize),
}

/// A thread off CPU: its switch-out sample with the raw data cut out.
struct Pending {
    t_out: u64,
    runnable: bool,
    fields: Fields,
    sample: Vec<u8>,
}

/// A switch of a thread, waiting to be taken in time order.
enum Switch {
    /// Off CPU (None: exiting, or the idle task: nothing to wait for).
    Out(u32, Option<Pending>),
    /// Back on a CPU.
    In(u32),
}

/// The off-CPU pass over drained records.
pub struct OffCpu {
    sample_type: u64,
    state: StateField,
    ids: rustc_hash::FxHashSet<u64>,
    pending: FxHashMap<u32, Pending>,
    /// Switches not yet taken, with their times, and the bytes of their samples.
    queue: Vec<(u64, Switch)>,
    queued_bytes: usize,
    max_queued: usize,
    spare: Vec<Vec<u8>>,
    /// Whether the samples keep their CPU (CPU-wide recordings: perf script then shows it).
    keep_cpu: bool,
    /// Every event's sample_type by id, to read any record's time.
    types: FxHashMap<u64, u64>,
    /// Pairs closed at the end of the pass before (written at this pass's end).
    held: Vec<(Pending, u64)>,
    /// The time of the latest LOST or THROTTLE record of this pass.
    lost_at: Option<u64>,
    /// The latest time in this pass, and in all passes before it.
    pass_max: u64,
    seen_max: u64,
    /// The counts so far.
    pub stats: Stats,
}

fn u64_at(b: &[u8], off: usize) -> Option<u64> {
    Some(u64::from_ne_bytes(b.get(off..off + 8)?.try_into().ok()?))
}

fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(off..off + 4)?.try_into().ok()?))
}

fn put_u64(b: &mut [u8], off: usize, v: u64) {
    if let Some(s) = b.get_mut(off..off + 8) {
        s.copy_from_slice(&v.to_ne_bytes());
    }
}

/// Sets what `--off-cpu` needs on every event's attr: one clock (CLOCK_MONOTONIC, so the
/// end of the recording can be read against it) and, on the sched_switch event (`is_switch`),
/// a sample on every switch (whatever -c/-F say) and the SWITCH records.
pub fn adjust_attr(a: &mut Attr, is_switch: bool) {
    a.flags |= crate::abi::flag::USE_CLOCKID;
    a.clockid = libc::CLOCK_MONOTONIC;
    if is_switch {
        a.flags |= crate::abi::flag::CONTEXT_SWITCH;
        a.flags &= !crate::abi::flag::FREQ;
        a.sample_period = 1;
    }
}

/// The closing lines of a recording with `--off-cpu`: what was written, and what was lost.
pub fn summarize(s: &Stats, quiet: bool) {
    if s.dropped > 0 {
        eprintln!(
            "Warning: --off-cpu: {} context switches lost their pair (records lost, or a \
             thread switched out twice): that off-CPU time is left out, not guessed; raise -m",
            s.dropped
        );
    }
    if !quiet {
        eprintln!(
            "[ rperf record: off-CPU: {} samples blocked ({:.3} ms), {} runnable ({:.3} ms), {} still off CPU at the end ]",
            s.blocked,
            s.blocked_ns as f64 / 1e6,
            s.runnable,
            s.runnable_ns as f64 / 1e6,
            s.at_end
        );
    }
}

impl OffCpu {
    /// The pass for a tracepoint event sampled with `sample_type` (as the file has it),
    /// whose records carry one of `ids`; `types` has every event's sample_type by id. None
    /// when the tracepoint's samples have fields it cannot cut (the caller says which
    /// option conflicts).
    pub fn new(
        sample_type: u64,
        ids: &[u64],
        state: StateField,
        types: FxHashMap<u64, u64>,
        keep_cpu: bool,
    ) -> Option<Self> {
        let needed = sample::IDENTIFIER | sample::TID | sample::TIME | sample::PERIOD | sample::RAW;
        if sample_type & !SUPPORTED != 0 || sample_type & needed != needed {
            return None;
        }
        if !(state.size == 4 || state.size == 8) {
            return None;
        }
        Some(OffCpu {
            sample_type,
            state,
            ids: ids.iter().copied().collect(),
            pending: FxHashMap::default(),
            queue: Vec::new(),
            queued_bytes: 0,
            max_queued: MAX_QUEUED_BYTES,
            spare: Vec::new(),
            keep_cpu,
            types,
            held: Vec::new(),
            lost_at: None,
            pass_max: 0,
            seen_max: 0,
            stats: Stats::default(),
        })
    }

    /// The attr the file announces for `offcpu-time` and `offcpu-runnable` (whose ids are
    /// [`OffCpu::runnable_ids`]): perf's software BPF-output event with the tracepoint's
    /// sample layout less its raw data, and less its CPU unless `keep_cpu` (a per-task
    /// recording, where perf's own samples have none).
    pub fn file_attr(tp: &Attr, keep_cpu: bool) -> Attr {
        let cpu = if keep_cpu { 0 } else { sample::CPU };
        Attr {
            type_: crate::abi::TYPE_SOFTWARE,
            config: crate::abi::SW_BPF_OUTPUT,
            config1: 0,
            config2: 0,
            sample_type: tp.sample_type & !(sample::RAW | cpu),
            sample_period: 1,
            flags: tp.flags & !(crate::abi::flag::CONTEXT_SWITCH | crate::abi::flag::FREQ),
            ..*tp
        }
    }

    /// The ids of `offcpu-runnable`, one per tracepoint id.
    pub fn runnable_ids(ids: &[u64]) -> Vec<u64> {
        ids.iter().map(|id| id | RUNNABLE_ID_BIT).collect()
    }

    /// The field offsets of a sample of the tracepoint, or None when it is malformed.
    fn fields(&self, rec: &[u8]) -> Option<Fields> {
        let st = self.sample_type;
        let mut off = 8;
        let mut f = Fields {
            tid: None,
            time: None,
            period: None,
            cpu: None,
            raw: (0, 0),
        };
        let mut step = |bit: u64, slot: Option<&mut Option<usize>>| {
            if st & bit != 0 {
                if let Some(s) = slot {
                    *s = Some(off);
                }
                off += 8;
            }
        };
        step(sample::IDENTIFIER, None);
        step(sample::IP, None);
        step(sample::TID, Some(&mut f.tid));
        step(sample::TIME, Some(&mut f.time));
        step(sample::ID, None);
        step(sample::CPU, Some(&mut f.cpu));
        step(sample::PERIOD, Some(&mut f.period));
        if st & sample::CALLCHAIN != 0 {
            let nr = u64_at(rec, off)? as usize;
            off = off.checked_add(8)?.checked_add(nr.checked_mul(8)?)?;
        }
        let size = u32_at(rec, off)? as usize;
        let end = off + 4 + size;
        if end > rec.len() {
            return None;
        }
        f.raw = (off, end);
        Some(f)
    }

    fn prev_state(&self, rec: &[u8], f: &Fields) -> Option<u64> {
        let at = f.raw.0 + 4 + self.state.offset;
        if at + self.state.size > f.raw.1 {
            return None;
        }
        Some(match self.state.size {
            8 => u64_at(rec, at)?,
            _ => u32_at(rec, at)? as u64,
        })
    }

    /// The time of any record of an event (a sample's, or a sample_id trailer's).
    fn time_of(&self, ty: u32, rec: &[u8]) -> Option<u64> {
        if ty == kind::SAMPLE {
            let st = *self.types.get(&u64_at(rec, 8)?)?;
            if st & sample::TIME == 0 {
                return None;
            }
            let before = [sample::IDENTIFIER, sample::IP, sample::TID]
                .iter()
                .filter(|&&b| st & b != 0)
                .count();
            return u64_at(rec, 8 + before * 8);
        }
        if ty >= kind::HEADER_ATTR {
            return None;
        }
        let st = *self.types.get(&u64_at(rec, rec.len().checked_sub(8)?)?)?;
        if st & sample::TIME == 0 {
            return None;
        }
        let start = rec.len().checked_sub(Self::trailer_len(st))?;
        u64_at(rec, start + if st & sample::TID != 0 { 8 } else { 0 })
    }

    /// Bytes of a sample_id trailer of `st`.
    fn trailer_len(st: u64) -> usize {
        8 * [
            sample::TID,
            sample::TIME,
            sample::ID,
            sample::STREAM_ID,
            sample::CPU,
            sample::IDENTIFIER,
        ]
        .iter()
        .filter(|&&b| st & b != 0)
        .count()
    }

    /// The (pid/tid word's tid, time, id) of a SWITCH record's sample_id trailer.
    fn trailer(&self, rec: &[u8]) -> Option<(u32, u64, u64)> {
        let start = rec.len().checked_sub(Self::trailer_len(self.sample_type))?;
        if start < 8 {
            return None;
        }
        let tid = u32_at(rec, start + 4)?;
        let time = u64_at(rec, start + 8)?;
        let id = u64_at(rec, rec.len() - 8)?;
        Some((tid, time, id))
    }

    /// Passes the records of `batch` to `out`, the tracepoint's samples and SWITCH records
    /// replaced by off-CPU samples.
    /// A batch is one pass over the rings, ending in FINISHED_ROUND: the switches up to the
    /// pass before are paired there, and the pairs of the pass before written.
    pub fn process(&mut self, batch: &[u8], out: &mut Vec<u8>) {
        encode::for_each_record(batch, |ty, m, rec| {
            let time = self.time_of(ty, rec);
            if let Some(t) = time {
                self.pass_max = self.pass_max.max(t);
            }
            self.record(ty, m, rec, time, out)
        });
    }

    fn record(&mut self, ty: u32, m: u16, rec: &[u8], time: Option<u64>, out: &mut Vec<u8>) {
        match ty {
            kind::SAMPLE if u64_at(rec, 8).is_some_and(|id| self.ids.contains(&id)) => {
                self.stats.consumed += 1;
                if let Some((t, s)) = self.switch_out(rec) {
                    self.queue.push((t, s));
                }
            }
            kind::SWITCH | kind::SWITCH_CPU_WIDE => {
                let Some((tid, time, id)) = self.trailer(rec) else {
                    return;
                };
                if !self.ids.contains(&id) {
                    out.extend_from_slice(rec);
                    return;
                }
                if m & misc::SWITCH_OUT == 0 {
                    if tid != 0 {
                        self.queue.push((time, Switch::In(tid)));
                    }
                } else {
                    self.switched_out(tid, time);
                }
            }
            kind::LOST | kind::THROTTLE => {
                let at = time.unwrap_or(self.pass_max).max(self.lost_at.unwrap_or(0));
                self.lost_at = Some(at);
                out.extend_from_slice(rec);
            }
            kind::FINISHED_ROUND => {
                self.end_pass(out);
                out.extend_from_slice(rec);
            }
            _ => out.extend_from_slice(rec),
        }
    }

    /// The stretch off CPU starts at the switch itself (the SWITCH_OUT record), not at the
    /// sched_switch sample before it: taking that sample is still the task's own CPU time,
    /// which its CPU samples count already. The sample is the last switch-out of `tid`
    /// still queued, a few records back in the same ring.
    fn switched_out(&mut self, tid: u32, time: u64) {
        for (t, sw) in self.queue.iter_mut().rev().take(64) {
            if let Switch::Out(who, p) = sw {
                if *who == tid {
                    if *t <= time {
                        *t = time;
                        if let Some(p) = p {
                            p.t_out = time;
                        }
                    }
                    return;
                }
            }
        }
    }

    /// Pairs the switches every ring has passed, writes the pairs of the pass before unless
    /// a loss was seen since they closed.
    fn end_pass(&mut self, out: &mut Vec<u8>) {
        let held = std::mem::take(&mut self.held);
        if let Some(lost) = self.lost_at.take() {
            // Some switch before `lost` is missing: nothing paired across it is sure.
            self.stats.dropped += (held.len() + self.pending.len()) as u64;
            for (p, _) in held {
                self.spare.push(p.sample);
            }
            for (_, p) in self.pending.drain() {
                self.spare.push(p.sample);
            }
            let spare = &mut self.spare;
            let mut outs = 0;
            let mut freed = 0;
            self.queue.retain_mut(|(t, sw)| {
                if *t > lost {
                    return true;
                }
                if let Switch::Out(_, Some(p)) = sw {
                    outs += 1;
                    freed += p.sample.len();
                    spare.push(std::mem::take(&mut p.sample));
                }
                false
            });
            self.queued_bytes -= freed;
            self.stats.dropped += outs;
        } else {
            let floor = self.seen_max;
            for (p, t_in) in held {
                self.emit(p, t_in, floor, out);
            }
        }
        let bound = self.seen_max;
        self.take_switches(bound);
        self.seen_max = self.seen_max.max(self.pass_max);
    }

    /// Pairs the queued switches up to `bound`, in time order, into `held`.
    fn take_switches(&mut self, bound: u64) {
        // Stable: a ring's records of one time keep their order.
        self.queue.sort_by_key(|(t, _)| *t);
        let n = self.queue.partition_point(|(t, _)| *t <= bound);
        let taken: Vec<(u64, Switch)> = self.queue.drain(..n).collect();
        for (t, sw) in taken {
            match sw {
                Switch::Out(tid, p) => {
                    self.queued_bytes -= p.as_ref().map_or(0, |p| p.sample.len());
                    if let Some(old) = self.pending.remove(&tid) {
                        // Switched out twice without a switch-in between: one was lost.
                        self.stats.dropped += 1;
                        self.spare.push(old.sample);
                    }
                    if let Some(p) = p {
                        if self.pending.len() < MAX_PENDING {
                            self.pending.insert(tid, p);
                        } else {
                            self.stats.dropped += 1;
                            self.spare.push(p.sample);
                        }
                    }
                }
                Switch::In(tid) => {
                    if let Some(p) = self.pending.remove(&tid) {
                        self.held.push((p, t));
                    }
                }
            }
        }
    }

    /// A switch-out sample as a queued switch, its raw data (and CPU, per task) cut out.
    fn switch_out(&mut self, rec: &[u8]) -> Option<(u64, Switch)> {
        let f = self.fields(rec)?;
        let tid = u32_at(rec, f.tid? + 4)?;
        let t_out = u64_at(rec, f.time?)?;
        let state = self.prev_state(rec, &f).unwrap_or(0);
        // The idle task is not a thread waiting; an exiting one never comes back.
        if tid == 0 || state & STATE_DEAD != 0 {
            return Some((t_out, Switch::Out(tid, None)));
        }
        if self.queued_bytes + rec.len() > self.max_queued {
            self.stats.dropped += 1;
            return Some((t_out, Switch::Out(tid, None)));
        }
        let mut sample = self.spare.pop().unwrap_or_default();
        sample.clear();
        let mut f = f;
        match f.cpu.filter(|_| !self.keep_cpu) {
            Some(cpu) => {
                sample.extend_from_slice(&rec[..cpu]);
                sample.extend_from_slice(&rec[cpu + 8..f.raw.0]);
                f.period = f.period.map(|p| if p > cpu { p - 8 } else { p });
            }
            None => sample.extend_from_slice(&rec[..f.raw.0]),
        }
        sample.extend_from_slice(&rec[f.raw.1..]);
        let size = (sample.len().min(u16::MAX as usize) as u16).to_ne_bytes();
        sample[6..8].copy_from_slice(&size);
        self.queued_bytes += sample.len();
        let p = Pending {
            t_out,
            runnable: state & STATE_MASK == 0,
            fields: f,
            sample,
        };
        Some((t_out, Switch::Out(tid, Some(p))))
    }

    /// Writes the sample of a pair: weight `t_in - t_out`, time no earlier than `floor`.
    fn emit(&mut self, mut p: Pending, t_in: u64, floor: u64, out: &mut Vec<u8>) {
        let ns = t_in - p.t_out;
        let s = &mut p.sample;
        if p.runnable {
            let id = u64_at(s, 8).unwrap_or(0) | RUNNABLE_ID_BIT;
            put_u64(s, 8, id);
            if self.sample_type & sample::ID != 0 {
                // ID sits after IDENTIFIER, IP, TID and TIME, each present or not.
                let before = [sample::IDENTIFIER, sample::IP, sample::TID, sample::TIME]
                    .iter()
                    .filter(|&&b| self.sample_type & b != 0)
                    .count();
                put_u64(s, 8 + before * 8, id);
            }
            self.stats.runnable += 1;
            self.stats.runnable_ns += ns;
        } else {
            self.stats.blocked += 1;
            self.stats.blocked_ns += ns;
        }
        if let Some(at) = p.fields.time {
            put_u64(s, at, t_in.max(floor));
        }
        if let Some(at) = p.fields.period {
            put_u64(s, at, ns);
        }
        out.extend_from_slice(s);
        self.spare.push(p.sample);
    }

    /// The samples of threads still off CPU when recording ended at `end` (CLOCK_MONOTONIC,
    /// the events' clock), stamped no earlier than anything written.
    pub fn finish(&mut self, end: u64, out: &mut Vec<u8>) {
        // The last pass ran after the events were disabled: every switch is in, and a loss
        // it reported was already taken into account.
        let floor = self.seen_max.max(self.pass_max);
        self.take_switches(u64::MAX);
        let closed: Vec<(Pending, u64)> = std::mem::take(&mut self.held);
        for (p, t_in) in closed {
            self.emit(p, t_in, floor, out);
        }
        let mut left: Vec<(u32, Pending)> = self.pending.drain().collect();
        left.sort_by_key(|(tid, p)| (p.t_out, *tid));
        for (_, p) in left {
            let at = end.max(p.t_out);
            self.stats.at_end += 1;
            self.emit(p, at, floor, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ST: u64 = sample::IDENTIFIER
        | sample::IP
        | sample::TID
        | sample::TIME
        | sample::CPU
        | sample::PERIOD
        | sample::CALLCHAIN
        | sample::RAW;
    const ID: u64 = 7;
    const STATE: StateField = StateField {
        offset: 24,
        size: 8,
    };

    fn rec(ty: u32, m: u16, body: &[u64]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&ty.to_ne_bytes());
        v.extend_from_slice(&m.to_ne_bytes());
        v.extend_from_slice(&(((body.len() + 1) * 8) as u16).to_ne_bytes());
        for w in body {
            v.extend_from_slice(&w.to_ne_bytes());
        }
        v
    }

    /// A sched_switch sample of `tid` at `t` with `state`, chain [0xa, 0xb].
    fn out_sample(tid: u32, t: u64, state: u64) -> Vec<u8> {
        // raw: u32 size 36 + 36 bytes = 40: state at raw offset 24.
        let mut raw = [0u8; 40];
        raw[..4].copy_from_slice(&36u32.to_ne_bytes());
        raw[4 + 24..4 + 32].copy_from_slice(&state.to_ne_bytes());
        let mut body = vec![
            ID,
            0xa,
            (tid as u64) << 32 | tid as u64,
            t,
            0,
            1,
            2,
            0xa,
            0xb,
        ];
        for c in raw.chunks(8) {
            body.push(u64::from_ne_bytes(c.try_into().unwrap()));
        }
        rec(kind::SAMPLE, misc::KERNEL, &body)
    }

    fn switch_in(tid: u32, t: u64) -> Vec<u8> {
        rec(
            kind::SWITCH,
            0,
            &[(tid as u64) << 32 | tid as u64, t, 0, ID],
        )
    }

    /// (id, tid, time, period, chain) of each sample in `out`.
    fn samples(out: &[u8]) -> Vec<(u64, u32, u64, u64, Vec<u64>)> {
        let mut v = Vec::new();
        encode::for_each_record(out, |ty, _, r| {
            if ty == kind::SAMPLE {
                let w = |i: usize| u64_at(r, 8 + i * 8).unwrap();
                let nr = w(6) as usize;
                v.push((
                    w(0),
                    w(2) as u32,
                    w(3),
                    w(5),
                    (0..nr).map(|i| w(7 + i)).collect(),
                ));
                assert_eq!(r.len(), 8 + (7 + nr) * 8, "the raw data is cut out");
            }
        });
        v
    }

    fn types() -> FxHashMap<u64, u64> {
        [(ID, ST)].into_iter().collect()
    }

    fn new() -> OffCpu {
        OffCpu::new(ST, &[ID], STATE, types(), true).unwrap()
    }

    /// One pass over `recs` and two empty ones (the first pairs what every ring has
    /// passed, the second writes the pairs), less the round markers.
    fn pass(o: &mut OffCpu, recs: &[Vec<u8>]) -> Vec<u8> {
        let round = encode::finished_round().to_vec();
        let mut out = Vec::new();
        o.process(&[recs.concat(), round.clone()].concat(), &mut out);
        o.process(&round, &mut out);
        o.process(&round, &mut out);
        let mut kept = Vec::new();
        encode::for_each_record(&out, |ty, _, r| {
            if ty != kind::FINISHED_ROUND {
                kept.extend_from_slice(r)
            }
        });
        kept
    }

    #[test]
    fn a_sleep_becomes_one_sample_weighted_by_its_nanoseconds_with_the_switch_out_stack() {
        let mut o = new();
        let out = pass(&mut o, &[out_sample(5, 1000, 1), switch_in(5, 301_000)]);
        assert_eq!(
            samples(&out),
            vec![(ID, 5, 301_000, 300_000, vec![0xa, 0xb])]
        );
        assert_eq!((o.stats.blocked, o.stats.blocked_ns), (1, 300_000));
    }

    #[test]
    fn the_stretch_starts_at_the_switch_not_at_the_sample_before_it() {
        let mut o = new();
        let switch_out = rec(
            kind::SWITCH,
            misc::SWITCH_OUT,
            &[5u64 << 32 | 5, 4000, 0, ID],
        );
        let out = pass(
            &mut o,
            &[out_sample(5, 1000, 1), switch_out, switch_in(5, 301_000)],
        );
        // Taking the sample (1000..4000) was still the thread's CPU time.
        assert_eq!(samples(&out)[0].3, 297_000);
    }

    #[test]
    fn preempted_time_goes_to_the_runnable_event() {
        let mut o = new();
        let out = pass(&mut o, &[out_sample(5, 10, 0x100), switch_in(5, 60)]);
        assert_eq!(samples(&out)[0].0, ID | RUNNABLE_ID_BIT);
        assert_eq!((o.stats.runnable, o.stats.runnable_ns), (1, 50));
    }

    #[test]
    fn switches_read_out_of_time_order_across_rings_pair_in_time_order() {
        // CPU 0's ring (read first) has the thread leaving at 10 and coming back at 70;
        // CPU 1's has it back at 30 and off again at 50: two stretches, 20 ns each.
        let mut o = new();
        let out = pass(
            &mut o,
            &[
                out_sample(5, 10, 1),
                switch_in(5, 70),
                switch_in(5, 30),
                out_sample(5, 50, 1),
            ],
        );
        let got: Vec<(u64, u64)> = samples(&out).iter().map(|s| (s.2, s.3)).collect();
        assert_eq!(got, vec![(70, 20), (70, 20)]);
    }

    #[test]
    fn a_switch_in_read_before_its_switch_out_still_pairs() {
        let mut o = new();
        let out = pass(&mut o, &[switch_in(5, 90), out_sample(5, 40, 2)]);
        assert_eq!(samples(&out), vec![(ID, 5, 90, 50, vec![0xa, 0xb])]);
    }

    #[test]
    fn lost_records_drop_half_pairs_instead_of_guessing_a_weight() {
        let mut o = new();
        let lost = rec(kind::LOST, 0, &[ID, 3]);
        let out = pass(&mut o, &[out_sample(5, 10, 1), lost, switch_in(5, 500)]);
        assert!(samples(&out).is_empty());
        assert_eq!(o.stats.dropped, 1);
        // A second switch-out without a switch-in between is not paired either.
        let out = pass(
            &mut o,
            &[out_sample(6, 10, 1), out_sample(6, 20, 1), switch_in(6, 25)],
        );
        // Stamped after the earlier passes' latest time (500), weighed by its own stretch.
        assert_eq!(samples(&out), vec![(ID, 6, 500, 5, vec![0xa, 0xb])]);
        assert_eq!(o.stats.dropped, 2);
    }

    #[test]
    fn a_loss_reported_in_the_next_pass_drops_the_pairs_closed_before_it() {
        let mut o = new();
        let round = encode::finished_round().to_vec();
        let mut out = Vec::new();
        let first = [out_sample(5, 10, 1), switch_in(5, 500), round.clone()].concat();
        o.process(&first, &mut out);
        // Paired at the end of this pass, every ring being past 500.
        o.process(&round, &mut out);
        let lost = rec(kind::LOST, 0, &[ID, 3, 5 << 32 | 5, 600, 0, ID]);
        o.process(&[lost, round].concat(), &mut out);
        assert!(samples(&out).is_empty());
        assert_eq!(o.stats.dropped, 1);
    }

    #[test]
    fn a_pair_is_stamped_no_earlier_than_the_passes_before_its_writing() {
        let mut o = new();
        let round = encode::finished_round().to_vec();
        let mut out = Vec::new();
        // Another CPU's record at 900 in the same pass: perf may flush up to it.
        let other = out_sample(9, 900, 0x10);
        o.process(
            &[
                out_sample(5, 10, 1),
                switch_in(5, 500),
                other,
                round.clone(),
            ]
            .concat(),
            &mut out,
        );
        o.process(&round, &mut out);
        o.process(&round, &mut out);
        assert_eq!(samples(&out), vec![(ID, 5, 900, 490, vec![0xa, 0xb])]);
    }

    #[test]
    fn per_task_samples_leave_their_cpu_out_as_the_file_attr_says() {
        let mut o = OffCpu::new(ST, &[ID], STATE, types(), false).unwrap();
        let out = pass(&mut o, &[out_sample(5, 1000, 1), switch_in(5, 3000)]);
        let mut got = Vec::new();
        encode::for_each_record(&out, |_, _, r| got = r.to_vec());
        // identifier, ip, tid, time, period, nr, a, b: no CPU word, no raw data.
        let w: Vec<u64> = (0..8).map(|i| u64_at(&got, 8 + i * 8).unwrap()).collect();
        assert_eq!(w, vec![ID, 0xa, 5 << 32 | 5, 3000, 2000, 2, 0xa, 0xb]);
        assert_eq!(got.len(), 72);
        let tp = Attr {
            sample_type: ST,
            ..Attr::default()
        };
        assert_eq!(
            OffCpu::file_attr(&tp, false).sample_type,
            ST & !(sample::RAW | sample::CPU)
        );
    }

    #[test]
    fn past_the_queue_cap_a_stretch_is_left_out_never_paired_across() {
        let mut o = new();
        // Room for one switch-out (a 120-byte record, 80 once its raw data is cut).
        o.max_queued = 130;
        let out = pass(
            &mut o,
            &[
                out_sample(5, 10, 1),
                out_sample(6, 12, 1),
                switch_in(6, 40),
                switch_in(5, 50),
            ],
        );
        // Thread 6's switch-out kept no stack: only thread 5's stretch is written.
        assert_eq!(samples(&out), vec![(ID, 5, 50, 40, vec![0xa, 0xb])]);
        assert_eq!(o.stats.dropped, 1);
        assert_eq!(o.queued_bytes, 0);
    }

    #[test]
    fn exits_and_the_idle_task_leave_nothing_and_the_blocked_get_their_sample_at_the_end() {
        let mut o = new();
        let out = pass(
            &mut o,
            &[
                out_sample(5, 10, 0x10),
                out_sample(0, 10, 0),
                out_sample(6, 100, 2),
            ],
        );
        assert!(samples(&out).is_empty());
        let mut end = Vec::new();
        o.finish(1100, &mut end);
        assert_eq!(samples(&end), vec![(ID, 6, 1100, 1000, vec![0xa, 0xb])]);
        assert_eq!(o.stats.at_end, 1);
    }

    #[test]
    fn other_records_pass_untouched() {
        let mut o = new();
        let other = rec(kind::SAMPLE, misc::USER, &[99, 1, 2, 3, 0, 1, 0, 0]);
        assert_eq!(pass(&mut o, std::slice::from_ref(&other)), other);
        assert!(OffCpu::new(ST & !sample::RAW, &[ID], STATE, types(), true).is_none());
    }
}
