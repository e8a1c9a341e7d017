//! Names for addresses as objdump prints them in `<name+0xoff>`: its choice among the
//! symbols at an address, its versioned dynamic names, its `name@plt` entries and its
//! dynamic-relocation names for GOT slots.
use object::elf;
use object::read::elf::{ElfFile64, Rela as _, SectionHeader, Sym as _};
use object::{Endianness, Object, ObjectSection};

/// One symbol objdump keeps for naming addresses.
#[derive(Debug, Clone)]
struct Named {
    addr: u64,
    /// As printed, when it is not just `raw` demangled (a dynamic symbol's version, an
    /// `@plt` entry): most names are demangled only when printed.
    name: Option<String>,
    /// As the symbol table spells it, which objdump sorts by.
    raw: String,
    /// The name of its section (objdump compares sections by name, so that a separate
    /// debug file's symbols match the binary's sections).
    section: String,
    function: bool,
    object: bool,
    local: bool,
    global: bool,
    size: u64,
    synthetic: bool,
}

/// objdump's sorted symbol list for one binary, and its dynamic relocations.
#[derive(Debug, Default)]
pub struct Names {
    syms: Vec<Named>,
    /// Dynamic relocations against a symbol: (GOT slot, versioned name), by address.
    relocs: Vec<(u64, String)>,
    /// The section the ordering prefers (the one being disassembled).
    section: Option<String>,
}

/// The dynamic symbols' versioned names (`memcpy@@GLIBC_2.14`, `__gmon_start__@Base`),
/// by symbol index, as binutils spells them.
fn dynamic_names(file: &ElfFile64<'_, Endianness>) -> Vec<String> {
    let endian = file.endian();
    let data = file.data();
    let sections = file.elf_section_table();
    let Ok(table) = sections.symbols(endian, data, elf::SHT_DYNSYM) else {
        return Vec::new();
    };
    let versions = sections.versions(endian, data).ok().flatten();
    table
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let raw = String::from_utf8_lossy(s.name(endian, table.strings()).unwrap_or(b""));
            let mut text = rperf_symbols::demangle(&raw);
            let Some(v) = &versions else {
                return text;
            };
            let vi = v.version_index(endian, object::SymbolIndex(i));
            let mut hidden = vi.is_hidden() || s.st_shndx(endian) == elf::SHN_UNDEF;
            let ver = match vi.index() {
                0 => String::new(),
                1 => "Base".to_string(),
                _ => match v.version(vi) {
                    Ok(Some(ver)) => {
                        // A version another object defines: binutils marks it hidden.
                        hidden |= ver.file().is_some();
                        String::from_utf8_lossy(ver.name()).into_owned()
                    }
                    _ => "<corrupt>".to_string(),
                },
            };
            if !ver.is_empty() {
                text.push_str(if hidden { "@" } else { "@@" });
                text.push_str(&ver);
            }
            text
        })
        .collect()
}

/// The named symbols of one symbol table (`SHT_SYMTAB` or `SHT_DYNSYM`) that objdump keeps.
fn table(file: &ElfFile64<'_, Endianness>, kind: u32, dynamic: &[String]) -> Vec<Named> {
    let endian = file.endian();
    let data = file.data();
    let sections = file.elf_section_table();
    let Ok(table) = sections.symbols(endian, data, kind) else {
        return Vec::new();
    };
    let section_name = |i: usize| -> String {
        sections
            .section(object::SectionIndex(i))
            .ok()
            .and_then(|s| sections.section_name(endian, s).ok())
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .unwrap_or_default()
    };
    let mut out = Vec::new();
    for (i, s) in table.iter().enumerate() {
        let st = s.st_type();
        let shndx = s.st_shndx(endian);
        if st == elf::STT_SECTION
            || st == elf::STT_FILE
            || shndx == elf::SHN_UNDEF
            || shndx == elf::SHN_COMMON
        {
            continue;
        }
        let raw = String::from_utf8_lossy(s.name(endian, table.strings()).unwrap_or(b""));
        if raw.is_empty() {
            continue;
        }
        let name = if kind == elf::SHT_DYNSYM {
            Some(dynamic.get(i).cloned().unwrap_or_default())
        } else {
            None
        };
        let bind = s.st_bind();
        out.push(Named {
            addr: s.st_value(endian),
            name,
            raw: raw.into_owned(),
            section: if shndx == elf::SHN_ABS {
                "*ABS*".to_string()
            } else {
                section_name(usize::from(shndx))
            },
            function: st == elf::STT_FUNC || st == elf::STT_GNU_IFUNC,
            object: st == elf::STT_OBJECT,
            local: bind == elf::STB_LOCAL,
            global: bind == elf::STB_GLOBAL,
            size: s.st_size(endian),
            synthetic: false,
        });
    }
    out
}

