//! Dynamic probes as perf probe makes them: the probe-definition grammar, perf's event
//! names, the uprobe/kprobe tracefs definition lines, and reading back what tracefs holds.
pub mod debuginfo;
pub mod vars;

use std::fmt::Write as _;

/// Where a probe goes, as `perf probe` spells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Point {
    /// `FUNC[@SRC][+OFF|%return|:RELLINE]`.
    Func {
        /// Function name.
        name: String,
        /// `@SRC`: the source file the function is defined in.
        src: Option<String>,
        /// `+OFF`: bytes from the function's entry.
        offset: u64,
        /// `:RELLINE`: lines from the function's declaration line.
        rel_line: Option<u32>,
        /// `%return`.
        ret: bool,
    },
    /// `SRC:LINE`.
    Line {
        /// Source file (matched as a path suffix).
        src: String,
        /// Absolute line number.
        line: u32,
    },
    /// `FUNC[@SRC];PATTERN` or `SRC;PATTERN`: the lines whose code matches a glob, spaces
    /// ignored (perf's lazy lines).
    Lazy {
        /// Function, when the lines are searched in one.
        func: Option<String>,
        /// Source file (`@SRC`, or the file searched).
        src: Option<String>,
        /// The glob.
        pattern: String,
    },
    /// `sdt_PROVIDER:NAME` or `%[sdt_]PROVIDER:NAME`: a USDT marker.
    Sdt {
        /// Provider.
        provider: String,
        /// Marker name.
        name: String,
    },
}

/// One `perf probe` definition: `[[GROUP:]EVENT=]POINT [ARG ...]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    /// The definition as typed (for messages).
    pub text: String,
    /// `GROUP:` given with `EVENT=`.
    pub group: Option<String>,
    /// `EVENT=`.
    pub event: Option<String>,
    /// Where.
    pub point: Point,
    /// Arguments, as typed.
    pub args: Vec<String>,
}

/// A definition perf would refuse, with perf's reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError(pub String);

impl std::fmt::Display for SpecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SpecError {}

/// Whether `s` is a name the kernel takes for a group or event: `[A-Za-z_][A-Za-z0-9_]*`.
pub fn is_event_name(s: &str) -> bool {
    let mut c = s.chars();
    c.next()
        .is_some_and(|f| f.is_ascii_alphabetic() || f == '_')
        && c.all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
}

impl Spec {
    /// Parses one definition (perf joins several command-line words into one).
    pub fn parse(text: &str) -> Result<Spec, SpecError> {
        let mut words = text.split_whitespace();
        let first = words
            .next()
            .ok_or_else(|| SpecError("Empty probe definition".into()))?;
        let args: Vec<String> = words.map(String::from).collect();
        // `[GROUP:]EVENT=` comes before the point; a point never holds '=' itself.
        let (group, event, point) = match first.split_once('=') {
            Some((name, point)) => {
                let (g, e) = match name.split_once(':') {
                    Some((g, e)) => (Some(g.to_string()), e.to_string()),
                    None => (None, name.to_string()),
                };
                for n in g.iter().chain([&e]) {
                    if !is_event_name(n) {
                        return Err(SpecError(format!(
                            "{n} is bad for event name -it must follow C symbol-naming rule."
                        )));
                    }
                }
                (g, Some(e), point)
            }
            None => (None, None, first),
        };
        Ok(Spec {
            text: text.to_string(),
            group,
            event,
            point: parse_point(point)?,
            args,
        })
    }

    /// The point as perf's messages show it (`work%return`, `fx.c:6`).
    pub fn point_text(&self) -> String {
        match &self.point {
            Point::Line { src, line } => return format!("@{src}:{line}"),
            // perf names a lazy point by where it searched.
            Point::Lazy { func: Some(f), .. } => return f.clone(),
            Point::Lazy {
                func: None,
                src: Some(s),
                ..
            } => return format!("@{s}"),
            _ => {}
        }
        let first = self.text.split_whitespace().next().unwrap_or("");
        first.split_once('=').map_or(first, |(_, p)| p).to_string()
    }

