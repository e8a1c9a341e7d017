//! The end of a recording: lost-sample records, the build-id feature, perf's closing lines.
use std::collections::HashMap;

use super::*;

/// Samples the kernel dropped, per event and fd, written as perf records them (perf
/// report's "Total Lost Samples"); returns their sum.
pub(super) fn write_lost_samples(
    opened: &[Opened],
    attrs_written: &[(Attr, Vec<u64>)],
    sink: &mut Sink,
    output: &std::path::Path,
) -> Result<u64> {
    let mut lost_samples = 0u64;
    for (o, (file_attr, _)) in opened.iter().zip(attrs_written) {
        for (fd, id) in o.fds.iter().zip(&o.ids) {
            let Ok(n) = counter::read_lost(fd, o.attr.read_format) else {
                continue;
            };
            if n > 0 {
                lost_samples += n;
                // The trailer as the file's attr for the id lays it out (--off-cpu's differs).
                let t = encode::Trailer {
                    sample_type: file_attr.sample_type,
                    id: *id,
                };
                sink.write(&encode::lost_samples(n, t))
                    .with_context(|| format!("cannot write {}", output.display()))?;
            }
        }
    }
    Ok(lost_samples)
}

/// What a finished recording reports besides the counts the drain kept.
pub(super) struct Ending {
    pub(super) wakeups: u64,
    pub(super) size: u64,
    pub(super) shown: String,
    pub(super) lost_samples: u64,
}

/// perf's closing lines on stderr: lost and throttled samples, the leaf fixer's work with
/// -v, and (unless -q) the wake-ups and what was written.
pub(super) fn summarize(cfg: &RecordConfig, leaf: Option<&LeafFixer>, tally: &Tally, end: &Ending) {
    if let (Some(l), true) = (leaf, cfg.verbose) {
        eprintln!(
            "-g: put back the caller of a frameless function in {} of {} user stacks",
            l.fixed, l.checked
        );
        if l.kept > 0 {
            eprintln!(
                "-g: {} stacks kept the kernel's chain: their binary's unwinding rules were not read in time",
                l.kept
            );
        }
    }
    if tally.lost > 0 {
        eprintln!(
            "Warning: lost {} events in {} chunks: the ring buffers overflowed; raise -m or lower -F",
            tally.lost, tally.lost_chunks
        );
    }
    if end.lost_samples > 0 {
        eprintln!(
            "Warning: the kernel lost {} samples; raise -m or lower -F",
            end.lost_samples
        );
    }
    if tally.throttles > 0 {
        eprintln!(
            "Warning: the kernel throttled sampling {} times (too many samples per second); \
             lower -F or raise /proc/sys/kernel/perf_cpu_time_max_percent",
            tally.throttles
        );
    }
    if !cfg.quiet {
        eprintln!(
            "[ rperf record: Woken up {} times to write data ]",
            end.wakeups
        );
        eprintln!(
            "[ rperf record: Captured and wrote {:.3} MB {} ({} samples) ]",
            end.size as f64 / (1024.0 * 1024.0),
            end.shown,
            tally.samples
        );
    }
}

/// The BUILD_ID feature for every binary a sample hit (the kernel as `[kernel.kallsyms]`);
/// a binary read inside a container (`captured`) with the build-id found there.
pub(super) fn build_id_feature(hits: &HitTracker, captured: &HashMap<String, Vec<u8>>) -> Vec<u8> {
    let (paths, kernel) = hits.hits();
    let mut entries = Vec::new();
    if kernel {
        if let Some(id) = rperf_symbols::kernel_build_id() {
            entries.push((
                -1,
                encode::misc::KERNEL,
                id,
                "[kernel.kallsyms]".to_string(),
            ));
        }
    }
    for p in paths {
        // Pseudo files ([vdso], //anon) have no file to read; deleted ones are gone.
        if !p.starts_with('/') {
            continue;
        }
        if let Some(id) = captured.get(p) {
            entries.push((-1, encode::misc::USER, id.clone(), p.to_string()));
        } else if let Ok(Some(id)) = rperf_symbols::build_id(std::path::Path::new(p)) {
            entries.push((-1, encode::misc::USER, id, p.to_string()));
        }
    }
    crate::data::write::features::build_ids(&entries)
}
