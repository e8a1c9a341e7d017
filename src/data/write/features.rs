//! Encoders of perf.data's feature sections whose content comes from the recording (events,
//! binaries hit, tracepoint formats), and the string layout every feature uses.
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

fn put_file(v: &mut Vec<u8>, text: &[u8]) {
    v.extend_from_slice(&(text.len() as u64).to_le_bytes());
    v.extend_from_slice(text);
}

/// HEADER_TRACING_DATA (format 0.6): this machine's byte order, long size and `page_size`,
/// tracefs's header_page and header_event, no ftrace formats, then each system's name with
/// its events' format files.
pub fn tracing_data(
    page_size: u32,
    header_page: &[u8],
    header_event: &[u8],
    systems: &[(String, Vec<Vec<u8>>)],
) -> Vec<u8> {
    let mut v = vec![0x17, 0x08, 0x44];
    v.extend_from_slice(b"tracing0.6\0");
    v.push(u8::from(cfg!(target_endian = "big")));
    v.push(std::mem::size_of::<libc::c_long>() as u8);
    v.extend_from_slice(&page_size.to_le_bytes());
    v.extend_from_slice(b"header_page\0");
    put_file(&mut v, header_page);
    v.extend_from_slice(b"header_event\0");
    put_file(&mut v, header_event);
    // ftrace's own formats: perf readers expect the count even when it is zero.
    v.extend_from_slice(&0u32.to_le_bytes());
    v.extend_from_slice(&(systems.len() as u32).to_le_bytes());
    for (sys, formats) in systems {
        v.extend_from_slice(sys.as_bytes());
        v.push(0);
        v.extend_from_slice(&(formats.len() as u32).to_le_bytes());
        for f in formats {
            put_file(&mut v, f);
        }
    }
    // kallsyms and printk formats left empty; saved cmdlines likewise.
    v.extend_from_slice(&0u32.to_le_bytes());
    v.extend_from_slice(&0u32.to_le_bytes());
    v.extend_from_slice(&0u64.to_le_bytes());
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

    #[test]
    fn tracing_data_lays_out_version_0_6() {
        let t = tracing_data(
            4096,
            b"hp",
            b"hev",
            &[("sched".into(), vec![b"fmt1".to_vec(), b"fmt2".to_vec()])],
        );
        assert_eq!(&t[..14], b"\x17\x08\x44tracing0.6\0");
        assert_eq!(u32::from_le_bytes(t[16..20].try_into().unwrap()), 4096);
        assert_eq!(&t[20..32], b"header_page\0");
        assert_eq!(u64::from_le_bytes(t[32..40].try_into().unwrap()), 2);
        let sys = 40 + 2 + 13 + 8 + 3 + 4;
        assert_eq!(u32::from_le_bytes(t[sys..sys + 4].try_into().unwrap()), 1);
        assert_eq!(&t[sys + 4..sys + 10], b"sched\0");
        assert_eq!(
            u32::from_le_bytes(t[sys + 10..sys + 14].try_into().unwrap()),
            2
        );
        assert_eq!(t.len(), sys + 14 + 2 * (8 + 4) + 16);
    }
}