impl Names {
    /// objdump's names for `data`, an ELF file: its `.symtab`, else that of its separate
    /// debug file `debug` (objdump follows debug links), else its `.dynsym`; then its PLT
    /// entries `plt`; and its dynamic relocations.
    pub fn load(data: &[u8], debug: Option<&[u8]>, plt: &[(u64, String)]) -> Names {
        let Ok(file) = ElfFile64::<Endianness>::parse(data) else {
            return Names::default();
        };
        let endian = file.endian();
        let dynamic = dynamic_names(&file);
        let mut syms = table(&file, elf::SHT_SYMTAB, &dynamic);
        if syms.is_empty() {
            if let Some(d) = debug.and_then(|d| ElfFile64::<Endianness>::parse(d).ok()) {
                syms = table(&d, elf::SHT_SYMTAB, &[]);
            }
        }
        if syms.is_empty() {
            syms = table(&file, elf::SHT_DYNSYM, &dynamic);
        }
        let mut plt = plt.to_vec();
        plt.extend(plt_got(&file));
        for (addr, name) in &plt {
            let section = file
                .sections()
                .find(|s| s.address() <= *addr && *addr < s.address() + s.size())
                .and_then(|s| s.name().ok().map(str::to_string))
                .unwrap_or_default();
            syms.push(Named {
                addr: *addr,
                name: Some(name.clone()),
                raw: name.clone(),
                section,
                function: true,
                object: false,
                local: false,
                global: true,
                size: 0,
                synthetic: true,
            });
        }
        let sections = file.elf_section_table();
        let mut relocs = Vec::new();
        for sec in sections.iter() {
            if sec.sh_type(endian) != elf::SHT_RELA
                || sec.sh_flags(endian) & u64::from(elf::SHF_ALLOC) == 0
            {
                continue;
            }
            // Only the dynamic relocations: those against .dynsym.
            let link = sec.sh_link(endian) as usize;
            let against = sections
                .section(object::SectionIndex(link))
                .map(|l| l.sh_type(endian));
            if against.ok() != Some(elf::SHT_DYNSYM) {
                continue;
            }
            let Ok(Some((relas, _))) = sec.rela(endian, data) else {
                continue;
            };
            for r in relas {
                let sym = r.r_sym(endian, false) as usize;
                if let Some(name) = dynamic.get(sym).filter(|_| sym != 0) {
                    relocs.push((r.r_offset(endian), name.clone()));
                }
            }
        }
        relocs.sort_by_key(|r| r.0);
        Names {
            syms,
            relocs,
            section: None,
        }
    }

    /// Names from a plain list of functions (the kernel's, from kallsyms), all in `.text`.
    pub fn functions(list: impl Iterator<Item = (u64, String)>) -> Names {
        let syms = list
            .map(|(addr, name)| Named {
                addr,
                raw: name.clone(),
                name: Some(name),
                section: ".text".to_string(),
                function: true,
                object: false,
                local: false,
                global: true,
                size: 0,
                synthetic: false,
            })
            .collect();
        Names {
            syms,
            relocs: Vec::new(),
            section: None,
        }
    }

    /// Orders the symbols as objdump does while it disassembles the section named
    /// `section` (a stable sort: symbols it cannot tell apart keep the table's order).
    pub fn prefer(&mut self, section: &str) {
        if self.section.as_deref() == Some(section) {
            return;
        }
        self.section = Some(section.to_string());
        self.syms.sort_by(|a, b| {
            a.addr
                .cmp(&b.addr)
                .then((b.section == section).cmp(&(a.section == section)))
                .then(is_file(&a.raw).cmp(&is_file(&b.raw)))
                .then(b.function.cmp(&a.function))
                .then(b.object.cmp(&a.object))
                .then(a.local.cmp(&b.local))
                .then(b.global.cmp(&a.global))
                .then(b.size.cmp(&a.size))
                .then(a.raw.starts_with('.').cmp(&b.raw.starts_with('.')))
                .then(a.raw.cmp(&b.raw))
        });
    }

