//! Rings written to the file straight from their mappings, for recordings the post-pass
//! rewrites (`-g` into a file): one writev per wake-up, as perf writes, with no copy.
//!
//! Measured on `record -F 4000 -a -g` under cargo builds, a third of the recorder's own
//! samples were its two copies (ring → batch → the writer's buffer) and the page faults of
//! fresh batches; the kernel's copy into the page cache is the one left. The side-band the
//! container capture follows is small and goes, copied, to a thread of its own, so a capture
//! that reads a binary never keeps the rings from being emptied.
use super::*;

use crate::abi::kind;
use crate::record::drain::Pipeline;

/// The container capture's sink: it follows records and writes none.
pub(super) struct Discard;

impl RecordSink for Discard {
    fn put(&mut self, _: &[u8]) -> std::io::Result<()> {
        Ok(())
    }
}

/// The ring reader that writes to the file itself.
pub(super) struct Direct {
    /// The summary counts of everything written.
    pub tally: Tally,
    sink: Sink,
    /// The container capture's thread, fed the side-band.
    side: Option<Pipeline<Discard>>,
    /// The side-band of the pass under way.
    side_buf: Vec<u8>,
    /// A record cut in two by the end of its ring, put back together to be looked at.
    joined: Vec<u8>,
    error: Option<std::io::Error>,
}

impl Direct {
    /// Writes rings to `sink`'s file, with the container capture on its own thread.
    pub(super) fn start(sink: Sink, containers: Option<Containers>) -> Result<Direct> {
        let side = match containers {
            Some(c) => {
                let mut d = Drain::new(HitTracker::new(0), None);
                d.raw = true;
                d.containers = Some(c);
                Some(Pipeline::start(d, Discard).context("starting the container capture")?)
            }
            None => None,
        };
        Ok(Direct {
            tally: Tally::default(),
            sink,
            side,
            side_buf: Vec::new(),
            joined: Vec::new(),
            error: None,
        })
    }

    /// Counts the records in `a` then `b` (one ring's bytes) and copies the side-band into
    /// `side`.
    fn look(&mut self, a: &[u8], b: &[u8], mut side: Option<&mut Vec<u8>>) {
        let tally = &mut self.tally;
        encode::for_each_record_in(a, b, &mut self.joined, |ty, rec| {
            tally.count(ty, rec);
            if let (false, Some(s)) = (ty == kind::SAMPLE, side.as_deref_mut()) {
                s.extend_from_slice(rec);
            }
        });
    }

    /// Writes what the rings hold, then a FINISHED_ROUND, in one system call, and frees
    /// the rings. Returns the bytes written; 0 once a write failed.
    pub(super) fn pass(&mut self, rings: &mut [(Ring, usize, usize)]) -> usize {
        if self.error.is_some() {
            return 0;
        }
        let mut side = self
            .side
            .is_some()
            .then(|| std::mem::take(&mut self.side_buf));
        let round = encode::finished_round();
        let mut parts: Vec<&[u8]> = Vec::with_capacity(2 * rings.len() + 1);
        let mut heads = Vec::with_capacity(rings.len());
        for (r, _, _) in rings.iter() {
            let (a, b, head) = r.pending();
            self.look(a, b, side.as_mut());
            parts.push(a);
            parts.push(b);
            heads.push(head);
        }
        let n: usize = parts.iter().map(|p| p.len()).sum();
        if n == 0 {
            return 0;
        }
        parts.push(&round);
        let written = match &mut self.sink {
            Sink::File(w) => w.write_parts(&parts),
            Sink::Pipe(p) => parts.iter().try_for_each(|b| p.write(b)),
        };
        drop(parts);
        if let Err(e) = written {
            self.error = Some(e);
            return 0;
        }
        for ((r, _, _), head) in rings.iter_mut().zip(heads) {
            r.consume(head);
        }
        match (self.side.as_mut(), side) {
            (Some(p), Some(s)) if !s.is_empty() => {
                p.send(s);
                self.side_buf = p.buffer();
            }
            (_, Some(s)) => self.side_buf = s,
            _ => {}
        }
        n
    }

    /// Whether a write failed.
    pub(super) fn stopped(&self) -> bool {
        self.error.is_some()
    }

    /// The first write error, else the sink, the tally and the container capture.
    pub(super) fn finish(self) -> std::io::Result<(Sink, Tally, Option<Containers>)> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let containers = match self.side {
            Some(p) => p.finish()?.0.containers,
            None => None,
        };
        Ok((self.sink, self.tally, containers))
    }
}
