//! `rperf list`: the events this system can count, in perf list's layout and order.
use std::fs;
use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;

use crate::abi::{flag, Attr};
use crate::events::source::{scan_tracepoints, PMU_ROOT};
use crate::events::tables::{self, TYPE_HARDWARE, TYPE_HW_CACHE};
use crate::sys::counter;

/// Options of `rperf list`.
#[derive(Debug, Clone, Default)]
pub struct ListConfig {
    /// Category words (hw, sw, cache, pmu, tracepoint, tool) or name globs.
    pub filters: Vec<String>,
}

/// One printed line: the names (joined with ` OR `) and the category.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Accepted spellings; the first is printed first.
    pub names: Vec<String>,
    /// Bracketed category text.
    pub category: &'static str,
    /// Filter word that selects the whole category.
    pub class: &'static str,
}

impl Entry {
    fn new(names: &[&str], category: &'static str, class: &'static str) -> Entry {
        Entry {
            names: names.iter().map(|s| s.to_string()).collect(),
            category,
            class,
        }
    }

    /// The line as perf prints it.
    pub fn line(&self) -> String {
        format!("  {:<50} [{}]\n", self.names.join(" OR "), self.category)
    }
}

/// Whether the kernel accepts this hardware/cache event for the current process.
fn supported(type_: u32, config: u64) -> bool {
    let mut a = Attr {
        type_,
        config,
        flags: flag::DISABLED | flag::EXCLUDE_KERNEL | flag::EXCLUDE_HV,
        ..Attr::default()
    };
    if counter::open(&a, 0, -1, None).is_ok() {
        return true;
    }
    a.flags &= !(flag::EXCLUDE_KERNEL | flag::EXCLUDE_HV);
    counter::open(&a, 0, -1, None).is_ok()
}

/// PMU events from sysfs `events/` directories, as `pmu/event/`, sorted.
pub fn pmu_events(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let Ok(pmus) = fs::read_dir(root) else {
        return out;
    };
    for pmu in pmus.flatten() {
        let Ok(pmu_name) = pmu.file_name().into_string() else {
            continue;
        };
        let Ok(evs) = fs::read_dir(pmu.path().join("events")) else {
            continue;
        };
        for ev in evs.flatten() {
            let Ok(name) = ev.file_name().into_string() else {
                continue;
            };
            // `.scale`, `.unit`, `.per-pkg` and similar files qualify an event, they are not one.
            if name.contains('.') {
                continue;
            }
            out.push(format!("{pmu_name}/{name}/"));
        }
    }
    out.sort();
    out
}

/// Every entry, in perf's order, with hardware and cache events probed for support.
pub fn entries(probe: bool) -> Vec<Entry> {
    let mut v = Vec::new();
    for (names, cfg) in tables::HARDWARE {
        if !probe || supported(TYPE_HARDWARE, *cfg) {
            v.push(Entry::new(names, "Hardware event", "hw"));
        }
    }
    for (names, _) in tables::SOFTWARE {
        v.push(Entry::new(names, "Software event", "sw"));
    }
    for name in tables::TOOL {
        v.push(Entry::new(&[name], "Tool event", "tool"));
    }
    for name in tables::cache_event_names() {
        let cfg = tables::cache(&name).unwrap_or(0);
        if !probe || supported(TYPE_HW_CACHE, cfg) {
            v.push(Entry::new(&[&name], "Hardware cache event", "cache"));
        }
    }
    for name in pmu_events(Path::new(PMU_ROOT)) {
        v.push(Entry::new(&[&name], "Kernel PMU event", "pmu"));
    }
    v.push(Entry::new(
        &["rNNN"],
        "Raw hardware event descriptor",
        "raw",
    ));
    v.push(Entry::new(
        &["cpu/t1=v1[,t2=v2,t3 ...]/modifier"],
        "Raw hardware event descriptor",
        "raw",
    ));
    v.push(Entry::new(
        &["mem:<addr>[/len][:access]"],
        "Hardware breakpoint",
        "breakpoint",
    ));
    if let Ok(root) = crate::sys::tracefs::root() {
        let mut tps: Vec<String> = scan_tracepoints(&root, "*", "*")
            .unwrap_or_default()
            .into_iter()
            .map(|(s, n, _)| format!("{s}:{n}"))
            .collect();
        tps.sort();
        for tp in tps {
            v.push(Entry::new(&[&tp], "Tracepoint event", "tracepoint"));
        }
    }
    v
}

