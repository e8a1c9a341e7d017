//! perf.data's file header, feature table and feature-section fields, parsed in one place
//! for every reader that needs them before (or instead of) the full parser: the reader's
//! bounds checks, `--header`, evlist and buildid-list. Each caller words its own errors.
use std::io::{self, Read, Seek, SeekFrom};

use crate::abi::{HEADER_SIZE, MAGIC, PIPE_HEADER_SIZE};

/// An (offset, size) pair of the header.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Section {
    /// Byte offset in the file.
    pub offset: u64,
    /// Length in bytes.
    pub size: u64,
}

impl Section {
    /// Whether the section lies inside a file of `len` bytes (without overflowing).
    pub fn inside(&self, len: u64) -> bool {
        self.offset
            .checked_add(self.size)
            .is_some_and(|end| end <= len)
    }
}

/// A file-mode header (perf's `struct perf_file_header`), little-endian.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FileHeader {
    /// The first eight bytes: [`MAGIC`] in a little-endian file.
    pub magic: [u8; 8],
    /// The header's own size field (`PIPE_HEADER_SIZE` marks a pipe-mode stream).
    pub size: u64,
    /// Size of one entry of the attr section (the attr and its ids section).
    pub attr_size: u64,
    /// The attrs.
    pub attrs: Section,
    /// The records.
    pub data: Section,
    /// The feature bits (HEADER_* of perf's header.h), 256 of them.
    pub features: [u64; 4],
}

impl FileHeader {
    /// Parses the header from the file's first bytes; fields the bytes do not reach read as
    /// zero. The magic is the caller's to check ([`FileHeader::is_perf_data`]).
    pub fn parse(b: &[u8]) -> FileHeader {
        let u = |o: usize| {
            b.get(o..o + 8)
                .and_then(|s| s.try_into().ok())
                .map_or(0, u64::from_le_bytes)
        };
        FileHeader {
            magic: u(0).to_le_bytes(),
            size: u(8),
            attr_size: u(16),
            attrs: Section {
                offset: u(24),
                size: u(32),
            },
            data: Section {
                offset: u(40),
                size: u(48),
            },
            features: [u(72), u(80), u(88), u(96)],
        }
    }

    /// Reads and parses the file's first `HEADER_SIZE` bytes (an `UnexpectedEof` error when
    /// the file is shorter).
    pub fn read(f: &mut impl Read) -> io::Result<FileHeader> {
        let mut b = [0u8; HEADER_SIZE as usize];
        f.read_exact(&mut b)?;
        Ok(FileHeader::parse(&b))
    }

    /// Whether the magic is perf.data's, little-endian (the only byte order read here).
    pub fn is_perf_data(&self) -> bool {
        self.magic == *MAGIC
    }

    /// Whether this is a pipe-mode stream's header (magic and size only).
    pub fn is_pipe(&self) -> bool {
        self.size == PIPE_HEADER_SIZE
    }

    /// Whether feature `bit` is present.
    pub fn has_feature(&self, bit: u32) -> bool {
        bit < 256 && self.features[(bit / 64) as usize] & (1 << (bit % 64)) != 0
    }

    /// The feature bits present, ascending: the order of the feature table's entries.
    pub fn feature_bits(&self) -> Vec<u32> {
        (0..256).filter(|&b| self.has_feature(b)).collect()
    }

    /// The feature table, right after the data section: 16 bytes per feature present.
    pub fn feature_table(&self) -> Section {
        Section {
            offset: self.data.offset.saturating_add(self.data.size),
            size: self
                .features
                .iter()
                .map(|w| w.count_ones() as u64)
                .sum::<u64>()
                * 16,
        }
    }

