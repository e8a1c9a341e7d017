//! `rperf flamegraph`: perf.data (or a fresh recording) straight to an SVG flame graph,
//! folding stacks from the session and rendering them with inferno, in process.
use std::collections::BTreeMap;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context, Result};
use inferno::flamegraph::{self, color::Palette, Direction, Options};

use crate::output;
use crate::report::export;
use crate::report::folded::{fold_weighted, folded_lines, FoldOptions, Unit, Weight};
use crate::report::offcpu::{self, View};

/// Options of `rperf flamegraph`.
#[derive(Debug, Clone, Default)]
pub struct FlamegraphConfig {
    /// `-i` (ignored when recording).
    pub input: PathBuf,
    /// `-o`.
    pub output: PathBuf,
    /// `--title`.
    pub title: Option<String>,
    /// `--width` in pixels.
    pub width: Option<usize>,
    /// `--minwidth`: hide frames narrower than this many pixels.
    pub min_width: Option<f64>,
    /// `--reverse`: stacks from the leaf up.
    pub reverse: bool,
    /// `--inverted`: an icicle graph.
    pub inverted: bool,
    /// `--colors` palette (hot, mem, io, red, green, blue, java, js, perl, python, rust…).
    pub colors: Option<String>,
    /// Folding options (filters, roots, kernel annotation).
    pub fold: FoldOptions,
    /// `--diff BEFORE AFTER`.
    pub diff: Option<(PathBuf, PathBuf)>,
    /// Record first: the record configuration (output replaced by a temporary file).
    pub record: Option<crate::cmd::record::RecordConfig>,
    /// `--format`: svg (default), folded, or speedscope (JSON for speedscope.app).
    pub format: Format,
    /// `--countname`: what the widths count, in tooltips (default: the event's unit).
    pub count_name: Option<String>,
    /// `--off-cpu` or `--wall`: the graph of a `record --off-cpu` file.
    pub view: Option<View>,
}

/// What `rperf flamegraph` writes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Format {
    /// An interactive SVG flame graph.
    #[default]
    Svg,
    /// Folded stacks, one per line.
    Folded,
    /// speedscope's JSON file format (a sampled profile).
    Speedscope,
    /// The Firefox Profiler's processed JSON (profiler.firefox.com).
    Firefox,
    /// pprof's gzipped protobuf (`go tool pprof`).
    Pprof,
}

impl Format {
    /// The output file when `-o` is not given.
    pub fn default_output(self) -> &'static str {
        match self {
            Format::Svg => "flamegraph.svg",
            Format::Folded => "out.folded",
            Format::Speedscope => "profile.speedscope.json",
            Format::Firefox => "profile.json",
            Format::Pprof => "profile.pb.gz",
        }
    }
}

/// A speedscope document (https://www.speedscope.app/file-format-schema.json) with one
/// sampled profile built from folded stacks: frames are shared, stacks are root first.
pub fn speedscope(lines: &[String], name: &str) -> serde_json::Value {
    let mut frames: Vec<String> = Vec::new();
    let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut samples = Vec::with_capacity(lines.len());
    let mut weights = Vec::with_capacity(lines.len());
    let mut total: u64 = 0;
    for l in lines {
        let Some((stack, w)) = l.rsplit_once(' ') else {
            continue;
        };
        let Ok(w) = w.parse::<u64>() else { continue };
        let ids: Vec<usize> = stack
            .split(';')
            .map(|f| {
                *index.entry(f.to_string()).or_insert_with(|| {
                    frames.push(f.to_string());
                    frames.len() - 1
                })
            })
            .collect();
        samples.push(ids);
        weights.push(w);
        total += w;
    }
    serde_json::json!({
        "$schema": "https://www.speedscope.app/file-format-schema.json",
        "shared": { "frames": frames.iter().map(|f| serde_json::json!({ "name": f })).collect::<Vec<_>>() },
        "profiles": [{
            "type": "sampled",
            "name": name,
            "unit": "none",
            "startValue": 0,
            "endValue": total,
            "samples": samples,
            "weights": weights,
        }],
        "name": name,
        "activeProfileIndex": 0,
        "exporter": format!("rperf {}", env!("CARGO_PKG_VERSION")),
    })
}

