//! The drain: ring bytes to output batches, each ending in FINISHED_ROUND, with the
//! side-band followed, the summary counted and (with the `-g` leaf fixer) samples rewritten.
//!
//! The drain never reads a file: the leaf fixer's rules come from its loader thread. A batch
//! holding a sample in a binary whose rules are still being read waits for them, and every
//! later batch waits behind it, so records keep their order and rounds. The wait is bounded
//! by time ([`MAX_WAIT`]) and memory ([`MAX_HELD`]); past either, the waiting samples keep
//! the kernel's chain as perf records it. Holding back rather than writing them at once
//! keeps the callers of a binary's first samples (short programs are mostly first samples),
//! and the rings are emptied all the while, so waiting costs memory, not samples.
use std::collections::VecDeque;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::containers::Containers;
use super::hits::HitTracker;
use super::leaf::LeafFixer;
use super::offcpu::OffCpu;
use crate::abi::kind;
use crate::data::write::encode::{self, Tally};
use crate::sys::ring::Ring;

/// How long a batch waits for its binaries' rules at most.
pub const MAX_WAIT: Duration = Duration::from_secs(1);
/// Bytes of drained records held back at most while rules load.
pub const MAX_HELD: usize = 64 << 20;

/// Bytes read from the rings and not yet processed, at most: past this the ring reader
/// waits (the kernel then counts what the full rings lose) rather than grow without bound.
pub const MAX_QUEUED: usize = 256 << 20;

/// Where processed records go (the perf.data writer).
pub trait RecordSink: Send + 'static {
    /// Writes whole records.
    fn put(&mut self, records: &[u8]) -> io::Result<()>;
}

/// Drained records not written yet.
struct Batch {
    bytes: Vec<u8>,
    /// Whether its side-band records are in the hit tracker (done when it reaches the
    /// front, so each batch sees the address spaces as they were when it was recorded).
    observed: bool,
    /// Offset of the first record not yet known to have its rules.
    checked: usize,
    /// When it reached the front.
    since: Instant,
}

/// The record at `off` in `buf`: type, header misc and the whole record.
fn record_at(buf: &[u8], off: usize) -> Option<(u32, u16, &[u8])> {
    let h = buf.get(off..off + 8)?;
    let ty = u32::from_ne_bytes([h[0], h[1], h[2], h[3]]);
    let m = u16::from_ne_bytes([h[4], h[5]]);
    let size = u16::from_ne_bytes([h[6], h[7]]) as usize;
    if size < 8 {
        return None;
    }
    Some((ty, m, buf.get(off..off + size)?))
}

/// What every drained record passes through, from the rings to the writer.
pub struct Drain {
    /// The summary counts.
    pub tally: Tally,
    /// Binaries hit and the address spaces (the leaf fixer's maps).
    pub hits: HitTracker,
    /// The `-g` leaf fixer, when its registers and stack are sampled.
    pub leaf: Option<LeafFixer>,
    /// `--off-cpu`: the pass that turns switches into off-CPU samples, last before writing.
    pub offcpu: Option<OffCpu>,
    /// Binaries of processes in other mount namespaces, stored while they live.
    pub containers: Option<Containers>,
    /// Records are written as drained, each pass a round, with only the tally and the
    /// container capture on the way: the leaf fixer and hit tracking run over the file once
    /// the events are disabled ([`Drain::replay`]), so recording costs no more than a copy.
    pub raw: bool,
    /// How long a batch waits for its binaries' rules at most.
    wait: Duration,
    queue: VecDeque<Batch>,
    held: usize,
    out: Vec<u8>,
    spare: Vec<Vec<u8>>,
}

impl Drain {
    /// A drain feeding `hits` and, when given, the leaf fixer.
    pub fn new(hits: HitTracker, leaf: Option<LeafFixer>) -> Drain {
        Drain {
            tally: Tally::default(),
            hits,
            leaf,
            offcpu: None,
            containers: None,
            raw: false,
            wait: MAX_WAIT,
            queue: VecDeque::new(),
            held: 0,
            out: Vec::with_capacity(4 << 20),
            spare: Vec::new(),
        }
    }