    /// Whether the probe fires on return.
    pub fn is_return(&self) -> bool {
        matches!(self.point, Point::Func { ret: true, .. })
    }
}

fn parse_number(s: &str, what: &str) -> Result<u64, SpecError> {
    let v = if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        u64::from_str_radix(h, 16)
    } else {
        s.parse()
    };
    v.map_err(|_| SpecError(format!("Failed to parse {what}: {s}")))
}

fn parse_point(p: &str) -> Result<Point, SpecError> {
    if p.is_empty() {
        return Err(SpecError("Empty probe point".into()));
    }
    if let Some(rest) = p.strip_prefix('%') {
        let rest = rest.strip_prefix("sdt_").unwrap_or(rest);
        return sdt(rest);
    }
    if let Some(rest) = p.strip_prefix("sdt_") {
        if rest.contains(':') {
            return sdt(rest);
        }
    }
    if let Some((head, pattern)) = p.split_once(';') {
        let is_file = !head.contains('@') && (head.contains('.') || head.contains('/'));
        let (func, src) = if is_file {
            (None, Some(head.to_string()))
        } else {
            match head.split_once('@') {
                Some((f, s)) => (Some(f.to_string()), Some(s.to_string())),
                None => (Some(head.to_string()), None),
            }
        };
        if head.is_empty() || pattern.is_empty() {
            return Err(SpecError(format!("Failed to parse probe point: {p}")));
        }
        return Ok(Point::Lazy {
            func,
            src,
            pattern: pattern.to_string(),
        });
    }
    // SRC:LINE: the part before ':' names a file (it has a '.' or a '/').
    if let Some((src, line)) = p.split_once(':') {
        if (src.contains('.') || src.contains('/')) && !src.contains('@') {
            let line = parse_number(line, "line number")?;
            return Ok(Point::Line {
                src: src.to_string(),
                line: u32::try_from(line).map_err(|_| SpecError("Line number too big".into()))?,
            });
        }
    }
    // FUNC then at most one of +OFF, %return, :RELLINE, around an optional @SRC.
    let end = p.find(['@', '+', '%', ':']).unwrap_or(p.len());
    let name = p[..end].to_string();
    let mut rest = &p[end..];
    let (mut src, mut offset, mut rel_line, mut ret) = (None, 0, None, false);
    while !rest.is_empty() {
        let tag = rest.as_bytes()[0];
        let body_end = rest[1..]
            .find(['@', '+', '%', ':'])
            .map_or(rest.len(), |i| i + 1);
        let body = &rest[1..body_end];
        match tag {
            b'@' => src = Some(body.to_string()),
            b'+' => offset = parse_number(body, "offset")?,
            b'%' if body == "return" => ret = true,
            b':' => {
                let l = parse_number(body, "line number")?;
                rel_line =
                    Some(u32::try_from(l).map_err(|_| SpecError("Line number too big".into()))?)
            }
            _ => return Err(SpecError(format!("Failed to parse probe point: {p}"))),
        }
        rest = &rest[body_end..];
    }
    if name.is_empty() {
        return Err(SpecError(format!("Failed to parse probe point: {p}")));
    }
    if ret && (offset != 0 || rel_line.is_some()) {
        return Err(SpecError(
            "Return probe must be on the head of a real function.".into(),
        ));
    }
    if offset != 0 && rel_line.is_some() {
        return Err(SpecError("Offset can't be used with line number.".into()));
    }
    Ok(Point::Func {
        name,
        src,
        offset,
        rel_line,
        ret,
    })
}

fn sdt(rest: &str) -> Result<Point, SpecError> {
    match rest.split_once(':') {
        Some((prov, name)) if !prov.is_empty() && !name.is_empty() => Ok(Point::Sdt {
            provider: prov.to_string(),
            name: name.to_string(),
        }),
        _ => Err(SpecError(format!(
            "SDT markers are named PROVIDER:NAME, not {rest}"
        ))),
    }
}

