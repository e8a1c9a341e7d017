//! Where system-defined event names come from: sysfs PMUs and tracefs tracepoints.
use std::fs;
use std::path::{Path, PathBuf};

/// Looks up names that the running system defines.
pub trait EventSource {
    /// The dynamic `type` of a PMU (`/sys/bus/event_source/devices/<pmu>/type`).
    fn pmu_type(&self, pmu: &str) -> Option<u32>;
    /// A PMU's format term (`format/<term>`), e.g. `config:0-7`.
    fn pmu_format(&self, pmu: &str, term: &str) -> Option<String>;
    /// A PMU's event alias (`events/<name>`), e.g. `event=0x00`.
    fn pmu_alias(&self, pmu: &str, name: &str) -> Option<String>;
    /// Tracepoints matching the globs, as (system, name, id), in directory order as perf.
    /// An error string explains why tracefs could not be read.
    fn tracepoints(&self, system: &str, name: &str) -> Result<Vec<(String, String, u64)>, String>;
    /// The tracefs path to show in messages.
    fn tracefs_display(&self) -> String;
}

/// The live system: sysfs for PMUs, tracefs (mounted on demand) for tracepoints.
#[derive(Debug, Default)]
pub struct SysSource {
    /// Overrides the PMU directory (tests); default `/sys/bus/event_source/devices`.
    pub pmu_root: Option<PathBuf>,
    /// Overrides the tracefs root (tests); default: found or mounted by `sys::tracefs`.
    pub tracefs: Option<PathBuf>,
}

/// The sysfs directory listing every PMU.
pub const PMU_ROOT: &str = "/sys/bus/event_source/devices";

impl SysSource {
    fn pmu_dir(&self, pmu: &str) -> Option<PathBuf> {
        if pmu.is_empty() || pmu.contains('/') || pmu.starts_with('.') {
            return None;
        }
        let root = self
            .pmu_root
            .clone()
            .unwrap_or_else(|| PathBuf::from(PMU_ROOT));
        Some(root.join(pmu))
    }

    fn tracefs_root(&self) -> Result<PathBuf, String> {
        match &self.tracefs {
            Some(p) => Ok(p.clone()),
            None => crate::sys::tracefs::root().map_err(|e| e.to_string()),
        }
    }
}

fn read_trim(p: &Path) -> Option<String> {
    fs::read_to_string(p).ok().map(|s| s.trim().to_string())
}

/// Directory entries in the order the file system returns them (perf does not sort either).
fn dir_names(p: &Path) -> Vec<String> {
    fs::read_dir(p)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
                .filter_map(|e| e.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default()
}

fn glob_match(pattern: &str, text: &str) -> bool {
    match glob::Pattern::new(pattern) {
        Ok(p) => p.matches(text),
        Err(_) => pattern == text,
    }
}

/// Every tracepoint under a tracefs root, as (system, name, id), in directory order.
pub fn scan_tracepoints(
    root: &Path,
    system: &str,
    name: &str,
) -> Result<Vec<(String, String, u64)>, String> {
    let events = root.join("events");
    match fs::metadata(&events) {
        Ok(m) if m.is_dir() && fs::read_dir(&events).is_ok() => {}
        Err(e) if e.kind() != std::io::ErrorKind::PermissionDenied => {
            return Err(format!(
                "{} does not exist: is tracefs mounted? (sudo mount -t tracefs nodev {})",
                events.display(),
                root.display()
            ))
        }
        // tracefs is mounted mode 0700 by default: only root sees the tracepoints.
        _ => {
            return Err(format!(
                "no permission to read {}: run as root, or let other users read tracefs with \
                 `sudo mount -o remount,mode=755 {}`",
                events.display(),
                root.display()
            ))
        }
    }
    let mut out = Vec::new();
    for sys in dir_names(&events) {
        if !glob_match(system, &sys) {
            continue;
        }
        let sys_dir = events.join(&sys);
        for ev in dir_names(&sys_dir) {
            if !glob_match(name, &ev) {
                continue;
            }
            if let Some(id) = read_trim(&sys_dir.join(&ev).join("id")).and_then(|s| s.parse().ok())
            {
                out.push((sys.clone(), ev, id));
            }
        }
    }
    Ok(out)
}

impl EventSource for SysSource {
    fn pmu_type(&self, pmu: &str) -> Option<u32> {
        read_trim(&self.pmu_dir(pmu)?.join("type"))?.parse().ok()
    }

    fn pmu_format(&self, pmu: &str, term: &str) -> Option<String> {
        if term.contains('/') {
            return None;
        }
        read_trim(&self.pmu_dir(pmu)?.join("format").join(term))
    }

    fn pmu_alias(&self, pmu: &str, name: &str) -> Option<String> {
        if name.contains('/') || name.starts_with('.') {
            return None;
        }
        read_trim(&self.pmu_dir(pmu)?.join("events").join(name))
    }

    fn tracepoints(&self, system: &str, name: &str) -> Result<Vec<(String, String, u64)>, String> {
        scan_tracepoints(&self.tracefs_root()?, system, name)
    }

    fn tracefs_display(&self) -> String {
        self.tracefs_root()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| crate::sys::tracefs::DEFAULT_MOUNT.to_string())
    }
}

