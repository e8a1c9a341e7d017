//! The symbolic event names perf knows: hardware, software, generic cache and tool events.

use perf_event_open_sys::bindings as b;

/// perf_event_attr.type values (uapi `perf_type_id`).
pub const TYPE_HARDWARE: u32 = b::PERF_TYPE_HARDWARE;
/// Software events (clocks, faults, switches).
pub const TYPE_SOFTWARE: u32 = b::PERF_TYPE_SOFTWARE;
/// Tracepoints; config is the tracefs event id.
pub const TYPE_TRACEPOINT: u32 = b::PERF_TYPE_TRACEPOINT;
/// Generic cache events; config packs cache id, op and result.
pub const TYPE_HW_CACHE: u32 = b::PERF_TYPE_HW_CACHE;
/// Raw PMU events; config is model specific.
pub const TYPE_RAW: u32 = b::PERF_TYPE_RAW;
/// Hardware breakpoints.
pub const TYPE_BREAKPOINT: u32 = b::PERF_TYPE_BREAKPOINT;

/// Generic hardware events: (names, config). The first name is the canonical one.
pub const HARDWARE: &[(&[&str], u64)] = &[
    (&["cpu-cycles", "cycles"], 0),
    (&["instructions"], 1),
    (&["cache-references"], 2),
    (&["cache-misses"], 3),
    (&["branch-instructions", "branches"], 4),
    (&["branch-misses"], 5),
    (&["bus-cycles"], 6),
    (&["stalled-cycles-frontend", "idle-cycles-frontend"], 7),
    (&["stalled-cycles-backend", "idle-cycles-backend"], 8),
    (&["ref-cycles"], 9),
];

/// Software events: (names, config), in the order `perf list` prints them.
pub const SOFTWARE: &[(&[&str], u64)] = &[
    (&["alignment-faults"], 7),
    (&["bpf-output"], 10),
    (&["cgroup-switches"], 11),
    (&["context-switches", "cs"], 3),
    (&["cpu-clock"], 0),
    (&["cpu-migrations", "migrations"], 4),
    (&["dummy"], 9),
    (&["emulation-faults"], 8),
    (&["major-faults"], 6),
    (&["minor-faults"], 5),
    (&["page-faults", "faults"], 2),
    (&["task-clock"], 1),
];

/// Software config values that are clocks (their counts are nanoseconds, shown in msec).
pub const SW_CPU_CLOCK: u64 = 0;
/// task-clock's config.
pub const SW_TASK_CLOCK: u64 = 1;

/// Tool events computed by rperf itself rather than the kernel.
pub const TOOL: &[&str] = &["duration_time", "user_time", "system_time"];

/// Generic cache ids with their accepted spellings; the first is canonical.
pub const CACHE_IDS: &[&[&str]] = &[
    &["L1-dcache", "l1-d", "l1d", "L1-data"],
    &["L1-icache", "l1-i", "l1i", "L1-instruction"],
    &["LLC", "L2"],
    &["dTLB", "d-tlb", "Data-TLB"],
    &["iTLB", "i-tlb", "Instruction-TLB"],
    &["branch", "branches", "bpu", "btb", "bpc"],
    &["node"],
];

/// Cache operations (read, write, prefetch) with their spellings.
pub const CACHE_OPS: &[&[&str]] = &[
    &["load", "loads", "read"],
    &["store", "stores", "write"],
    &[
        "prefetch",
        "prefetches",
        "speculative-read",
        "speculative-load",
    ],
];

/// Cache results (access, miss) with their spellings.
pub const CACHE_RESULTS: &[&[&str]] =
    &[&["refs", "Reference", "ops", "access"], &["misses", "miss"]];

/// Which (cache, op) pairs make sense, as perf's `perf list` shows them: bit `op` of entry
/// `cache` is set when the combination is listed.
pub const CACHE_OPS_VALID: [u8; 7] = [
    0b111, // L1-dcache: load, store, prefetch
    0b101, // L1-icache: load, prefetch
    0b111, // LLC
    0b111, // dTLB
    0b001, // iTLB
    0b001, // branch
    0b111, // node
];

/// Finds a hardware event by any of its names.
pub fn hardware(name: &str) -> Option<u64> {
    HARDWARE
        .iter()
        .find(|(names, _)| names.contains(&name))
        .map(|&(_, c)| c)
}

