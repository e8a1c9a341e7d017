//! The kernel's symbols from `/proc/kallsyms`, with a cache: generating that file costs the
//! kernel tens of milliseconds per read, more than the rest of a small report.
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

/// One kernel symbol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelSymbol {
    /// Start address.
    pub addr: u64,
    /// Symbol name.
    pub name: String,
    /// Module name, without brackets, when the symbol belongs to a module.
    pub module: Option<String>,
}

/// The kernel's symbol table, sorted by address.
#[derive(Debug, Default, Clone)]
pub struct Kallsyms {
    syms: Vec<KernelSymbol>,
}

impl Kallsyms {
    /// Parses the text of `/proc/kallsyms`. Lines that do not parse are skipped.
    pub fn parse(text: &str) -> Self {
        let mut syms: Vec<KernelSymbol> = text
            .lines()
            .filter_map(|line| {
                let mut it = line.split_whitespace();
                let addr = u64::from_str_radix(it.next()?, 16).ok()?;
                let _kind = it.next()?;
                let name = it.next()?.to_string();
                let module = it
                    .next()
                    .map(|m| m.trim_start_matches('[').trim_end_matches(']').to_string());
                Some(KernelSymbol { addr, name, module })
            })
            .collect();
        syms.sort_by_key(|s| s.addr);
        Kallsyms { syms }
    }

    /// The symbol whose range holds `addr` (the last one starting at or before it).
    pub fn lookup(&self, addr: u64) -> Option<&KernelSymbol> {
        let i = self.syms.partition_point(|s| s.addr <= addr);
        i.checked_sub(1).map(|i| &self.syms[i])
    }

    /// Number of symbols.
    pub fn len(&self) -> usize {
        self.syms.len()
    }

    /// Whether the table is empty (e.g. kallsyms hidden by kptr_restrict).
    pub fn is_empty(&self) -> bool {
        self.syms.is_empty()
    }
}

/// Start of the cache file.
const CACHE_MAGIC: &[u8; 8] = b"RPKSYM1\n";

impl Kallsyms {
    /// The address of `_text`, the start of the kernel's code.
    pub fn text_start(&self) -> Option<u64> {
        self.syms.iter().find(|s| s.name == "_text").map(|s| s.addr)
    }

    /// The symbol holding `addr` and the offset into it (`name+off`).
    pub fn symbolize(&self, addr: u64) -> Option<(&KernelSymbol, u64)> {
        self.lookup(addr).map(|s| (s, addr - s.addr))
    }

    /// Whether the text looks restricted: kptr_restrict shows every address as zero to
    /// unprivileged readers, which makes the table useless.
    pub fn restricted(text: &str) -> bool {
        let mut lines = text.lines().take(16).peekable();
        lines.peek().is_some()
            && lines.all(|l| {
                l.split_whitespace()
                    .next()
                    .is_some_and(|a| a.bytes().all(|b| b == b'0'))
            })
    }

    /// The running kernel's table, from a cache under `cache_dir` when it is still valid
    /// (same boot, same modules), else from `/proc/kallsyms` (and then cached). Empty when
    /// the addresses are hidden (kptr_restrict) or the file cannot be read.
    pub fn load(cache_dir: Option<&Path>) -> Kallsyms {
        let key = running_kernel_key();
        let cache = cache_dir
            .zip(key)
            .map(|(d, k)| d.join(format!("kallsyms-{k:016x}")));
        if let Some(c) = &cache {
            if let Some(k) = std::fs::read(c).ok().and_then(|b| Self::decode(&b)) {
                return k;
            }
        }
        let text = std::fs::read_to_string("/proc/kallsyms").unwrap_or_default();
        if Self::restricted(&text) {
            return Kallsyms::default();
        }
        let k = Self::parse(&text);
        if let (Some(c), false) = (&cache, k.is_empty()) {
            // A cache that cannot be written only costs the next run the slow read.
            let _ = write_atomically(c, &k.encode());
        }
        k
    }

