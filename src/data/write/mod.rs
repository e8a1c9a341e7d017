//! Writing perf.data, file mode and pipe mode. File mode: the data section is streamed to a
//! temporary file next to the output (see [`crate::output`]), then the feature sections are
//! appended, the header is filled in, and the file is renamed into place. An interrupted or
//! failed write therefore never leaves a half-written perf.data, nor its temporary file.
use std::io::{self, BufWriter, Seek, SeekFrom, Write};
use std::path::Path;

use crate::output::{self, Output};

pub use crate::abi::feature;
pub use features::feature_string;

pub mod encode;
pub mod features;
use crate::abi::{kind, Attr, ATTR_SIZE_VER7, HEADER_SIZE, MAGIC, PIPE_HEADER_SIZE};

/// Records at least this long skip [`Writer`]'s buffer.
const DIRECT_WRITE: usize = 64 << 10;

/// A perf.data being written.
pub struct Writer {
    out: Option<BufWriter<Output>>,
    attrs: Vec<(Attr, Vec<u64>)>,
    data_offset: u64,
    data_size: u64,
}

fn put_section(v: &mut Vec<u8>, off: u64, size: u64) {
    v.extend_from_slice(&off.to_le_bytes());
    v.extend_from_slice(&size.to_le_bytes());
}

impl Writer {
    /// Starts `dest` (through a temporary file beside it, or in place when it is a device)
    /// with these attrs and their ids.
    pub fn create(dest: &Path, attrs: Vec<(Attr, Vec<u64>)>) -> io::Result<Writer> {
        // perf.data is private (it holds addresses and command lines), and a previous
        // recording is kept as `.old`, as perf does.
        let opts = output::Options {
            mode: 0o600,
            keep_old: true,
            sync: true,
        };
        let mut out = BufWriter::with_capacity(1 << 20, Output::create(dest, opts)?);
        // Header placeholder, then each attr's ids, then the attr table, then data.
        out.write_all(&[0u8; HEADER_SIZE as usize])?;
        let mut off = HEADER_SIZE;
        let mut id_sections = Vec::with_capacity(attrs.len());
        for (_, ids) in &attrs {
            for id in ids {
                out.write_all(&id.to_le_bytes())?;
            }
            id_sections.push((off, ids.len() as u64 * 8));
            off += ids.len() as u64 * 8;
        }
        for ((attr, _), (ioff, isize)) in attrs.iter().zip(&id_sections) {
            let mut e = attr.to_bytes(ATTR_SIZE_VER7);
            put_section(&mut e, *ioff, *isize);
            out.write_all(&e)?;
        }
        let data_offset = off + attrs.len() as u64 * (ATTR_SIZE_VER7 as u64 + 16);
        Ok(Writer {
            out: Some(out),
            attrs,
            data_offset,
            data_size: 0,
        })
    }

    /// Appends records to the data section.
    pub fn write(&mut self, records: &[u8]) -> io::Result<()> {
        // A drained batch is written from where it lies: copying it into the buffer first
        // was a sixth of the recorder's own time under `record -a -g`.
        if records.len() >= DIRECT_WRITE {
            return self.write_parts(&[records]);
        }
        self.stream()?.write_all(records)?;
        self.data_size += records.len() as u64;
        Ok(())
    }