/// A small fixed system for unit tests: a `cpu` PMU with Intel-like formats, `msr/tsc/`,
/// and a few sched tracepoints.
#[cfg(test)]
#[derive(Debug, Default)]
pub struct FakeSource;

#[cfg(test)]
impl EventSource for FakeSource {
    fn pmu_type(&self, pmu: &str) -> Option<u32> {
        match pmu {
            "cpu" => Some(4),
            "msr" => Some(9),
            _ => None,
        }
    }
    fn pmu_format(&self, pmu: &str, term: &str) -> Option<String> {
        let f = match (pmu, term) {
            ("cpu", "event") => "config:0-7",
            ("cpu", "umask") => "config:8-15",
            ("cpu", "inv") => "config:23",
            ("cpu", "cmask") => "config:24-31",
            ("msr", "event") => "config:0-63",
            _ => return None,
        };
        Some(f.to_string())
    }
    fn pmu_alias(&self, pmu: &str, name: &str) -> Option<String> {
        match (pmu, name) {
            ("msr", "tsc") => Some("event=0x00".into()),
            _ => None,
        }
    }
    fn tracepoints(&self, system: &str, name: &str) -> Result<Vec<(String, String, u64)>, String> {
        let all = [
            ("sched", "sched_switch", 316),
            ("sched", "sched_wakeup", 317),
            ("sched", "sched_waking", 318),
            ("syscalls", "sys_enter_read", 700),
        ];
        Ok(all
            .iter()
            .filter(|(s, n, _)| glob_match(system, s) && glob_match(name, n))
            .map(|&(s, n, id)| (s.to_string(), n.to_string(), id))
            .collect())
    }
    fn tracefs_display(&self) -> String {
        "/sys/kernel/tracing".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sysfs_pmu_lookup_reads_type_formats_and_aliases() {
        let dir = std::env::temp_dir().join(format!("rperf-pmu-{}", std::process::id()));
        let pmu = dir.join("mypmu");
        fs::create_dir_all(pmu.join("format")).unwrap();
        fs::create_dir_all(pmu.join("events")).unwrap();
        fs::write(pmu.join("type"), "42\n").unwrap();
        fs::write(pmu.join("format/event"), "config:0-7\n").unwrap();
        fs::write(pmu.join("events/foo"), "event=0x12\n").unwrap();
        let src = SysSource {
            pmu_root: Some(dir.clone()),
            tracefs: Some(dir.join("nothing")),
        };
        assert_eq!(src.pmu_type("mypmu"), Some(42));
        assert_eq!(src.pmu_type("../etc"), None);
        assert_eq!(
            src.pmu_format("mypmu", "event").as_deref(),
            Some("config:0-7")
        );
        assert_eq!(src.pmu_alias("mypmu", "foo").as_deref(), Some("event=0x12"));
        let evs = crate::events::parse_all(&["mypmu/foo/".to_string()], &src).unwrap();
        assert!(matches!(
            evs[0].kind,
            crate::events::EventKind::Pmu {
                type_: 42,
                config: [0x12, 0, 0],
                ..
            }
        ));
        assert!(src.tracepoints("sched", "*").is_err());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn tracefs_scan_matches_globs_and_reads_ids() {
        let dir = std::env::temp_dir().join(format!("rperf-tfs-{}", std::process::id()));
        for (s, n, id) in [
            ("sched", "sched_switch", 5),
            ("sched", "sched_wakeup", 6),
            ("irq", "irq_handler_entry", 7),
        ] {
            let d = dir.join("events").join(s).join(n);
            fs::create_dir_all(&d).unwrap();
            fs::write(d.join("id"), format!("{id}\n")).unwrap();
        }
        let mut v = scan_tracepoints(&dir, "sched", "sched_*").unwrap();
        v.sort();
        assert_eq!(
            v,
            vec![
                ("sched".into(), "sched_switch".into(), 5),
                ("sched".into(), "sched_wakeup".into(), 6)
            ]
        );
        assert_eq!(scan_tracepoints(&dir, "*", "irq_*").unwrap().len(), 1);
        assert!(scan_tracepoints(&dir, "nosuch", "x").unwrap().is_empty());
        fs::remove_dir_all(&dir).unwrap();
    }
}
