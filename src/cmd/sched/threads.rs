//! Per-thread state the analyses share: run states, switch counts, threads by pid and tid.
use super::*;

pub(super) enum State {
    Latency(Latency),
    Timehist(Box<Timehist>),
    Map(Map),
}

/// The consistency counts perf reports under the latency and map outputs.
#[derive(Default)]
pub(super) struct Counts {
    pub(super) curr_pid: HashMap<u32, i64>,
    pub(super) switch_bugs: u64,
    pub(super) timestamps: u64,
    pub(super) unordered: u64,
    pub(super) events: u64,
    pub(super) lost: u64,
    pub(super) lost_chunks: u64,
}

impl Counts {
    /// A switch away from a task that the previous switch on this CPU did not bring in.
    pub(super) fn switch(&mut self, cpu: u32, s: &Sample, ev: &Events) {
        let prev = ev.int(s, "prev_pid");
        if let Some(&cur) = self.curr_pid.get(&cpu) {
            if cur != prev {
                self.switch_bugs += 1;
            }
        }
        self.curr_pid.insert(cpu, ev.int(s, "next_pid"));
    }

    pub(super) fn bad_events(&self, out: &mut String) {
        if self.unordered > 0 && self.timestamps > 0 {
            let _ = writeln!(
                out,
                "  INFO: {:.3}% unordered timestamps ({} out of {})",
                self.unordered as f64 / self.timestamps as f64 * 100.0,
                self.unordered,
                self.timestamps
            );
        }
        if self.lost > 0 && self.events > 0 {
            let _ = writeln!(
                out,
                "  INFO: {:.3}% lost events ({} out of {}, in {} chunks)",
                self.lost as f64 / self.events as f64 * 100.0,
                self.lost,
                self.events,
                self.lost_chunks
            );
        }
        if self.switch_bugs > 0 && self.timestamps > 0 {
            let _ = write!(
                out,
                "  INFO: {:.3}% context switch bugs ({} out of {})",
                self.switch_bugs as f64 / self.timestamps as f64 * 100.0,
                self.switch_bugs,
                self.timestamps
            );
            if self.lost > 0 {
                out.push_str(" (due to lost events?)");
            }
            out.push('\n');
        }
    }
}

/// A thread as perf's machine keeps it: the process id once known, the parent from the fork,
/// its name, whether it exited.
#[derive(Debug, Clone)]
pub(super) struct Thread<T> {
    /// Which thread this is, for those that outlive a reuse of their id.
    pub(super) serial: u64,
    pub(super) pid: i32,
    pub(super) ppid: i32,
    pub(super) tid: i32,
    /// Set by COMM records or inherited at fork; perf's `:tid` until then.
    pub(super) comm: Option<String>,
    pub(super) dead: bool,
    pub(super) data: T,
}

impl<T> Thread<T> {
    /// The name perf prints: the idle task is swapper, an unnamed thread `:tid`.
    pub(super) fn comm(&self) -> String {
        match &self.comm {
            Some(c) => c.clone(),
            None if self.tid == 0 => "swapper".to_string(),
            None => format!(":{}", self.tid),
        }
    }
}

/// perf's thread table: threads by id, created on first mention; a fork replaces a thread
/// whose id is reused. perf 6.1 keeps a replaced thread that something still holds on its
/// bucket's dead list, where its own walks over the threads still see it; the sched tools
/// hold every thread they touched, so the replaced ones are kept here, in removal order.
#[derive(Debug)]
pub(super) struct Threads<T> {
    pub(super) map: HashMap<i32, Thread<T>>,
    pub(super) serials: u64,
    pub(super) replaced: Vec<Thread<T>>,
    /// Where each replaced thread is in `replaced`, by serial: a name asked of one is found
    /// without a walk over all of them (a busy machine replaces thousands as ids wrap).
    replaced_at: HashMap<u64, usize>,
}

impl<T: Default> Threads<T> {
    pub(super) fn new() -> Threads<T> {
        Threads {
            map: HashMap::new(),
            serials: 0,
            replaced: Vec::new(),
            replaced_at: HashMap::new(),
        }
    }

    /// perf's `machine__findnew_thread`: a known thread takes the process id the first time
    /// one is given (-1 is none); a thread given a process id other than its own makes sure
    /// its process's leader exists with that id.
    pub(super) fn get(&mut self, pid: i32, tid: i32) -> &mut Thread<T> {
        let known = self.map.get(&tid).map(|t| t.pid);
        let leader = match known {
            None => pid != -1 && pid != tid,
            Some(-1) => pid != -1 && pid != tid,
            Some(_) => false,
        };
        if known.is_none() {
            self.serials += 1;
            let serial = self.serials;
            self.map.insert(
                tid,
                Thread {
                    serial,
                    pid,
                    ppid: -1,
                    tid,
                    comm: None,
                    dead: false,
                    data: T::default(),
                },
            );
        }
        if leader {
            self.get(pid, pid);
        }
        let th = self.map.get_mut(&tid).expect("inserted above");
        if th.pid == -1 && pid != -1 {
            th.pid = pid;
        }
        th
    }

    pub(super) fn remove(&mut self, tid: i32) {
        if let Some(th) = self.map.remove(&tid) {
            self.replaced_at.insert(th.serial, self.replaced.len());
            self.replaced.push(th);
        }
    }

    /// The name of the thread with this serial, replaced or not.
    pub(super) fn comm_of(&self, serial: u64, tid: i32) -> String {
        match self.map.get(&tid).filter(|t| t.serial == serial) {
            Some(t) => t.comm(),
            None => self
                .replaced_at
                .get(&serial)
                .map(|&i| self.replaced[i].comm())
                .unwrap_or_default(),
        }
    }

    pub(super) fn side(&mut self, rec: &Record) {
        match rec {
            Record::Comm { pid, tid, name, .. } => {
                self.get(*pid, *tid).comm = Some(name.clone());
            }
            &Record::Fork {
                pid,
                ppid,
                tid,
                ptid,
                ..
            } => {
                // perf takes a parent of another process id for a stale thread (its fork
                // lost or out of order) and starts it afresh, its numbers dropped.
                if self.get(ppid, ptid).pid != ppid {
                    self.remove(ptid);
                    self.get(ppid, ptid);
                }
                let comm = self.get(ppid, ptid).comm.clone();
                self.remove(tid);
                let th = self.get(pid, tid);
                th.ppid = ptid;
                th.comm = comm;
            }
            &Record::Exit { pid, tid } => {
                if let Some(th) = self.map.get_mut(&tid) {
                    if th.pid == -1 && pid != -1 {
                        th.pid = pid;
                    }
                    th.dead = true;
                }
            }
            _ => {}
        }
    }
}