    /// Whether batches wait for rules: the caller then looks back soon, not at its usual
    /// poll timeout.
    pub fn holding(&self) -> bool {
        !self.queue.is_empty()
    }

    /// Passes on the records in `raw` (whole records, as drained). Returns their bytes.
    pub fn take(
        &mut self,
        mut raw: Vec<u8>,
        write: &mut dyn FnMut(&[u8]) -> io::Result<()>,
    ) -> io::Result<usize> {
        let total = raw.len();
        if self.raw {
            encode::for_each_record(&raw, |ty, m, rec| {
                self.tally.count(ty, rec);
                if let (true, Some(c)) = (ty != kind::SAMPLE, self.containers.as_mut()) {
                    c.observe_record(ty, m, rec);
                }
            });
            if total > 0 {
                raw.extend_from_slice(&encode::finished_round());
                write(&raw)?;
            }
            self.spare.push(raw);
            return Ok(total);
        }
        encode::for_each_record(&raw, |ty, _, rec| self.tally.count(ty, rec));
        if self.leaf.is_none() {
            if total > 0 {
                // The side-band of every ring before any sample: a process's MMAP may sit
                // in another CPU's ring than its samples.
                for sample in [false, true] {
                    encode::for_each_record(&raw, |ty, m, rec| {
                        if (ty == kind::SAMPLE) == sample {
                            self.hits.observe_record(ty, m, rec);
                            if let (false, Some(c)) = (sample, self.containers.as_mut()) {
                                c.observe_record(ty, m, rec);
                            }
                        }
                    });
                }
                raw.extend_from_slice(&encode::finished_round());
                match self.offcpu.as_mut() {
                    Some(o) => {
                        self.out.clear();
                        o.process(&raw, &mut self.out);
                        write(&self.out)?;
                    }
                    None => write(&raw)?,
                }
            }
            self.spare.push(raw);
            return Ok(total);
        }
        if total > 0 {
            self.held += raw.len();
            self.queue.push_back(Batch {
                bytes: raw,
                observed: false,
                checked: 0,
                since: Instant::now(),
            });
        } else {
            self.spare.push(raw);
        }
        self.flush(false, write)?;
        Ok(total)
    }

    /// A buffer done with, for the ring reader to fill again.
    pub fn recycle(&mut self) -> Option<Vec<u8>> {
        self.spare.pop()
    }

    /// Writes out the batches at the front whose rules are loaded (all of them with
    /// `force`, or once one has waited [`MAX_WAIT`] or too much is held).
    fn flush(
        &mut self,
        force: bool,
        write: &mut dyn FnMut(&[u8]) -> io::Result<()>,
    ) -> io::Result<()> {
        let Some(leaf) = self.leaf.as_mut() else {
            return Ok(());
        };
        leaf.collect();
        while let Some(b) = self.queue.front_mut() {
            if !b.observed {
                encode::for_each_record(&b.bytes, |ty, m, rec| {
                    if ty != kind::SAMPLE {
                        self.hits.observe_record(ty, m, rec);
                        if let Some(c) = self.containers.as_mut() {
                            c.observe_record(ty, m, rec);
                        }
                    }
                });
                b.observed = true;
                b.since = Instant::now();
            }
            if !force && b.since.elapsed() < self.wait && self.held <= MAX_HELD {
                let mut waits = false;
                while let Some((ty, _, rec)) = record_at(&b.bytes, b.checked) {
                    if ty == kind::SAMPLE && leaf.waits(rec, &self.hits) {
                        waits = true;
                        break;
                    }
                    b.checked += rec.len();
                }
                if waits {
                    break;
                }
            }
            self.out.clear();
            encode::for_each_record(&b.bytes, |ty, m, rec| {
                if ty == kind::SAMPLE {
                    self.hits.observe_record(ty, m, rec);
                    leaf.rewrite(rec, &self.hits, &mut self.out);
                } else {
                    self.out.extend_from_slice(rec);
                }
            });
            self.out.extend_from_slice(&encode::finished_round());
            match self.offcpu.as_mut() {
                Some(o) => {
                    let mut done = Vec::with_capacity(self.out.len());
                    o.process(&self.out, &mut done);
                    write(&done)?;
                }
                None => write(&self.out)?,
            }
            if let Some(b) = self.queue.pop_front() {
                self.held -= b.bytes.len();
                if self.spare.len() < 4 {
                    self.spare.push(b.bytes);
                }
            }
        }
        Ok(())
    }

