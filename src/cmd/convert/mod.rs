//! `rperf data convert`: a perf.data as perf 6.1's JSON (`json.rs`) or as Parquet tables
//! for SQL engines (`parquet.rs`), both read through the one replay; here the config and
//! the file-header facts both formats name (host, OS, command line).
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context, Result};

use crate::abi::feature;
use crate::data::header::{Cursor, FileHeader};

mod json;
#[cfg(feature = "parquet")]
mod parquet;

/// What to write.
#[derive(Debug, Clone)]
pub enum Target {
    /// perf's JSON, to a file or "-".
    Json(PathBuf),
    /// Parquet tables, into a new directory.
    Parquet(PathBuf),
}

/// `rperf data convert`'s settings.
#[derive(Debug, Clone)]
pub struct ConvertConfig {
    /// The perf.data.
    pub input: PathBuf,
    /// `--symfs`.
    pub symfs: Option<PathBuf>,
    /// `--force`: replace an existing output (and read another user's file).
    pub force: bool,
    /// The output.
    pub to: Target,
}

/// Runs the conversion.
pub fn run(cfg: ConvertConfig) -> Result<ExitCode> {
    match &cfg.to {
        Target::Json(out) => json::convert(&cfg, out)?,
        #[cfg(feature = "parquet")]
        Target::Parquet(dir) => parquet::convert(&cfg, dir)?,
        #[cfg(not(feature = "parquet"))]
        Target::Parquet(_) => bail!(
            "this rperf was built without Parquet support (build it with the default \
             `parquet` feature)"
        ),
    }
    Ok(ExitCode::SUCCESS)
}

/// The file header's offsets and the descriptive feature sections of a perf.data.
#[derive(Debug, Clone, Default)]
pub(crate) struct Facts {
    pub data_offset: u64,
    pub data_size: u64,
    pub feat_offset: u64,
    /// The input's modification time, seconds since the epoch.
    pub mtime: Option<i64>,
    pub hostname: Option<String>,
    pub os_release: Option<String>,
    pub arch: Option<String>,
    pub cpu_desc: Option<String>,
    pub cpuid: Option<String>,
    /// (online, available).
    pub nr_cpus: Option<(u32, u32)>,
    /// (clockid, clockid time, wall-clock time) from CLOCK_DATA.
    pub clock: Option<(u32, u64, u64)>,
    pub version: Option<String>,
    pub cmdline: Vec<String>,
}

/// Reads [`Facts`] from a perf.data file; every damaged piece is an error naming the file.
pub(crate) fn facts(path: &Path) -> Result<Facts> {
    let mut f = crate::data::read::open_input(path)?;
    let meta = f.metadata()?;
    if !meta.is_file() {
        bail!(
            "{} is not a regular file (convert a recorded perf.data file)",
            path.display()
        );
    }
    let len = meta.len();
    let h = FileHeader::read(&mut f).map_err(|_| {
        anyhow!(
            "{} is truncated: shorter than perf.data's header",
            path.display()
        )
    })?;
    if !h.is_perf_data() {
        bail!(
            "{} is not a perf.data file (it does not start with \"PERFILE2\")",
            path.display()
        );
    }
    // A pipe-mode stream saved to a file keeps its facts in-band: none are read here.
    let pipe = h.is_pipe();
    let mut out = Facts {
        data_offset: h.data.offset,
        data_size: h.data.size,
        feat_offset: h.feature_table().offset,
        mtime: meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_secs() as i64),
        ..Facts::default()
    };
    if pipe {
        return Ok(Facts {
            mtime: out.mtime,
            ..Facts::default()
        });
    }
    if out.feat_offset > len {
        bail!(
            "{} is damaged or truncated: its data section lies beyond the end of the file \
             ({len} bytes)",
            path.display()
        );
    }
    let table = h.read_feature_table(&mut f).map_err(|_| {
        anyhow!(
            "{} is damaged: its feature table is cut short",
            path.display()
        )
    })?;
    for (bit, s) in table {
        let wanted = [
            feature::HOSTNAME,
            feature::OSRELEASE,
            feature::VERSION,
            feature::ARCH,
            feature::NRCPUS,
            feature::CPUDESC,
            feature::CPUID,
            feature::CMDLINE,
            feature::CLOCK_DATA,
        ];
        if !wanted.contains(&bit) {
            continue;
        }
        if !s.inside(len) || s.size > 1 << 24 {
            bail!(
                "{} is damaged: feature section {bit} lies beyond the end",
                path.display()
            );
        }
        let b = read_at(&mut f, s.offset, s.size as usize)
            .with_context(|| format!("reading {}", path.display()))?;
        let mut c = Cursor::new(&b);
        match bit {
            feature::HOSTNAME => out.hostname = c.string(),
            feature::OSRELEASE => out.os_release = c.string(),
            feature::VERSION => out.version = c.string(),
            feature::ARCH => out.arch = c.string(),
            feature::CPUDESC => out.cpu_desc = c.string(),
            feature::CPUID => out.cpuid = c.string(),
            feature::NRCPUS => {
                if let (Some(avail), Some(online)) = (c.u32(), c.u32()) {
                    out.nr_cpus = Some((online, avail));
                }
            }
            feature::CMDLINE => {
                let n = c.u32().unwrap_or(0);
                out.cmdline = (0..n).map_while(|_| c.string()).collect();
            }
            feature::CLOCK_DATA => {
                // version, clockid, wall-clock ns, clockid ns.
                if let (Some(_), Some(id), Some(tod), Some(clk)) =
                    (c.u32(), c.u32(), c.u64(), c.u64())
                {
                    out.clock = Some((id, clk, tod));
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

fn read_at(f: &mut File, offset: u64, n: usize) -> std::io::Result<Vec<u8>> {
    use std::io::{Read, Seek, SeekFrom};
    let mut b = vec![0u8; n];
    f.seek(SeekFrom::Start(offset))?;
    f.read_exact(&mut b)?;
    Ok(b)
}

/// `2024-05-01T12:34:56Z` for seconds since the epoch (UTC, proleptic Gregorian).
pub(crate) fn iso8601(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from a day count (the era-based conversion: 400-year cycles of 146097
    // days starting on 0000-03-01).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(iso8601(1_764_633_746), "2025-12-02T00:02:26Z");
        assert_eq!(iso8601(-1), "1969-12-31T23:59:59Z");
    }
}