    /// Appends `parts` (whole records together) with as few system calls as the kernel
    /// allows and no copy on the way.
    pub fn write_parts(&mut self, parts: &[&[u8]]) -> io::Result<()> {
        let out = self.stream()?;
        out.flush()?;
        let mut slices: Vec<io::IoSlice> = parts
            .iter()
            .filter(|p| !p.is_empty())
            .map(|p| io::IoSlice::new(p))
            .collect();
        let mut left: &mut [io::IoSlice] = &mut slices;
        let total: usize = parts.iter().map(|p| p.len()).sum();
        while !left.is_empty() {
            match out.get_mut().write_vectored(left) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => io::IoSlice::advance_slices(&mut left, n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.data_size += total as u64;
        Ok(())
    }

    fn stream(&mut self) -> io::Result<&mut BufWriter<Output>> {
        self.out
            .as_mut()
            .ok_or_else(|| io::Error::other("perf.data writer already finished"))
    }

    /// Bytes of records written so far.
    pub fn data_size(&self) -> u64 {
        self.data_size
    }

    /// Whether the data section can be read back and rewritten in place ([`Writer::rewrite`]):
    /// a regular file, not a device.
    pub fn can_rewrite(&mut self) -> bool {
        self.out
            .as_mut()
            .and_then(|o| o.get_mut().file())
            .and_then(|f| f.metadata().ok())
            .is_some_and(|m| m.is_file())
    }

    /// Rewrites the data section from byte `from` to its end in place: `pass` reads the
    /// records through [`InPlace::read`] and writes what replaces them through
    /// [`InPlace::write`], never more bytes than it has read. The section then ends where
    /// the rewrite did.
    pub fn rewrite(
        &mut self,
        from: u64,
        pass: impl FnOnce(&mut InPlace) -> io::Result<()>,
    ) -> io::Result<()> {
        let (base, end) = (self.data_offset, self.data_size);
        let out = self.stream()?;
        out.flush()?;
        let file = out
            .get_mut()
            .file()
            .ok_or_else(|| io::Error::other("perf.data file mode needs a file, not stdout"))?;
        let mut ip = InPlace {
            file,
            base,
            read: from.min(end),
            written: from.min(end),
            end,
        };
        pass(&mut ip)?;
        if ip.read != ip.end {
            return Err(io::Error::other(
                "the record rewrite stopped before the data's end",
            ));
        }
        let new_end = ip.written;
        file.set_len(base + new_end)?;
        file.seek(SeekFrom::Start(base + new_end))?;
        self.data_size = new_end;
        Ok(())
    }

    /// Appends the features (bit, bytes), fills the header, renames an existing output to
    /// `.old` as perf does, and moves the file into place. Returns the file size. On an
    /// error the temporary file is removed and the destination is left as it was.
    pub fn finish(mut self, mut features: Vec<(u32, Vec<u8>)>) -> io::Result<u64> {
        features.sort_by_key(|(bit, _)| *bit);
        features.dedup_by_key(|(bit, _)| *bit);
        let table_off = self.data_offset + self.data_size;
        let mut blob_off = table_off + features.len() as u64 * 16;
        let mut table = Vec::with_capacity(features.len() * 16);
        for (_, bytes) in &features {
            put_section(&mut table, blob_off, bytes.len() as u64);
            blob_off += bytes.len() as u64;
        }
        let out = self.stream()?;
        out.write_all(&table)?;
        for (_, bytes) in &features {
            out.write_all(bytes)?;
        }
        let mut bits = [0u64; 4];
        for (bit, _) in &features {
            bits[(*bit / 64) as usize % 4] |= 1 << (bit % 64);
        }
        let attr_entry = ATTR_SIZE_VER7 as u64 + 16;
        let attrs_off = self.data_offset - self.attrs.len() as u64 * attr_entry;
        let mut h = Vec::with_capacity(HEADER_SIZE as usize);
        h.extend_from_slice(MAGIC);
        h.extend_from_slice(&HEADER_SIZE.to_le_bytes());
        h.extend_from_slice(&attr_entry.to_le_bytes());
        put_section(&mut h, attrs_off, self.attrs.len() as u64 * attr_entry);
        put_section(&mut h, self.data_offset, self.data_size);
        put_section(&mut h, 0, 0);
        for b in bits {
            h.extend_from_slice(&b.to_le_bytes());
        }
        let out = self
            .out
            .take()
            .ok_or_else(|| io::Error::other("finished twice"))?;
        let mut out = out.into_inner().map_err(|e| e.into_error())?;
        let file = out
            .file()
            .ok_or_else(|| io::Error::other("perf.data file mode needs a file, not stdout"))?;
        file.seek(SeekFrom::Start(0))?;
        file.write_all(&h)?;
        out.commit()?;
        Ok(blob_off)
    }
}

/// The data section of a file being rewritten in place (see [`Writer::rewrite`]): reads go
/// ahead, writes follow behind them and may never overtake them.
pub struct InPlace<'a> {
    file: &'a std::fs::File,
    base: u64,
    read: u64,
    written: u64,
    end: u64,
}

impl InPlace<'_> {
    /// Reads the next bytes of the section into `buf`; 0 at its end.
    pub fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        use std::os::unix::fs::FileExt;
        let n = buf.len().min((self.end - self.read) as usize);
        self.file
            .read_exact_at(&mut buf[..n], self.base + self.read)?;
        self.read += n as u64;
        Ok(n)
    }

    /// Writes the next bytes of the new section, behind what was read.
    pub fn write(&mut self, b: &[u8]) -> io::Result<()> {
        use std::os::unix::fs::FileExt;
        if self.written + b.len() as u64 > self.read {
            return Err(io::Error::other(
                "rewritten records outgrew the records they replace",
            ));
        }
        self.file.write_all_at(b, self.base + self.written)?;
        self.written += b.len() as u64;
        Ok(())
    }
}

