//! Encoders of perf.data's feature sections that depend on what was recorded (the events,
//! the binaries hit), and the string layout every feature uses.
use crate::abi::misc::BUILD_ID_SIZE;
use crate::abi::{Attr, ATTR_SIZE_VER7};

/// A string as perf's features store it: u32 length, then the string NUL-padded to 64.
pub fn feature_string(s: &str) -> Vec<u8> {
    let len = (s.len() + 1).div_ceil(64) * 64;
    let mut v = Vec::with_capacity(4 + len);
    v.extend_from_slice(&(len as u32).to_le_bytes());
    v.extend_from_slice(s.as_bytes());
    v.resize(4 + len, 0);
    v
}

/// One event for EVENT_DESC: its attr, name and ids.
pub struct EventDesc<'a> {
    /// The attr as opened.
    pub attr: &'a Attr,
    /// Display name.
    pub name: &'a str,
    /// Kernel ids of its fds.
    pub ids: &'a [u64],
}

/// HEADER_EVENT_DESC: events with their names and ids.
pub fn event_desc(events: &[EventDesc]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&(events.len() as u32).to_le_bytes());
    v.extend_from_slice(&ATTR_SIZE_VER7.to_le_bytes());
    for e in events {
        v.extend_from_slice(&e.attr.to_bytes(ATTR_SIZE_VER7));
        v.extend_from_slice(&(e.ids.len() as u32).to_le_bytes());
        v.extend_from_slice(&feature_string(e.name));
        for id in e.ids {
            v.extend_from_slice(&id.to_le_bytes());
        }
    }
    v
}

/// HEADER_BUILD_ID: one entry per binary (pid -1 for the kernel, misc 1 kernel / 2 user).
pub fn build_ids(entries: &[(i32, u16, Vec<u8>, String)]) -> Vec<u8> {
    let mut v = Vec::new();
    for (pid, misc, id, path) in entries {
        let name_len = (path.len() + 1).div_ceil(64) * 64;
        let size = 8 + 4 + 24 + name_len;
        v.extend_from_slice(&0u32.to_le_bytes());
        // The id's real length is stored after it.
        v.extend_from_slice(&(misc | BUILD_ID_SIZE).to_le_bytes());
        v.extend_from_slice(&(size as u16).to_le_bytes());
        v.extend_from_slice(&pid.to_le_bytes());
        let mut raw = [0u8; 24];
        let n = id.len().min(20);
        raw[..n].copy_from_slice(&id[..n]);
        raw[20] = n as u8;
        v.extend_from_slice(&raw);
        let start = v.len();
        v.extend_from_slice(path.as_bytes());
        v.resize(start + name_len, 0);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_pad_to_64() {
        let s = feature_string("host");
        assert_eq!(s.len(), 4 + 64);
        assert_eq!(u32::from_le_bytes(s[..4].try_into().unwrap()), 64);
        assert_eq!(&s[4..9], b"host\0");
        assert_eq!(feature_string(&"x".repeat(64)).len(), 4 + 128);
    }

    #[test]
    fn build_id_entries_are_aligned() {
        let b = build_ids(&[(-1, 1, vec![0xab; 20], "[kernel.kallsyms]".into())]);
        assert_eq!(b.len(), 36 + 64);
        assert_eq!(u16::from_le_bytes(b[6..8].try_into().unwrap()), 100);
        assert_eq!(b[12], 0xab);
        assert_eq!(b[32], 20);
        assert_eq!(&b[36..53], b"[kernel.kallsyms]");
    }
}
