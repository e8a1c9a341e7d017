//! The lines `script --show-cgroup-events/--show-namespace-events` prints for CGROUP and
//! NAMESPACES records among the samples.
use super::*;

/// The line perf script prints for a CGROUP or NAMESPACES record when asked to: its
/// thread's name (the record's own task for NAMESPACES, the sample_id's for CGROUP; tid 0
/// is perf's `swapper`), the sample_id's tid, CPU and time, then the record as perf 6.1
/// words it.
pub(super) fn side_line(
    cfg: &ScriptConfig,
    f: &Fields,
    ev: &data::EventInfo,
    session: &crate::session::Session,
    rec: &data::Record,
) -> Option<String> {
    let (named_tid, at, body) = match rec {
        data::Record::Cgroup { id, path, at } if cfg.show_cgroups => (
            at.tid,
            at,
            format!("PERF_RECORD_CGROUP cgroup: {id} {path}\n"),
        ),
        data::Record::Namespaces { pid, tid, ns, at } if cfg.show_namespaces => {
            const NAMES: [&str; 7] = ["net", "uts", "ipc", "pid", "user", "mnt", "cgroup"];
            let mut b = format!(
                "PERF_RECORD_NAMESPACES {pid}/{tid} - nr_namespaces: {}\n\t\t[",
                ns.len()
            );
            for (i, (dev, ino)) in ns.iter().enumerate() {
                let name = NAMES.get(i).copied().unwrap_or("unknown");
                // printf's %#lx: no 0x for zero.
                if *ino == 0 {
                    let _ = write!(b, "{i}/{name}: {dev}/0");
                } else {
                    let _ = write!(b, "{i}/{name}: {dev}/{ino:#x}");
                }
                if i + 1 < ns.len() {
                    b.push_str(", ");
                    // perf breaks the list after every fourth namespace.
                    if (i + 1) % 4 == 0 {
                        b.push_str("\n\t\t ");
                    }
                }
            }
            b.push_str("]\n");
            (*tid, at, b)
        }
        _ => return None,
    };
    let mut line = String::new();
    if f.comm {
        let comm = if named_tid == 0 {
            "swapper".to_string()
        } else {
            session.comm(named_tid)
        };
        let _ = write!(line, "{comm:>16} ");
    }
    if f.pid || f.tid {
        push_num(&mut line, i64::from(at.tid), 5, Pad::Right);
        line.push(' ');
    }
    if let Some(cpu) = at.cpu.filter(|_| f.cpu && ev.has_cpu) {
        let _ = write!(line, "[{cpu:03}] ");
    }
    if f.time {
        push_num(&mut line, (at.time / 1_000_000_000) as i64, 5, Pad::Right);
        line.push('.');
        push_num(
            &mut line,
            ((at.time % 1_000_000_000) / 1000) as i64,
            6,
            Pad::Zero,
        );
        line.push_str(": ");
    }
    line.push_str(&body);
    Some(line)
}
