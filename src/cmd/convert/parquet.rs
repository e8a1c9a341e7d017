//! `data convert --to-parquet DIR`: three Parquet tables for SQL engines, streamed in row
//! groups so that memory stays bounded by the distinct frames, not the samples:
//! `samples.parquet` (one row per sample, its stack a list of frame ids), `frames.parquet`
//! (one row per distinct frame: function, source line, inlined or not, binary, build-id)
//! and `dsos.parquet` (one row per binary). README's "data convert" section is the schema.
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};
use arrow_array::builder::{
    BooleanBuilder, Int32Builder, ListBuilder, StringBuilder, UInt32Builder, UInt64Builder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use rustc_hash::FxHashMap;

use super::ConvertConfig;
use crate::data::Mode;
use crate::replay::{Filter, Item, Parts, Replay};
use crate::session::{Location, Session, Symbolizer};

/// Rows gathered before they are handed to the Parquet writer.
const BATCH: usize = 8192;
/// Rows per row group: the writer holds one row group's encoded pages in memory.
const ROW_GROUP: usize = 65_536;
/// The tables' file names, the only files a replaced output directory may hold.
const TABLES: [&str; 3] = ["samples.parquet", "frames.parquet", "dsos.parquet"];
/// Distinct stacks remembered (each maps a raw chain to its frame ids); forgotten past this.
const MAX_STACKS: usize = 1 << 16;

/// Writes `cfg.input` as Parquet tables into the new directory `dir`.
pub(super) fn convert(cfg: &ConvertConfig, dir: &Path) -> Result<()> {
    let replace = check_dest(dir, cfg.force)?;
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = dir
        .file_name()
        .ok_or_else(|| anyhow!("{} names no directory to create", dir.display()))?;
    // Written under a random name beside the destination and renamed when complete: a
    // failure leaves nothing behind (the TempDir removes itself when dropped).
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{}.", name.to_string_lossy()))
        .suffix(".rperf-tmp")
        .permissions(std::fs::Permissions::from_mode(0o777))
        .tempdir_in(parent)
        .map_err(|e| {
            anyhow!(
                "cannot create {}: {} (choose a directory you can write)",
                dir.display(),
                plain(&e)
            )
        })?;
    let host = if cfg.input.as_os_str() == "-" {
        None
    } else {
        super::facts(&cfg.input)?.hostname
    };
    // Errors name the input (reading) or the destination (writing), never the temporary.
    let count = write_tables(cfg, tmp.path(), dir, host)?;
    let made = tmp.keep();
    if let Err(e) = put_in_place(&made, dir, replace) {
        let _ = std::fs::remove_dir_all(&made);
        return Err(anyhow!("cannot create {}: {e}", dir.display()));
    }
    eprintln!(
        "[ rperf data convert: Converted '{}' into Parquet tables in '{}' ({count} samples) ]",
        cfg.input.display(),
        dir.display()
    );
    Ok(())
}

/// tempfile's errors end with the temporary path it tried: the user named another.
fn plain(e: &std::io::Error) -> String {
    let t = e.to_string();
    t.split_once(" at path ")
        .map_or(t.clone(), |(a, _)| a.to_string())
}

/// Whether `dir` is there to be replaced; an error when it may not be.
fn check_dest(dir: &Path, force: bool) -> Result<bool> {
    let Ok(meta) = std::fs::symlink_metadata(dir) else {
        return Ok(false);
    };
    if !meta.is_dir() {
        bail!(
            "cannot create {}: a file is in the way (remove it, or choose another directory)",
            dir.display()
        );
    }
    if !force {
        bail!(
            "{} exists: use --force to replace it, or choose another directory",
            dir.display()
        );
    }
    // --force replaces only an earlier conversion: never a directory with other files.
    let entries = std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
    for e in entries {
        let e = e?;
        let ours = e.file_name().to_str().is_some_and(|n| TABLES.contains(&n))
            && e.file_type().is_ok_and(|t| t.is_file());
        if !ours {
            bail!(
                "{} holds {}, which is not a table rperf wrote: not replacing it (choose \
                 another directory)",
                dir.display(),
                e.file_name().to_string_lossy()
            );
        }
    }
    Ok(true)
}

/// Moves the finished directory to `dir`, the earlier conversion there aside first.
fn put_in_place(made: &Path, dir: &Path, replace: bool) -> std::io::Result<()> {
    if !replace {
        // rename(2) would also replace an empty directory made meanwhile; that is fine.
        return std::fs::rename(made, dir);
    }
    let mut old = made.as_os_str().to_owned();
    old.push(".old");
    let old = PathBuf::from(old);
    std::fs::rename(dir, &old)?;
    if let Err(e) = std::fs::rename(made, dir) {
        let _ = std::fs::rename(&old, dir);
        return Err(e);
    }
    for t in TABLES {
        let _ = std::fs::remove_file(old.join(t));
    }
    std::fs::remove_dir(&old)
}

fn props() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .set_max_row_group_row_count(Some(ROW_GROUP))
        .set_created_by(format!("rperf {}", env!("CARGO_PKG_VERSION")))
        .build()
}