    /// Writes out everything still held, waiting up to [`MAX_WAIT`] for the rules asked for.
    pub fn finish(&mut self, write: &mut dyn FnMut(&[u8]) -> io::Result<()>) -> io::Result<()> {
        let deadline = Instant::now() + self.wait;
        loop {
            self.flush(false, write)?;
            let left = deadline.saturating_duration_since(Instant::now());
            if self.queue.is_empty() || left.is_zero() {
                break;
            }
            if let Some(l) = self.leaf.as_mut() {
                l.wait(left);
            }
        }
        self.flush(true, write)
    }
}

/// Where [`Drain::replay`] reads a raw recording and writes what replaces it.
pub trait Rewrite {
    /// The next bytes; 0 at the end.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize>;
    /// The next bytes of the result.
    fn write(&mut self, b: &[u8]) -> io::Result<()>;
}

impl Rewrite for crate::data::write::InPlace<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        crate::data::write::InPlace::read(self, buf)
    }
    fn write(&mut self, b: &[u8]) -> io::Result<()> {
        crate::data::write::InPlace::write(self, b)
    }
}

impl Drain {
    /// Runs records a `raw` drain wrote (rounds, each ending in FINISHED_ROUND) through
    /// this drain, round by round, as if they came from the rings: the result is the file a
    /// live drain would have written. Being off the recording, each round waits for its
    /// binaries' rules (up to [`REPLAY_WAIT`]) rather than leave them the kernel's chain.
    pub fn replay(&mut self, io: &mut dyn Rewrite) -> io::Result<()> {
        self.wait = REPLAY_WAIT;
        let mut buf: Vec<u8> = Vec::new();
        let mut chunk = vec![0u8; 1 << 20];
        loop {
            let n = io.read(&mut chunk)?;
            buf.extend_from_slice(&chunk[..n]);
            let (mut start, mut off) = (0, 0);
            while let Some((ty, _, rec)) = record_at(&buf, off) {
                let len = rec.len();
                if ty == kind::FINISHED_ROUND {
                    let mut round = self.spare.pop().unwrap_or_default();
                    round.clear();
                    round.extend_from_slice(&buf[start..off]);
                    let mut write = |b: &[u8]| io.write(b);
                    self.take(round, &mut write)?;
                    self.finish(&mut write)?;
                    start = off + len;
                }
                off += len;
            }
            buf.drain(..start);
            if n == 0 {
                break;
            }
        }
        // A tail without its round's end (never written so): kept as it is.
        io.write(&buf)
    }
}

/// How long a replayed round waits for its binaries' rules at most.
pub const REPLAY_WAIT: Duration = Duration::from_secs(10);

/// The ring reader's side of a [`Drain`] running on a thread of its own: reading the rings
/// is then only a copy, never delayed by unwinding, held batches or disk writes, so a
/// reader woken late (busy CPUs) still finds room in the rings.
pub struct Pipeline<S> {
    tx: Option<Sender<Vec<u8>>>,
    spare: Receiver<Vec<u8>>,
    queued: Arc<AtomicUsize>,
    thread: JoinHandle<io::Result<(Drain, S)>>,
}

