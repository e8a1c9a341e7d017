//! Event-name grammar: perf's `-e` syntax parsed into plain event descriptions.
//!
//! Parsing is split in two: [`split_list`]/[`parse_term`] are pure string work; resolving names
//! that live in the system (PMUs in sysfs, tracepoints in tracefs) goes through the
//! [`EventSource`] trait so the whole grammar is testable without privileges.

pub mod attr;
pub mod open_error;
pub mod source;
pub mod tables;

pub use source::{EventSource, SysSource};

use std::fmt;

/// Modifiers after `:` (`cycles:u`, `{a,b}:k`, `cycles:ppp`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Modifiers {
    /// Do not count user space.
    pub exclude_user: bool,
    /// Do not count the kernel.
    pub exclude_kernel: bool,
    /// Do not count the hypervisor.
    pub exclude_hv: bool,
    /// Do not count guests.
    pub exclude_guest: bool,
    /// Do not count the host.
    pub exclude_host: bool,
    /// Do not count when idle (`I`).
    pub exclude_idle: bool,
    /// Skid constraint (`p`, `pp`, `ppp`, or `P` for the maximum).
    pub precise: u8,
    /// `S`: read the group on each sample.
    pub sample_read: bool,
    /// `D`: pinned to the PMU.
    pub pinned: bool,
    /// `e`: exclusive use of the PMU.
    pub exclusive: bool,
    /// `W`: weak group, may be split when it cannot be scheduled whole.
    pub weak: bool,
}

impl Modifiers {
    /// Parses the letters after `:`; returns the offset of the first bad letter on error.
    pub fn parse(s: &str) -> Result<Modifiers, usize> {
        let mut m = Modifiers::default();
        let (mut u, mut k, mut h, mut g, mut hh) = (false, false, false, false, false);
        for (i, c) in s.char_indices() {
            match c {
                'u' => u = true,
                'k' => k = true,
                'h' => h = true,
                'G' => g = true,
                'H' => hh = true,
                'p' => {
                    if m.precise >= 3 {
                        return Err(i);
                    }
                    m.precise += 1
                }
                'P' => m.precise = 3,
                'S' => m.sample_read = true,
                'D' => m.pinned = true,
                'I' => m.exclude_idle = true,
                'e' => m.exclusive = true,
                'W' => m.weak = true,
                _ => return Err(i),
            }
        }
        // Naming any of u/k/h excludes the ones not named, as perf does.
        if u || k || h {
            m.exclude_user = !u;
            m.exclude_kernel = !k;
            m.exclude_hv = !h;
        }
        if g || hh {
            m.exclude_guest = !g;
            m.exclude_host = !hh;
        } else if m.precise > 0 || u {
            // Precise sampling cannot follow into guests, and `u` names the host's user space:
            // perf excludes guests implicitly for both.
            m.exclude_guest = true;
        }
        Ok(m)
    }

    /// Whether no modifier was given at all (perf then excludes guests by default).
    fn is_plain(&self) -> bool {
        *self == Modifiers::default()
    }

    /// The modifier suffix perf derives from an event's exclude bits when it names an event
    /// it built itself (the cpu-clock that stands in for cycles): `:u`, `:pppH`, `:uhpppH`.
    pub fn perf_suffix(&self) -> String {
        // A plain event already excludes guests in perf, where it is set by default.
        let exclude_guest = self.exclude_guest || self.is_plain();
        let mut s = String::new();
        let mut guest_default = false;
        if self.exclude_kernel || self.exclude_user || self.exclude_hv {
            for (excluded, c) in [
                (self.exclude_kernel, 'k'),
                (self.exclude_user, 'u'),
                (self.exclude_hv, 'h'),
            ] {
                if !excluded {
                    s.push(c);
                }
            }
            guest_default = true;
        }
        if self.precise > 0 {
            s.push_str(&"ppp"[..usize::from(self.precise.min(3))]);
            guest_default = true;
        }
        if self.exclude_host || exclude_guest == guest_default {
            if !self.exclude_host {
                s.push('H');
            }
            if !exclude_guest {
                s.push('G');
            }
        }
        if s.is_empty() {
            s
        } else {
            format!(":{s}")
        }
    }

