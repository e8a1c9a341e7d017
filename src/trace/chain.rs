//! What `rperf trace` needs to name addresses: the traced processes' maps (MMAP records,
//! and /proc the first time a process is met), their symbols, and the call chains of
//! `--call-graph fp|dwarf` printed under a syscall as perf trace prints them (38 blank
//! columns, then ` sym (dso)`, innermost frame first).
use anyhow::{bail, Result};
use rustc_hash::FxHashSet;

use crate::callchain::Stacks;
use crate::data::read::{Mode, Record, Sample};
use crate::session::{Session, Symbolizer};

/// perf trace's left margin for callchain lines (`sample__fprintf_callchain(.., 38, ..)`).
const INDENT: usize = 38;

/// How call chains are sampled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallGraph {
    /// The kernel walks frame pointers.
    Fp,
    /// User registers and this many bytes of user stack, unwound here from the binaries' CFI.
    Dwarf(u32),
}

/// perf's `--call-graph` argument: `fp`, `dwarf` or `dwarf,SIZE`.
pub fn parse_call_graph(s: &str) -> Result<CallGraph> {
    let (mode, size) = match s.split_once(',') {
        Some((m, sz)) => (m, Some(sz)),
        None => (s, None),
    };
    match (mode, size) {
        ("fp", None) => Ok(CallGraph::Fp),
        ("dwarf", None) => Ok(CallGraph::Dwarf(8192)),
        ("dwarf", Some(sz)) => {
            let n: u64 = sz.trim().parse().map_err(|_| {
                anyhow::anyhow!("invalid --call-graph dwarf size '{sz}': give bytes, e.g. 16384")
            })?;
            // perf rounds up to whole u64s and takes at most 65528 bytes.
            let n = n.div_ceil(8) * 8;
            if n == 0 || n > 65528 {
                bail!("invalid --call-graph dwarf size {sz}: give 8 to 65528 bytes");
            }
            Ok(CallGraph::Dwarf(n as u32))
        }
        ("lbr", _) => bail!(
            "--call-graph lbr needs Intel's last branch records, which this machine's PMU \
             does not offer: use fp or dwarf"
        ),
        _ => bail!("invalid --call-graph '{s}': use fp, dwarf or dwarf,SIZE"),
    }
}

/// The traced processes' address spaces and symbols.
pub struct Maps {
    pub session: Session,
    pub symbols: Symbolizer,
    stacks: Stacks,
    /// Processes whose maps were read from /proc (or that are gone).
    known: FxHashSet<i32>,
    index: u64,
    live: bool,
}

impl Maps {
    /// An empty set of maps with the kernel's text mapped; `live`: processes met for the
    /// first time are read from /proc (not when replaying a file).
    pub fn new(live: bool) -> Maps {
        let mut session = Session::new();
        let ktext = crate::record::synth::kernel_text_start(crate::dirs::cache_dir().as_deref());
        if ktext != 0 {
            session.apply(&Record::Mmap {
                pid: -1,
                start: ktext,
                len: u64::MAX - ktext,
                pgoff: ktext,
                path: "[kernel.kallsyms]_text".into(),
                mode: Mode::Kernel,
                exec: true,
            });
        }
        Maps {
            session,
            symbols: Symbolizer::new(None),
            stacks: Stacks::new(None),
            known: FxHashSet::default(),
            index: 0,
            live,
        }
    }

    /// Reads the executable maps of `pid` from /proc, once.
    pub fn learn(&mut self, pid: i32) {
        if !self.live || pid <= 0 || !self.known.insert(pid) {
            return;
        }
        let Some(p) = crate::record::synth::read_process(pid) else {
            return;
        };
        for m in p.maps.iter().filter(|m| m.prot & 4 != 0) {
            self.session.apply(&Record::Mmap {
                pid: p.pid,
                start: m.start,
                len: m.end - m.start,
                pgoff: m.pgoff,
                path: m.path.clone(),
                mode: Mode::User,
                exec: true,
            });
        }
    }

    /// perf trace's lines for a sample's chain, at most `max` frames.
    pub fn chain_lines(
        &mut self,
        pid: i32,
        tid: i32,
        kernel: bool,
        sample: &Sample<'_>,
        max: usize,
    ) -> Vec<String> {
        self.learn(pid);
        self.index += 1;
        // The sample's chain pieces under the index this walk numbers its samples by.
        let s = Sample {
            event: 0,
            index: self.index,
            pid,
            tid,
            time: 0,
            cpu: None,
            ip: 0,
            mode: if kernel { Mode::Kernel } else { Mode::User },
            period: 1,
            callchain: Some(sample.callchain.unwrap_or(&[])),
            raw: None,
            user_regs: sample.user_regs,
            cgroup: None,
            weight: None,
            user_stack: sample.user_regs.map(|_| sample.user_stack.unwrap_or(&[])),
        };
        let frames = self.stacks.frames(&self.session, &s, max);
        frames
            .iter()
            .map(|f| {
                let (sym, dso) = match self.session.resolve(pid, f.addr, f.mode) {
                    Some(loc) => {
                        let path = &self.session.dsos()[loc.dso as usize].path;
                        let dso = path.strip_suffix("_text").unwrap_or(path).to_string();
                        match self.symbols.symbol(&self.session, loc) {
                            Some(sym) => (sym.name, dso),
                            // perf's EVSEL__PRINT_UNKNOWN_AS_ADDR: the map-relative address.
                            None => (format!("[{:x}]", loc.rel), dso),
                        }
                    }
                    None => ("[0]".to_string(), "[unknown]".to_string()),
                };
                format!("{:INDENT$} {sym} ({dso})\n", "")
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_graph_modes_parse_as_perf() {
        assert_eq!(parse_call_graph("fp").unwrap(), CallGraph::Fp);
        assert_eq!(parse_call_graph("dwarf").unwrap(), CallGraph::Dwarf(8192));
        assert_eq!(
            parse_call_graph("dwarf,1001").unwrap(),
            CallGraph::Dwarf(1008)
        );
        for bad in ["dwarf,0", "dwarf,70000", "dwarf,x", "lbr", "frame", ""] {
            assert!(parse_call_graph(bad).is_err(), "{bad}");
        }
    }
}