impl<S: RecordSink> Pipeline<S> {
    /// Starts the thread that runs `drain` into `sink`.
    pub fn start(mut drain: Drain, mut sink: S) -> io::Result<Pipeline<S>> {
        let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
        let (spare_tx, spare) = std::sync::mpsc::channel();
        let queued = Arc::new(AtomicUsize::new(0));
        let q = queued.clone();
        let thread = std::thread::Builder::new()
            .name("rperf-write".into())
            .spawn(move || {
                let mut write = |b: &[u8]| sink.put(b);
                loop {
                    // Held batches are looked at again soon, as their rules come in.
                    let wait = if drain.holding() {
                        Duration::from_millis(10)
                    } else {
                        Duration::from_secs(1)
                    };
                    match rx.recv_timeout(wait) {
                        Ok(raw) => {
                            q.fetch_sub(raw.len(), Ordering::Relaxed);
                            drain.take(raw, &mut write)?;
                        }
                        Err(RecvTimeoutError::Timeout) => drain.flush(false, &mut write)?,
                        Err(RecvTimeoutError::Disconnected) => break,
                    }
                    while let Some(b) = drain.recycle() {
                        let _ = spare_tx.send(b);
                    }
                }
                drain.finish(&mut write)?;
                Ok((drain, sink))
            })?;
        Ok(Pipeline {
            tx: Some(tx),
            spare,
            queued,
            thread,
        })
    }

