//! The data section of a file-mode perf.data, read in large blocks and parsed where it
//! lies: records are not copied one by one, only their positions are queued and sorted.
//!
//! Order is perf's (and linux-perf-data's): records carry a key (timestamp, file offset);
//! at each FINISHED_ROUND every queued record whose key is at most the largest key seen
//! before the previous FINISHED_ROUND is released in key order, and the rest at the end.
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use anyhow::{anyhow, Result};
use linux_perf_data::PerfFile;
use linux_perf_event_reader::{
    get_record_id, get_record_identifier, get_record_timestamp, AttrFlags, EventRecord, RawData,
    RawEventRecord, RecordParseInfo, RecordType, SampleFormat, SampleRecord,
};
use rustc_hash::FxHashMap;

use crate::abi::kind::{AUXTRACE, FINISHED_ROUND, SAMPLE};

/// Bytes read from the file at a time.
const BLOCK: usize = 4 << 20;

/// How a record's event is found.
enum Ids {
    One,
    /// The id sits where `get_record_id` looks for every event alike.
    Same,
    /// Every event samples IDENTIFIER: the id is first (samples) or last (others).
    Identifier(bool),
}

#[derive(Clone, Copy)]
struct Queued {
    time: Option<u64>,
    /// Offset in the data section.
    off: u64,
    size: u16,
    kind: u32,
    misc: u16,
    attr: u32,
}

impl Queued {
    fn key(&self) -> (Option<u64>, u64) {
        (self.time, self.off)
    }
}

/// A record as parsed: samples on their own.
pub enum Parsed<'r, 'a> {
    /// A sample for [`super::Converter::decode`]: the event's format, misc and body.
    Body {
        format: (u64, u64),
        misc: u16,
        body: &'a [u8],
    },
    Sample(&'r SampleRecord<'a>),
    /// Any other record, raw (for its sample_id) and parsed.
    Other(&'r RawEventRecord<'a>, &'r EventRecord<'a>),
}

/// Whether [`read`] can take this file (little-endian, uncompressed, written by perf).
pub fn supported(file: &PerfFile) -> bool {
    use linux_perf_data::{Endianness, Feature};
    file.endian() == Endianness::LittleEndian
        && !file.features().has_feature(Feature::COMPRESSED)
        && !file.features().has_feature(Feature::SIMPLEPERF_META_INFO)
}

/// A record as it lies in the file: its event's index, type, misc and body.
#[derive(Clone, Copy)]
pub struct Raw<'a> {
    pub attr: u32,
    pub kind: u32,
    pub misc: u16,
    pub body: &'a [u8],
}

/// Parses [`Raw`] records with the events' formats.
pub struct Parser {
    infos: Vec<RecordParseInfo>,
    /// Per event, the format [`super::Converter::decode`] takes, if it can.
    fast: Vec<Option<(u64, u64)>>,
}

impl Parser {
    /// The parser for the events of `perf_file`.
    pub fn new(perf_file: &PerfFile) -> Parser {
        let infos: Vec<RecordParseInfo> = perf_file
            .event_attributes()
            .iter()
            .map(|a| RecordParseInfo::new(&a.attr, perf_file.endian()))
            .collect();
        let fast = infos.iter().map(super::fast_format).collect();
        Parser { infos, fast }
    }

    /// Calls `f` with the parsed record, or not at all when it does not parse (skipped, as
    /// perf does; the parser is guarded so that no damaged record can take the process
    /// down). Samples are decoded in place or parsed on their own: the general record type
    /// is large to move around.
    pub fn parse<'a>(&self, r: Raw<'a>, f: impl FnOnce(usize, Parsed<'_, 'a>)) {
        type E = byteorder::LittleEndian;
        let attr = r.attr as usize;
        let (Some(info), Some(fast)) = (self.infos.get(attr), self.fast.get(attr)) else {
            return;
        };
        let data = RawData::Single(r.body);
        match (r.kind, fast) {
            (SAMPLE, Some(format)) => f(
                attr,
                Parsed::Body {
                    format: *format,
                    misc: r.misc,
                    body: r.body,
                },
            ),
            (SAMPLE, None) => {
                if let Some(s) =
                    super::guarded(|| SampleRecord::parse::<E>(data, r.misc, info).ok())
                {
                    f(attr, Parsed::Sample(&s));
                }
            }
            _ => {
                let raw = RawEventRecord::new(RecordType(r.kind), r.misc, data, *info);
                if let Some(rec) = super::guarded(|| raw.parse().ok()) {
                    f(attr, Parsed::Other(&raw, &rec));
                }
            }
        }
    }
}

