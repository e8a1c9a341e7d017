//! The kernel's symbols from `/proc/kallsyms`, with a cache: generating that file costs the
//! kernel tens of milliseconds per read, more than the rest of a small report.
use std::hash::{Hash, Hasher};
use std::path::Path;

/// One kernel symbol, borrowed from its table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KernelSymbol<'a> {
    /// Start address.
    pub addr: u64,
    /// Symbol name.
    pub name: &'a str,
    /// Module name, without brackets, when the symbol belongs to a module.
    pub module: Option<&'a str>,
}

/// No module.
const NO_MODULE: u32 = u32::MAX;

/// The kernel's symbol table, sorted by address, kept compact: addresses, spans into one
/// string of names, and module ids (a hundred thousand symbols, one allocation each way).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Kallsyms {
    addrs: Vec<u64>,
    /// (offset of the name in `names`, its length, module id or NO_MODULE).
    spans: Vec<(u32, u32, u32)>,
    names: String,
    modules: Vec<String>,
}

impl Kallsyms {
    /// Parses the text of `/proc/kallsyms`. Lines that do not parse are skipped.
    pub fn parse(text: &str) -> Self {
        let mut rows: Vec<(u64, &str, Option<&str>)> = text
            .lines()
            .filter_map(|line| {
                let mut it = line.split_whitespace();
                let addr = u64::from_str_radix(it.next()?, 16).ok()?;
                let _kind = it.next()?;
                let name = it.next()?;
                let module = it
                    .next()
                    .map(|m| m.trim_start_matches('[').trim_end_matches(']'));
                Some((addr, name, module))
            })
            .collect();
        rows.sort_by_key(|r| r.0);
        let mut k = Kallsyms::default();
        let mut module_ids: std::collections::HashMap<&str, u32> = Default::default();
        for (addr, name, module) in rows {
            let m = match module {
                Some(m) => *module_ids.entry(m).or_insert_with(|| {
                    k.modules.push(m.to_string());
                    (k.modules.len() - 1) as u32
                }),
                None => NO_MODULE,
            };
            k.addrs.push(addr);
            k.spans.push((k.names.len() as u32, name.len() as u32, m));
            k.names.push_str(name);
        }
        k
    }

