//! `data convert --to-json`: perf 6.1's JSON, laid out as perf lays it out (tabs, one key a
//! line): the file header's facts, then one object per sample with its raw call chain, each
//! address named by symbol and binary where one is known.
use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::{anyhow, bail, Result};
use rustc_hash::FxHashMap;

use super::{facts, iso8601, ConvertConfig, Facts};
use crate::abi::{PERF_CONTEXT_HV, PERF_CONTEXT_KERNEL, PERF_CONTEXT_MAX, PERF_CONTEXT_USER};
use crate::data::Mode;
use crate::output::{Options, Output};
use crate::replay::{Filter, Item, Parts, Replay};
use crate::session::{Session, Symbolizer};

/// Writes `cfg.input` as JSON to `out`.
pub(super) fn convert(cfg: &ConvertConfig, out: &Path) -> Result<()> {
    if cfg.input.as_os_str() == "-" {
        bail!(
            "--to-json needs a perf.data file, not a pipe: its header facts are in the file \
             (write the recording to a file first)"
        );
    }
    let facts = facts(&cfg.input)?;
    if out.as_os_str() != "-" && !cfg.force && std::fs::symlink_metadata(out).is_ok() {
        bail!("{} exists: use --force to overwrite it", out.display());
    }
    let mut dest = Output::create(out, Options::default())
        .map_err(|e| anyhow!("cannot write {}: {e}", out.display()))?;
    let mut w = BufWriter::with_capacity(1 << 16, &mut dest);
    let mut io_err: Option<std::io::Error> = None;
    let mut count = 0u64;
    let werr = |e: std::io::Error| anyhow!("cannot write {}: {e}", out.display());
    let r = (|| -> Result<()> {
        write!(
            w,
            "{{\n\t\"linux-perf-json-version\": 1,\n\t\"headers\": {{"
        )
        .map_err(werr)?;
        headers(&mut w, &facts).map_err(werr)?;
        write!(w, "\n\t}},\n\t\"samples\": [").map_err(werr)?;
        let mut replay = Replay::new(&cfg.input, cfg.symfs.clone(), Filter::default(), true)?;
        let mut names = Names::default();
        let mut text = String::with_capacity(4096);
        let mut no_tid_pid: Option<i32> = None;
        replay.run(&cfg.input, |parts, header, item| {
            if io_err.is_some() {
                return;
            }
            let Item::Sample(s, _) = item else {
                return;
            };
            let Parts { session, syms, .. } = parts;
            text.clear();
            if count > 0 {
                text.push(',');
            }
            count += 1;
            text.push_str("\n\t\t{");
            // perf prints the time as signed.
            push_key(&mut text, "timestamp", &(s.time as i64).to_string(), false);
            // perf names a sample's process after its thread's, and the thread of samples
            // the kernel gave no tid (-1, at exit) is one, made by the first such sample.
            let pid = if s.tid == -1 {
                *no_tid_pid.get_or_insert(s.pid)
            } else {
                s.pid
            };
            push_key(&mut text, "pid", &pid.to_string(), true);
            push_key(&mut text, "tid", &s.tid.to_string(), true);
            // perf names the CPU when any event of the file samples it.
            if header.events.iter().any(|e| e.has_cpu) {
                if let Some(cpu) = s.cpu {
                    push_key(&mut text, "cpu", &cpu.to_string(), true);
                }
            }
            let id = session.comm_id(s.tid);
            push_key(&mut text, "comm", &quoted(session.comm_name(id)), true);
            text.push_str(",\n\t\t\t\"callchain\": [");
            match s.callchain {
                Some(chain) => {
                    // perf starts a chain in user mode; the markers switch it.
                    let mut mode = Mode::User;
                    let mut first = true;
                    for &ip in chain {
                        if ip >= PERF_CONTEXT_MAX {
                            match ip {
                                PERF_CONTEXT_KERNEL => mode = Mode::Kernel,
                                PERF_CONTEXT_USER => mode = Mode::User,
                                PERF_CONTEXT_HV => mode = Mode::Other,
                                _ => {}
                            }
                            continue;
                        }
                        if !first {
                            text.push(',');
                        }
                        first = false;
                        names.entry(&mut text, session, syms, s.pid, ip, mode);
                    }
                }
                None => names.entry(&mut text, session, syms, s.pid, s.ip, s.mode),
            }
            text.push_str("\n\t\t\t]\n\t\t}");
            if let Err(e) = w.write_all(text.as_bytes()) {
                io_err = Some(e);
            }
        })?;
        if let Some(e) = io_err.take() {
            return Err(werr(e));
        }
        write!(w, "\n\t]\n}}\n").map_err(werr)?;
        w.flush().map_err(werr)?;
        Ok(())
    })();
    drop(w);
    // Reading errors name the input already; writing errors the output.
    r?;
    let size = dest
        .file()
        .and_then(|f| f.metadata().ok())
        .map_or(0, |m| m.len());
    dest.commit()
        .map_err(|e| anyhow!("cannot write {}: {e}", out.display()))?;
    if out.as_os_str() != "-" {
        eprintln!(
            "[ rperf data convert: Converted '{}' into JSON data '{}' ]",
            cfg.input.display(),
            out.display()
        );
        eprintln!(
            "[ rperf data convert: Converted and wrote {:.3} MB ({count} samples) ]",
            size as f64 / 1024.0 / 1024.0
        );
    }
    Ok(())
}

