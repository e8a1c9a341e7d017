//! `rperf evlist`: the events a perf.data recorded, read from its EVENT_DESC and GROUP_DESC
//! header features, printed as perf 6.1's `perf evlist` (-v, -g, -F) prints them.
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, bail, Result};
use linux_perf_data::{Feature, PerfFile, PerfFileReader};

use crate::abi::{flag, Attr};
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
    use std::io::{Read, Seek, SeekFrom};
    let mut f = file;
    let len = f.metadata()?.len();
    let mut h = [0u8; 104];
    if f.read_exact(&mut h).is_err() || &h[..8] != b"PERFILE2" {
        bail!(
            "{} is not a perf.data file (it does not start with \"PERFILE2\")",
            path.display()
        );
    }
    let damaged = |what: &str| anyhow!("{} is damaged: {what} lies beyond its end", path.display());
    let u = |b: &[u8], o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap_or([0; 8]));
    let inside = |off: u64, size: u64| off.checked_add(size).is_some_and(|end| end <= len);
    if u(&h, 8) == 16 {
        bail!(
            "{} is a pipe-mode perf.data, which has no header features",
            path.display()
        );
    }
    if !inside(u(&h, 24), u(&h, 32)) {
        return Err(damaged("the attr section"));
    }
    let (data_off, data_size) = (u(&h, 40), u(&h, 48));
    if !inside(data_off, data_size) {
        return Err(damaged("the data section"));
    }
    let n = (0..256usize)
        .filter(|b| h[72 + b / 8] & (1 << (b % 8)) != 0)
        .count();
    let mut table = vec![0u8; n * 16];
    f.seek(SeekFrom::Start(data_off + data_size))?;
    f.read_exact(&mut table)
        .map_err(|_| damaged("the feature table"))?;
    for e in table.chunks_exact(16) {
        if !inside(u(e, 0), u(e, 8)) {
            return Err(damaged("a feature section"));
        }
    }
    f.seek(SeekFrom::Start(0))?;
    Ok(())
}

/// A little-endian reader over one feature section; None past its end.
pub(crate) struct Cur<'a> {
    pub(crate) b: &'a [u8],
    pub(crate) o: usize,
}

impl<'a> Cur<'a> {
    pub(crate) fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.b.get(self.o..self.o.checked_add(n)?)?;
        self.o += n;
        Some(s)
    }
    pub(crate) fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.bytes(4)?.try_into().ok()?))
    }
    /// perf's header string: a u32 length, then that many bytes, NUL padded.
    pub(crate) fn string(&mut self) -> Option<String> {
        let n = self.u32()? as usize;
        let raw = self.bytes(n)?;
        let end = raw.iter().position(|&c| c == 0).unwrap_or(raw.len());
        Some(String::from_utf8_lossy(&raw[..end]).into_owned())
    }
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
    let mut c = Cur { b: data, o: 0 };
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
    let mut c = Cur { b: data, o: 0 };
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
