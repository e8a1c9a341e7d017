//! script's -F fields and the number printers behind its columns.
use super::*;

/// Appends `v` in lower-case hex, right-aligned in `width` columns (printf's `%16lx`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Pad {
    Right,
    Left,
    Zero,
}

/// A decimal number in `width` columns, as `{:5}`, `{:<5}` and `{:06}` print it; the
/// per-sample line is built this way because formatting machinery dominated its cost.
pub(super) fn push_num(out: &mut String, v: i64, width: usize, pad: Pad) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let mut n = v.unsigned_abs();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let digits = std::str::from_utf8(&buf[i..]).unwrap_or("0");
    let len = digits.len() + usize::from(v < 0);
    let fill = width.saturating_sub(len);
    if pad == Pad::Right {
        out.extend(std::iter::repeat_n(' ', fill));
    }
    if v < 0 {
        out.push('-');
    }
    if pad == Pad::Zero {
        out.extend(std::iter::repeat_n('0', fill));
    }
    out.push_str(digits);
    if pad == Pad::Left {
        out.extend(std::iter::repeat_n(' ', fill));
    }
}

pub(super) fn push_hex(out: &mut String, v: u64, width: usize) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut buf = [b' '; 16];
    let mut n = v;
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = DIGITS[(n & 0xf) as usize];
        n >>= 4;
        if n == 0 {
            break;
        }
    }
    let digits = buf.len() - i;
    for _ in digits..width {
        out.push(' ');
    }
    out.push_str(std::str::from_utf8(&buf[i..]).unwrap_or(""));
}

/// The fields `-F` selects, in perf's names; printed in perf's fixed order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Fields {
    /// Command name.
    pub comm: bool,
    /// Process id.
    pub pid: bool,
    /// Thread id.
    pub tid: bool,
    /// CPU, when sampled.
    pub cpu: bool,
    /// Timestamp.
    pub time: bool,
    /// Sample weight.
    pub period: bool,
    /// Event name.
    pub event: bool,
    /// Tracepoint fields.
    pub trace: bool,
    /// Addresses (and the call chain when recorded).
    pub ip: bool,
    /// Symbol names (with `ip`).
    pub sym: bool,
    /// `+0xoff` after symbols.
    pub symoff: bool,
    /// Binary names (with `ip`).
    pub dso: bool,
}

impl Fields {
    /// Parses perf's `-F` list.
    pub fn parse(list: &str) -> Result<Fields> {
        let mut f = Fields::default();
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            match name {
                "comm" => f.comm = true,
                "pid" => f.pid = true,
                "tid" => f.tid = true,
                "cpu" => f.cpu = true,
                "time" => f.time = true,
                "period" => f.period = true,
                "event" => f.event = true,
                "trace" => f.trace = true,
                "ip" => f.ip = true,
                "sym" => f.sym = true,
                "symoff" => f.symoff = true,
                "dso" => f.dso = true,
                other => anyhow::bail!(
                    "unknown -F field '{other}': use comm, pid, tid, cpu, time, period, event, trace, ip, sym, symoff, dso"
                ),
            }
        }
        Ok(f)
    }

    /// perf's default fields for an event: tracepoints show their fields and no period;
    /// addresses are shown for tracepoints only with a call chain.
    pub(super) fn default_for(ev: &data::EventInfo) -> Fields {
        let tp = ev.tracepoint.is_some();
        let ip = !tp || ev.has_callchain;
        Fields {
            comm: true,
            pid: false,
            tid: true,
            cpu: ev.has_cpu,
            time: true,
            period: !tp,
            event: true,
            trace: tp,
            ip,
            sym: ip,
            symoff: ip,
            dso: ip,
        }
    }
}
