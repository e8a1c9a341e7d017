//! One record's decoded lines as perf -D prints them, and the sample fields they read.
use super::*;

/// Prints the dump of `input`; `texts` holds what script printed for each sample (by its
/// index in delivery order).
pub fn print(input: &Path, texts: &FxHashMap<u64, String>, w: &mut dyn Write) -> Result<()> {
    let bytes = rperf_symbols::file::map_regular(input)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", input.display()))?;
    let b: &[u8] = &bytes;
    let h = FileHeader::parse(b);
    let damaged = |what: &str| {
        anyhow::anyhow!(
            "{} is damaged or truncated: {what} (record it again)",
            input.display()
        )
    };
    if !h.attrs.inside(b.len() as u64) || !h.data.inside(b.len() as u64) || h.attr_size < 16 {
        return Err(damaged("its attr or data section lies outside the file"));
    }
    // The attrs and the ids of each.
    let mut attrs = Vec::new();
    let mut by_id: FxHashMap<u64, usize> = FxHashMap::default();
    let (aoff, asz, esz) = (
        h.attrs.offset as usize,
        h.attrs.size as usize,
        h.attr_size as usize,
    );
    for (i, e) in b[aoff..aoff + asz].chunks_exact(esz).enumerate() {
        let flags = u64_at(e, 40);
        attrs.push(Attr {
            sample_type: u64_at(e, 24),
            read_format: u64_at(e, 32),
            id_all: flags & (1 << 18) != 0,
            regs_user: u64_at(e, 80),
            period: if flags & (1 << 10) != 0 {
                0
            } else {
                u64_at(e, 16)
            },
        });
        let ids = crate::data::header::Section {
            offset: u64_at(e, esz - 16),
            size: u64_at(e, esz - 8),
        };
        if ids.inside(b.len() as u64) {
            for k in 0..(ids.size / 8) as usize {
                by_id.insert(u64_at(b, ids.offset as usize + k * 8), i);
            }
        }
    }
    let Some(first) = attrs.first().copied() else {
        return Err(damaged("it describes no events"));
    };
    let combined = attrs.iter().fold(0, |t, a| t | a.sample_type);
    let attr_of = |rec: &[u8], sample: bool| -> Attr {
        if attrs.len() == 1 {
            return first;
        }
        record_id(&first, rec, sample)
            .and_then(|id| by_id.get(&id))
            .map_or(first, |&i| attrs[i])
    };
    let name = input.display().to_string();
    let mut d = Dumper {
        w,
        name,
        combined,
        id_all: first.id_all,
        texts,
        samples: 0,
        out: String::new(),
    };
    // perf's delivery order: user records and records without a time at once; the rest
    // queued by (time, offset) and released at each FINISHED_ROUND up to the largest time
    // seen before the round before, the remainder at the end.
    let (mut pos, end) = (
        h.data.offset as usize,
        (h.data.offset + h.data.size) as usize,
    );
    let mut queue: Vec<Rec> = Vec::new();
    let (mut next_flush, mut max_time) = (0u64, 0u64);
    while pos + 8 <= end {
        let t = u32_at(b, pos);
        let len = usize::from(u16_at(b, pos + 6));
        if len < 8 || pos + len > end {
            d.flush()?;
            return Err(damaged(&format!(
                "a record at byte {pos:#x} runs past its end"
            )));
        }
        let rec = &b[pos..pos + len];
        if t >= 64 {
            d.user(pos, rec)?;
            if t == kind::FINISHED_ROUND {
                queue.sort_by_key(|r| (r.time, r.off));
                let n = queue.partition_point(|r| r.time <= next_flush);
                for r in queue.drain(..n) {
                    d.kernel(r.off, &b[r.off..r.off + r.len], &attr_of)?;
                }
                next_flush = max_time;
            }
            // AUXTRACE's trace data follows the record.
            let extra = if t == kind::AUXTRACE {
                u64_at(rec, 8) as usize
            } else {
                0
            };
            pos = pos.saturating_add(len).saturating_add(extra);
            continue;
        }
        let sample = t == kind::SAMPLE;
        let a = attr_of(rec, sample);
        let time = if sample {
            parse_sample(&a, rec).0.time
        } else if a.id_all {
            id_sample(&a, rec).time
        } else {
            None
        };
        match time {
            Some(time) if time != 0 && time != u64::MAX => {
                max_time = max_time.max(time);
                queue.push(Rec {
                    off: pos,
                    len,
                    time,
                });
            }
            _ => d.kernel(pos, rec, &attr_of)?,
        }
        pos += len;
    }
    queue.sort_by_key(|r| (r.time, r.off));
    for r in queue {
        d.kernel(r.off, &b[r.off..r.off + r.len], &attr_of)?;
    }
    d.flush()?;
    Ok(())
}

