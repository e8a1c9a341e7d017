//! `rperf evlist`: the events a perf.data recorded, read from its EVENT_DESC and GROUP_DESC
//! header features, printed as perf 6.1's `perf evlist` (-v, -g, -F) prints them.
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, bail, Result};
use linux_perf_data::{Feature, PerfFile, PerfFileReader};

use crate::abi::{flag, Attr};
use crate::data::header::{Cursor, FileHeader};
use crate::report::header::attr_fields;

/// Options of `rperf evlist`.
#[derive(Debug, Clone)]
pub struct EvlistConfig {
    /// `-i`.
    pub input: PathBuf,
    /// `-v`: every non-zero attr field.
    pub verbose: bool,
    /// `-g`: groups as `{leader,member}`.
    pub group: bool,
    /// `-F`: the sample frequency or period.
    pub freq: bool,
}

/// One recorded event: its name and attr (with the attr's own size field).
#[derive(Debug, Clone)]
pub struct Event {
    /// Name as recorded (`cpu-clock:pppH`).
    pub name: String,
    /// The attr.
    pub attr: Attr,
    /// The attr's size field, as perf prints it.
    pub size: u32,
}

/// Opens a perf.data file's header (not a pipe: the features sit at the file's end).
pub(crate) fn open(path: &Path) -> Result<PerfFile> {
    if path.as_os_str() == "-" {
        bail!("a perf.data stream on stdin has no header features; use a file (-i FILE)");
    }
    let file = crate::data::open_input(path)?;
    check(path, &file)?;
    let reader = PerfFileReader::parse_file(BufReader::new(file))
        .map_err(|e| anyhow!("{} is not a readable perf.data file: {e}", path.display()))?;
    Ok(reader.perf_file)
}

/// Refuses what is not a whole perf.data file before the parser sizes buffers from its
/// header: the magic, and every section (attrs, data, each feature) inside the file.
fn check(path: &Path, file: &std::fs::File) -> Result<()> {
    use std::io::{Seek, SeekFrom};
    let mut f = file;
    let len = f.metadata()?.len();
    let h = match FileHeader::read(&mut f) {
        Ok(h) if h.is_perf_data() => h,
        _ => bail!(
            "{} is not a perf.data file (it does not start with \"PERFILE2\")",
            path.display()
        ),
    };
    let damaged = |what: &str| anyhow!("{} is damaged: {what} lies beyond its end", path.display());
    if h.is_pipe() {
        bail!(
            "{} is a pipe-mode perf.data, which has no header features",
            path.display()
        );
    }
    if !h.attrs.inside(len) {
        return Err(damaged("the attr section"));
    }
    if !h.data.inside(len) {
        return Err(damaged("the data section"));
    }
    let table = h
        .read_feature_table(&mut f)
        .map_err(|_| damaged("the feature table"))?;
    if table.iter().any(|(_, s)| !s.inside(len)) {
        return Err(damaged("a feature section"));
    }
    f.seek(SeekFrom::Start(0))?;
    Ok(())
}

/// The events of `file`, in attr order, from EVENT_DESC.
pub fn events(file: &PerfFile, path: &Path) -> Result<Vec<Event>> {
    let data = file.feature_section_data(Feature::EVENT_DESC).ok_or_else(|| {
        anyhow!(
            "{} has no event descriptions (EVENT_DESC feature); was it written by perf or rperf record?",
            path.display()
        )
    })?;
    let damaged = || {
        anyhow!(
            "{} is damaged: its event descriptions are cut short",
            path.display()
        )
    };
    let mut c = Cursor::new(data);
    let (n, size) = (c.u32().ok_or_else(damaged)?, c.u32().ok_or_else(damaged)?);
    let mut out = Vec::new();
    for _ in 0..n {
        let raw = c.bytes(size as usize).ok_or_else(damaged)?;
        let attr = Attr::from_bytes(raw).ok_or_else(damaged)?;
        let nr_ids = c.u32().ok_or_else(damaged)?;
        let name = c.string().ok_or_else(damaged)?;
        c.bytes((nr_ids as usize).saturating_mul(8))
            .ok_or_else(damaged)?;
        let size = u32::from_le_bytes(raw[4..8].try_into().unwrap_or([0; 4]));
        out.push(Event { name, attr, size });
    }
    Ok(out)
}

/// GROUP_DESC: (group name unless anonymous, leader index, members) per group.
fn groups(file: &PerfFile) -> Vec<(Option<String>, usize, usize)> {
    let Some(data) = file.feature_section_data(Feature::GROUP_DESC) else {
        return Vec::new();
    };
    let mut c = Cursor::new(data);
    let n = c.u32().unwrap_or(0);
    (0..n)
        .map_while(|_| {
            let name = c.string()?;
            let (leader, members) = (c.u32()? as usize, c.u32()? as usize);
            Some(((name != "{anon_group}").then_some(name), leader, members))
        })
        .collect()
}

/// The lines of `perf evlist` for these options.
pub fn lines(cfg: &EvlistConfig, file: &PerfFile) -> Result<Vec<String>> {
    let evs = events(file, &cfg.input)?;
    if cfg.group {
        let groups = groups(file);
        let mut out = Vec::new();
        let mut i = 0;
        while i < evs.len() {
            match groups.iter().find(|g| g.1 == i && g.2 > 1) {
                Some((name, _, members)) => {
                    let names: Vec<&str> = evs[i..(i + members).min(evs.len())]
                        .iter()
                        .map(|e| e.name.as_str())
                        .collect();
                    out.push(format!(
                        "{}{{{}}}",
                        name.as_deref().unwrap_or(""),
                        names.join(",")
                    ));
                    i += members;
                }
                None => {
                    out.push(evs[i].name.clone());
                    i += 1;
                }
            }
        }
        return Ok(out);
    }
    Ok(evs
        .iter()
        .map(|e| {
            if cfg.verbose {
                // perf prints the same fields as its header's `# event` line, as `name: value`.
                let fields = attr_fields(&e.attr, e.size).replace(" = ", ": ");
                format!("{}:{}", e.name, fields.strip_prefix(',').unwrap_or(&fields))
            } else if cfg.freq {
                let term = if e.attr.has(flag::FREQ) {
                    "sample_freq"
                } else {
                    "sample_period"
                };
                format!("{}: {term}={}", e.name, e.attr.sample_period)
            } else {
                e.name.clone()
            }
        })
        .collect())
}

/// Runs `rperf evlist`.
pub fn run(cfg: EvlistConfig) -> Result<ExitCode> {
    let file = open(&cfg.input)?;
    let mut text = lines(&cfg, &file)?.join("\n");
    text.push('\n');
    super::version::print(text.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}