/// The `headers` object's members, in perf's order.
fn headers(w: &mut impl Write, f: &Facts) -> std::io::Result<()> {
    let mut t = String::new();
    let mut key = |k: &str, v: String| {
        if !t.is_empty() {
            t.push(',');
        }
        t.push_str("\n\t\t");
        t.push_str(&quoted(k));
        t.push_str(": ");
        t.push_str(&v);
    };
    key("header-version", "1".into());
    if let Some(m) = f.mtime {
        key("captured-on", quoted(&iso8601(m)));
    }
    key("data-offset", f.data_offset.to_string());
    key("data-size", f.data_size.to_string());
    key("feat-offset", f.feat_offset.to_string());
    let s = |v: &Option<String>| quoted(v.as_deref().unwrap_or(""));
    key("hostname", s(&f.hostname));
    key("os-release", s(&f.os_release));
    key("arch", s(&f.arch));
    key("cpu-desc", s(&f.cpu_desc));
    key("cpuid", s(&f.cpuid));
    let (online, avail) = f.nr_cpus.unwrap_or((0, 0));
    key("nrcpus-online", online.to_string());
    key("nrcpus-avail", avail.to_string());
    if let Some((id, clk, tod)) = f.clock {
        key("clockid", id.to_string());
        key("clock-time", clk.to_string());
        key("real-time", tod.to_string());
    }
    key("perf-version", s(&f.version));
    let mut args = String::from("[");
    for (i, a) in f.cmdline.iter().enumerate() {
        if i > 0 {
            args.push(',');
        }
        args.push_str("\n\t\t\t");
        args.push_str(&quoted(a));
    }
    args.push_str("\n\t\t]");
    key("cmdline", args);
    w.write_all(t.as_bytes())
}

/// `"key": value` at a sample's depth, after a comma when it is not the first.
fn push_key(t: &mut String, k: &str, v: &str, comma: bool) {
    if comma {
        t.push(',');
    }
    t.push_str("\n\t\t\t");
    t.push_str(&quoted(k));
    t.push_str(": ");
    t.push_str(v);
}

/// A JSON string. perf escapes control characters alone; so does serde_json, and it keeps
/// non-ASCII text as UTF-8 where perf 6.1 writes invalid `\uffffffc3` escapes for it.
fn quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// Each (binary, address)'s callchain entry text, built once: the same addresses recur in
/// most samples.
#[derive(Default)]
struct Names {
    texts: FxHashMap<(u32, u64), String>,
}

impl Names {
    /// Appends one callchain entry: the address, and where perf finds a named symbol there,
    /// the symbol and the binary's short name.
    fn entry(
        &mut self,
        out: &mut String,
        session: &Session,
        syms: &mut Symbolizer,
        pid: i32,
        ip: u64,
        mode: Mode,
    ) {
        out.push_str("\n\t\t\t\t{\n\t\t\t\t\t\"ip\": \"");
        out.push_str(&format!("{ip:#x}"));
        out.push('"');
        // perf looks hypervisor addresses up in no map.
        let loc = (mode != Mode::Other)
            .then(|| session.resolve(pid, ip, mode))
            .flatten();
        if let Some(loc) = loc {
            let t = self.texts.entry((loc.dso, loc.rel)).or_insert_with(|| {
                let mut t = String::new();
                if let Some(sym) = syms.symbol(session, loc).filter(|s| !s.name.is_empty()) {
                    t.push_str(",\n\t\t\t\t\t\"symbol\": ");
                    t.push_str(&quoted(&sym.name));
                    let dso = session.dsos()[loc.dso as usize].short_name();
                    if !dso.is_empty() {
                        t.push_str(",\n\t\t\t\t\t\"dso\": ");
                        t.push_str(&quoted(dso));
                    }
                }
                t
            });
            out.push_str(t);
        }
        out.push_str("\n\t\t\t\t}");
    }
}
