//! Aggregations shared by report, script and flamegraph.
pub mod export;
pub mod folded;
pub mod graph;
pub mod header;
pub mod offcpu;
pub mod sort;
pub mod trace;

/// perf's `timestamp__scnprintf_usec`: seconds and microseconds.
pub fn usec_time(ns: u64) -> String {
    format!("{}.{:06}", ns / 1_000_000_000, (ns % 1_000_000_000) / 1000)
}

/// perf's `convert_unit`: the count and its unit letter, a space when there is none.
pub fn convert_unit(n: u64) -> String {
    if n > 1_000_000_000 {
        format!("{}G", n / 1_000_000_000)
    } else if n > 1_000_000 {
        format!("{}M", n / 1_000_000)
    } else if n > 1000 {
        format!("{}K", n / 1000)
    } else {
        format!("{n} ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_print_in_microseconds() {
        assert_eq!(usec_time(2_841_248_844_123), "2841.248844");
        assert_eq!(usec_time(5_000), "0.000005");
    }
}