/// Finds a software event by any of its names.
pub fn software(name: &str) -> Option<u64> {
    SOFTWARE
        .iter()
        .find(|(names, _)| names.contains(&name))
        .map(|&(_, c)| c)
}

fn position_ci(table: &[&[&str]], word: &str) -> Option<u64> {
    table
        .iter()
        .position(|names| names.iter().any(|n| n.eq_ignore_ascii_case(word)))
        .map(|i| i as u64)
}

/// Parses a generic cache event name (`L1-dcache-load-misses`, `LLC-loads`, `dTLB-misses`)
/// into its config (`id | op << 8 | result << 16`), case-insensitively as perf does.
pub fn cache(name: &str) -> Option<u64> {
    // Cache names themselves contain '-', so try every prefix that names a cache.
    for (id, spellings) in CACHE_IDS.iter().enumerate() {
        for s in spellings.iter() {
            let Some(rest) = strip_prefix_ci(name, s) else {
                continue;
            };
            let Some(rest) = rest.strip_prefix('-') else {
                continue;
            };
            if let Some(cfg) = cache_op_result(id as u64, rest) {
                return Some(cfg);
            }
        }
    }
    None
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    if s.len() >= prefix.len()
        && s.is_char_boundary(prefix.len())
        && s[..prefix.len()].eq_ignore_ascii_case(prefix)
    {
        Some(&s[prefix.len()..])
    } else {
        None
    }
}

fn cache_op_result(id: u64, rest: &str) -> Option<u64> {
    // Forms: op, op-result, result (op defaults to load), each spelling may contain '-'.
    let try_split = |op_part: &str, res_part: Option<&str>| -> Option<u64> {
        let op = position_ci(CACHE_OPS, op_part)?;
        let res = match res_part {
            Some(r) => position_ci(CACHE_RESULTS, r)?,
            None => 0,
        };
        Some(id | (op << 8) | (res << 16))
    };
    if let Some(c) = try_split(rest, None) {
        return Some(c);
    }
    if let Some(res) = position_ci(CACHE_RESULTS, rest) {
        return Some(id | (res << 16));
    }
    for (i, _) in rest.match_indices('-') {
        if let Some(c) = try_split(&rest[..i], Some(&rest[i + 1..])) {
            return Some(c);
        }
    }
    None
}

/// Every generic cache event name `perf list` shows, in its order.
pub fn cache_event_names() -> Vec<String> {
    let mut out = Vec::new();
    for (id, names) in CACHE_IDS.iter().enumerate() {
        for (op, ops) in CACHE_OPS.iter().enumerate() {
            if CACHE_OPS_VALID[id] & (1 << op) == 0 {
                continue;
            }
            let op_name = ops[1];
            out.push(format!("{}-{}", names[0], op_name));
            out.push(format!("{}-{}-misses", names[0], ops[0]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_names_parse_like_perf() {
        assert_eq!(cache("L1-dcache-loads"), Some(0));
        assert_eq!(cache("L1-dcache-load-misses"), Some(1 << 16));
        assert_eq!(cache("L1-dcache-stores"), Some(1 << 8));
        assert_eq!(cache("LLC-load-misses"), Some(2 | (1 << 16)));
        assert_eq!(cache("l1d-prefetches"), Some(2 << 8));
        assert_eq!(cache("dTLB-misses"), Some(3 | (1 << 16)));
        assert_eq!(cache("iTLB-load-misses"), Some(4 | (1 << 16)));
        assert_eq!(cache("branch-loads"), Some(5));
        assert_eq!(
            cache("L1-icache-speculative-read-miss"),
            Some(1 | (2 << 8) | (1 << 16))
        );
        assert_eq!(cache("L1-dcache"), None);
        assert_eq!(cache("L1-dcache-bogus"), None);
        assert_eq!(cache("cycles"), None);
    }

    #[test]
    fn aliases_resolve() {
        assert_eq!(hardware("cycles"), Some(0));
        assert_eq!(hardware("branches"), Some(4));
        assert_eq!(software("cs"), Some(3));
        assert_eq!(software("faults"), Some(2));
        assert_eq!(software("migrations"), Some(4));
        assert_eq!(software("cycles"), None);
    }

    #[test]
    fn listed_cache_events_all_parse() {
        let names = cache_event_names();
        assert!(names.contains(&"L1-dcache-loads".to_string()));
        assert!(names.contains(&"iTLB-load-misses".to_string()));
        for n in names {
            assert!(cache(&n).is_some(), "{n}");
        }
    }
}