fn writer(dir: &Path, name: &str, schema: &SchemaRef) -> Result<ArrowWriter<File>> {
    let f = File::create(dir.join(name))?;
    Ok(ArrowWriter::try_new(f, schema.clone(), Some(props()))?)
}

fn item(t: DataType) -> Arc<Field> {
    Arc::new(Field::new("item", t, false))
}

fn sample_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("time", DataType::UInt64, false),
        Field::new("pid", DataType::Int32, false),
        Field::new("tid", DataType::Int32, false),
        Field::new("comm", DataType::Utf8, false),
        Field::new("cpu", DataType::UInt32, true),
        Field::new("event", DataType::Utf8, false),
        Field::new("period", DataType::UInt64, false),
        Field::new("weight", DataType::UInt64, true),
        Field::new("host", DataType::Utf8, true),
        Field::new("stack", DataType::List(item(DataType::UInt64)), false),
    ]))
}

fn frame_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::UInt64, false),
        Field::new("dso_id", DataType::UInt32, true),
        Field::new("address", DataType::UInt64, false),
        Field::new("function", DataType::Utf8, true),
        Field::new("symbol", DataType::Utf8, true),
        Field::new("file", DataType::Utf8, true),
        Field::new("line", DataType::UInt32, true),
        Field::new("inlined", DataType::Boolean, false),
        Field::new("dso", DataType::Utf8, true),
        Field::new("build_id", DataType::Utf8, true),
    ]))
}

fn dso_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::UInt32, false),
        Field::new("path", DataType::Utf8, false),
        Field::new("name", DataType::Utf8, false),
        Field::new("build_id", DataType::Utf8, true),
        Field::new("kernel", DataType::Boolean, false),
    ]))
}

/// The samples table's rows not yet written.
struct Samples {
    schema: SchemaRef,
    time: UInt64Builder,
    pid: Int32Builder,
    tid: Int32Builder,
    comm: StringBuilder,
    cpu: UInt32Builder,
    event: StringBuilder,
    period: UInt64Builder,
    weight: UInt64Builder,
    host: StringBuilder,
    stack: ListBuilder<UInt64Builder>,
    rows: usize,
}

impl Samples {
    fn new() -> Samples {
        Samples {
            schema: sample_schema(),
            time: UInt64Builder::new(),
            pid: Int32Builder::new(),
            tid: Int32Builder::new(),
            comm: StringBuilder::new(),
            cpu: UInt32Builder::new(),
            event: StringBuilder::new(),
            period: UInt64Builder::new(),
            weight: UInt64Builder::new(),
            host: StringBuilder::new(),
            stack: ListBuilder::new(UInt64Builder::new()).with_field(item(DataType::UInt64)),
            rows: 0,
        }
    }

    fn batch(&mut self) -> Result<RecordBatch> {
        self.rows = 0;
        let cols: Vec<ArrayRef> = vec![
            Arc::new(self.time.finish()),
            Arc::new(self.pid.finish()),
            Arc::new(self.tid.finish()),
            Arc::new(self.comm.finish()),
            Arc::new(self.cpu.finish()),
            Arc::new(self.event.finish()),
            Arc::new(self.period.finish()),
            Arc::new(self.weight.finish()),
            Arc::new(self.host.finish()),
            Arc::new(self.stack.finish()),
        ];
        Ok(RecordBatch::try_new(self.schema.clone(), cols)?)
    }
}

/// The frames table's rows not yet written.
struct Frames {
    schema: SchemaRef,
    id: UInt64Builder,
    dso_id: UInt32Builder,
    address: UInt64Builder,
    function: StringBuilder,
    symbol: StringBuilder,
    file: StringBuilder,
    line: UInt32Builder,
    inlined: BooleanBuilder,
    dso: StringBuilder,
    build_id: StringBuilder,
    rows: usize,
}

impl Frames {
    fn new() -> Frames {
        Frames {
            schema: frame_schema(),
            id: UInt64Builder::new(),
            dso_id: UInt32Builder::new(),
            address: UInt64Builder::new(),
            function: StringBuilder::new(),
            symbol: StringBuilder::new(),
            file: StringBuilder::new(),
            line: UInt32Builder::new(),
            inlined: BooleanBuilder::new(),
            dso: StringBuilder::new(),
            build_id: StringBuilder::new(),
            rows: 0,
        }
    }