fn class_of(word: &str) -> Option<&'static str> {
    Some(match word {
        "hw" | "hardware" => "hw",
        "sw" | "software" => "sw",
        "cache" | "hwcache" => "cache",
        "pmu" => "pmu",
        "tracepoint" => "tracepoint",
        _ => return None,
    })
}

/// Whether `e` passes one filter: a category word, or a glob on any of its names.
pub fn matches(e: &Entry, filter: &str) -> bool {
    if let Some(class) = class_of(filter) {
        // perf lists its tool events (duration_time…) with the software ones.
        return e.class == class || (class == "sw" && e.class == "tool");
    }
    if !filter.contains(':') {
        // As perf: a word without `:` matches anywhere in a name (`*word*`), and for a
        // tracepoint in its event part (`rperf list page` finds btrfs:extent_writepage).
        let Ok(pat) = glob::Pattern::new(&format!("*{}*", filter.trim_matches('*'))) else {
            return false;
        };
        return e.names.iter().any(|n| {
            let name = match e.class {
                "tracepoint" => n.split_once(':').map_or(n.as_str(), |(_, ev)| ev),
                _ => n,
            };
            pat.matches(name)
        });
    }
    let pat = glob::Pattern::new(filter).ok();
    e.names.iter().any(|n| match &pat {
        Some(p) => p.matches(n),
        None => n == filter,
    })
}

/// Runs `rperf list`.
pub fn run(cfg: ListConfig) -> Result<ExitCode> {
    let mut out = String::new();
    if cfg.filters.is_empty() && std::io::stdout().is_terminal() {
        out.push_str("\nList of pre-defined events (to be used in -e or -M):\n\n");
    }
    for e in entries(true) {
        if cfg.filters.is_empty() || cfg.filters.iter().any(|f| matches(&e, f)) {
            out.push_str(&e.line());
        }
    }
    // USDT markers cached for probing, last as in perf's listing.
    if cfg.filters.is_empty() || cfg.filters.iter().any(|f| f == "sdt") {
        out.push_str(&crate::cmd::probe::sdt_list_lines());
    }
    crate::output::stdout(&out)?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_put_the_category_at_column_54() {
        let e = Entry::new(&["context-switches", "cs"], "Software event", "sw");
        assert_eq!(
            e.line(),
            "  context-switches OR cs                             [Software event]\n"
        );
    }

    #[test]
    fn filters_by_class_and_glob() {
        let e = Entry::new(&["sched:sched_switch"], "Tracepoint event", "tracepoint");
        assert!(matches(&e, "tracepoint"));
        assert!(matches(&e, "sched:*"));
        assert!(!matches(&e, "sw"));
        assert!(!matches(&e, "irq:*"));
        let cs = Entry::new(&["context-switches", "cs"], "Software event", "sw");
        assert!(matches(&cs, "cs"));
        // A plain word matches inside names, for tracepoints inside the event part only.
        assert!(matches(&e, "switch"));
        assert!(matches(&e, "sched_sw*"));
        let wp = Entry::new(
            &["btrfs:extent_writepage"],
            "Tracepoint event",
            "tracepoint",
        );
        assert!(matches(&wp, "page"));
        assert!(!matches(&wp, "btrfs"));
        let tool = Entry::new(&["duration_time"], "Tool event", "tool");
        assert!(matches(&tool, "sw"));
        assert!(!matches(&tool, "tool"));
    }

    #[test]
    fn pmu_events_skip_qualifier_files() {
        let dir = std::env::temp_dir().join(format!("rperf-list-{}", std::process::id()));
        fs::create_dir_all(dir.join("p/events")).unwrap();
        fs::write(dir.join("p/events/a"), "event=1").unwrap();
        fs::write(dir.join("p/events/a.scale"), "1").unwrap();
        assert_eq!(pmu_events(&dir), vec!["p/a/".to_string()]);
        fs::remove_dir_all(&dir).unwrap();
    }
}
