//! What a command measures: a workload, processes, threads or CPUs, shared by stat and record.
use anyhow::{anyhow, bail, Context, Result};

use crate::sys::topology;

/// What to measure, as the user named it.
#[derive(Debug, Clone, Default)]
pub struct Target {
    /// Command to run (may be empty with -a/-C/-p/-t).
    pub command: Vec<String>,
    /// `-p` processes.
    pub pids: Vec<i32>,
    /// `-t` threads.
    pub tids: Vec<i32>,
    /// `-a`.
    pub system_wide: bool,
    /// `-C` list as typed.
    pub cpu_list: Option<String>,
    /// `-p` as typed (for the header).
    pub pid_text: Option<String>,
    /// `-t` as typed (for the header).
    pub tid_text: Option<String>,
}

/// perf's description of the target in `Performance counter stats for …`.
pub fn header_target(t: &Target) -> String {
    if let Some(c) = &t.cpu_list {
        format!("'CPU(s) {c}'")
    } else if t.system_wide {
        "'system wide'".into()
    } else if let Some(p) = &t.pid_text {
        format!("process id '{p}'")
    } else if let Some(p) = &t.tid_text {
        format!("thread id '{p}'")
    } else {
        format!("'{}'", t.command.join(" "))
    }
}

/// The CPUs to open per-CPU events on: `-C`, or every online CPU for `-a`; `None` otherwise.
pub fn resolve_cpus(t: &Target) -> Result<Option<Vec<u32>>> {
    let online = topology::online_cpus().context("reading the online CPU list")?;
    match &t.cpu_list {
        Some(list) => {
            let cpus = topology::parse_cpu_list(list)
                .ok_or_else(|| anyhow!("invalid CPU list '{list}': expected e.g. 0-3,5"))?;
            if let Some(bad) = cpus.iter().find(|c| !online.contains(c)) {
                bail!(
                    "CPU {bad} is not online (online: {}); pick CPUs from that list",
                    fmt_cpus(&online)
                );
            }
            Ok(Some(cpus))
        }
        None if t.system_wide => Ok(Some(online)),
        None => Ok(None),
    }
}

/// The threads of `-p` processes and `-t` threads, with their command names.
pub fn resolve_tasks(t: &Target) -> Result<Vec<(i32, String)>> {
    let mut tasks: Vec<(i32, String)> = Vec::new();
    for &pid in &t.pids {
        let tids = topology::threads_of(pid)
            .map_err(|_| anyhow!("no such process: {pid} (check the pid with `ps -p {pid}`)"))?;
        for tid in tids {
            tasks.push((tid, topology::comm_of(tid).unwrap_or_default()));
        }
    }
    for &tid in &t.tids {
        if !topology::is_alive(tid) {
            bail!("no such thread: {tid} (check the tid with `ps -eLf`)");
        }
        tasks.push((tid, topology::comm_of(tid).unwrap_or_default()));
    }
    Ok(tasks)
}

/// The host pid of the process that is `pid` inside the pid namespace of host process
/// `holder` (`-p PID@HOLDER`: a pid as a container shows it, with any process of that
/// container, such as its init, to say which namespace): the process in that same namespace
/// whose innermost `NSpid` entry in /proc/PID/status is `pid`.
pub fn host_pid(pid: i32, holder: i32) -> Result<i32> {
    use std::os::unix::fs::MetadataExt;
    let ns_of = |p: i32| {
        std::fs::metadata(format!("/proc/{p}/ns/pid"))
            .ok()
            .map(|m| (m.dev(), m.ino()))
    };
    let ns = ns_of(holder).ok_or_else(|| {
        anyhow!("-p {pid}@{holder}: no process {holder} whose pid namespace could be read (run as root, or check the pid)")
    })?;
    let innermost = |p: i32| -> Option<i32> {
        let status = std::fs::read_to_string(format!("/proc/{p}/status")).ok()?;
        let line = status.lines().find_map(|l| l.strip_prefix("NSpid:"))?;
        line.split_whitespace().last()?.parse().ok()
    };
    let dir = std::fs::read_dir("/proc").context("reading /proc")?;
    for e in dir.flatten() {
        let Some(p) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        if innermost(p) == Some(pid) && ns_of(p) == Some(ns) {
            return Ok(p);
        }
    }
    bail!("-p {pid}@{holder}: no process {pid} in the pid namespace of process {holder}")
}

fn fmt_cpus(c: &[u32]) -> String {
    c.iter()
        .map(|c| c.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pid_in_our_own_namespace_is_itself() {
        let me = std::process::id() as i32;
        // Inside no container, NSpid has one entry: the host pid.
        assert_eq!(host_pid(me, me).unwrap(), me);
        assert!(host_pid(i32::MAX, me).is_err());
    }

    #[test]
    fn header_names_the_target() {
        let mut t = Target {
            command: vec!["ls".into(), "-l".into()],
            ..Target::default()
        };
        assert_eq!(header_target(&t), "'ls -l'");
        t.system_wide = true;
        assert_eq!(header_target(&t), "'system wide'");
        t.cpu_list = Some("0".into());
        assert_eq!(header_target(&t), "'CPU(s) 0'");
        let p = Target {
            pid_text: Some("12,13".into()),
            pids: vec![12, 13],
            ..Target::default()
        };
        assert_eq!(header_target(&p), "process id '12,13'");
    }
}