    fn at(&self, i: usize) -> KernelSymbol<'_> {
        let (off, len, m) = self.spans[i];
        KernelSymbol {
            addr: self.addrs[i],
            name: self
                .names
                .get(off as usize..(off + len) as usize)
                .unwrap_or(""),
            module: self.modules.get(m as usize).map(String::as_str),
        }
    }

    /// The symbol whose range holds `addr` (the last one starting at or before it).
    pub fn lookup(&self, addr: u64) -> Option<KernelSymbol<'_>> {
        let i = self.addrs.partition_point(|&a| a <= addr);
        i.checked_sub(1).map(|i| self.at(i))
    }

    /// Where the next symbol after `addr` starts: the end of `addr`'s function, as perf
    /// takes it (kallsyms has no sizes).
    pub fn next_start(&self, addr: u64) -> Option<u64> {
        let i = self.addrs.partition_point(|&a| a <= addr);
        self.addrs.get(i).copied()
    }

    /// Every symbol, by address.
    pub fn iter(&self) -> impl Iterator<Item = KernelSymbol<'_>> + '_ {
        (0..self.len()).map(|i| self.at(i))
    }

    /// Number of symbols.
    pub fn len(&self) -> usize {
        self.addrs.len()
    }

    /// Whether the table is empty (e.g. kallsyms hidden by kptr_restrict).
    pub fn is_empty(&self) -> bool {
        self.addrs.is_empty()
    }

    /// The address of `_text`, the start of the kernel's code.
    pub fn text_start(&self) -> Option<u64> {
        (0..self.len())
            .map(|i| self.at(i))
            .find(|s| s.name == "_text")
            .map(|s| s.addr)
    }

    /// The symbol holding `addr` and the offset into it (`name+off`).
    pub fn symbolize(&self, addr: u64) -> Option<(KernelSymbol<'_>, u64)> {
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
    /// (same boot, same modules), else from `/proc/kallsyms` (and then cached, privately and
    /// only in a directory of the effective user: [`crate::cache`]). Empty when
    /// the addresses are hidden (kptr_restrict) or the file cannot be read.
    pub fn load(cache_dir: Option<&Path>) -> Kallsyms {
        let key = running_kernel_key();
        let cache = cache_dir
            .zip(key)
            .map(|(d, k)| d.join(format!("kallsyms-{k:016x}")));
        if let Some(c) = &cache {
            if let Some(k) = crate::cache::read(c).and_then(|b| Self::decode(&b)) {
                return k;
            }
        }
        let text = std::fs::read_to_string("/proc/kallsyms").unwrap_or_default();
        if Self::restricted(&text) {
            return Kallsyms::default();
        }
        let k = Self::parse(&text);
        if let (Some(c), false) = (&cache, k.is_empty()) {
            // A cache that cannot (or may not) be written only costs the next run the slow
            // read; see `cache` for where it may go.
            let _ = crate::cache::write(c, &k.encode());
        }
        k
    }

    /// The table in the cache's binary layout: the arrays as they are in memory.
    pub fn encode(&self) -> Vec<u8> {
        let n = self.addrs.len();
        let mut out = Vec::with_capacity(32 + n * 20 + self.names.len());
        out.extend_from_slice(CACHE_MAGIC);
        out.extend_from_slice(&(n as u64).to_le_bytes());
        for a in &self.addrs {
            out.extend_from_slice(&a.to_le_bytes());
        }
        for (off, len, m) in &self.spans {
            out.extend_from_slice(&off.to_le_bytes());
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(&m.to_le_bytes());
        }
        out.extend_from_slice(&(self.names.len() as u64).to_le_bytes());
        out.extend_from_slice(self.names.as_bytes());
        out.extend_from_slice(&(self.modules.len() as u32).to_le_bytes());
        for m in &self.modules {
            out.extend_from_slice(&(m.len() as u32).to_le_bytes());
            out.extend_from_slice(m.as_bytes());
        }
        out
    }

    /// Reads [`Kallsyms::encode`]'s layout; None for anything malformed.
    pub fn decode(b: &[u8]) -> Option<Kallsyms> {
        let mut r = b.strip_prefix(CACHE_MAGIC.as_slice())?;
        let mut take = |n: usize| -> Option<&[u8]> {
            let (h, t) = (r.get(..n)?, r.get(n..)?);
            r = t;
            Some(h)
        };
        let u64_of = |b: &[u8]| u64::from_le_bytes(b.try_into().unwrap_or([0; 8]));
        let u32_of = |b: &[u8]| u32::from_le_bytes(b.try_into().unwrap_or([0; 4]));
        let n = usize::try_from(u64_of(take(8)?)).ok()?;
        let addrs: Vec<u64> = take(n.checked_mul(8)?)?
            .chunks_exact(8)
            .map(u64_of)
            .collect();
        let spans: Vec<(u32, u32, u32)> = take(n.checked_mul(12)?)?
            .chunks_exact(12)
            .map(|c| (u32_of(&c[..4]), u32_of(&c[4..8]), u32_of(&c[8..])))
            .collect();
        let len = usize::try_from(u64_of(take(8)?)).ok()?;
        let names = std::str::from_utf8(take(len)?).ok()?.to_string();
        let nmod = u32_of(take(4)?) as usize;
        let mut modules = Vec::with_capacity(nmod.min(4096));
        for _ in 0..nmod {
            let l = u32_of(take(4)?) as usize;
            modules.push(std::str::from_utf8(take(l)?).ok()?.to_string());
        }
        let sound = r.is_empty()
            && addrs.windows(2).all(|w| w[0] <= w[1])
            && spans.iter().all(|&(off, len, m)| {
                names.is_char_boundary(off as usize)
                    && names.is_char_boundary((off + len) as usize)
                    && (off + len) as usize <= names.len()
                    && (m == NO_MODULE || (m as usize) < modules.len())
            });
        sound.then_some(Kallsyms {
            addrs,
            spans,
            names,
            modules,
        })
    }
}

/// Start of the cache file.
const CACHE_MAGIC: &[u8; 8] = b"RPKSYM2\n";

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
        assert_eq!((s.name, off), ("start", 0x80));
        assert_eq!(k.lookup(0xffffffffc0001004).unwrap().module, Some("mymod"));
    }

    #[test]
    fn cache_layout_round_trips_and_rejects_garbage() {
        let k = Kallsyms::parse(TEXT);
        let b = k.encode();
        let back = Kallsyms::decode(&b).unwrap();
        assert_eq!(back, k);
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
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("cache");
        let first = Kallsyms::load(Some(&dir));
        let second = Kallsyms::load(Some(&dir));
        assert_eq!(first, second);
        if !first.is_empty() {
            // The second came from the file the first wrote.
            let files: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
            assert_eq!(files.len(), 1);
        }
    }
}
