//! The Firefox Profiler's processed format, through fxprof-processed-profile (feature `firefox`).
use std::collections::HashMap;
use std::path::Path;

use anyhow::{bail, Result};
use fxprof_processed_profile as fx;

use super::NO_SAMPLES;
use crate::report::folded::{walk, FoldOptions, SampleView};

/// The Firefox Profiler's processed JSON: one process per pid, one thread per tid, frames
/// labelled with symbol names and put in a User or Kernel category, one sample per
/// perf sample at its own time (weight 1, as the profiler counts samples).
pub fn firefox(input: &Path, opts: &FoldOptions, product: &str) -> Result<Vec<u8>> {
    let mut profile = fx::Profile::new(
        product,
        fx::ReferenceTimestamp::from_millis_since_unix_epoch(0.0),
        fx::SamplingInterval::from_millis(1),
    );
    let user = profile.add_category("User", fx::CategoryColor::Yellow);
    let kernel = profile.add_category("Kernel", fx::CategoryColor::Orange);
    let mut processes: HashMap<i32, fx::ProcessHandle> = HashMap::new();
    let mut threads: HashMap<i32, (fx::ThreadHandle, String)> = HashMap::new();
    let mut first: Option<u64> = None;
    let mut last_time = 0u64;
    let mut count = 0u64;
    let mut infos: Vec<fx::FrameInfo> = Vec::with_capacity(64);
    walk(input, opts, |s: &SampleView| {
        let start = *first.get_or_insert(s.time);
        let at = fx::Timestamp::from_nanos_since_reference(s.time.saturating_sub(start));
        last_time = last_time.max(s.time);
        count += 1;
        let process = *processes
            .entry(s.pid)
            .or_insert_with(|| profile.add_process(s.comm, s.pid as u32, at));
        let (thread, name) = threads.entry(s.tid).or_insert_with(|| {
            let t = profile.add_thread(process, s.tid as u32, at, s.pid == s.tid);
            profile.set_thread_name(t, s.comm);
            (t, s.comm.to_string())
        });
        // A thread renamed by exec or prctl keeps the latest name.
        if name != s.comm {
            profile.set_thread_name(*thread, s.comm);
            if s.pid == s.tid {
                profile.set_process_name(process, s.comm);
            }
            *name = s.comm.to_string();
        }
        let thread = *thread;
        infos.clear();
        for f in s.frames.iter().rev() {
            let label = profile.intern_string(&f.name);
            infos.push(fx::FrameInfo {
                frame: fx::Frame::Label(label),
                category_pair: if f.kernel { kernel } else { user }.into(),
                flags: fx::FrameFlags::empty(),
            });
        }
        let stack = profile.intern_stack_frames(thread, infos.drain(..));
        profile.add_sample(thread, at, stack, fx::CpuDelta::ZERO, 1);
    })?;
    if count == 0 {
        bail!(NO_SAMPLES);
    }
    if let Some(start) = first {
        let end = fx::Timestamp::from_nanos_since_reference(last_time - start);
        for &(t, _) in threads.values() {
            profile.set_thread_end_time(t, end);
        }
        for &p in processes.values() {
            profile.set_process_end_time(p, end);
        }
    }
    profile.set_symbolicated(true);
    Ok(serde_json::to_vec(&profile)?)
}
