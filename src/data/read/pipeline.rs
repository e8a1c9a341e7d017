//! Reading and analysing side by side: one thread reads, orders and decodes the records
//! into batches (their chains, payloads and stacks copied into the batch's own buffers),
//! the caller's thread replays them. On two CPUs the file's parsing and the command's
//! work then overlap instead of adding up; the records reach the caller in the same order.
use std::borrow::Cow;
use std::sync::mpsc;

use super::{Record, Sample};

/// Records per batch, and bytes of chains, payloads and stacks (DWARF samples carry 8 KB of
/// stack each: by count alone a batch would hold 32 MB).
const BATCH: usize = 4096;
const BATCH_BYTES: usize = 1 << 20;
/// Batches in flight between the threads (bounds the memory held).
const IN_FLIGHT: usize = 3;

/// A sample whose borrowed parts live in its batch's buffers (as ranges).
struct Stored {
    sample: Sample<'static>,
    chain: Option<(usize, usize)>,
    raw: Option<(usize, usize)>,
    stack: Option<(usize, usize)>,
}

enum Item {
    Sample(Stored),
    /// Side-band records own their data.
    Other(Record<'static>),
}

#[derive(Default)]
struct Batch {
    items: Vec<Item>,
    words: Vec<u64>,
    bytes: Vec<u8>,
}

impl Batch {
    fn push(&mut self, rec: Record) {
        let item = match rec {
            Record::Sample(s) => {
                let words = &mut self.words;
                let chain = s.callchain.map(|w| {
                    let a = words.len();
                    words.extend_from_slice(w);
                    (a, words.len())
                });
                let bytes = &mut self.bytes;
                let mut put = |b: &[u8]| {
                    let a = bytes.len();
                    bytes.extend_from_slice(b);
                    (a, bytes.len())
                };
                let raw = s.raw.as_deref().map(&mut put);
                let stack = s.user_stack.map(&mut put);
                Item::Sample(Stored {
                    sample: s.with_parts(None, None, None),
                    chain,
                    raw,
                    stack,
                })
            }
            // Side-band records own their data.
            other => match other.detach() {
                Some(r) => Item::Other(r),
                None => return,
            },
        };
        self.items.push(item);
    }
}

/// Runs `produce` on a thread of its own, handing it a sink for records in order, and
/// calls `f` with each of them here. `produce`'s error, if any, is returned after the
/// records it did deliver.
pub fn run<E: Send>(
    produce: impl FnOnce(&mut dyn FnMut(Record)) -> Result<(), E> + Send,
    mut f: impl FnMut(Record),
) -> Result<(), E> {
    let (full_tx, full_rx) = mpsc::sync_channel::<Batch>(IN_FLIGHT);
    let (empty_tx, empty_rx) = mpsc::channel::<Batch>();
    std::thread::scope(|scope| {
        let producer = scope.spawn(move || {
            let mut batch = Batch::default();
            let mut send = |rec: Record| {
                batch.push(rec);
                if batch.items.len() >= BATCH
                    || batch.bytes.len() + 8 * batch.words.len() >= BATCH_BYTES
                {
                    let next = empty_rx.try_recv().unwrap_or_default();
                    // A closed channel means the consumer stopped: the rest is dropped.
                    let _ = full_tx.send(std::mem::replace(&mut batch, next));
                }
            };
            let r = produce(&mut send);
            if !batch.items.is_empty() {
                let _ = full_tx.send(batch);
            }
            r
        });
        for mut batch in full_rx {
            // Items are read in place: moving each out of the batch cost a copy of a
            // large struct per sample.
            for item in &batch.items {
                match item {
                    Item::Other(r) => f(r.clone()),
                    Item::Sample(st) => {
                        let words = |r: Option<(usize, usize)>| r.map(|(a, b)| &batch.words[a..b]);
                        let bytes = |r: Option<(usize, usize)>| r.map(|(a, b)| &batch.bytes[a..b]);
                        f(Record::Sample(st.sample.with_parts(
                            words(st.chain),
                            bytes(st.raw).map(Cow::Borrowed),
                            bytes(st.stack),
                        )));
                    }
                }
            }
            batch.items.clear();
            batch.words.clear();
            batch.bytes.clear();
            let _ = empty_tx.send(batch);
        }
        producer
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Mode;

    #[test]
    fn records_arrive_in_order_with_their_parts() {
        let mut got = Vec::new();
        let n = 3 * BATCH as u64 + 17;
        let r: Result<(), ()> = run(
            |sink| {
                for i in 0..n {
                    let chain = [i, i + 1];
                    let raw = [i as u8; 3];
                    if i % 1000 == 0 {
                        sink(Record::Comm {
                            pid: i as i32,
                            tid: i as i32,
                            name: format!("c{i}"),
                            exec: false,
                            at: Default::default(),
                        });
                    }
                    sink(Record::Sample(Sample {
                        event: 0,
                        index: i,
                        pid: 1,
                        tid: 1,
                        time: i,
                        cpu: None,
                        ip: i,
                        mode: Mode::User,
                        period: 1,
                        callchain: Some(&chain),
                        raw: Some(Cow::Borrowed(&raw)),
                        user_regs: None,
                        user_stack: (i % 2 == 0).then_some(&raw[..2]),
                        cgroup: None,
                        weight: None,
                    }));
                }
                Ok(())
            },
            |rec| match rec {
                Record::Sample(s) => {
                    let i = s.index;
                    assert_eq!(s.callchain, Some(&[i, i + 1][..]));
                    assert_eq!(s.raw.as_deref(), Some(&[i as u8; 3][..]));
                    assert_eq!(s.user_stack, (i % 2 == 0).then_some(&[i as u8; 2][..]));
                    got.push(i);
                }
                Record::Comm { pid, name, .. } => {
                    assert_eq!(name, format!("c{pid}"));
                    got.push(1_000_000 + pid as u64);
                }
                _ => panic!("unexpected record"),
            },
        );
        assert!(r.is_ok());
        let want: Vec<u64> = (0..n)
            .flat_map(|i| {
                (i % 1000 == 0)
                    .then_some(1_000_000 + i)
                    .into_iter()
                    .chain([i])
            })
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn the_producers_error_comes_after_its_records() {
        let mut seen = 0;
        let r = run(
            |sink| {
                sink(Record::Lost { count: 1 });
                Err("damaged")
            },
            |_| seen += 1,
        );
        assert_eq!((r, seen), (Err("damaged"), 1));
    }
}
