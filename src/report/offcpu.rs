//! The off-CPU and wall-clock views of a `record --off-cpu` file: folded stacks of the
//! off-CPU events (`offcpu-time`, blocked; `offcpu-runnable`, waiting for a CPU), or of those
//! with the CPU samples (cpu-clock/task-clock, whose periods are nanoseconds too) so that each
//! thread's stacks add up to its elapsed time; and the flame graph colours that tell them apart.
use std::path::Path;

use anyhow::{bail, Result};
use inferno::flamegraph::color::{Color, PaletteMap};

use crate::report::folded::{walk, FoldOptions};

/// perf's name for blocked off-CPU time (as `record::offcpu` writes it).
pub const BLOCKED: &str = "offcpu-time";
/// Time runnable but waiting for a CPU.
pub const RUNNABLE: &str = "offcpu-runnable";
/// The frame under the thread's root that off-CPU stacks hang from.
pub const BLOCKED_FRAME: &str = "[off-cpu: blocked]";
/// The frame runnable stacks hang from.
pub const RUNNABLE_FRAME: &str = "[off-cpu: runnable]";
/// Suffixes marking off-CPU frames for colouring; inferno shows the names without them.
const BLOCKED_MARK: &str = "_[w]";
const RUNNABLE_MARK: &str = "_[i]";

/// Which graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// Only the time off CPU.
    OffCpu,
    /// On- and off-CPU time together, one root per thread.
    Wall,
}

/// What a sample's time was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    OnCpu,
    Blocked,
    Runnable,
}

fn kind_of(event: &str) -> Option<Kind> {
    match event {
        BLOCKED => Some(Kind::Blocked),
        RUNNABLE => Some(Kind::Runnable),
        e if matches!(e.split(':').next(), Some("cpu-clock" | "task-clock")) => Some(Kind::OnCpu),
        _ => None,
    }
}

/// Folded stacks of `view` with their nanoseconds, sorted by stack. `mark` suffixes the
/// off-CPU frames for [`palette`] (the SVG); folded text output leaves them plain.
pub fn fold(
    input: &Path,
    opts: &FoldOptions,
    view: View,
    mark: bool,
) -> Result<Vec<(String, u64)>> {
    let mut o = opts.clone();
    o.all_events = true;
    let per_thread = o.per_thread || (view == View::Wall && !o.per_process);
    let mut folded: rustc_hash::FxHashMap<String, u64> = Default::default();
    let (mut off, mut on) = (false, false);
    let mut line = String::with_capacity(512);
    walk(input, &o, |s| {
        let Some(kind) = kind_of(s.event) else { return };
        if kind == Kind::OnCpu && view == View::OffCpu {
            return;
        }
        on |= kind == Kind::OnCpu;
        off |= kind != Kind::OnCpu;
        line.clear();
        line.push_str(s.comm);
        if per_thread {
            line.push_str(&format!("-{}/{}", s.pid, s.tid));
        } else if o.per_process {
            line.push_str(&format!("-{}", s.pid));
        }
        let marker = match kind {
            Kind::OnCpu => "",
            Kind::Blocked => BLOCKED_MARK,
            Kind::Runnable => RUNNABLE_MARK,
        };
        match kind {
            Kind::OnCpu => {}
            Kind::Blocked => line.push_str(&format!(";{BLOCKED_FRAME}")),
            Kind::Runnable => line.push_str(&format!(";{RUNNABLE_FRAME}")),
        }
        for f in s.frames.iter().rev() {
            line.push(';');
            line.push_str(&f.name);
            if f.kernel && o.annotate_kernel && kind == Kind::OnCpu {
                line.push_str("_[k]");
            }
            if mark {
                line.push_str(marker);
            }
        }
        *folded.entry(line.clone()).or_default() += s.period;
    })?;
    if !off {
        bail!(
            "no off-CPU samples (offcpu-time) in {}: record with `rperf record --off-cpu`",
            input.display()
        );
    }
    if view == View::Wall && !on {
        bail!(
            "--wall needs CPU time samples (cpu-clock or task-clock) beside the off-CPU ones in {}: record with `rperf record --off-cpu` and no -e, or with -e cpu-clock",
            input.display()
        );
    }
    let mut v: Vec<(String, u64)> = folded.into_iter().collect();
    v.sort();
    Ok(v)
}

/// A colour from `name`'s hash within a palette's range: blue for blocked frames (inferno's
/// io palette), aqua for runnable ones, so that a frame keeps its colour from run to run.
fn shade(name: &str, runnable: bool) -> Color {
    // FNV-1a: stable across runs and machines.
    let mut h: u64 = 0xcbf29ce484222325;
    for b in name.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    let v1 = (h & 0xffff) as f32 / 65535.0;
    let v2 = ((h >> 16) & 0xffff) as f32 / 65535.0;
    let t = |base: u8, span: f32, v: f32| base + (span * v) as u8;
    if runnable {
        Color {
            r: t(50, 60.0, v1),
            g: t(165, 55.0, v1),
            b: t(165, 55.0, v2),
        }
    } else {
        Color {
            r: t(80, 60.0, v1),
            g: t(80, 60.0, v1),
            b: t(190, 55.0, v2),
        }
    }
}

/// The colours of the marked off-CPU frames in `lines`; frames not in the map (on-CPU)
/// keep the graph's palette.
pub fn palette(lines: &[(String, u64)]) -> PaletteMap {
    let mut map = PaletteMap::default();
    for (stack, _) in lines {
        for f in stack.split(';') {
            if let Some(base) = f.strip_suffix(BLOCKED_MARK) {
                map.insert(f, shade(base, false));
            } else if let Some(base) = f.strip_suffix(RUNNABLE_MARK) {
                map.insert(f, shade(base, true));
            }
        }
        if let Some(f) = stack.split(';').nth(1) {
            if f == BLOCKED_FRAME || f == RUNNABLE_FRAME {
                map.insert(f, shade(f, f == RUNNABLE_FRAME));
            }
        }
    }
    map
}

/// The nanoseconds each root (thread, with `--wall`) adds up to.
pub fn totals(lines: &[(String, u64)]) -> Vec<(String, u64)> {
    let mut m: std::collections::BTreeMap<String, u64> = Default::default();
    for (stack, w) in lines {
        let root = stack.split(';').next().unwrap_or("");
        *m.entry(root.to_string()).or_default() += w;
    }
    m.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_sort_into_on_cpu_blocked_and_runnable() {
        assert_eq!(kind_of("offcpu-time"), Some(Kind::Blocked));
        assert_eq!(kind_of("offcpu-runnable"), Some(Kind::Runnable));
        assert_eq!(kind_of("cpu-clock:pppH"), Some(Kind::OnCpu));
        assert_eq!(kind_of("task-clock"), Some(Kind::OnCpu));
        assert_eq!(kind_of("cycles"), None);
    }

    #[test]
    fn marked_frames_get_blue_or_aqua_and_roots_add_up() {
        let lines = vec![
            (
                "t-1/1;[off-cpu: blocked];main_[w];sleep_[w]".to_string(),
                30,
            ),
            ("t-1/1;[off-cpu: runnable];main_[i]".to_string(), 5),
            ("t-1/1;main".to_string(), 65),
        ];
        let map = palette(&lines);
        let blue = map.get("sleep_[w]").unwrap();
        assert!(blue.b > blue.r && blue.b > blue.g);
        let aqua = map.get("main_[i]").unwrap();
        assert!(aqua.g > aqua.r && aqua.b > aqua.r);
        assert!(map.get("main").is_none());
        assert_eq!(totals(&lines), vec![("t-1/1".to_string(), 100)]);
    }
}