    fn batch(&mut self) -> Result<RecordBatch> {
        self.rows = 0;
        let cols: Vec<ArrayRef> = vec![
            Arc::new(self.id.finish()),
            Arc::new(self.dso_id.finish()),
            Arc::new(self.address.finish()),
            Arc::new(self.function.finish()),
            Arc::new(self.symbol.finish()),
            Arc::new(self.file.finish()),
            Arc::new(self.line.finish()),
            Arc::new(self.inlined.finish()),
            Arc::new(self.dso.finish()),
            Arc::new(self.build_id.finish()),
        ];
        Ok(RecordBatch::try_new(self.schema.clone(), cols)?)
    }
}

/// Frame ids by address: each distinct (binary, address) gets consecutive ids, one per
/// function DWARF places there (the inlined calls innermost first, then the function that
/// holds them), and its rows go to the frames table once.
struct FrameIds {
    /// (binary or u32::MAX when no mapping holds the address, address) -> (first id, count).
    ids: FxHashMap<(u32, u64), (u64, u32)>,
    next: u64,
    rows: Frames,
    /// Hex build-ids by path, from the file's BUILD_ID feature.
    build_ids: FxHashMap<String, String>,
}

impl FrameIds {
    /// The ids of the frames at `addr` of process `pid`, appended to `out`.
    fn push(
        &mut self,
        out: &mut Vec<u64>,
        session: &Session,
        syms: &mut Symbolizer,
        pid: i32,
        addr: u64,
        mode: Mode,
    ) {
        let loc = session.resolve(pid, addr, mode);
        let key = loc.map_or((u32::MAX, addr), |l| (l.dso, l.rel));
        let (first, n) = match self.ids.get(&key) {
            Some(&v) => v,
            None => {
                let v = self.add(session, syms, loc, addr);
                self.ids.insert(key, v);
                v
            }
        };
        out.extend(first..first + u64::from(n));
    }

    /// Adds the frame rows of a new (binary, address).
    fn add(
        &mut self,
        session: &Session,
        syms: &mut Symbolizer,
        loc: Option<Location>,
        addr: u64,
    ) -> (u64, u32) {
        let first = self.next;
        let Some(loc) = loc else {
            self.row(None, addr, None, None, None, false, None);
            return (first, 1);
        };
        let dso = &session.dsos()[loc.dso as usize];
        let sym = syms.symbol(session, loc).map(|s| s.name);
        let inline = if dso.kernel {
            Vec::new()
        } else {
            syms.inline_stack(session, loc)
        };
        let dso_ref = Some((loc.dso, dso.short_name().to_string(), dso.path.clone()));
        if inline.is_empty() {
            self.row(dso_ref, loc.rel, sym.clone(), sym, None, false, None);
            return (first, 1);
        }
        let n = inline.len();
        for (i, f) in inline.iter().enumerate() {
            let function = crate::cmd::script::binutils_name(i, f, sym.as_deref().unwrap_or(""));
            let function = (!function.is_empty()).then(|| function.to_string());
            self.row(
                dso_ref.clone(),
                loc.rel,
                function.or_else(|| sym.clone()),
                sym.clone(),
                f.file.clone(),
                i + 1 < n,
                f.line,
            );
        }
        (first, n as u32)
    }