fn user_record(kind: u32, body: &[u8]) -> io::Result<Vec<u8>> {
    let size = 8 + body.len();
    if size > u16::MAX as usize {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("a pipe-mode header record of {size} bytes does not fit perf's 16-bit size"),
        ));
    }
    let mut v = Vec::with_capacity(size);
    v.extend_from_slice(&kind.to_le_bytes());
    v.extend_from_slice(&0u16.to_le_bytes());
    v.extend_from_slice(&(size as u16).to_le_bytes());
    v.extend_from_slice(body);
    Ok(v)
}

/// perf.data in pipe mode (`-o -`): a 16-byte header, then attrs, features and tracing data
/// as records, then the stream. Nothing is ever rewritten, so it works on a pipe.
pub struct PipeWriter<W: Write> {
    out: BufWriter<W>,
    written: u64,
}

impl<W: Write> PipeWriter<W> {
    /// Writes the pipe header, the attrs, the features and (for tracepoints) tracing data.
    pub fn start(
        out: W,
        attrs: &[(Attr, Vec<u64>)],
        features: &[(u32, Vec<u8>)],
        tracing: Option<&[u8]>,
    ) -> io::Result<Self> {
        let mut w = PipeWriter {
            out: BufWriter::with_capacity(1 << 20, out),
            written: 0,
        };
        let mut head = MAGIC.to_vec();
        head.extend_from_slice(&PIPE_HEADER_SIZE.to_le_bytes());
        w.raw(&head)?;
        for (attr, ids) in attrs {
            let mut body = attr.to_bytes(ATTR_SIZE_VER7);
            for id in ids {
                body.extend_from_slice(&id.to_le_bytes());
            }
            w.raw(&user_record(kind::HEADER_ATTR, &body)?)?;
        }
        for (bit, bytes) in features {
            let mut body = u64::from(*bit).to_le_bytes().to_vec();
            body.extend_from_slice(bytes);
            // A feature too large for one record (a huge command line) is left out rather
            // than breaking the stream.
            if let Ok(r) = user_record(kind::HEADER_FEATURE, &body) {
                w.raw(&r)?;
            }
        }
        if let Some(t) = tracing {
            let padded = t.len().div_ceil(8) * 8;
            let mut body = (padded as u32).to_le_bytes().to_vec();
            body.extend_from_slice(&0u32.to_le_bytes());
            w.raw(&user_record(kind::HEADER_TRACING_DATA, &body)?)?;
            w.raw(t)?;
            w.raw(&vec![0u8; padded - t.len()])?;
        }
        Ok(w)
    }

    fn raw(&mut self, b: &[u8]) -> io::Result<()> {
        self.out.write_all(b)?;
        self.written += b.len() as u64;
        Ok(())
    }