/// perf's lazy match of a source line: a glob over the whole line, spaces ignored in both.
pub fn lazy_match(pattern: &str, line: &str) -> bool {
    let strip = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>();
    glob::Pattern::new(&strip(pattern)).is_ok_and(|p| p.matches(&strip(line)))
}

/// perf's group for probes in `binary`: `probe_` and the file name up to its first `-`, `.`
/// or `_` (`libc.so.6` → `probe_libc`).
pub fn default_group(binary: &std::path::Path) -> String {
    let base = binary
        .file_name()
        .map(|b| b.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = base.split(['-', '.', '_']).next().unwrap_or("");
    let stem: String = stem
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("probe_{stem}")
}

/// perf's event name for a point with no `EVENT=`: the function (`_L<n>` for a relative
/// line, `__return` for a return), with characters the kernel refuses replaced.
pub fn default_event(func: &str, point: &Point) -> String {
    // perf cuts the name at its first '.' or '@' (`NF_HOOK.constprop.0` → `NF_HOOK`).
    let cut = match func.find(['.', '@']) {
        Some(i) if i > 0 => &func[..i],
        _ => func,
    };
    let mut base: String = cut
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if base.starts_with(|c: char| c.is_ascii_digit()) {
        base.insert(0, '_');
    }
    match point {
        Point::Func { ret: true, .. } => base + "__return",
        Point::Func {
            rel_line: Some(l), ..
        } if *l > 0 => format!("{base}_L{l}"),
        _ => base,
    }
}

/// The first of `base`, `base_1`, `base_2`… that `taken` does not hold.
pub fn unique_event(base: &str, taken: impl Fn(&str) -> bool) -> String {
    if !taken(base) {
        return base.to_string();
    }
    (1..)
        .map(|i| format!("{base}_{i}"))
        .find(|n| !taken(n))
        .expect("an unused suffix exists")
}

/// One probe in tracefs's `uprobe_events`/`kprobe_events` syntax.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Definition {
    /// `r` (return) or `p`.
    pub ret: bool,
    /// Group.
    pub group: String,
    /// Event.
    pub event: String,
    /// `PATH:0xOFFSET` for a uprobe, `SYM+OFF` for a kprobe.
    pub target: String,
    /// Fetch arguments, `NAME=FETCH[:TYPE]`.
    pub args: Vec<String>,
}

impl Definition {
    /// A uprobe on `path` at file offset `offset`.
    pub fn uprobe(
        ret: bool,
        group: &str,
        event: &str,
        path: &str,
        offset: u64,
        args: Vec<String>,
    ) -> Definition {
        Definition {
            ret,
            group: group.into(),
            event: event.into(),
            target: format!("{path}:0x{offset:x}"),
            args,
        }
    }

    /// A kprobe on kernel symbol `sym` (in `module` when given) `offset` bytes in, as perf
    /// writes one: `p:probe/do_sys_open do_sys_open+0`.
    pub fn kprobe(
        ret: bool,
        group: &str,
        event: &str,
        module: Option<&str>,
        sym: &str,
        offset: u64,
        args: Vec<String>,
    ) -> Definition {
        let m = module.map(|m| format!("{m}:")).unwrap_or_default();
        Definition {
            ret,
            group: group.into(),
            event: event.into(),
            target: format!("{m}{sym}+{offset}"),
            args,
        }
    }

    /// The line written to tracefs (and printed by `-D`).
    pub fn line(&self) -> String {
        let mut s = format!(
            "{}:{}/{} {}",
            if self.ret { 'r' } else { 'p' },
            self.group,
            self.event,
            self.target
        );
        for a in &self.args {
            let _ = write!(s, " {a}");
        }
        s
    }

