//! perf's `--header`/`--header-only` text: the file header, then one or more lines per
//! feature section present, then the features that are missing.
use std::fmt::Write as _;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};

use crate::abi::{feature, Attr};
use crate::data::header::{Cursor, FileHeader};

/// Whether the perf.data header is printed (report and script share the flags).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Header {
    /// Not printed (the default).
    #[default]
    No,
    /// Printed before the output.
    Also,
    /// Printed alone.
    Only,
}

/// Feature names by bit, as perf 6.1 prints them in "missing features" (bit 0 is
/// reserved; bits past PMU_CAPS are not perf 6.1's).
const FEATURES: [&str; 32] = [
    "",
    "TRACING_DATA",
    "BUILD_ID",
    "HOSTNAME",
    "OSRELEASE",
    "VERSION",
    "ARCH",
    "NRCPUS",
    "CPUDESC",
    "CPUID",
    "TOTAL_MEM",
    "CMDLINE",
    "EVENT_DESC",
    "CPU_TOPOLOGY",
    "NUMA_TOPOLOGY",
    "BRANCH_STACK",
    "PMU_MAPPINGS",
    "GROUP_DESC",
    "AUXTRACE",
    "STAT",
    "CACHE",
    "SAMPLE_TIME",
    "MEM_TOPOLOGY",
    "CLOCKID",
    "DIR_FORMAT",
    "BPF_PROG_INFO",
    "BPF_BTF",
    "COMPRESSED",
    "CPU_PMU_CAPS",
    "CLOCK_DATA",
    "HYBRID_TOPOLOGY",
    "PMU_CAPS",
];

/// Features perf prints only with -I (`info available`).
const FULL_ONLY: [u32; 4] = [13, 14, 20, 22];

fn flag_names(v: u64, names: &[(&str, u32)]) -> String {
    names
        .iter()
        .filter(|(_, bit)| v & (1 << bit) != 0)
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join("|")
}

/// sample_type bits in the order perf names them (not bit order past STACK_USER).
const SAMPLE_TYPES: [(&str, u32); 24] = [
    ("IP", 0),
    ("TID", 1),
    ("TIME", 2),
    ("ADDR", 3),
    ("READ", 4),
    ("CALLCHAIN", 5),
    ("ID", 6),
    ("CPU", 7),
    ("PERIOD", 8),
    ("STREAM_ID", 9),
    ("RAW", 10),
    ("BRANCH_STACK", 11),
    ("REGS_USER", 12),
    ("STACK_USER", 13),
    ("IDENTIFIER", 16),
    ("REGS_INTR", 18),
    ("DATA_SRC", 15),
    ("WEIGHT", 14),
    ("PHYS_ADDR", 19),
    ("AUX", 20),
    ("CGROUP", 21),
    ("DATA_PAGE_SIZE", 22),
    ("CODE_PAGE_SIZE", 23),
    ("WEIGHT_STRUCT", 24),
];

const READ_FORMATS: [(&str, u32); 5] = [
    ("TOTAL_TIME_ENABLED", 0),
    ("TOTAL_TIME_RUNNING", 1),
    ("ID", 2),
    ("GROUP", 3),
    ("LOST", 4),
];

/// The one-bit attr flags in perf's print order, by bit number; precise_ip (two bits at
/// 15) sits between watermark and mmap_data.
const FLAG_BITS: [(&str, u32); 37] = [
    ("disabled", 0),
    ("inherit", 1),
    ("pinned", 2),
    ("exclusive", 3),
    ("exclude_user", 4),
    ("exclude_kernel", 5),
    ("exclude_hv", 6),
    ("exclude_idle", 7),
    ("mmap", 8),
    ("comm", 9),
    ("freq", 10),
    ("inherit_stat", 11),
    ("enable_on_exec", 12),
    ("task", 13),
    ("watermark", 14),
    ("precise_ip", 15),
    ("mmap_data", 17),
    ("sample_id_all", 18),
    ("exclude_host", 19),
    ("exclude_guest", 20),
    ("exclude_callchain_kernel", 21),
    ("exclude_callchain_user", 22),
    ("mmap2", 23),
    ("comm_exec", 24),
    ("use_clockid", 25),
    ("context_switch", 26),
    ("write_backward", 27),
    ("namespaces", 28),
    ("ksymbol", 29),
    ("bpf_event", 30),
    ("aux_output", 31),
    ("cgroup", 32),
    ("text_poke", 33),
    ("build_id", 34),
    ("inherit_thread", 35),
    ("remove_on_exec", 36),
    ("sigtrap", 37),
];