    fn merge(self, group: Modifiers) -> Modifiers {
        Modifiers {
            exclude_user: self.exclude_user || group.exclude_user,
            exclude_kernel: self.exclude_kernel || group.exclude_kernel,
            exclude_hv: self.exclude_hv || group.exclude_hv,
            exclude_guest: self.exclude_guest || group.exclude_guest,
            exclude_host: self.exclude_host || group.exclude_host,
            exclude_idle: self.exclude_idle || group.exclude_idle,
            precise: self.precise.max(group.precise),
            sample_read: self.sample_read || group.sample_read,
            pinned: self.pinned || group.pinned,
            exclusive: self.exclusive || group.exclusive,
            weak: self.weak || group.weak,
        }
    }
}

/// Events computed by rperf rather than counted by the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToolEvent {
    /// Wall-clock time of the run.
    DurationTime,
    /// User CPU time of the workload.
    UserTime,
    /// System CPU time of the workload.
    SystemTime,
}

/// What an event counts, with the numbers the kernel needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    /// Generic hardware event (PERF_TYPE_HARDWARE).
    Hardware(u64),
    /// Software event (PERF_TYPE_SOFTWARE).
    Software(u64),
    /// Generic cache event (PERF_TYPE_HW_CACHE).
    Cache(u64),
    /// Raw event `rNNN` (PERF_TYPE_RAW).
    Raw(u64),
    /// An event of a PMU from sysfs (`msr/tsc/`, `cpu/event=0x3c/`).
    Pmu {
        /// The PMU's directory name.
        pmu: String,
        /// The PMU's dynamic type number.
        type_: u32,
        /// config, config1, config2 assembled from the terms.
        config: [u64; 3],
    },
    /// A tracepoint `system:name` (PERF_TYPE_TRACEPOINT, config = tracefs id).
    Tracepoint {
        /// Subsystem, e.g. `sched`.
        system: String,
        /// Event, e.g. `sched_switch`.
        name: String,
        /// The id from tracefs.
        id: u64,
    },
    /// Hardware breakpoint `mem:addr[/len][:rwx]`.
    Breakpoint {
        /// Address watched.
        addr: u64,
        /// Length in bytes.
        len: u64,
        /// HW_BREAKPOINT_R = 1, W = 2, X = 4.
        bp_type: u32,
    },
    /// A tool event.
    Tool(ToolEvent),
}

impl EventKind {
    /// The perf_event_attr type and config for this event (tool events have none).
    pub fn type_config(&self) -> Option<(u32, [u64; 3])> {
        use tables::*;
        Some(match self {
            EventKind::Hardware(c) => (TYPE_HARDWARE, [*c, 0, 0]),
            EventKind::Software(c) => (TYPE_SOFTWARE, [*c, 0, 0]),
            EventKind::Cache(c) => (TYPE_HW_CACHE, [*c, 0, 0]),
            EventKind::Raw(c) => (TYPE_RAW, [*c, 0, 0]),
            EventKind::Pmu { type_, config, .. } => (*type_, *config),
            EventKind::Tracepoint { id, .. } => (TYPE_TRACEPOINT, [*id, 0, 0]),
            EventKind::Breakpoint { .. } => (TYPE_BREAKPOINT, [0, 0, 0]),
            EventKind::Tool(_) => return None,
        })
    }

    /// Whether counts are nanoseconds of a clock (shown as msec by stat).
    pub fn is_clock(&self) -> bool {
        matches!(
            self,
            EventKind::Software(tables::SW_CPU_CLOCK) | EventKind::Software(tables::SW_TASK_CLOCK)
        )
    }
}

/// One event as the user asked for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The name shown in output: what the user typed (e.g. `cs`, `cpu-clock:u`).
    pub name: String,
    /// What to count.
    pub kind: EventKind,
    /// Modifiers, including those of an enclosing group.
    pub mods: Modifiers,
    /// Index (into the parsed list) of this event's group leader, if it is in a group.
    pub leader: Option<usize>,
    /// A sample period or frequency given inside PMU terms (`period=`, `freq=`).
    pub period: Option<u64>,
    /// `freq=` from PMU terms.
    pub freq: Option<u64>,
}