    /// The table in the cache's binary layout.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.syms.len() * 32);
        out.extend_from_slice(CACHE_MAGIC);
        out.extend_from_slice(&(self.syms.len() as u64).to_le_bytes());
        for s in &self.syms {
            out.extend_from_slice(&s.addr.to_le_bytes());
            let name = &s.name.as_bytes()[..s.name.len().min(u16::MAX as usize - 1)];
            out.extend_from_slice(&(name.len() as u16).to_le_bytes());
            out.extend_from_slice(name);
            match &s.module {
                Some(m) => {
                    let m = &m.as_bytes()[..m.len().min(u16::MAX as usize - 1)];
                    out.extend_from_slice(&(m.len() as u16).to_le_bytes());
                    out.extend_from_slice(m);
                }
                None => out.extend_from_slice(&u16::MAX.to_le_bytes()),
            }
        }
        out
    }

    /// Reads [`Kallsyms::encode`]'s layout; None for anything malformed.
    pub fn decode(b: &[u8]) -> Option<Kallsyms> {
        let rest = b.strip_prefix(CACHE_MAGIC.as_slice())?;
        let n = u64::from_le_bytes(rest.get(..8)?.try_into().ok()?) as usize;
        let mut off = 8;
        let mut syms = Vec::with_capacity(n.min(rest.len() / 10));
        let text = |off: &mut usize, len: usize| -> Option<String> {
            let s = std::str::from_utf8(rest.get(*off..*off + len)?)
                .ok()?
                .to_string();
            *off += len;
            Some(s)
        };
        for _ in 0..n {
            let addr = u64::from_le_bytes(rest.get(off..off + 8)?.try_into().ok()?);
            let len = u16::from_le_bytes(rest.get(off + 8..off + 10)?.try_into().ok()?) as usize;
            off += 10;
            let name = text(&mut off, len)?;
            let mlen = u16::from_le_bytes(rest.get(off..off + 2)?.try_into().ok()?);
            off += 2;
            let module = if mlen == u16::MAX {
                None
            } else {
                Some(text(&mut off, mlen as usize)?)
            };
            syms.push(KernelSymbol { addr, name, module });
        }
        (off == rest.len() && syms.windows(2).all(|w| w[0].addr <= w[1].addr))
            .then_some(Kallsyms { syms })
    }
}

/// What identifies the running kernel's symbol table: this boot (KASLR moves the kernel
/// at every boot) and the loaded modules.
fn running_kernel_key() -> Option<u64> {
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    let modules = std::fs::read_to_string("/proc/modules").unwrap_or_default();
    let mut h = std::collections::hash_map::DefaultHasher::new();
    boot.hash(&mut h);
    // Module lines end with their load address and state; the names, sizes and
    // addresses are what matter.
    modules.hash(&mut h);
    Some(h.finish())
}

fn write_atomically(path: &PathBuf, data: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, data)?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str =
        "ffffffff81000000 T _text\nffffffff81000100 T start\nffffffffc0001000 t mod_fn\t[mymod]\n";

    #[test]
    fn lookups_and_offsets() {
        let k = Kallsyms::parse(TEXT);
        assert_eq!(k.text_start(), Some(0xffffffff81000000));
        let (s, off) = k.symbolize(0xffffffff81000180).unwrap();
        assert_eq!((s.name.as_str(), off), ("start", 0x80));
        assert_eq!(
            k.lookup(0xffffffffc0001004).unwrap().module.as_deref(),
            Some("mymod")
        );
    }

    #[test]
    fn cache_layout_round_trips_and_rejects_garbage() {
        let k = Kallsyms::parse(TEXT);
        let b = k.encode();
        let back = Kallsyms::decode(&b).unwrap();
        assert_eq!(back.syms, k.syms);
        for cut in [0, 7, 8, 15, 20, b.len() - 1] {
            assert!(Kallsyms::decode(&b[..cut]).is_none(), "cut at {cut}");
        }
        let mut bad = b.clone();
        bad[0] ^= 1;
        assert!(Kallsyms::decode(&bad).is_none());
    }

    #[test]
    fn restricted_tables_are_recognised() {
        assert!(Kallsyms::restricted(
            "0000000000000000 T _text\n0000000000000000 T start\n"
        ));
        assert!(!Kallsyms::restricted(TEXT));
        assert!(!Kallsyms::restricted(""));
    }

    #[test]
    fn load_uses_and_fills_the_cache() {
        let dir = std::env::temp_dir().join(format!("rperf-ksym-{}", std::process::id()));
        let first = Kallsyms::load(Some(&dir));
        let second = Kallsyms::load(Some(&dir));
        assert_eq!(first.syms, second.syms);
        if !first.is_empty() {
            // The second came from the file the first wrote.
            let files: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
            assert_eq!(files.len(), 1);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
