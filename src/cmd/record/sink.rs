//! Where a recording goes: perf's pipe format for `-` and FIFOs, the file writer otherwise.
use super::*;

/// The writer for `-o`: `-` and a FIFO get perf's pipe format (a FIFO cannot be seeked back
/// to its header), as in perf; a device is written in place and a regular file staged beside
/// its name. A file's tracepoint formats join `feats`, written at the end.
pub(super) fn create_sink(
    output: &std::path::Path,
    attrs: Vec<(Attr, Vec<u64>)>,
    feats: &mut Vec<(u32, Vec<u8>)>,
    tracing: Option<Vec<u8>>,
) -> Result<Sink> {
    let dest = crate::output::dest_kind(output)
        .with_context(|| format!("cannot write {}", output.display()))?;
    let sink = if matches!(
        dest,
        crate::output::Dest::Stdout | crate::output::Dest::Fifo
    ) {
        let out = crate::output::Output::create(output, crate::output::Options::default())
            .with_context(|| format!("cannot open {}", output.display()))?;
        Sink::Pipe(
            PipeWriter::start(out, &attrs, feats, tracing.as_deref())
                .with_context(|| format!("writing the perf.data stream to {}", output.display()))?,
        )
    } else {
        if let Some(t) = tracing {
            feats.push((file::feature::TRACING_DATA, t));
        }
        Sink::File(Writer::create(output, attrs).map_err(|e| {
            let hint = if e.kind() == std::io::ErrorKind::PermissionDenied {
                " (pick a directory you may write to with -o FILE)"
            } else {
                ""
            };
            anyhow!("cannot create {}: {e}{hint}", output.display())
        })?)
    };
    Ok(sink)
}

/// Where records go: a perf.data file, or perf's pipe format on stdout.
pub(super) enum Sink {
    File(Writer),
    Pipe(PipeWriter<crate::output::Output>),
}

impl RecordSink for Sink {
    fn put(&mut self, b: &[u8]) -> std::io::Result<()> {
        self.write(b)
    }
}

impl Sink {
    pub(super) fn write(&mut self, b: &[u8]) -> std::io::Result<()> {
        match self {
            Sink::File(w) => w.write(b),
            Sink::Pipe(p) => p.write(b),
        }
    }
}