impl Event {
    /// perf's answer to a permission error under perf_event_paranoid >= 2: count user space
    /// only, named with a `u` added (`cycles:u`, `cycles:Pu`, `cpu/cycles/u`). False when
    /// that cannot help: the event already leaves out the kernel or user space, or it is a
    /// tracepoint, which only fires in the kernel and would silently count nothing.
    pub fn fall_back_to_user(&mut self) -> bool {
        if self.mods.exclude_kernel
            || self.mods.exclude_user
            || matches!(self.kind, EventKind::Tracepoint { .. })
        {
            return false;
        }
        if self.mods.is_plain() {
            self.mods.exclude_guest = true;
        }
        self.mods.exclude_kernel = true;
        self.mods.exclude_hv = true;
        let sep = if self.name.contains(':') || self.name.contains('/') {
            ""
        } else {
            ":"
        };
        self.name = format!("{}{sep}u", self.name);
        true
    }
}

/// An `-e` argument that perf's grammar does not accept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventError {
    /// The whole `-e` text.
    pub input: String,
    /// Byte offset of the problem inside `input`.
    pub at: usize,
    /// Short description (`parser error`, `unknown tracepoint`).
    pub what: String,
    /// Optional hint line.
    pub hint: Option<String>,
}

impl fmt::Display for EventError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Same shape as perf: the text, a pointer under the bad spot, then the hint.
        writeln!(f, "event syntax error: '{}'", self.input)?;
        let pad = "event syntax error: '".len() + self.at;
        write!(f, "{:pad$}\\___ {}", "", self.what)?;
        if let Some(h) = &self.hint {
            write!(f, "\n{h}")?;
        }
        write!(f, "\nRun 'rperf list' for a list of valid events")
    }
}

impl std::error::Error for EventError {}

