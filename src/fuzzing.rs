//! Entry points for the fuzz targets: one function per input format rperf parses, taking
//! arbitrary bytes. cargo-fuzz (fuzz/, nightly, libFuzzer) and the bounded mutation run in
//! `cargo test` call the same functions, so a crash either finds is the same bug. Each must
//! return, whatever the bytes, without a panic, an abort, a hang or an allocation the input
//! does not justify.
use std::path::PathBuf;

use crate::events::{EventSource, Modifiers};

/// A fuzz target: any bytes in, nothing out.
pub type Target = fn(&[u8]);

/// The targets by name, as fuzz/ and the tests know them.
pub const TARGETS: [(&str, Target); 7] = [
    ("perf_data", perf_data),
    ("sample_decoder", sample_decoder),
    ("tracepoint_format", tracepoint_format),
    ("print_fmt", print_fmt),
    ("event_grammar", event_grammar),
    ("symbols_elf", symbols_elf),
    ("perf_map", perf_map),
];

/// A scratch file for inputs the code under test reads by path, one per thread.
fn scratch(ext: &str, bytes: &[u8]) -> Option<PathBuf> {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    std::thread::current().id().hash(&mut h);
    let path = std::env::temp_dir().join(format!(
        "rperf-fuzz-{}-{:x}.{ext}",
        std::process::id(),
        h.finish()
    ));
    std::fs::write(&path, bytes).ok()?;
    Some(path)
}

/// A perf.data file (file or pipe mode): the reader with every record, the
/// `--header-only` text, the user-stack probe, and the tracepoint formats of its
/// TRACING_DATA applied to its samples' payloads.
pub fn perf_data(bytes: &[u8]) {
    let Some(path) = scratch("data", bytes) else {
        return;
    };
    let _ = crate::data::has_user_stacks(&path);
    let _ = crate::report::header::text(&path);
    let mut formats = None;
    let _ = crate::data::read(&path, |header, rec| {
        let formats = formats.get_or_insert_with(|| {
            header
                .tracing_data
                .as_deref()
                .map(crate::report::trace::parse_tracing_data)
                .unwrap_or_default()
        });
        if let crate::data::Record::Sample(s) = rec {
            let tp = header.events.get(s.event).and_then(|e| e.tracepoint);
            if let (Some(fmt), Some(raw)) = (tp.and_then(|id| formats.get(&id)), &s.raw) {
                let _ = crate::report::trace::pretty(fmt, raw);
                let _ = crate::report::trace::fields(fmt, raw);
            }
        }
    });
    let _ = std::fs::remove_file(&path);
}

/// One sample record under an arbitrary sample format (see [`crate::data::fuzz_sample`]).
pub fn sample_decoder(bytes: &[u8]) {
    crate::data::fuzz_sample(bytes);
}

/// A TRACING_DATA section, and the same bytes as one event's `format` text.
pub fn tracepoint_format(bytes: &[u8]) {
    let _ = crate::report::trace::parse_tracing_data(bytes);
    let _ = crate::report::trace::parse_format(&String::from_utf8_lossy(bytes));
}

/// An event's `format` text, a NUL, then a payload: the payload printed through the
/// format's `print fmt` and as `field=value` pairs.
pub fn print_fmt(bytes: &[u8]) {
    let (text, raw) = match bytes.iter().position(|&b| b == 0) {
        Some(i) => (&bytes[..i], &bytes[i + 1..]),
        None => (bytes, &[][..]),
    };
    let text = String::from_utf8_lossy(text);
    // Inputs without the ID line still exercise the print format.
    let text = if text.contains("ID:") {
        text.into_owned()
    } else {
        format!("ID: 1\n{text}")
    };
    if let Some((_, fmt)) = crate::report::trace::parse_format(&text) {
        let _ = crate::report::trace::pretty_with(&fmt, raw, &|a| Some((format!("f{a}"), 1)));
        let _ = crate::report::trace::fields(&fmt, raw);
    }
}

/// A fixed system for the event grammar: one PMU with formats and an alias, a few
/// tracepoints.
struct Fixed;

impl EventSource for Fixed {
    fn pmu_type(&self, pmu: &str) -> Option<u32> {
        (pmu == "cpu").then_some(4)
    }
    fn pmu_format(&self, pmu: &str, term: &str) -> Option<String> {
        let f = match (pmu, term) {
            ("cpu", "event") => "config:0-7",
            ("cpu", "umask") => "config:8-15",
            ("cpu", "edge") => "config:18",
            ("cpu", "cmask") => "config:24-31",
            ("cpu", "ldlat") => "config1:0-15",
            ("cpu", "split") => "config:0-3,config:60-63",
            _ => return None,
        };
        Some(f.to_string())
    }
    fn pmu_alias(&self, pmu: &str, name: &str) -> Option<String> {
        (pmu == "cpu" && name == "mem-loads").then(|| "event=0xcd,umask=0x1,ldlat=3".into())
    }
    fn tracepoints(&self, system: &str, name: &str) -> Result<Vec<(String, String, u64)>, String> {
        let glob = |p: &str, s: &str| glob::Pattern::new(p).is_ok_and(|p| p.matches(s));
        Ok([
            ("sched", "sched_switch", 316),
            ("sched", "sched_wakeup", 317),
        ]
        .into_iter()
        .filter(|(s, n, _)| glob(system, s) && glob(name, n))
        .map(|(s, n, id)| (s.to_string(), n.to_string(), id))
        .collect())
    }
    fn tracefs_display(&self) -> String {
        "/sys/kernel/tracing".into()
    }
}

