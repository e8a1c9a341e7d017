//! Build ids: the GNU note that names a binary's exact contents, for binaries and the kernel.
use std::path::Path;

use object::elf::{FileHeader64, NT_GNU_BUILD_ID};
use object::read::elf::{FileHeader, NoteIterator, ProgramHeader, SectionHeader};
use object::{Endianness, ReadRef};

use crate::Error;

/// The GNU build-id note of an ELF image, from its headers and notes alone: parsing the
/// whole file would read its symbol table too (tens of MB in a large library, for every
/// build-id check of it).
fn find<'d, R: ReadRef<'d>>(data: R) -> object::read::Result<Option<&'d [u8]>> {
    let header = FileHeader64::<Endianness>::parse(data)?;
    let endian = header.endian()?;
    let is_id = |n: &object::read::elf::Note<'d, FileHeader64<Endianness>>| {
        n.name() == object::elf::ELF_NOTE_GNU && n.n_type(endian) == NT_GNU_BUILD_ID
    };
    // Section headers when there are any (as object's own build_id), else program headers.
    let sections = header.sections(endian, data)?;
    if !sections.is_empty() {
        for section in sections.iter() {
            if let Some(mut notes) = section.notes(endian, data)? {
                while let Some(note) = notes.next()? {
                    if is_id(&note) {
                        return Ok(Some(note.desc()));
                    }
                }
            }
        }
    } else {
        for segment in header.program_headers(endian, data)? {
            if let Some(mut notes) = segment.notes(endian, data)? {
                while let Some(note) = notes.next()? {
                    if is_id(&note) {
                        return Ok(Some(note.desc()));
                    }
                }
            }
        }
    }
    Ok(None)
}

/// The GNU build id of an ELF file, if it has one.
pub fn build_id(path: &Path) -> Result<Option<Vec<u8>>, Error> {
    let file = crate::file::open_regular(path)?;
    // Only the headers and the note are read, not the whole binary.
    let cache = object::read::ReadCache::new(file);
    let id = find(&cache).map_err(|e| Error::not_elf(path, e))?;
    Ok(id.map(<[u8]>::to_vec))
}

/// The GNU build id in an ELF image held in memory.
pub fn build_id_of(data: &[u8]) -> Result<Option<Vec<u8>>, Error> {
    find(data)
        .map(|id| id.map(<[u8]>::to_vec))
        .map_err(Error::image)
}

/// The build id in raw ELF notes, such as `/sys/kernel/notes` holds for the running kernel.
pub fn build_id_in_notes(notes: &[u8]) -> Option<Vec<u8>> {
    let it =
        NoteIterator::<object::elf::FileHeader64<Endianness>>::new(Endianness::Little, 4, notes)
            .ok()?;
    let mut it = it;
    while let Ok(Some(note)) = it.next() {
        if note.name() == b"GNU" && note.n_type(Endianness::Little) == NT_GNU_BUILD_ID {
            return Some(note.desc().to_vec());
        }
    }
    None
}

/// The running kernel's build id, from `/sys/kernel/notes`.
pub fn kernel_build_id() -> Option<Vec<u8>> {
    build_id_in_notes(&std::fs::read("/sys/kernel/notes").ok()?)
}

/// Lower-case hex, as perf prints build ids.
pub fn hex(id: &[u8]) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_binary_has_a_build_id_matching_readelf() {
        let exe = std::env::current_exe().unwrap();
        let Some(id) = build_id(&exe).unwrap() else {
            eprintln!("SKIP: the test binary was linked without a build id");
            return;
        };
        assert!(id.len() >= 16);
        if let Ok(o) = std::process::Command::new("readelf")
            .arg("-n")
            .arg(&exe)
            .output()
        {
            let text = String::from_utf8_lossy(&o.stdout);
            if text.contains("Build ID") {
                assert!(text.contains(&hex(&id)), "{text}");
            }
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(build_id_of(b"not an elf at all").is_err());
        assert!(build_id_of(&[0x7f, b'E', b'L', b'F', 2, 1, 1]).is_err());
        assert!(build_id_in_notes(&[1, 2, 3]).is_none());
        assert!(build_id(Path::new("/nonexistent/file")).is_err());
    }

    #[test]
    fn kernel_notes_parse_when_readable() {
        if let Ok(notes) = std::fs::read("/sys/kernel/notes") {
            if let Some(id) = build_id_in_notes(&notes) {
                assert!(id.len() >= 16);
            }
        }
    }
}