/// The fields of a sample up to its call chain, and where the chain starts.
pub(super) fn parse_sample(a: &Attr, rec: &[u8]) -> (Fields, usize) {
    let st = a.sample_type;
    let mut f = Fields {
        pid: -1,
        tid: -1,
        ..Fields::default()
    };
    let mut at = 8;
    let take = |at: &mut usize| {
        let v = u64_at(rec, *at);
        *at += 8;
        v
    };
    if st & bit::IDENTIFIER != 0 {
        take(&mut at);
    }
    if st & bit::IP != 0 {
        f.ip = take(&mut at);
    }
    if st & bit::TID != 0 {
        let v = take(&mut at);
        f.pid = v as u32 as i32;
        f.tid = (v >> 32) as u32 as i32;
    }
    if st & bit::TIME != 0 {
        f.time = Some(take(&mut at));
    }
    if st & bit::ADDR != 0 {
        f.addr = take(&mut at);
    }
    if st & bit::ID != 0 {
        take(&mut at);
    }
    if st & bit::STREAM_ID != 0 {
        take(&mut at);
    }
    if st & bit::CPU != 0 {
        f.cpu = Some(take(&mut at) as u32);
    }
    if st & bit::PERIOD != 0 {
        f.period = take(&mut at);
    }
    if st & bit::READ != 0 {
        // read_format: GROUP 8, TOTAL_TIME_ENABLED 1, TOTAL_TIME_RUNNING 2, ID 4, LOST 16.
        let rf = a.read_format;
        let per = 1 + usize::from(rf & 4 != 0) + usize::from(rf & 16 != 0);
        let times = usize::from(rf & 1 != 0) + usize::from(rf & 2 != 0);
        if rf & 8 != 0 {
            let nr = u64_at(rec, at) as usize;
            at += 8 * (1 + times) + 8 * per * nr.min(rec.len() / 8);
        } else {
            at += 8 * (per + times);
        }
    }
    (f, at)
}

/// perf's text of a CPU_MAP record's CPUs: ranges as `0-3,5`.
pub(super) fn cpu_list(body: &[u8]) -> String {
    let mut cpus: Vec<i64> = Vec::new();
    match u16_at(body, 0) {
        0 => {
            let nr = usize::from(u16_at(body, 2));
            for k in 0..nr.min(body.len() / 2) {
                cpus.push(i64::from(u16_at(body, 4 + 2 * k) as i16));
            }
        }
        1 => {
            let nr = usize::from(u16_at(body, 2));
            let long = usize::from(u16_at(body, 4));
            let base = if long == 4 { 6 } else { 8 };
            for k in 0..nr.min(body.len() / long.max(4)) {
                let word = if long == 4 {
                    u64::from(u32_at(body, base + 4 * k))
                } else {
                    u64_at(body, base + 8 * k)
                };
                for bitn in 0..(long * 8) {
                    if word & (1 << bitn) != 0 {
                        cpus.push((k * long * 8 + bitn) as i64);
                    }
                }
            }
        }
        2 => {
            if body.get(2).copied().unwrap_or(0) != 0 {
                cpus.push(-1);
            }
            let (a, b) = (u16_at(body, 4), u16_at(body, 6));
            cpus.extend((i64::from(a)..=i64::from(b)).take(1 << 16));
        }
        _ => {}
    }
    let mut out = String::new();
    let mut k = 0;
    while k < cpus.len() {
        let start = k;
        while k + 1 < cpus.len() && cpus[k + 1] == cpus[k] + 1 {
            k += 1;
        }
        if !out.is_empty() {
            out.push(',');
        }
        if k > start {
            let _ = write!(out, "{}-{}", cpus[start], cpus[k]);
        } else {
            let _ = write!(out, "{}", cpus[start]);
        }
        k += 1;
    }
    out
}