/// perf's `perf_event_attr__fprintf` line body: every non-zero field as `, name = value`.
pub fn attr_fields(a: &Attr, size: u32) -> String {
    let mut s = String::new();
    let mut put = |name: &str, v: String| {
        let _ = write!(s, ", {name} = {v}");
    };
    put("type", a.type_.to_string());
    put("size", size.to_string());
    if a.config != 0 {
        put("config", format!("{:#x}", a.config));
    }
    if a.sample_period != 0 {
        put(
            "{ sample_period, sample_freq }",
            a.sample_period.to_string(),
        );
    }
    if a.sample_type != 0 {
        put("sample_type", flag_names(a.sample_type, &SAMPLE_TYPES));
    }
    if a.read_format != 0 {
        put("read_format", flag_names(a.read_format, &READ_FORMATS));
    }
    for (name, bit) in FLAG_BITS {
        let v = if name == "precise_ip" {
            (a.flags >> bit) & 3
        } else {
            (a.flags >> bit) & 1
        };
        if v != 0 {
            put(name, v.to_string());
        }
    }
    if a.wakeup_events != 0 {
        put(
            "{ wakeup_events, wakeup_watermark }",
            a.wakeup_events.to_string(),
        );
    }
    if a.bp_type != 0 {
        put("bp_type", a.bp_type.to_string());
    }
    if a.config1 != 0 {
        put("{ bp_addr, config1 }", format!("{:#x}", a.config1));
    }
    if a.config2 != 0 {
        put("{ bp_len, config2 }", format!("{:#x}", a.config2));
    }
    if a.branch_sample_type != 0 {
        put("branch_sample_type", format!("{:#x}", a.branch_sample_type));
    }
    if a.sample_regs_user != 0 {
        put("sample_regs_user", format!("{:#x}", a.sample_regs_user));
    }
    if a.sample_stack_user != 0 {
        put("sample_stack_user", a.sample_stack_user.to_string());
    }
    if a.clockid != 0 {
        put("clockid", a.clockid.to_string());
    }
    if a.sample_regs_intr != 0 {
        put("sample_regs_intr", format!("{:#x}", a.sample_regs_intr));
    }
    if a.aux_watermark != 0 {
        put("aux_watermark", a.aux_watermark.to_string());
    }
    if a.sample_max_stack != 0 {
        put("sample_max_stack", a.sample_max_stack.to_string());
    }
    s
}

/// The header block of `path` as `perf report --header-only` prints it, ending with the
/// `# ========` line and a `#` line.
pub fn text(path: &Path) -> Result<String> {
    if path.as_os_str() == "-" {
        bail!("a perf.data stream on stdin has no file header to print; use a file");
    }
    let mut f = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let len = f.metadata()?.len();
    let h = FileHeader::read(&mut f).map_err(|_| {
        anyhow!(
            "{} is truncated: shorter than perf.data's header",
            path.display()
        )
    })?;
    if !h.is_perf_data() {
        bail!(
            "{} is not a perf.data file (expected \"PERFILE2\")",
            path.display()
        );
    }
    let (data_off, data_size) = (h.data.offset, h.data.size);
    let feat_off = h.feature_table().offset;
    if feat_off > len {
        bail!(
            "{} is damaged or truncated: its data section lies beyond the end of the file ({len} bytes)",
            path.display()
        );
    }
    let bits = h.feature_bits();
    let table = h.read_feature_table(&mut f).map_err(|_| {
        anyhow!(
            "{} is damaged: its feature table is cut short",
            path.display()
        )
    })?;
    let mut sections: Vec<(u32, Vec<u8>)> = Vec::new();
    for (bit, s) in table {
        if !s.inside(len) || s.size > 1 << 30 {
            bail!(
                "{} is damaged: feature section {bit} lies beyond the end",
                path.display()
            );
        }
        let mut b = vec![0u8; s.size as usize];
        f.seek(SeekFrom::Start(s.offset))?;
        f.read_exact(&mut b)?;
        sections.push((bit, b));
    }
    let captured = std::fs::metadata(path)?
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| crate::sys::locale::ctime(d.as_secs() as i64))
        .unwrap_or_default();
    let mut out = String::new();
    out.push_str("# ========\n");
    let _ = writeln!(out, "# captured on    : {captured}");
    out.push_str("# header version : 1\n");
    let _ = writeln!(out, "# data offset    : {data_off}");
    let _ = writeln!(out, "# data size      : {data_size}");
    let _ = writeln!(out, "# feat offset    : {feat_off}");
    for (bit, data) in &sections {
        feature(&mut out, *bit, data);
    }
    let missing: String = (1..FEATURES.len() as u32)
        .filter(|b| !bits.contains(b))
        .map(|b| format!("{} ", FEATURES[b as usize]))
        .collect();
    let _ = writeln!(out, "# missing features: {missing}");
    out.push_str("# ========\n#\n");
    Ok(out)
}