/// Reads the data section (`off`, `size`) of `path`, calling `f` with each record in
/// time order (`parser` gives each event's layout, to find a record's event and time).
pub fn read(
    path: &Path,
    perf_file: &PerfFile,
    parser: &Parser,
    (off, size): (u64, u64),
    mut f: impl FnMut(Raw),
) -> Result<()> {
    type E = byteorder::LittleEndian;
    let attrs = perf_file.event_attributes();
    let infos = &parser.infos;
    let Some(first) = infos.first() else {
        return Err(anyhow!("{} describes no events", path.display()));
    };
    let mut by_id: FxHashMap<u64, u32> = FxHashMap::default();
    for (i, a) in attrs.iter().enumerate() {
        for id in &a.event_ids {
            by_id.insert(*id, i as u32);
        }
    }
    let ids = if infos.len() == 1 {
        Ids::One
    } else if infos.iter().all(|i| i.id_parse_info == first.id_parse_info) {
        Ids::Same
    } else if attrs
        .iter()
        .all(|a| a.attr.sample_format.contains(SampleFormat::IDENTIFIER))
    {
        Ids::Identifier(attrs[0].attr.flags.contains(AttrFlags::SAMPLE_ID_ALL))
    } else {
        return Err(anyhow!(
            "{} has events whose records cannot be told apart (no IDENTIFIER)",
            path.display()
        ));
    };
    let damaged = |at: u64, what: &str| {
        anyhow!(
            "{} is damaged or truncated: {what} at byte {} of the data section",
            path.display(),
            at
        )
    };

    let mut file = File::open(path).map_err(|e| anyhow!("cannot open {}: {e}", path.display()))?;
    file.seek(SeekFrom::Start(off))?;
    // buf holds data-section bytes from `start` on.
    let mut buf: Vec<u8> = Vec::new();
    let mut start = 0u64;
    let mut read_to = 0u64;
    let mut pos = 0u64;
    let mut queue: Vec<Queued> = Vec::new();
    let mut ready: Vec<Queued> = Vec::new();
    let mut prev_max: (Option<u64>, u64) = (None, 0);
    let mut cur_max: (Option<u64>, u64) = (None, 0);
    let mut at_or_below = 0usize;
    let mut any_max = false;

    // Releases records in key order, each where it lies in `buf`.
    let emit = |buf: &[u8], start: u64, ready: &mut Vec<Queued>, f: &mut dyn FnMut(Raw)| {
        ready.sort_by_key(Queued::key);
        for q in ready.drain(..) {
            let at = (q.off - start) as usize + 8;
            f(Raw {
                attr: q.attr,
                kind: q.kind,
                misc: q.misc,
                body: &buf[at..at + usize::from(q.size) - 8],
            });
        }
    };

    loop {
        // Make sure the next header and then its whole record are in `buf`.
        let mut need = 8u64;
        let mut header: Option<(u32, u16, u16)> = None;
        loop {
            if pos >= size {
                break;
            }
            if pos + need <= read_to {
                let at = (pos - start) as usize;
                let h = &buf[at..at + 8];
                let kind = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
                let misc = u16::from_le_bytes([h[4], h[5]]);
                let len = u16::from_le_bytes([h[6], h[7]]);
                if len < 8 {
                    return Err(damaged(pos, "a record shorter than its header"));
                }
                if pos + u64::from(len) <= read_to {
                    header = Some((kind, misc, len));
                    break;
                }
                need = u64::from(len);
                continue;
            }
            if read_to >= size {
                return Err(damaged(pos, "a record that runs past the end"));
            }
            // Drop what no queued record needs any more, then read the next block.
            let keep = queue.iter().map(|q| q.off).min().unwrap_or(pos).min(pos);
            buf.drain(..(keep - start) as usize);
            start = keep;
            let want = (size - read_to).min(BLOCK as u64) as usize;
            let have = buf.len();
            buf.resize(have + want, 0);
            let mut got = 0;
            while got < want {
                match file.read(&mut buf[have + got..])? {
                    0 => break,
                    n => got += n,
                }
            }
            buf.truncate(have + got);
            read_to += got as u64;
            if got < want {
                // The file ends before its header says: use what is there.
                return Err(damaged(read_to, "the file ends"));
            }
        }
        let Some((kind, misc, len)) = header else {
            break;
        };
        let here = pos;
        pos += u64::from(len);
        if kind == FINISHED_ROUND {
            if at_or_below > 0 {
                queue.retain(|q| {
                    let out = q.key() <= prev_max;
                    if out {
                        ready.push(*q);
                    }
                    !out
                });
                emit(&buf, start, &mut ready, &mut f);
            }
            prev_max = cur_max;
            any_max = true;
            at_or_below = queue.len();
            continue;
        }
        if kind == AUXTRACE {
            // The trace data follows the record; its size is the record's first field.
            let at = (here - start) as usize + 8;
            let n = buf
                .get(at..at + 8)
                .map(|b| u64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
                .unwrap_or(0);
            pos = pos.saturating_add(n);
            continue;
        }
        let ty = RecordType(kind);
        if ty.is_user_type() {
            continue;
        }
        let at = (here - start) as usize + 8;
        let body = RawData::Single(&buf[at..at + usize::from(len) - 8]);
        let attr = match ids {
            Ids::One => 0,
            Ids::Same => get_record_id::<E>(ty, body, &first.id_parse_info)
                .and_then(|id| by_id.get(&id).copied())
                .unwrap_or(0),
            Ids::Identifier(all) => get_record_identifier::<E>(ty, body, all)
                .and_then(|id| by_id.get(&id).copied())
                .unwrap_or(0),
        };
        let info = &infos[attr as usize];
        // A sample's time sits at a fixed offset: read it straight from the bytes.
        let time = match (kind, info.sample_record_time_offset_from_start) {
            (SAMPLE, Some(o)) => {
                let at = (here - start) as usize + 8 + usize::from(o);
                buf.get(at..at + 8)
                    .map(|b| u64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
            }
            _ => get_record_timestamp::<E>(ty, body, info),
        };
        let q = Queued {
            time,
            off: here,
            size: len,
            kind,
            misc,
            attr,
        };
        if any_max && q.key() <= prev_max {
            at_or_below += 1;
        } else if q.key() > cur_max {
            cur_max = q.key();
        }
        queue.push(q);
    }
    // Everything left, in order.
    ready.append(&mut queue);
    emit(&buf, start, &mut ready, &mut f);
    Ok(())
}