    /// The name objdump gives `addr` and that name's own address (above `addr` when no
    /// symbol lies below it).
    pub fn lookup(&self, addr: u64) -> Option<(String, u64)> {
        let n = self.syms.partition_point(|s| s.addr <= addr);
        // Below every symbol: objdump names the first one.
        let last = n.saturating_sub(1);
        let at = self.syms.get(last)?.addr;
        let first = self.syms[..=last].partition_point(|s| s.addr < at);
        // Of the symbols at one address the sort put those of the disassembled section
        // first, and objdump takes such a one as it is; otherwise, short of an exact
        // match, a dynamic relocation at `addr` names it better (a GOT slot).
        let s = &self.syms[first];
        let here = self.section.as_deref() == Some(s.section.as_str());
        if s.addr != addr && !s.synthetic && !here {
            let i = self.relocs.partition_point(|r| r.0 < addr);
            if let Some((a, name)) = self.relocs.get(i) {
                if *a == addr {
                    return Some((name.clone(), addr));
                }
            }
        }
        let name = s
            .name
            .clone()
            .unwrap_or_else(|| rperf_symbols::demangle(&s.raw));
        Some((name, s.addr))
    }
}

/// objdump's `name@plt` for the entries of `.plt.got` (the PLT stubs of functions also
/// taken by address): each jumps through a GOT slot, which a dynamic relocation names.
fn plt_got(file: &ElfFile64<'_, Endianness>) -> Vec<(u64, String)> {
    let endian = file.endian();
    let data = file.data();
    let Some(sec) = file.section_by_name(".plt.got") else {
        return Vec::new();
    };
    let Ok(code) = sec.data() else {
        return Vec::new();
    };
    let sections = file.elf_section_table();
    let Ok(dynsyms) = sections.symbols(endian, data, elf::SHT_DYNSYM) else {
        return Vec::new();
    };
    let mut slots: Vec<(u64, String)> = Vec::new();
    for rel in sections.iter() {
        if rel.sh_type(endian) != elf::SHT_RELA {
            continue;
        }
        let Ok(Some((relas, _))) = rel.rela(endian, data) else {
            continue;
        };
        for r in relas {
            let sym = r.r_sym(endian, false) as usize;
            let Ok(s) = dynsyms.symbol(object::SymbolIndex(sym)) else {
                continue;
            };
            if sym == 0 {
                continue;
            }
            let name = String::from_utf8_lossy(s.name(endian, dynsyms.strings()).unwrap_or(b""));
            slots.push((r.r_offset(endian), name.into_owned()));
        }
    }
    let mut out = Vec::new();
    let mut decoder =
        iced_x86::Decoder::with_ip(64, code, sec.address(), iced_x86::DecoderOptions::NONE);
    while decoder.can_decode() {
        let ip = decoder.ip();
        let ins = decoder.decode();
        if ins.mnemonic() == iced_x86::Mnemonic::Jmp && ins.is_ip_rel_memory_operand() {
            let slot = ins.ip_rel_memory_address();
            if let Some((_, name)) = slots.iter().find(|(a, _)| *a == slot) {
                // The entry starts at its endbr64 when it has one.
                let start = out_start(code, sec.address(), ip);
                out.push((start, format!("{name}@plt")));
            }
        }
    }
    out
}

/// Where the `.plt.got` entry holding the jump at `ip` starts: entries are 8 or 16 bytes.
fn out_start(code: &[u8], base: u64, ip: u64) -> u64 {
    let off = (ip - base) as usize;
    // endbr64 (f3 0f 1e fa) right before the jump begins a 16-byte entry.
    if off >= 4 && code[off - 4..off] == [0xf3, 0x0f, 0x1e, 0xfa] {
        return ip - 4;
    }
    ip
}

/// objdump's guess at a file-name symbol (`foo.o`, `libc.a`), sorted after the others.
fn is_file(name: &str) -> bool {
    name.len() > 2 && (name.ends_with(".o") || name.ends_with(".a"))
}