    /// Parses a line tracefs lists (`p:grp/ev /bin:0x0000000000001149 a=%di:s32`).
    pub fn parse(line: &str) -> Option<Definition> {
        let mut f = line.split_whitespace();
        let head = f.next()?;
        let (kind, name) = head.split_once(':')?;
        let ret = match kind {
            "p" => false,
            "r" => true,
            _ => return None,
        };
        let (group, event) = name.split_once('/')?;
        Some(Definition {
            ret,
            group: group.into(),
            event: event.into(),
            target: f.next()?.to_string(),
            args: f.map(String::from).collect(),
        })
    }

    /// A uprobe's binary and file offset.
    pub fn uprobe_target(&self) -> Option<(&str, u64)> {
        let (path, off) = self.target.rsplit_once(':')?;
        let off = off.strip_prefix("0x")?;
        // A reference-counter (semaphore) offset follows in parentheses.
        let off = off.split('(').next()?;
        Some((path, u64::from_str_radix(off, 16).ok()?))
    }

    /// `group:event`.
    pub fn full_name(&self) -> String {
        format!("{}:{}", self.group, self.event)
    }

    /// The names of its fetch arguments (`a=%di:s32` → `a`).
    pub fn arg_names(&self) -> Vec<&str> {
        self.args
            .iter()
            .map(|a| a.split_once('=').map_or(a.as_str(), |(n, _)| n))
            .collect()
    }
}

/// Whether `name` (`group:event`) matches a `-l`/`-d` filter: `[GROUP:]EVENT` globs, a
/// filter without a group matching any group.
pub fn matches_filter(filter: &str, group: &str, event: &str) -> bool {
    let m = |pat: &str, s: &str| glob::Pattern::new(pat).is_ok_and(|p| p.matches(s));
    match filter.split_once(':') {
        Some((g, e)) => m(g, group) && m(e, event),
        None => m(filter, event),
    }
}

/// perf's `--filter`/`-F` pattern: globs joined by `&` and `|`, each negated by `!`.
pub fn func_filter(filter: &str, name: &str) -> bool {
    filter.split('|').any(|alt| {
        alt.split('&').all(|term| {
            let term = term.trim();
            let (neg, pat) = match term.strip_prefix('!') {
                Some(p) => (true, p.trim()),
                None => (false, term),
            };
            let hit = glob::Pattern::new(pat).is_ok_and(|p| p.matches(name));
            hit != neg
        })
    })
}

