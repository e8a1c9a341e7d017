//! perf's `--sort` keys, shared by report, diff and top.
use anyhow::{bail, Result};

/// One `--sort` key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    /// Command name.
    Comm,
    /// Thread id and its command name (perf's `pid` key: the sample's thread).
    Pid,
    /// Binary.
    Dso,
    /// Function.
    Sym,
    /// CPU.
    Cpu,
    /// Source file and line (`file.c:12`), from DWARF.
    Srcline,
    /// The innermost caller matching `--parent` (perf's `[other]` when none does).
    Parent,
    /// A tracepoint sample's formatted fields (perf's `trace` key; `N/A` for other events).
    Trace,
    /// The sample's cgroup by path (`--all-cgroups` recordings; perf's `cgroup` key).
    Cgroup,
    /// The thread's cgroup namespace as dev/inode (`--namespaces` recordings; perf's
    /// `cgroup_id` key).
    CgroupId,
}

impl SortKey {
    /// Parses perf's `--sort` list.
    pub fn parse_list(s: &str) -> Result<Vec<SortKey>> {
        s.split(',')
            .map(|k| {
                Ok(match k.trim() {
                    "comm" => SortKey::Comm,
                    "pid" => SortKey::Pid,
                    "dso" => SortKey::Dso,
                    "sym" | "symbol" => SortKey::Sym,
                    "cpu" => SortKey::Cpu,
                    "srcline" => SortKey::Srcline,
                    "parent" => SortKey::Parent,
                    "trace" => SortKey::Trace,
                    "cgroup" => SortKey::Cgroup,
                    "cgroup_id" => SortKey::CgroupId,
                    other => {
                        bail!("unknown --sort key '{other}': use comm, pid, dso, sym, srcline, parent, cpu, trace, cgroup or cgroup_id")
                    }
                })
            })
            .collect()
    }

    /// perf's column header for the key.
    pub(crate) fn header(self) -> &'static str {
        match self {
            SortKey::Comm => "Command",
            SortKey::Pid => "    Pid:Command",
            SortKey::Dso => "Shared Object",
            SortKey::Sym => "Symbol",
            SortKey::Cpu => "CPU",
            SortKey::Srcline => "Source:Line",
            SortKey::Parent => "Parent symbol",
            SortKey::Trace => "Trace output",
            SortKey::Cgroup => "Cgroup",
            SortKey::CgroupId => "cgroup id (dev/inode)",
        }
    }
}