/// Writes a whole output (`-` is standard output); nothing is left behind on failure.
fn write_output(path: &Path, bytes: &[u8]) -> Result<()> {
    output::write_file(path, bytes, output::Options::default())
        .with_context(|| format!("cannot write {}", path.display()))
}

fn options(cfg: &FlamegraphConfig) -> Result<Options<'static>> {
    let mut o = Options::default();
    if let Some(t) = &cfg.title {
        o.title = t.clone();
    } else if cfg.inverted {
        o.title = "Icicle Graph".into();
    }
    o.image_width = cfg.width;
    if let Some(m) = cfg.min_width {
        o.min_width = m;
    }
    o.reverse_stack_order = cfg.reverse;
    if cfg.inverted {
        o.direction = Direction::Inverted;
    }
    if let Some(c) = &cfg.colors {
        o.colors = c
            .parse::<Palette>()
            .map_err(|_| anyhow!("unknown --colors '{c}': use hot, mem, io, red, green, blue, aqua, yellow, purple, orange, java, js, perl, python, rust or wakeup"))?;
    }
    // Colours derived from names, not random: the same input gives the same SVG.
    o.deterministic = true;
    Ok(o)
}

/// Renders the SVG into its output, which appears only when complete.
fn write_svg(path: &Path, lines: &[String], opts: &mut Options) -> Result<()> {
    if lines.is_empty() {
        bail!("no samples to draw (is the perf.data empty, or did the filters remove everything?)");
    }
    let mut out = output::Output::create(path, output::Options::default())
        .with_context(|| format!("cannot create {}", path.display()))?;
    flamegraph::from_lines(
        opts,
        lines.iter().map(String::as_str),
        BufWriter::new(&mut out),
    )
    .map_err(|e| {
        anyhow!(
            "rendering the flame graph into {} failed: {e}",
            path.display()
        )
    })?;
    out.commit()
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Names the unit in tooltips (inferno's count name) and under the title: "samples" only
/// when every sample weighs 1; CPU time (cpu-clock/task-clock periods, in ns) is shown in
/// microseconds, other period-weighted events by their own name. `--countname` overrides
/// the tooltip word and leaves the weights as they are.
pub fn label(opts: &mut Options, unit: &Unit, count_name: Option<&str>) {
    let (name, factor, what) = match &unit.weight {
        Weight::Samples => ("samples".to_string(), 1.0, "samples".to_string()),
        Weight::Nanoseconds => ("µs".to_string(), 1e-3, "CPU time in µs".to_string()),
        Weight::Events(e) => (e.clone(), 1.0, format!("{e} counted")),
    };
    match count_name {
        Some(c) => opts.count_name = c.to_string(),
        None => {
            opts.count_name = name;
            opts.factor = factor;
        }
    }
    if !unit.event.is_empty() {
        opts.subtitle = Some(format!("{}: {what}", unit.event));
    }
}

/// Differential lines (`stack before after`) for a red/blue graph. Frames pair by name
/// (an unresolved address by its binary's), and the two files' events as `rperf diff`
/// pairs them ([`crate::cmd::diff::same_event`]): a rebuilt binary's functions still pair,
/// and two different events are refused rather than drawn as one.
pub fn diff_lines(before: &Path, after: &Path, opts: &FoldOptions) -> Result<Vec<String>> {
    let mut m: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let (old, old_unit) = fold_weighted(before, opts)?;
    let (new, new_unit) = fold_weighted(after, opts)?;
    let (a, b) = (&old_unit.event, &new_unit.event);
    if !a.is_empty() && !b.is_empty() && !crate::cmd::diff::same_event(a, b) {
        bail!(
            "{} recorded '{a}' and {} recorded '{b}': no event in common to compare (record \
             both with the same -e, or pick one with --event)",
            before.display(),
            after.display()
        );
    }
    for (s, w) in old {
        m.entry(s).or_default().0 += w;
    }
    for (s, w) in new {
        m.entry(s).or_default().1 += w;
    }
    Ok(m.into_iter()
        .map(|(s, (b, a))| format!("{s} {b} {a}"))
        .collect())
}

/// The off-CPU or wall-clock SVG: off-CPU frames blue (blocked) or aqua (runnable), on-CPU
/// frames in the chosen palette, widths in µs.
fn draw_view(cfg: &FlamegraphConfig, input: &Path, view: View) -> Result<()> {
    let lines = offcpu::fold(input, &cfg.fold, view, true)?;
    let mut map = offcpu::palette(&lines);
    let mut opts = options(cfg)?;
    opts.palette_map = Some(&mut map);
    match &cfg.count_name {
        Some(c) => opts.count_name = c.clone(),
        None => {
            opts.count_name = "µs".into();
            opts.factor = 1e-3;
        }
    }
    let what = match view {
        View::OffCpu => "off-CPU time in µs: blocked (blue), runnable waiting for a CPU (aqua)",
        View::Wall => "wall-clock time in µs per thread: on CPU, blocked (blue), runnable (aqua)",
    };
    opts.subtitle = Some(what.to_string());
    if cfg.title.is_none() {
        opts.title = match view {
            View::OffCpu => "Off-CPU Time Flame Graph".into(),
            View::Wall => "Wall-Clock Flame Graph".into(),
        };
    }
    let text: Vec<String> = lines.iter().map(|(s, w)| format!("{s} {w}")).collect();
    write_svg(&cfg.output, &text, &mut opts)
}

/// Runs `rperf flamegraph`.
pub fn run(cfg: FlamegraphConfig) -> Result<ExitCode> {
    let mut opts = options(&cfg)?;
    if let Some((before, after)) = &cfg.diff {
        let lines = diff_lines(before, after, &cfg.fold)?;
        write_svg(&cfg.output, &lines, &mut opts)?;
        if cfg.output.as_os_str() != "-" {
            eprintln!("wrote {}", cfg.output.display());
        }
        return Ok(ExitCode::SUCCESS);
    }
    let mut code = ExitCode::SUCCESS;
    // A recording made for the graph lives in a private directory of random name, removed
    // with it (a fixed name in /tmp would let another user plant a symlink for root).
    let mut temp: Option<tempfile::TempDir> = None;
    let input = match &cfg.record {
        Some(rec) => {
            let dir = tempfile::Builder::new()
                .prefix("rperf-flamegraph-")
                .tempdir()
                .context("cannot create a temporary directory for the recording")?;
            let data = dir.path().join("perf.data");
            let mut rec = rec.clone();
            rec.output = data.clone();
            rec.quiet = true;
            code = crate::cmd::record::run(rec)?;
            temp = Some(dir);
            data
        }
        None => cfg.input.clone(),
    };
    let title = || {
        cfg.title
            .clone()
            .unwrap_or_else(|| format!("rperf: {}", input.display()))
    };
    let folded = || folded_lines(&input, &cfg.fold);
    let result = match (cfg.view, cfg.format) {
        (Some(view), Format::Svg) => draw_view(&cfg, &input, view),
        (Some(view), Format::Folded) => offcpu::fold(&input, &cfg.fold, view, false)
            .and_then(|v| {
                let text: String = v.iter().map(|(s, w)| format!("{s} {w}\n")).collect();
                write_output(&cfg.output, text.as_bytes())
            }),
        (Some(_), _) => Err(anyhow!(
            "--off-cpu and --wall draw an SVG or folded stacks (--format svg or folded)"
        )),
        (None, format) => match format {
        Format::Svg => fold_weighted(&input, &cfg.fold).and_then(|(folded, unit)| {
            label(&mut opts, &unit, cfg.count_name.as_deref());
            let lines: Vec<String> = folded.into_iter().map(|(s, w)| format!("{s} {w}")).collect();
            write_svg(&cfg.output, &lines, &mut opts)
        }),
        Format::Folded => folded().and_then(|lines| {
            write_output(&cfg.output, (lines.join("\n") + "\n").as_bytes())
        }),
        Format::Speedscope => folded().and_then(|lines| {
            if lines.is_empty() {
                bail!("no samples to export (is the perf.data empty, or did the filters remove everything?)");
            }
            write_output(&cfg.output, speedscope(&lines, &title()).to_string().as_bytes())
        }),
        Format::Firefox => export::firefox(&input, &cfg.fold, &title())
            .and_then(|json| write_output(&cfg.output, &json)),
        Format::Pprof => {
            export::pprof(&input, &cfg.fold).and_then(|pb| write_output(&cfg.output, &pb))
        }
        },
    };
    drop(temp);
    result?;
    if cfg.output.as_os_str() != "-" {
        eprintln!("wrote {}", cfg.output.display());
    }
    Ok(code)
}