/// perf's default `-F` filter: no names starting with `_`, no PLT stubs.
pub const DEFAULT_FUNC_FILTER: &str = "!_* & !*@plt";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_perf_probe_points() {
        let s = Spec::parse("work%return $retval").unwrap();
        assert!(s.is_return());
        assert_eq!(s.args, vec!["$retval"]);
        let s = Spec::parse("grp:ev=work+4").unwrap();
        assert_eq!(
            (s.group.as_deref(), s.event.as_deref()),
            (Some("grp"), Some("ev"))
        );
        assert!(matches!(s.point, Point::Func { offset: 4, .. }));
        assert_eq!(s.point_text(), "work+4");
        let s = Spec::parse("work@fx.c:2").unwrap();
        assert_eq!(
            s.point,
            Point::Func {
                name: "work".into(),
                src: Some("fx.c".into()),
                offset: 0,
                rel_line: Some(2),
                ret: false
            }
        );
        assert_eq!(
            Spec::parse("src/fx.c:6").unwrap().point,
            Point::Line {
                src: "src/fx.c".into(),
                line: 6
            }
        );
        assert_eq!(
            Spec::parse("%sdt_libc:setjmp").unwrap().point,
            Point::Sdt {
                provider: "libc".into(),
                name: "setjmp".into()
            }
        );
        assert_eq!(
            Spec::parse("work;if*").unwrap().point,
            Point::Lazy {
                func: Some("work".into()),
                src: None,
                pattern: "if*".into()
            }
        );
        assert!(lazy_match("if*", "    if (s[0] == 'z') r++;"));
        assert!(lazy_match("*sum = 0*", "    long sum=0;"));
        assert!(!lazy_match("return*", "    r = 0;"));
        assert!(Spec::parse("work+4%return").is_err());
        assert!(Spec::parse("work+x").is_err());
        assert!(Spec::parse("1bad=work").is_err());
        assert!(Spec::parse("").is_err());
    }

    #[test]
    fn names_events_as_perf() {
        use std::path::Path;
        assert_eq!(default_group(Path::new("/usr/lib/libc.so.6")), "probe_libc");
        assert_eq!(default_group(Path::new("./my-bin.v2")), "probe_my");
        assert_eq!(default_group(Path::new("/tmp/fxbin")), "probe_fxbin");
        let p = Spec::parse("work%return").unwrap().point;
        assert_eq!(default_event("work", &p), "work__return");
        let p = Spec::parse("work:2").unwrap().point;
        assert_eq!(default_event("work", &p), "work_L2");
        let p = Spec::parse("foo.part.0").unwrap().point;
        // perf cuts the name at its first dot (checked against `perf probe -x BIN -D foo.part.0`).
        assert_eq!(default_event("foo.part.0", &p), "foo");
        let taken = ["work", "work_1"];
        assert_eq!(unique_event("work", |n| taken.contains(&n)), "work_2");
        assert_eq!(unique_event("main", |n| taken.contains(&n)), "main");
    }

    #[test]
    fn definitions_round_trip_through_tracefs_syntax() {
        let d = Definition::uprobe(true, "probe_fx", "work__return", "/tmp/fx", 0x1149, vec![]);
        assert_eq!(d.line(), "r:probe_fx/work__return /tmp/fx:0x1149");
        let back = Definition::parse("p:g/e /tmp/fx:0x0000000000001149 a=%di:s32 s=+0(%si):string")
            .unwrap();
        assert_eq!(back.uprobe_target(), Some(("/tmp/fx", 0x1149)));
        assert_eq!(back.arg_names(), vec!["a", "s"]);
        assert_eq!(back.full_name(), "g:e");
        assert!(Definition::parse("x:bad").is_none());
    }

    /// The kprobe lines perf writes (tools/perf/Documentation/perf-probe.txt and the kernel's
    /// kprobetrace.rst: `p[:[GRP/]EVENT] [MOD:]SYM[+offs] [FETCHARGS]`).
    #[test]
    fn kprobe_definitions_follow_perfs_format() {
        let d = Definition::kprobe(
            false,
            "probe",
            "do_sys_open",
            None,
            "do_sys_open",
            0,
            vec![],
        );
        assert_eq!(d.line(), "p:probe/do_sys_open do_sys_open+0");
        let d = Definition::kprobe(
            true,
            "probe",
            "vfs_read__return",
            None,
            "vfs_read",
            0,
            vec!["arg1=$retval".into()],
        );
        assert_eq!(d.line(), "r:probe/vfs_read__return vfs_read+0 arg1=$retval");
        let d = Definition::kprobe(
            false,
            "probe",
            "tcp_sendmsg",
            None,
            "tcp_sendmsg",
            0,
            vec!["size=%dx:u64".into()],
        );
        assert_eq!(d.line(), "p:probe/tcp_sendmsg tcp_sendmsg+0 size=%dx:u64");
        let d = Definition::kprobe(
            false,
            "probe",
            "ext4_sync_fs",
            Some("ext4"),
            "ext4_sync_fs",
            16,
            vec![],
        );
        assert_eq!(d.line(), "p:probe/ext4_sync_fs ext4:ext4_sync_fs+16");
    }

    #[test]
    fn filters_as_perf() {
        assert!(matches_filter("work*", "probe_fx", "work_1"));
        assert!(matches_filter("probe_*:w*", "probe_fx", "work"));
        assert!(!matches_filter("other:*", "probe_fx", "work"));
        assert!(func_filter(DEFAULT_FUNC_FILTER, "main"));
        assert!(!func_filter(DEFAULT_FUNC_FILTER, "_start"));
        assert!(!func_filter(DEFAULT_FUNC_FILTER, "puts@plt"));
        assert!(func_filter("w* | m*", "main"));
        assert!(!func_filter("!m*", "main"));
    }
}
