//! JIT symbol maps (`/tmp/perf-PID.map`): one `START SIZE name` line per function, hex.
use crate::elf::Symbol;

/// The functions a JIT announced, sorted by address.
#[derive(Debug, Clone, Default)]
pub struct PerfMap {
    syms: Vec<Symbol>,
}

impl PerfMap {
    /// Parses a perf map; malformed lines are skipped.
    pub fn parse(text: &str) -> PerfMap {
        let mut syms: Vec<Symbol> = text
            .lines()
            .filter_map(|l| {
                let mut it = l.splitn(3, ' ');
                let start = u64::from_str_radix(it.next()?.trim_start_matches("0x"), 16).ok()?;
                let size = u64::from_str_radix(it.next()?.trim_start_matches("0x"), 16).ok()?;
                let name = it.next()?.trim().to_string();
                Some(Symbol { start, size, name })
            })
            .collect();
        // Later lines win for the same address (a JIT may recompile in place).
        syms.reverse();
        syms.sort_by_key(|s| s.start);
        syms.dedup_by_key(|s| s.start);
        PerfMap { syms }
    }

    /// The function at absolute address `addr`, with the offset into it.
    pub fn lookup(&self, addr: u64) -> Option<(&Symbol, u64)> {
        let i = self.syms.partition_point(|s| s.start <= addr);
        let s = self.syms.get(i.checked_sub(1)?)?;
        // A map line may claim a size that runs past the address space.
        (addr < s.start.saturating_add(s.size.max(1))).then(|| (s, addr - s.start))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_parse_and_look_up() {
        let m = PerfMap::parse(
            "7f0000001000 20 jitted_a\n0x7f0000002000 0x10 Lambda::run(int) x\nbad\n",
        );
        assert_eq!(
            m.lookup(0x7f0000001008).map(|(s, o)| (s.name.as_str(), o)),
            Some(("jitted_a", 8))
        );
        assert_eq!(
            m.lookup(0x7f000000200f).unwrap().0.name,
            "Lambda::run(int) x"
        );
        assert!(m.lookup(0x7f0000001020).is_none());
        assert!(m.lookup(0x10).is_none());
        let end = PerfMap::parse("ffffffffffffff00 1000 last\n");
        assert_eq!(end.lookup(u64::MAX - 1).map(|(_, o)| o), Some(0xfe));
    }
}