    /// Reads the feature table: (bit, section) per feature present, in bit order. The
    /// sections are not checked against the file's length: that is the caller's to word.
    pub fn read_feature_table(
        &self,
        f: &mut (impl Read + Seek),
    ) -> io::Result<Vec<(u32, Section)>> {
        let bits = self.feature_bits();
        if bits.is_empty() {
            return Ok(Vec::new());
        }
        let mut table = vec![0u8; bits.len() * 16];
        f.seek(SeekFrom::Start(self.feature_table().offset))?;
        f.read_exact(&mut table)?;
        Ok(bits
            .into_iter()
            .zip(table.chunks_exact(16))
            .map(|(bit, e)| {
                let mut c = Cursor::new(e);
                let offset = c.u64().unwrap_or(0);
                let size = c.u64().unwrap_or(0);
                (bit, Section { offset, size })
            })
            .collect())
    }
}

/// A little-endian reader over one feature section: `None` past its end, never a panic.
#[derive(Debug, Clone)]
pub struct Cursor<'a> {
    /// The section's bytes.
    pub b: &'a [u8],
    /// The next byte to read.
    pub o: usize,
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `b`.
    pub fn new(b: &'a [u8]) -> Cursor<'a> {
        Cursor { b, o: 0 }
    }

    /// The next `n` bytes.
    pub fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        let v = self.b.get(self.o..self.o.checked_add(n)?)?;
        self.o += n;
        Some(v)
    }

    /// The next u32.
    pub fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.bytes(4)?.try_into().ok()?))
    }

    /// The next u64.
    pub fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.bytes(8)?.try_into().ok()?))
    }

    /// perf's header string: a u32 length (padding included), then NUL-padded text.
    pub fn string(&mut self) -> Option<String> {
        let n = self.u32()? as usize;
        let raw = self.bytes(n)?;
        let end = raw.iter().position(|&c| c == 0).unwrap_or(raw.len());
        Some(String::from_utf8_lossy(&raw[..end]).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::abi::{feature, Attr};
    use crate::data::write::{feature_string, Writer};

    /// What the writer lays out, the header parser finds: the two are one format.
    #[test]
    fn written_headers_parse_back() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("h.data");
        let mut w = Writer::create(&dest, vec![(Attr::default(), vec![1, 2])]).unwrap();
        w.write(&[0u8; 24]).unwrap();
        w.finish(vec![
            (feature::HOSTNAME, feature_string("host")),
            (feature::CMDLINE, vec![0; 12]),
        ])
        .unwrap();
        let mut f = std::fs::File::open(&dest).unwrap();
        let len = f.metadata().unwrap().len();
        let h = FileHeader::read(&mut f).unwrap();
        assert!(h.is_perf_data() && !h.is_pipe());
        assert_eq!(h.data.size, 24);
        assert!(h.attrs.inside(len) && h.data.inside(len));
        assert_eq!(h.feature_bits(), [feature::HOSTNAME, feature::CMDLINE]);
        assert_eq!(h.feature_table().offset, h.data.offset + 24);
        let table = h.read_feature_table(&mut f).unwrap();
        assert_eq!(table.len(), 2);
        assert_eq!(table[1], (feature::CMDLINE, table[1].1));
        assert_eq!(table[1].1.size, 12);
        assert!(table.iter().all(|(_, s)| s.inside(len)));
        let mut host = vec![0u8; table[0].1.size as usize];
        f.seek(SeekFrom::Start(table[0].1.offset)).unwrap();
        f.read_exact(&mut host).unwrap();
        assert_eq!(Cursor::new(&host).string().as_deref(), Some("host"));
    }

    #[test]
    fn other_bytes_are_no_header() {
        assert!(!FileHeader::parse(b"PERFILE").is_perf_data());
        assert!(!FileHeader::parse(&[0u8; 104]).is_perf_data());
        let mut pipe = MAGIC.to_vec();
        pipe.extend_from_slice(&PIPE_HEADER_SIZE.to_le_bytes());
        let h = FileHeader::parse(&pipe);
        assert!(h.is_perf_data() && h.is_pipe());
        assert_eq!(
            h.data,
            Section::default(),
            "fields past the bytes read as zero"
        );
        let huge = Section {
            offset: u64::MAX,
            size: 2,
        };
        assert!(!huge.inside(u64::MAX));
        let mut c = Cursor::new(&[5, 0, 0, 0, b'a']);
        assert_eq!(c.string(), None, "a length past the end");
    }
}