/// Splits an `-e` list at top-level commas, keeping `{…}` groups and `pmu/a=1,b=2/` whole.
/// Returns (offset, text) pairs.
pub fn split_list(s: &str) -> Result<Vec<(usize, &str)>, EventError> {
    let mut out = Vec::new();
    let (mut depth, mut in_pmu, mut start) = (0i32, false, 0usize);
    for (i, c) in s.char_indices() {
        match c {
            '{' if !in_pmu => depth += 1,
            '}' if !in_pmu => {
                depth -= 1;
                if depth < 0 {
                    return Err(syntax(s, i, "parser error"));
                }
            }
            // `mem:addr/len` uses '/' too, but never holds commas.
            '/' if !s[start..].starts_with("mem:") => in_pmu = !in_pmu,
            ',' if depth == 0 && !in_pmu => {
                out.push((start, &s[start..i]));
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 || in_pmu {
        return Err(syntax(s, s.len(), "parser error"));
    }
    out.push((start, &s[start..]));
    Ok(out)
}

fn syntax(input: &str, at: usize, what: &str) -> EventError {
    EventError {
        input: input.to_string(),
        at,
        what: what.to_string(),
        hint: None,
    }
}

/// Parses one `-e` argument (a comma list, possibly with groups) into events appended to
/// `out`; names that live in the system are resolved through `src`.
pub fn parse_into(
    input: &str,
    src: &dyn EventSource,
    out: &mut Vec<Event>,
) -> Result<(), EventError> {
    for (off, item) in split_list(input)? {
        if item.is_empty() {
            return Err(syntax(input, off, "parser error"));
        }
        if let Some(body) = item.strip_prefix('{') {
            let close = body
                .rfind('}')
                .ok_or_else(|| syntax(input, off, "parser error"))?;
            let mods_text = &body[close + 1..];
            let gmods = match mods_text {
                "" => Modifiers::default(),
                m if m.starts_with(':') => Modifiers::parse(&m[1..])
                    .map_err(|i| syntax(input, off + 1 + close + 2 + i, "parser error"))?,
                _ => return Err(syntax(input, off + 1 + close + 1, "parser error")),
            };
            let first = out.len();
            for (ioff, inner) in split_list(&body[..close])
                .map_err(|e| syntax(input, off + 1 + e.at, "parser error"))?
            {
                if inner.is_empty() {
                    return Err(syntax(input, off + 1 + ioff, "parser error"));
                }
                let mut evs =
                    parse_term(inner, src).map_err(|e| relocate(e, input, off + 1 + ioff))?;
                for e in &mut evs {
                    e.mods = e.mods.merge(gmods);
                    e.leader = Some(first);
                }
                out.extend(evs);
            }
        } else {
            out.extend(parse_term(item, src).map_err(|e| relocate(e, input, off))?);
        }
    }
    Ok(())
}

fn relocate(mut e: EventError, input: &str, off: usize) -> EventError {
    e.at += off;
    e.input = input.to_string();
    e
}

/// Parses a single event term (no commas at top level); globbed tracepoints give several.
pub fn parse_term(term: &str, src: &dyn EventSource) -> Result<Vec<Event>, EventError> {
    let one = |kind: EventKind, mods: Modifiers| {
        Ok(vec![Event {
            name: term.to_string(),
            kind,
            mods,
            leader: None,
            period: None,
            freq: None,
        }])
    };
    if let Some(rest) = term.strip_prefix("mem:") {
        return parse_breakpoint(term, rest).and_then(|(k, m)| one(k, m));
    }
    // PMU syntax: pmu/terms/[modifiers]
    if let Some(slash) = term.find('/') {
        return parse_pmu(term, slash, src);
    }
    let (base, mods_at) = match term.find(':') {
        Some(i) => (&term[..i], Some(i)),
        None => (term, None),
    };
    let kind = if let Some(c) = tables::hardware(base) {
        Some(EventKind::Hardware(c))
    } else if let Some(c) = tables::software(base) {
        Some(EventKind::Software(c))
    } else if let Some(c) = tables::cache(base) {
        Some(EventKind::Cache(c))
    } else if let Some(c) = parse_raw(base) {
        Some(EventKind::Raw(c))
    } else {
        match base {
            "duration_time" => Some(EventKind::Tool(ToolEvent::DurationTime)),
            "user_time" => Some(EventKind::Tool(ToolEvent::UserTime)),
            "system_time" => Some(EventKind::Tool(ToolEvent::SystemTime)),
            _ => None,
        }
    };
    if let Some(kind) = kind {
        let mods = match mods_at {
            Some(i) => {
                Modifiers::parse(&term[i + 1..]).map_err(|j| syntax(term, i + j, "parser error"))?
            }
            None => Modifiers::default(),
        };
        return one(kind, mods);
    }
    match mods_at {
        Some(i) => parse_tracepoint(term, i, src),
        // Anything else is not an event name perf knows.
        None => Err(syntax(term, 0, "parser error")),
    }
}

fn parse_raw(s: &str) -> Option<u64> {
    let hex = s.strip_prefix('r')?;
    if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(hex, 16).ok()
}

fn parse_number(s: &str) -> Option<u64> {
    if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        u64::from_str_radix(h, 16).ok()
    } else {
        s.parse().ok()
    }
}

fn parse_breakpoint(term: &str, rest: &str) -> Result<(EventKind, Modifiers), EventError> {
    let base = "mem:".len();
    let (spec, access) = match rest.find(':') {
        Some(i) => (&rest[..i], Some((&rest[i + 1..], i))),
        None => (rest, None),
    };
    let (addr_s, len_s) = match spec.find('/') {
        Some(i) => (&spec[..i], Some(&spec[i + 1..])),
        None => (spec, None),
    };
    let addr = parse_number(addr_s).ok_or_else(|| syntax(term, base, "parser error"))?;
    let mut bp_type = 0u32;
    let mut mods = Modifiers::default();
    if let Some((acc, i)) = access {
        let letters: String = acc.chars().take_while(|c| "rwx".contains(*c)).collect();
        for c in letters.chars() {
            bp_type |= match c {
                'r' => 1,
                'w' => 2,
                _ => 4,
            };
        }
        let tail = &acc[letters.len()..];
        if !tail.is_empty() {
            let tail = tail.strip_prefix(':').unwrap_or(tail);
            mods = Modifiers::parse(tail)
                .map_err(|j| syntax(term, base + i + 1 + letters.len() + j, "parser error"))?;
        }
    }
    if bp_type == 0 {
        bp_type = 1 | 2;
    }
    let len = match len_s {
        Some(l) => parse_number(l).ok_or_else(|| syntax(term, base, "parser error"))?,
        None if bp_type == 4 => std::mem::size_of::<libc::c_long>() as u64,
        None => 4,
    };
    Ok((EventKind::Breakpoint { addr, len, bp_type }, mods))
}

fn parse_tracepoint(
    term: &str,
    colon: usize,
    src: &dyn EventSource,
) -> Result<Vec<Event>, EventError> {
    let system = &term[..colon];
    let rest = &term[colon + 1..];
    let (name, mods_text) = match rest.find(':') {
        Some(i) => (&rest[..i], Some((&rest[i + 1..], colon + 1 + i))),
        None => (rest, None),
    };
    let valid = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_-*?[]!.".contains(&b))
    };
    if !valid(system) || !valid(name) {
        return Err(syntax(term, 0, "parser error"));
    }
    let mods = match mods_text {
        Some((m, at)) => {
            Modifiers::parse(m).map_err(|j| syntax(term, at + 1 + j, "parser error"))?
        }
        None => Modifiers::default(),
    };
    let found = src.tracepoints(system, name).map_err(|msg| EventError {
        input: term.to_string(),
        at: 0,
        // perf's words: the tracepoints could not be listed, not that this one is unknown.
        what: "can't access trace events".into(),
        hint: Some(msg),
    })?;
    if found.is_empty() {
        return Err(EventError {
            input: term.to_string(),
            at: 0,
            what: "unknown tracepoint".into(),
            hint: Some(format!(
                "Error:\tFile {}/events/{}/{} not found.",
                src.tracefs_display(),
                system,
                name
            )),
        });
    }
    let suffix = mods_text.map(|(m, _)| format!(":{m}")).unwrap_or_default();
    Ok(found
        .into_iter()
        .map(|(system, name, id)| Event {
            name: format!("{system}:{name}{suffix}"),
            kind: EventKind::Tracepoint { system, name, id },
            mods,
            leader: None,
            period: None,
            freq: None,
        })
        .collect())
}

/// Places `value` into `config` at the bit ranges a sysfs format file gives
/// (`config:0-7,32-35`, `config1:0-63`, `config2:5`).
pub fn apply_format(format: &str, value: u64, config: &mut [u64; 3]) -> Option<()> {
    let (field, ranges) = format.trim().split_once(':')?;
    let idx = match field {
        "config" => 0,
        "config1" => 1,
        "config2" => 2,
        _ => return None,
    };
    let mut remaining = value;
    for r in ranges.split(',') {
        let (lo, hi) = match r.split_once('-') {
            Some((a, b)) => (a.parse::<u32>().ok()?, b.parse::<u32>().ok()?),
            None => {
                let b = r.parse::<u32>().ok()?;
                (b, b)
            }
        };
        if hi < lo || hi > 63 {
            return None;
        }
        let width = hi - lo + 1;
        let mask = if width == 64 {
            u64::MAX
        } else {
            (1u64 << width) - 1
        };
        config[idx] |= (remaining & mask) << lo;
        remaining = if width == 64 { 0 } else { remaining >> width };
    }
    Some(())
}

fn parse_pmu(term: &str, slash: usize, src: &dyn EventSource) -> Result<Vec<Event>, EventError> {
    let pmu = &term[..slash];
    let rest = &term[slash + 1..];
    let close = rest
        .find('/')
        .ok_or_else(|| syntax(term, term.len(), "parser error"))?;
    let terms = &rest[..close];
    let tail = &rest[close + 1..];
    let mods = if tail.is_empty() {
        Modifiers::default()
    } else {
        let t = tail.strip_prefix(':').unwrap_or(tail);
        let at = slash + 1 + close + 1 + (tail.len() - t.len());
        Modifiers::parse(t).map_err(|j| syntax(term, at + j, "parser error"))?
    };
    let type_ = src.pmu_type(pmu).ok_or_else(|| EventError {
        input: term.to_string(),
        at: 0,
        what: format!("Cannot find PMU `{pmu}'. Missing kernel support?"),
        hint: None,
    })?;
    let mut config = [0u64; 3];
    let (mut period, mut freq) = (None, None);
    let mut name_override = None;
    let term_base = slash + 1;
    let mut pending: Vec<(String, usize)> = terms
        .split(',')
        .scan(0usize, |off, t| {
            let here = *off;
            *off += t.len() + 1;
            Some((t.to_string(), term_base + here))
        })
        .filter(|(t, _)| !t.is_empty())
        .collect();
    // Event aliases expand into further terms (e.g. msr's `tsc` is `event=0x00`).
    let mut expanded = Vec::new();
    while let Some((t, at)) = pending.pop() {
        if !t.contains('=') {
            if let Some(alias) = src.pmu_alias(pmu, &t) {
                for a in alias.trim().split(',').filter(|a| !a.is_empty()) {
                    expanded.push((a.trim().to_string(), at));
                }
                continue;
            }
        }
        expanded.push((t, at));
    }
    for (t, at) in expanded {
        let (key, val) = match t.split_once('=') {
            Some((k, v)) => (k.to_string(), Some(v.to_string())),
            None => (t.clone(), None),
        };
        let num = match &val {
            Some(v) if key != "name" => {
                Some(parse_number(v).ok_or_else(|| syntax(term, at, "parser error"))?)
            }
            Some(_) => None,
            None => Some(1),
        };
        match key.as_str() {
            "config" => config[0] = num.unwrap_or(0),
            "config1" => config[1] = num.unwrap_or(0),
            "config2" => config[2] = num.unwrap_or(0),
            "period" => period = num,
            "freq" => freq = num,
            "name" => name_override = val,
            _ => {
                let fmt = src.pmu_format(pmu, &key).ok_or_else(|| EventError {
                    input: term.to_string(),
                    at,
                    what: format!("unknown term '{key}' for pmu '{pmu}'"),
                    hint: None,
                })?;
                apply_format(&fmt, num.unwrap_or(1), &mut config)
                    .ok_or_else(|| syntax(term, at, "bad format in sysfs"))?;
            }
        }
    }
    Ok(vec![Event {
        name: name_override.unwrap_or_else(|| term.to_string()),
        kind: EventKind::Pmu {
            pmu: pmu.to_string(),
            type_,
            config,
        },
        mods,
        leader: None,
        period,
        freq,
    }])
}

/// Parses every `-e` argument in order.
pub fn parse_all(args: &[String], src: &dyn EventSource) -> Result<Vec<Event>, EventError> {
    let mut out = Vec::new();
    for a in args {
        parse_into(a, src, &mut out)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use source::FakeSource;

    fn parse(s: &str) -> Result<Vec<Event>, EventError> {
        let mut v = Vec::new();
        parse_into(s, &FakeSource, &mut v).map(|_| v)
    }

    #[test]
    fn symbolic_events_and_aliases() {
        let v = parse("cycles,cs,faults,L1-dcache-load-misses,r1a2").unwrap();
        assert_eq!(v.len(), 5);
        assert_eq!(v[0].kind, EventKind::Hardware(0));
        assert_eq!(v[1].kind, EventKind::Software(3));
        assert_eq!(v[1].name, "cs");
        assert_eq!(v[2].kind, EventKind::Software(2));
        assert_eq!(v[3].kind, EventKind::Cache(1 << 16));
        assert_eq!(v[4].kind, EventKind::Raw(0x1a2));
    }

    #[test]
    fn modifiers_exclude_what_is_not_named() {
        let v = parse("cycles:u,instructions:k,cpu-clock:uk,cycles:ppp,cycles:G").unwrap();
        assert!(v[0].mods.exclude_kernel && v[0].mods.exclude_hv && !v[0].mods.exclude_user);
        assert!(v[1].mods.exclude_user && !v[1].mods.exclude_kernel);
        assert!(!v[2].mods.exclude_user && !v[2].mods.exclude_kernel && v[2].mods.exclude_hv);
        assert_eq!(v[3].mods.precise, 3);
        assert!(v[3].mods.exclude_guest);
        assert!(v[4].mods.exclude_host && !v[4].mods.exclude_guest);
        assert_eq!(v[0].name, "cycles:u");
    }

    #[test]
    fn perf_names_the_modifiers_it_sets() {
        // What perf 6.1 calls the cpu-clock it opens in place of each cycles spelling.
        for (spec, want) in [
            ("cycles", ""),
            ("cycles:u", ":uH"),
            ("cycles:k", ":k"),
            ("cycles:p", ":pH"),
            ("cycles:P", ":pppH"),
            ("cycles:uk", ":kuH"),
            ("cycles:G", ":G"),
            ("cycles:uH", ":uH"),
        ] {
            assert_eq!(parse(spec).unwrap()[0].mods.perf_suffix(), want, "{spec}");
        }
        // perf's default event without kernel access: exclude_kernel alone, at most precise.
        let mut m = parse("cycles:P").unwrap()[0].mods;
        m.exclude_kernel = true;
        assert_eq!(m.perf_suffix(), ":uhpppH");
    }

    #[test]
    fn user_space_fallback_follows_perf() {
        let mut v = parse("cycles,cs:P,cpu/event=0x3c/,instructions:k,task-clock:u").unwrap();
        assert!(v[0].fall_back_to_user());
        assert_eq!(v[0].name, "cycles:u");
        assert!(v[0].mods.exclude_kernel && v[0].mods.exclude_hv && !v[0].mods.exclude_user);
        assert_eq!(v[0].mods.perf_suffix(), ":uH");
        assert!(v[1].fall_back_to_user());
        assert_eq!(v[1].name, "cs:Pu");
        assert!(v[2].fall_back_to_user());
        assert_eq!(v[2].name, "cpu/event=0x3c/u");
        // Kernel-only and already user-only events have nothing to fall back to.
        assert!(!v[3].fall_back_to_user());
        assert_eq!(v[3].name, "instructions:k");
        assert!(!v[4].fall_back_to_user());
    }

    #[test]
    fn bad_modifier_points_at_it() {
        let e = parse("cycles:z").unwrap_err();
        assert_eq!(e.at, 6);
        assert_eq!(e.what, "parser error");
        let text = e.to_string();
        assert!(text.starts_with("event syntax error: 'cycles:z'\n"));
        assert!(text.contains(&format!("{}\\___ parser error", " ".repeat(27))));
        assert!(parse("cycles:pppp").is_err());
    }

    #[test]
    fn unknown_words_are_errors() {
        assert_eq!(parse("bogus").unwrap_err().at, 0);
        assert_eq!(parse("cycles,,cs").unwrap_err().at, 7);
        assert!(parse("rxyz").is_err());
        assert!(parse("{cycles").is_err());
    }

    #[test]
    fn groups_set_leader_and_merge_modifiers() {
        let v = parse("cs,{task-clock,page-faults}:u,cycles").unwrap();
        assert_eq!(v.len(), 4);
        assert_eq!(v[0].leader, None);
        assert_eq!(v[1].leader, Some(1));
        assert_eq!(v[2].leader, Some(1));
        assert!(v[2].mods.exclude_kernel);
        assert_eq!(v[3].leader, None);
    }

    #[test]
    fn tracepoints_expand_globs() {
        let v = parse("sched:sched_switch,sched:sched_wak*").unwrap();
        let names: Vec<_> = v.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "sched:sched_switch",
                "sched:sched_wakeup",
                "sched:sched_waking"
            ]
        );
        assert!(matches!(v[0].kind, EventKind::Tracepoint { id: 316, .. }));
        let e = parse("sched:nosuch").unwrap_err();
        assert_eq!(e.what, "unknown tracepoint");
    }

    #[test]
    fn pmu_terms_and_aliases_use_sysfs_formats() {
        let v = parse("msr/tsc/,cpu/event=0x3c,umask=0x1,inv,cmask=2/u").unwrap();
        assert_eq!(
            v[0].kind,
            EventKind::Pmu {
                pmu: "msr".into(),
                type_: 9,
                config: [0, 0, 0]
            }
        );
        match &v[1].kind {
            EventKind::Pmu {
                type_: 4, config, ..
            } => {
                assert_eq!(config[0], 0x3c | (0x1 << 8) | (1 << 23) | (2 << 24));
            }
            k => panic!("{k:?}"),
        }
        assert!(v[1].mods.exclude_kernel);
        assert!(parse("nopmu/event=1/").is_err());
        assert!(parse("cpu/bogusterm=1/").is_err());
    }

    #[test]
    fn split_formats_place_bits_in_each_range() {
        let mut c = [0; 3];
        apply_format("config:0-7,32-35", 0xabc, &mut c).unwrap();
        assert_eq!(c[0], 0xbc | (0xa << 32));
        apply_format("config1:0-63", u64::MAX, &mut c).unwrap();
        assert_eq!(c[1], u64::MAX);
        assert!(apply_format("bogus:0-3", 1, &mut c).is_none());
    }

    #[test]
    fn breakpoints() {
        let v = parse("mem:0x1000/8:w,mem:0x2000:x,mem:0x3000").unwrap();
        assert_eq!(
            v[0].kind,
            EventKind::Breakpoint {
                addr: 0x1000,
                len: 8,
                bp_type: 2
            }
        );
        assert_eq!(
            v[1].kind,
            EventKind::Breakpoint {
                addr: 0x2000,
                len: 8,
                bp_type: 4
            }
        );
        assert_eq!(
            v[2].kind,
            EventKind::Breakpoint {
                addr: 0x3000,
                len: 4,
                bp_type: 3
            }
        );
    }
}