    #[allow(clippy::too_many_arguments)]
    fn row(
        &mut self,
        dso: Option<(u32, String, String)>,
        address: u64,
        function: Option<String>,
        symbol: Option<String>,
        file: Option<String>,
        inlined: bool,
        line: Option<u32>,
    ) {
        let r = &mut self.rows;
        r.id.append_value(self.next);
        self.next += 1;
        r.address.append_value(address);
        r.function.append_option(function);
        r.symbol.append_option(symbol);
        r.file.append_option(file);
        r.line.append_option(line);
        r.inlined.append_value(inlined);
        match dso {
            Some((id, name, path)) => {
                r.dso_id.append_value(id);
                r.dso.append_value(name);
                r.build_id.append_option(self.build_ids.get(&path));
            }
            None => {
                r.dso_id.append_null();
                r.dso.append_null();
                r.build_id.append_null();
            }
        }
        r.rows += 1;
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Replays the input once into the three tables under `dir`; returns the sample count.
fn write_tables(cfg: &ConvertConfig, dir: &Path, dest: &Path, host: Option<String>) -> Result<u64> {
    let wctx = || format!("cannot write the tables into {}", dest.display());
    let mut samples = Samples::new();
    let mut sw = writer(dir, TABLES[0], &samples.schema).with_context(wctx)?;
    let mut frames = FrameIds {
        ids: FxHashMap::default(),
        next: 0,
        rows: Frames::new(),
        build_ids: FxHashMap::default(),
    };
    let mut fw = writer(dir, TABLES[1], &frames.rows.schema).with_context(wctx)?;
    let mut replay = Replay::new(&cfg.input, cfg.symfs.clone(), Filter::default(), true)?;
    let mut failed: Option<anyhow::Error> = None;
    let mut count = 0u64;
    let mut ids: Vec<u64> = Vec::with_capacity(128);
    let mut key: Vec<u64> = Vec::with_capacity(128);
    let mut stacks: FxHashMap<Box<[u64]>, Box<[u64]>> = FxHashMap::default();
    let mut started = false;
    let header = replay.run(&cfg.input, |parts, header, item| {
        if failed.is_some() {
            return;
        }
        let Item::Sample(s, _) = item else {
            return;
        };
        if !started {
            started = true;
            frames.build_ids = header
                .hits
                .iter()
                .map(|(p, b)| (p.clone(), hex(b)))
                .collect();
        }
        let Parts {
            session,
            syms,
            stacks: unwinder,
        } = parts;
        count += 1;
        let r = &mut samples;
        r.time.append_value(s.time);
        r.pid.append_value(s.pid);
        r.tid.append_value(s.tid);
        let comm = session.comm_id(s.tid);
        r.comm.append_value(session.comm_name(comm));
        r.cpu.append_option(s.cpu);
        let ev = header.events.get(s.event).map_or("", |e| e.name.as_str());
        r.event.append_value(ev);
        r.period.append_value(s.period);
        r.weight.append_option(s.weight);
        r.host.append_option(host.as_deref());
        // A stack's frame ids depend only on the address space and the chain (DWARF
        // stacks, unwound from their own bytes, are walked every time).
        let cacheable = s.user_stack.is_none();
        key.clear();
        if cacheable {
            key.extend([
                u64::from(s.pid as u32),
                session.maps_generation(s.pid),
                session.kernel_generation(),
                s.mode as u64,
                s.ip,
            ]);
            key.extend_from_slice(s.callchain.unwrap_or(&[]));
        }
        match cacheable.then(|| stacks.get(key.as_slice())).flatten() {
            Some(v) => r.stack.values().append_slice(v),
            None => {
                ids.clear();
                let mut fr = unwinder.frames(session, &s, usize::MAX);
                if fr.is_empty() {
                    // A corrupt chain: the sampled instruction alone, as report counts it.
                    fr = crate::callchain::frames(
                        &crate::data::Sample {
                            callchain: None,
                            ..s.clone()
                        },
                        1,
                    );
                }
                for f in &fr {
                    frames.push(&mut ids, session, syms, s.pid, f.addr, f.mode);
                }
                r.stack.values().append_slice(&ids);
                if cacheable {
                    if stacks.len() >= MAX_STACKS {
                        stacks.clear();
                    }
                    stacks.insert(key.as_slice().into(), ids.as_slice().into());
                }
            }
        }
        r.stack.append(true);
        r.rows += 1;
        let mut flush = || -> Result<()> {
            if samples.rows >= BATCH {
                sw.write(&samples.batch()?)?;
            }
            if frames.rows.rows >= BATCH {
                fw.write(&frames.rows.batch()?)?;
            }
            Ok(())
        };
        if let Err(e) = flush() {
            failed = Some(e);
        }
    })?;
    if let Some(e) = failed {
        return Err(e.context(wctx()));
    }
    let finish = || -> Result<()> {
        if samples.rows > 0 {
            sw.write(&samples.batch()?)?;
        }
        if frames.rows.rows > 0 {
            fw.write(&frames.rows.batch()?)?;
        }
        sw.close()?;
        fw.close()?;
        Ok(())
    };
    finish().with_context(wctx)?;
    // The binaries, last: the session knows every one by now.
    let build_ids: FxHashMap<&str, String> = header
        .hits
        .iter()
        .map(|(p, b)| (p.as_str(), hex(b)))
        .collect();
    let schema = dso_schema();
    let session = &replay.parts.session;
    let (mut id, mut path, mut name, mut bid, mut kernel) = (
        UInt32Builder::new(),
        StringBuilder::new(),
        StringBuilder::new(),
        StringBuilder::new(),
        BooleanBuilder::new(),
    );
    for (i, d) in session.dsos().iter().enumerate() {
        id.append_value(i as u32);
        path.append_value(&d.path);
        name.append_value(d.short_name());
        bid.append_option(build_ids.get(d.path.as_str()));
        kernel.append_value(d.kernel);
    }
    let cols: Vec<ArrayRef> = vec![
        Arc::new(id.finish()),
        Arc::new(path.finish()),
        Arc::new(name.finish()),
        Arc::new(bid.finish()),
        Arc::new(kernel.finish()),
    ];
    let dsos = || -> Result<()> {
        let mut dw = writer(dir, TABLES[2], &schema)?;
        dw.write(&RecordBatch::try_new(schema.clone(), cols)?)?;
        dw.close()?;
        Ok(())
    };
    dsos().with_context(wctx)?;
    Ok(count)
}