    /// Appends records.
    pub fn write(&mut self, records: &[u8]) -> io::Result<()> {
        self.raw(records)
    }

    /// Marks the end of the synthesized side-band records.
    pub fn finished_init(&mut self) -> io::Result<()> {
        self.raw(&user_record(kind::FINISHED_INIT, &[])?)
    }

    /// Flushes; returns the bytes written.
    pub fn finish(mut self) -> io::Result<u64> {
        self.out.flush()?;
        Ok(self.written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    /// What record's encoders and writer produce, read back through `data::read` (the
    /// linux-perf-data crate): the writer and the reader agree on every record layout.
    #[test]
    fn written_files_read_back_through_the_reader() {
        use super::encode::{self, Trailer};
        use crate::abi::{flag, sample};
        use crate::data::{self, Mode, Record};
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("rt.data");
        let st = sample::IP | sample::TID | sample::TIME | sample::PERIOD | sample::CALLCHAIN;
        let attr = Attr {
            type_: 1,
            sample_period: 4000,
            sample_type: st,
            flags: flag::FREQ | flag::SAMPLE_ID_ALL | flag::MMAP2 | flag::COMM,
            ..Attr::default()
        };
        let t = Trailer {
            sample_type: st,
            id: 0,
        };
        let mut recs = Vec::new();
        recs.extend(encode::comm(42, 42, "work", true, t));
        recs.extend(encode::fork(43, 42, 43, 42, false, t));
        recs.extend(encode::mmap2(
            42,
            &encode::Mapping {
                start: 0x400000,
                end: 0x401000,
                pgoff: 0x1000,
                maj: 8,
                min: 1,
                ino: 99,
                prot: 5,
                flags: 2,
                path: "/usr/bin/work".into(),
            },
            t,
        ));
        // A sample as the kernel writes it: ip, pid/tid, time, period, callchain.
        let mut s = vec![0u8; 8];
        for v in [
            0x400123u64,
            (42u64 << 32) | 42,
            1_000_000,
            250_000,
            2,
            0x400123,
            0x400456,
        ] {
            s.extend_from_slice(&v.to_ne_bytes());
        }
        let pid_tid = 8 + 8;
        s[pid_tid..pid_tid + 4].copy_from_slice(&42u32.to_ne_bytes());
        s[pid_tid + 4..pid_tid + 8].copy_from_slice(&42u32.to_ne_bytes());
        s[0..4].copy_from_slice(&encode::kind::SAMPLE.to_ne_bytes());
        s[4..6].copy_from_slice(&encode::misc::USER.to_ne_bytes());
        let n = s.len() as u16;
        s[6..8].copy_from_slice(&n.to_ne_bytes());
        recs.extend(&s);
        recs.extend(encode::finished_round());
        let mut w = Writer::create(&dest, vec![(attr, vec![5])]).unwrap();
        w.write(&recs).unwrap();
        w.finish(vec![(feature::HOSTNAME, feature_string("h"))])
            .unwrap();
        let mut seen = Vec::new();
        data::read(&dest, |h, r| {
            assert_eq!(h.events.len(), 1);
            seen.push(match r {
                Record::Comm {
                    pid, name, exec, ..
                } => format!("comm {pid} {name} {exec}"),
                Record::Fork { pid, ppid, .. } => format!("fork {pid} {ppid}"),
                Record::Mmap {
                    pid,
                    start,
                    len,
                    pgoff,
                    path,
                    ..
                } => format!("mmap {pid} {start:#x} {len:#x} {pgoff:#x} {path}"),
                Record::Sample(s) => {
                    assert_eq!(s.mode, Mode::User);
                    format!(
                        "sample {} {} {:#x} {} {} {:x?}",
                        s.pid,
                        s.tid,
                        s.ip,
                        s.time,
                        s.period,
                        s.callchain.unwrap()
                    )
                }
                other => format!("{other:?}"),
            });
        })
        .unwrap();
        assert_eq!(
            seen,
            [
                "comm 42 work true",
                "fork 43 42",
                "mmap 42 0x400000 0x1000 0x1000 /usr/bin/work",
                "sample 42 42 0x400123 1000000 250000 [400123, 400456]",
            ]
        );
    }

    #[test]
    fn file_layout_points_at_every_section() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("t.data");
        let attr = Attr {
            type_: 1,
            ..Attr::default()
        };
        let mut w = Writer::create(&dest, vec![(attr, vec![7, 8])]).unwrap();
        w.write(&encode::finished_round()).unwrap();
        let size = w
            .finish(vec![
                (feature::HOSTNAME, feature_string("h")),
                (feature::ARCH, feature_string("x86_64")),
            ])
            .unwrap();
        let b = fs::read(&dest).unwrap();
        assert_eq!(b.len() as u64, size);
        let u = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap());
        assert_eq!(&b[..8], MAGIC);
        assert_eq!(u(16), 144);
        let (attrs_off, data_off, data_size) = (u(24) as usize, u(40), u(48));
        assert_eq!(data_size, 8);
        // ids section of the attr
        let (ids_off, ids_size) = (u(attrs_off + 128) as usize, u(attrs_off + 136));
        assert_eq!((u(ids_off), u(ids_off + 8), ids_size), (7, 8, 16));
        assert_eq!(u(72), (1 << 3) | (1 << 6));
        let table = (data_off + data_size) as usize;
        let (h_off, h_size) = (u(table) as usize, u(table + 8) as usize);
        assert_eq!(&b[h_off + 4..h_off + 6], b"h\0");
        assert_eq!(h_size, 68);
        let mode = fs::metadata(&dest).unwrap().permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o600
        );
        // Pipe mode starts with the 16-byte header and an attr record.
        let mut buf = Vec::new();
        let w = PipeWriter::start(
            &mut buf,
            &[(attr, vec![7])],
            &[(feature::HOSTNAME, feature_string("h"))],
            None,
        )
        .unwrap();
        w.finish().unwrap();
        assert_eq!(&buf[..8], MAGIC);
        assert_eq!(u64::from_le_bytes(buf[8..16].try_into().unwrap()), 16);
        assert_eq!(
            u32::from_le_bytes(buf[16..20].try_into().unwrap()),
            kind::HEADER_ATTR
        );
        assert_eq!(
            u16::from_le_bytes(buf[22..24].try_into().unwrap()),
            8 + 128 + 8
        );
        // A second write keeps the first as .old.
        let w = Writer::create(&dest, vec![]).unwrap();
        w.finish(vec![]).unwrap();
        assert!(dir.path().join("t.data.old").exists());
    }

    /// Any sequence of side-band records and samples that the encoders write reads back
    /// equal, field by field (a seeded generator stands in for a property-test crate).
    #[test]
    fn any_record_sequence_reads_back_equal() {
        use super::encode::{self, Mapping, Trailer};
        use crate::abi::{flag, kind, misc, sample};
        use crate::data::{self, Mode, Record};
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % n
        };
        let st = sample::IP | sample::TID | sample::TIME | sample::PERIOD | sample::CALLCHAIN;
        let attr = Attr {
            type_: 1,
            sample_period: 1000,
            sample_type: st,
            flags: flag::FREQ | flag::SAMPLE_ID_ALL | flag::MMAP2 | flag::COMM | flag::TASK,
            ..Attr::default()
        };
        let t = Trailer {
            sample_type: st,
            id: 0,
        };
        let dir = tempfile::tempdir().unwrap();
        for round in 0..40 {
            let mut recs = Vec::new();
            let mut want = Vec::new();
            // Side-band first (the encoders stamp time 0), then samples in time order: the
            // reader's time sort keeps this order.
            for _ in 0..next(20) {
                let pid = 1 + next(1 << 20) as i32;
                let tid = pid + next(4) as i32;
                match next(3) {
                    0 => {
                        let name: String = (0..1 + next(15))
                            .map(|_| (b'a' + next(26) as u8) as char)
                            .collect();
                        let exec = next(2) == 1;
                        recs.extend(encode::comm(pid, tid, &name, exec, t));
                        want.push(format!("comm {pid} {tid} {name} {exec}"));
                    }
                    1 => {
                        let (ppid, ptid) = (pid + 1, pid + 2);
                        let synth = next(2) == 1;
                        recs.extend(encode::fork(pid, ppid, tid, ptid, synth, t));
                        want.push(format!("fork {pid} {ppid} {tid} {ptid} {synth}"));
                    }
                    _ => {
                        let start = next(1 << 40) << 12;
                        let len = (1 + next(256)) << 12;
                        let m = Mapping {
                            start,
                            end: start + len,
                            pgoff: next(64) << 12,
                            maj: next(256) as u32,
                            min: next(256) as u32,
                            ino: next(1 << 30),
                            prot: if next(2) == 1 { 5 } else { 1 },
                            flags: 2,
                            path: format!("/lib/{round}/{}.so", next(1000)),
                        };
                        recs.extend(encode::mmap2(pid, &m, t));
                        want.push(format!(
                            "mmap {pid} {start:#x} {len:#x} {:#x} {} {}",
                            m.pgoff,
                            m.path,
                            m.is_exec()
                        ));
                    }
                }
            }
            let mut time = 1;
            for _ in 0..next(30) {
                time += 1 + next(1000);
                let (pid, tid) = (1 + next(1000) as u32, 1 + next(1000) as u32);
                let ip = 0x400000 + next(1 << 20);
                let period = 1 + next(1 << 30);
                let chain: Vec<u64> = (0..next(6)).map(|_| 0x400000 + next(1 << 20)).collect();
                let mut r = vec![0u8; 8];
                r[0..4].copy_from_slice(&kind::SAMPLE.to_ne_bytes());
                r[4..6].copy_from_slice(&misc::USER.to_ne_bytes());
                r.extend_from_slice(&ip.to_ne_bytes());
                r.extend_from_slice(&pid.to_ne_bytes());
                r.extend_from_slice(&tid.to_ne_bytes());
                r.extend_from_slice(&time.to_ne_bytes());
                r.extend_from_slice(&period.to_ne_bytes());
                r.extend_from_slice(&(chain.len() as u64).to_ne_bytes());
                for a in &chain {
                    r.extend_from_slice(&a.to_ne_bytes());
                }
                let n = r.len() as u16;
                r[6..8].copy_from_slice(&n.to_ne_bytes());
                recs.extend(r);
                want.push(format!(
                    "sample {pid} {tid} {ip:#x} {time} {period} {chain:x?}"
                ));
            }
            recs.extend(encode::finished_round());
            let dest = dir.path().join(format!("r{round}.data"));
            let mut w = Writer::create(&dest, vec![(attr, vec![1])]).unwrap();
            w.write(&recs).unwrap();
            w.finish(vec![]).unwrap();
            let mut got = Vec::new();
            data::read(&dest, |_, r| {
                got.push(match r {
                    Record::Comm {
                        pid,
                        tid,
                        name,
                        exec,
                        ..
                    } => format!("comm {pid} {tid} {name} {exec}"),
                    Record::Fork {
                        pid,
                        ppid,
                        tid,
                        ptid,
                        synthesized,
                    } => format!("fork {pid} {ppid} {tid} {ptid} {synthesized}"),
                    Record::Mmap {
                        pid,
                        start,
                        len,
                        pgoff,
                        path,
                        mode,
                        exec,
                    } => {
                        assert_eq!(mode, Mode::User);
                        format!("mmap {pid} {start:#x} {len:#x} {pgoff:#x} {path} {exec}")
                    }
                    Record::Sample(s) => format!(
                        "sample {} {} {:#x} {} {} {:x?}",
                        s.pid,
                        s.tid,
                        s.ip,
                        s.time,
                        s.period,
                        s.callchain.unwrap_or(&[])
                    ),
                    other => format!("{other:?}"),
                });
            })
            .unwrap();
            assert_eq!(got, want, "round {round}");
        }
    }
}