/// An `-e` argument (comma lists and groups), and its text as a modifier string.
pub fn event_grammar(bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    if let Err(e) = crate::events::parse_all(&[text.to_string()], &Fixed) {
        let _ = e.to_string();
    }
    let _ = Modifiers::parse(&text);
}

/// An ELF file: its symbol table and build-id from the bytes, then its DWARF line tables
/// and inline frames through the loader that maps it from a file.
pub fn symbols_elf(bytes: &[u8]) {
    let _ = rperf_symbols::buildid::build_id_of(bytes);
    let mut addrs = vec![0u64, 0x1000, 0x40_1000];
    if let Ok(syms) = rperf_symbols::ElfSymbols::parse(bytes) {
        let _ = syms.offset_to_vaddr(0x1000);
        let _ = syms.lookup_offset(0x1000);
        addrs.push(syms.offset_to_vaddr(0x1000).unwrap_or(0));
        for a in &addrs {
            let _ = syms.lookup_vaddr(*a);
        }
    }
    let Some(path) = scratch("elf", bytes) else {
        return;
    };
    if let Some(lines) = rperf_symbols::Lines::load(&path, None) {
        for a in addrs {
            let _ = lines.frames(a);
            let _ = lines.location(a);
        }
    }
    let _ = std::fs::remove_file(&path);
}

/// A JIT's `/tmp/perf-PID.map`, and lookups at the edges of what it lists.
pub fn perf_map(bytes: &[u8]) {
    let map = rperf_symbols::PerfMap::parse(&String::from_utf8_lossy(bytes));
    for a in [0, 1, 0x7f00_0000_1000, u64::MAX - 1, u64::MAX] {
        let _ = map.lookup(a);
    }
}

/// Deterministic mutations of a seed, as a stable-Rust stand-in for libFuzzer in `cargo
/// test`: bit flips, byte sets, truncations, and size fields inflated to absurd values.
pub fn mutate(seed: &[u8], state: &mut u64) -> Vec<u8> {
    let mut next = || {
        // xorshift64
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    };
    let mut b = seed.to_vec();
    let rounds = 1 + next() % 4;
    for _ in 0..rounds {
        if b.is_empty() {
            b.push(next() as u8);
            continue;
        }
        let at = (next() % b.len() as u64) as usize;
        match next() % 6 {
            0 => b[at] ^= 1 << (next() % 8),
            1 => b[at] = next() as u8,
            2 => b.truncate(at),
            3 | 4 => {
                // A length or count: 2, 4 or 8 bytes, aligned as perf.data's fields are.
                let width = [2usize, 4, 8][(next() % 3) as usize];
                let at = at - at % width;
                let value: u64 = match next() % 4 {
                    0 => u64::MAX,
                    1 => 1 << (next() % 64),
                    2 => 0,
                    _ => next(),
                };
                let end = (at + width).min(b.len());
                b[at..end].copy_from_slice(&value.to_le_bytes()[..end - at]);
            }
            _ => {
                let n = (next() % 16) as usize;
                let v = next() as u8;
                b.splice(at..at, std::iter::repeat_n(v, n));
            }
        }
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every target on its committed seed corpus (fuzz/corpus/) and on deterministic
    /// mutations of it: no panic (a debug build also checks arithmetic overflow). The
    /// long runs are cargo-fuzz's (fuzz/README.md).
    #[test]
    fn targets_survive_mutated_seeds() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
        let started = std::time::Instant::now();
        for (name, target) in TARGETS {
            let began = std::time::Instant::now();
            let mut seeds: Vec<Vec<u8>> = std::fs::read_dir(root.join(name))
                .unwrap_or_else(|e| panic!("seed corpus for {name}: {e}"))
                .map(|e| std::fs::read(e.unwrap().path()).unwrap())
                .collect();
            seeds.sort();
            assert!(!seeds.is_empty(), "no seeds for {name}");
            // RPERF_FUZZ_SCALE=N runs N times as many (a longer run on stable Rust).
            let scale: usize = std::env::var("RPERF_FUZZ_SCALE")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(1);
            let mutants = scale
                * if name == "perf_data" || name == "symbols_elf" {
                    3000
                } else {
                    10000
                };
            let mut state = 0x9e37_79b9_7f4a_7c15u64 ^ scale as u64;
            for seed in &seeds {
                target(seed);
            }
            for i in 0..mutants {
                let input = mutate(&seeds[i % seeds.len()], &mut state);
                let outcome = std::panic::catch_unwind(|| target(&input));
                if outcome.is_err() {
                    let dump = std::env::temp_dir().join(format!("rperf-crash-{name}-{i}"));
                    let _ = std::fs::write(&dump, &input);
                    panic!(
                        "{name}: mutant {i} panicked (input saved to {})",
                        dump.display()
                    );
                }
            }
            eprintln!("{name}: {mutants} mutants in {:?}", began.elapsed());
        }
        eprintln!("mutation run took {:?}", started.elapsed());
    }
}
