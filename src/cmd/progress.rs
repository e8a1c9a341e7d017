//! Progress on stderr for long reads (report, script, flamegraph): a bar of how far into the
//! perf.data the reader is, drawn with indicatif only when stderr is a terminal and the job
//! has run for a while, and cleared when the file is read. The reader is not touched: the
//! position comes from the kernel's view of the open file (/proc/self/fdinfo), so every
//! pass over the file shows without the decoders knowing.
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A running progress display; dropping it stops and clears it.
pub struct Progress {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// How long a job runs before a bar appears (`RPERF_PROGRESS_AFTER_MS` changes it).
fn delay() -> Duration {
    let ms = std::env::var("RPERF_PROGRESS_AFTER_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    Duration::from_millis(ms)
}

/// The read offset of the open descriptor(s) of `file` in this process, the furthest one;
/// None when none is open.
fn position(file: &Path) -> Option<u64> {
    let mut best = None;
    for e in std::fs::read_dir("/proc/self/fd").ok()?.flatten() {
        if std::fs::read_link(e.path()).ok().as_deref() != Some(file) {
            continue;
        }
        let info =
            std::fs::read_to_string(Path::new("/proc/self/fdinfo").join(e.file_name())).ok()?;
        let pos = info
            .lines()
            .find_map(|l| l.strip_prefix("pos:"))
            .and_then(|v| v.trim().parse::<u64>().ok());
        best = best.max(pos);
    }
    best
}

/// Starts showing progress through `input` under the label `what`, when stderr is a
/// terminal (and, for a command that prints as it reads, stdout is not: the bar would
/// tear its lines). Nothing at all otherwise.
pub fn start(input: &Path, what: &'static str, prints_while_reading: bool) -> Progress {
    let mut p = Progress {
        stop: Arc::new(AtomicBool::new(false)),
        thread: None,
    };
    let wanted = std::io::stderr().is_terminal()
        && !(prints_while_reading && std::io::stdout().is_terminal())
        && input.as_os_str() != "-";
    let Some((file, size)) = wanted
        .then(|| std::fs::canonicalize(input).ok())
        .flatten()
        .and_then(|f| Some((f.clone(), std::fs::metadata(&f).ok()?.len())))
    else {
        return p;
    };
    let stop = p.stop.clone();
    p.thread = Some(std::thread::spawn(move || show(file, size, what, &stop)));
    p
}

fn show(file: PathBuf, size: u64, what: &str, stop: &AtomicBool) {
    let begin = Instant::now();
    let tick = Duration::from_millis(100);
    while begin.elapsed() < delay() {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        std::thread::sleep(tick);
    }
    let style = indicatif::ProgressStyle::with_template(
        "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
    )
    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
    .progress_chars("=> ");
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(size),
        indicatif::ProgressDrawTarget::stderr(),
    )
    .with_style(style)
    .with_message(format!("{what} {}", file.display()));
    let mut shown = false;
    while !stop.load(Ordering::Relaxed) {
        match position(&file) {
            // Read to the end (or closed): what follows is output, keep the screen clean.
            Some(pos) if pos < size => {
                bar.set_position(pos);
                shown = true;
            }
            _ if shown => {
                bar.finish_and_clear();
                shown = false;
            }
            _ => {}
        }
        std::thread::sleep(tick);
    }
    bar.finish_and_clear();
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