/// The line(s) perf prints for one feature section (nothing for those it keeps quiet on).
fn feature(out: &mut String, bit: u32, data: &[u8]) {
    if FULL_ONLY.contains(&bit) {
        let _ = writeln!(
            out,
            "# {} info available, use -I to display",
            FEATURES[bit as usize]
        );
        return;
    }
    let mut c = Cursor::new(data);
    let label = match bit {
        feature::HOSTNAME => "hostname",
        feature::OSRELEASE => "os release",
        feature::VERSION => "perf version",
        feature::ARCH => "arch",
        feature::CPUDESC => "cpudesc",
        feature::CPUID => "cpuid",
        _ => "",
    };
    if !label.is_empty() {
        if let Some(s) = c.string() {
            let _ = writeln!(out, "# {label} : {s}");
        }
        return;
    }
    match bit {
        feature::NRCPUS => {
            if let (Some(avail), Some(online)) = (c.u32(), c.u32()) {
                let _ = writeln!(out, "# nrcpus online : {online}\n# nrcpus avail : {avail}");
            }
        }
        feature::TOTAL_MEM => {
            if let Some(kb) = c.u64() {
                let _ = writeln!(out, "# total memory : {kb} kB");
            }
        }
        feature::CMDLINE => {
            let n = c.u32().unwrap_or(0);
            // map_while: a corrupt count must not spin on past the section's end.
            let args: String = (0..n).map_while(|_| c.string()).map(|a| a + " ").collect();
            let _ = writeln!(out, "# cmdline : {args}");
        }
        feature::EVENT_DESC => event_desc(out, &mut c),
        feature::PMU_MAPPINGS => {
            let n = c.u32().unwrap_or(0);
            let pmus: Vec<String> = (0..n)
                .map_while(|_| Some((c.u32()?, c.string()?)))
                .map(|(ty, name)| format!("{name} = {ty}"))
                .collect();
            let _ = writeln!(out, "# pmu mappings: {}", pmus.join(", "));
        }
        feature::SAMPLE_TIME => {
            if let (Some(first), Some(last)) = (c.u64(), c.u64()) {
                let t = super::usec_time;
                let _ = writeln!(out, "# time of first sample : {}", t(first));
                let _ = writeln!(out, "# time of last sample : {}", t(last));
                let ms = last.saturating_sub(first) as f64 / 1e6;
                let _ = writeln!(out, "# sample duration : {ms:10.3} ms");
            }
        }
        _ => {}
    }
}

/// EVENT_DESC: one `# event : ...` line per event.
fn event_desc(out: &mut String, c: &mut Cursor) {
    let (Some(n), Some(size)) = (c.u32(), c.u32()) else {
        return;
    };
    for _ in 0..n {
        let Some(raw) = c.bytes(size as usize) else {
            return;
        };
        let Some(attr) = Attr::from_bytes(raw) else {
            return;
        };
        let (Some(nr_ids), Some(name)) = (c.u32(), c.string()) else {
            return;
        };
        let ids: Vec<String> = (0..nr_ids)
            .map_while(|_| c.u64())
            .map(|i| i.to_string())
            .collect();
        let attr_size = u32::from_le_bytes(raw[4..8].try_into().unwrap_or([0; 4]));
        let _ = writeln!(
            out,
            "# event : name = {name}, , id = {{ {} }}{}",
            ids.join(", "),
            attr_fields(&attr, attr_size)
        );
    }
}
