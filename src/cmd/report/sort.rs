//! report's sort keys and -F fields (perf's names), and the cells they make of a sample.
use super::*;

pub use crate::report::sort::SortKey;

/// One `-F/--fields` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// Self share (`overhead`).
    Overhead,
    /// Share with callees (`overhead_children`).
    Children,
    /// Self share of kernel-mode samples (`overhead_sys`).
    Sys,
    /// Self share of user-mode samples (`overhead_us`).
    Us,
    /// Sample count (`sample`).
    Samples,
    /// Self period (`period`).
    Period,
    /// A sort key.
    Key(SortKey),
}

impl Field {
    /// Parses perf's `-F` list.
    pub fn parse_list(s: &str) -> Result<Vec<Field>> {
        s.split(',')
            .map(|f| {
                Ok(match f.trim() {
                    "overhead" => Field::Overhead,
                    "overhead_children" => Field::Children,
                    "overhead_sys" => Field::Sys,
                    "overhead_us" => Field::Us,
                    "sample" => Field::Samples,
                    "period" => Field::Period,
                    k => Field::Key(SortKey::parse_list(k).map_err(|_| {
                        anyhow::anyhow!(
                            "unknown --fields key '{k}': use overhead, overhead_children, overhead_sys, overhead_us, sample, period or a --sort key"
                        )
                    })?[0]),
                })
            })
            .collect()
    }

    /// Header and width of a number column.
    pub(super) fn column(self) -> (&'static str, usize) {
        match self {
            Field::Overhead => ("Overhead", 8),
            Field::Children => ("Children", 8),
            Field::Sys => ("sys", 8),
            Field::Us => ("usr", 8),
            Field::Samples => ("Samples", 12),
            Field::Period => ("Period", 12),
            Field::Key(_) => ("", 0),
        }
    }
}

/// What a symbol cell shows.
#[derive(Debug, Clone)]
pub(crate) enum SymCell {
    /// A function: kernel flag, name.
    Named(bool, String),
    /// Unresolved address with the [k]/[.] level it was first seen with. As in perf, the
    /// level is not part of the entry's identity: only the address is.
    Addr(bool, u64),
}

impl SymCell {
    /// Name before level, so ties list `[k] a`, `[.] b`, `[k] c` alphabetically as perf.
    /// Addresses compare as perf's `_sort__addr_cmp` does, by the sign of their 64-bit
    /// difference: as signed numbers, so that the garbage addresses of broken chains with
    /// the top bit set come before the others, as in perf's ties.
    pub(super) fn identity(&self) -> (u8, &str, bool, i64) {
        match self {
            SymCell::Named(k, n) => (0, n.as_str(), *k, 0),
            SymCell::Addr(_, a) => (1, "", false, *a as i64),
        }
    }
}

impl PartialEq for SymCell {
    fn eq(&self, o: &Self) -> bool {
        self.identity() == o.identity()
    }
}

impl Eq for SymCell {}

impl std::hash::Hash for SymCell {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.identity().hash(h)
    }
}

impl PartialOrd for SymCell {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}

impl Ord for SymCell {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.identity().cmp(&o.identity())
    }
}

/// One value of one key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Cell {
    Text(String),
    Num(i64),
    /// A thread: tid and its (latest) command name.
    Thread(i64, String),
    Sym(SymCell),
}