    /// Copies what `rings` hold to the writer thread. Returns the bytes read; 0 once the
    /// writer has stopped (its error comes from [`Pipeline::finish`]).
    pub fn pass<'a>(&mut self, rings: impl IntoIterator<Item = &'a mut Ring>) -> usize {
        let Some(tx) = &self.tx else { return 0 };
        while self.queued.load(Ordering::Relaxed) > MAX_QUEUED && !self.thread.is_finished() {
            std::thread::sleep(Duration::from_millis(1));
        }
        let mut raw = self.spare.try_recv().unwrap_or_default();
        raw.clear();
        for r in rings {
            r.drain_into(&mut raw);
        }
        let n = raw.len();
        if n == 0 {
            return 0;
        }
        self.queued.fetch_add(n, Ordering::Relaxed);
        if tx.send(raw).is_err() {
            self.tx = None;
            return 0;
        }
        n
    }

    /// Whether the writer thread has stopped early (on a write error).
    pub fn stopped(&self) -> bool {
        self.tx.is_none() || self.thread.is_finished()
    }

    /// Waits for the writer to write out everything passed; gives back the drain and sink.
    pub fn finish(mut self) -> io::Result<(Drain, S)> {
        self.tx = None;
        self.thread
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the record writer thread panicked")))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::record::leaf::tests::{missing_file_mapping, sample_missing_its_caller, TYPE};

    /// The chain lengths of the samples in `out`, and how many rounds it ends.
    fn chains(out: &[u8]) -> (Vec<u64>, usize) {
        let (mut lens, mut rounds) = (Vec::new(), 0);
        encode::for_each_record(out, |ty, _, rec| match ty {
            kind::SAMPLE => lens.push(u64::from_ne_bytes(rec[24..32].try_into().unwrap())),
            kind::FINISHED_ROUND => rounds += 1,
            _ => {}
        });
        (lens, rounds)
    }

    /// A drain whose leaf fixer reads rules only when the returned sender says so.
    fn gated() -> (Drain, std::sync::mpsc::Sender<()>) {
        let (open, gate) = std::sync::mpsc::channel::<()>();
        let read = Box::new(move |_: &str, _: usize| {
            let _ = gate.recv();
            None
        });
        let leaf = LeafFixer::with_loader(TYPE, HashMap::new(), 1 << 20, read);
        let mut hits = HitTracker::new(TYPE);
        hits.observe(&missing_file_mapping());
        (Drain::new(hits, Some(leaf)), open)
    }

    #[test]
    fn a_binary_still_loading_holds_its_batches_back_without_blocking_the_drain() {
        let (mut d, open) = gated();
        let mut out = Vec::new();
        let mut write = |b: &[u8]| {
            out.extend_from_slice(b);
            Ok(())
        };
        // The loader is stuck on the file, yet each pass returns: both batches wait.
        d.take(sample_missing_its_caller(), &mut write).unwrap();
        d.take(sample_missing_its_caller(), &mut write).unwrap();
        assert!(d.holding());
        open.send(()).unwrap();
        assert!(d.leaf.as_mut().unwrap().wait(Duration::from_secs(30)));
        d.take(Vec::new(), &mut write).unwrap();
        assert!(!d.holding());
        // Both written in order, each its own round, with the caller put back.
        assert_eq!(chains(&out), (vec![4, 4], 2));
        assert_eq!(d.tally.samples, 2);
        let leaf = d.leaf.as_ref().unwrap();
        assert_eq!((leaf.fixed, leaf.kept), (2, 0));
    }

    /// A file in memory rewritten in place, read a few bytes at a time so that records
    /// straddle reads.
    struct Mem {
        data: Vec<u8>,
        read: usize,
        written: usize,
    }

    impl Rewrite for Mem {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(self.data.len() - self.read).min(50);
            buf[..n].copy_from_slice(&self.data[self.read..self.read + n]);
            self.read += n;
            Ok(n)
        }
        fn write(&mut self, b: &[u8]) -> io::Result<()> {
            assert!(
                self.written + b.len() <= self.read,
                "a write overtook the reads"
            );
            self.data[self.written..self.written + b.len()].copy_from_slice(b);
            self.written += b.len();
            Ok(())
        }
    }

    #[test]
    fn a_raw_recording_replayed_is_what_the_live_drain_writes() {
        let fixing = || {
            let read = Box::new(|_: &str, _: usize| None);
            let leaf = LeafFixer::with_loader(TYPE, HashMap::new(), 1 << 20, read);
            let mut hits = HitTracker::new(TYPE);
            hits.observe(&missing_file_mapping());
            Drain::new(hits, Some(leaf))
        };
        let mut live = fixing();
        let mut out = Vec::new();
        let mut raw = Drain::new(HitTracker::new(TYPE), None);
        raw.raw = true;
        let mut file = Vec::new();
        for n in 1..=3 {
            let batch: Vec<u8> = (0..n).flat_map(|_| sample_missing_its_caller()).collect();
            let mut w = |b: &[u8]| {
                out.extend_from_slice(b);
                Ok(())
            };
            live.take(batch.clone(), &mut w).unwrap();
            live.finish(&mut w).unwrap();
            raw.take(batch, &mut |b: &[u8]| {
                file.extend_from_slice(b);
                Ok(())
            })
            .unwrap();
        }
        // The raw file keeps registers and stacks, and the kernel's chains.
        assert_eq!(chains(&file), (vec![3; 6], 3));
        assert_eq!(raw.tally.samples, 6);
        let mut mem = Mem {
            data: file,
            read: 0,
            written: 0,
        };
        let mut pass = fixing();
        pass.replay(&mut mem).unwrap();
        mem.data.truncate(mem.written);
        assert_eq!(chains(&out), (vec![4; 6], 3));
        assert_eq!(mem.data, out);
        assert_eq!(pass.leaf.as_ref().unwrap().fixed, 6);
    }

    #[test]
    fn rules_that_never_come_leave_the_kernels_chain_after_the_wait() {
        let (mut d, _open) = gated();
        let mut out = Vec::new();
        let mut write = |b: &[u8]| {
            out.extend_from_slice(b);
            Ok(())
        };
        d.take(sample_missing_its_caller(), &mut write).unwrap();
        assert!(d.holding());
        let t = Instant::now();
        d.finish(&mut write).unwrap();
        assert!(t.elapsed() >= MAX_WAIT);
        assert!(!d.holding());
        // Written as the kernel recorded it: no caller guessed.
        assert_eq!(chains(&out), (vec![3], 1));
        assert_eq!(d.leaf.as_ref().unwrap().kept, 1);
    }
}
