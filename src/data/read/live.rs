//! Records straight from the kernel's rings, for live views (`rperf top`): the same
//! [`Record`] shapes a perf.data gives, decoded with the file reader's sample decoder.
use linux_perf_event_reader::{
    Endianness, PerfEventAttr, RawData, RawEventRecord, RecordParseInfo, RecordType, SampleRecord,
};
use rustc_hash::FxHashMap;

use super::{fast_format, guarded, Converter, EventInfo, Header, Record};
use crate::abi::{kind::SAMPLE, sample, Attr};

/// Decodes the records of the events one session opened.
pub struct LiveDecoder {
    header: Header,
    infos: Vec<RecordParseInfo>,
    fast: Vec<Option<(u64, u64)>>,
    by_id: FxHashMap<u64, usize>,
    conv: Converter,
}

impl LiveDecoder {
    /// A decoder for events given as (attr, name, kernel ids); `None` for an attr the
    /// record parser cannot read (not one rperf opens).
    pub fn new(events: &[(Attr, String, Vec<u64>)]) -> Option<LiveDecoder> {
        let mut infos = Vec::new();
        let mut by_id = FxHashMap::default();
        let mut header = Header::default();
        for (i, (attr, name, ids)) in events.iter().enumerate() {
            let bytes = attr.to_bytes(attr.min_size().max(crate::abi::ATTR_SIZE_VER7));
            let (pa, _) = PerfEventAttr::parse::<_, byteorder::NativeEndian>(&bytes[..]).ok()?;
            infos.push(RecordParseInfo::new(&pa, Endianness::NATIVE));
            by_id.extend(ids.iter().map(|&id| (id, i)));
            header.events.push(EventInfo {
                name: name.clone(),
                tracepoint: None,
                has_cpu: attr.sample_type & sample::CPU != 0,
                has_callchain: attr.sample_type & sample::CALLCHAIN != 0,
                fixed_period: (attr.flags & crate::abi::flag::FREQ == 0)
                    .then_some(attr.sample_period),
                freq: (attr.flags & crate::abi::flag::FREQ != 0).then_some(attr.sample_period),
            });
        }
        let fast = infos.iter().map(fast_format).collect();
        Some(LiveDecoder {
            header,
            infos,
            fast,
            by_id,
            conv: Converter::default(),
        })
    }

    /// Decodes one whole record (header included) and hands it to `f`; records that do not
    /// parse, or that no live view needs, are skipped.
    pub fn decode(&mut self, rec: &[u8], f: impl FnOnce(Record)) {
        if rec.len() < 8 {
            return;
        }
        let ty = u32::from_ne_bytes([rec[0], rec[1], rec[2], rec[3]]);
        let misc = u16::from_ne_bytes([rec[4], rec[5]]);
        let body = &rec[8..];
        // Several events carry IDENTIFIER first in every sample: it names the event.
        let attr = if self.infos.len() > 1 && ty == SAMPLE {
            body.get(..8)
                .and_then(|b| self.by_id.get(&u64::from_ne_bytes(b.try_into().ok()?)))
                .copied()
                .unwrap_or(0)
        } else {
            0
        };
        let Some(info) = self.infos.get(attr) else {
            return;
        };
        let data = RawData::Single(body);
        if ty == SAMPLE {
            let rec = match self.fast[attr] {
                Some(format) => self.conv.decode(&self.header, attr, format, misc, body),
                None => {
                    let Some(s) = guarded(|| {
                        SampleRecord::parse::<byteorder::NativeEndian>(data, misc, info).ok()
                    }) else {
                        return;
                    };
                    Some(self.conv.sample(&self.header, attr, &s))
                }
            };
            if let Some(r) = rec {
                f(r);
            }
            return;
        }
        let raw = RawEventRecord::new(RecordType(ty), misc, data, *info);
        if let Some(parsed) = guarded(|| raw.parse().ok()) {
            if let Some(r) = self.conv.convert(&self.header, attr, &raw, &parsed) {
                f(r);
            }
        }
    }
}
