//! Tracepoint payloads decoded with the event formats in perf.data's TRACING_DATA, printed
//! through each event's `print fmt` as `perf script` does for the common forms (fields,
//! `__get_str`, casts, printf conversions). Formats using helpers this interpreter does not
//! know (`__print_flags`, conditionals…) fall back to `field=value` pairs.
use std::collections::HashMap;

/// One field of an event's payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// Field name.
    pub name: String,
    /// Byte offset in the payload.
    pub offset: usize,
    /// Size in bytes.
    pub size: usize,
    /// Signed integer.
    pub signed: bool,
    /// A fixed array of bytes (`char comm[16]`), printed as a string.
    pub chars: bool,
    /// `__data_loc`: a u32 holding (length << 16 | offset) of the data.
    pub dynamic: bool,
}

/// An event's format: its fields and print format.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Format {
    /// Event name.
    pub name: String,
    /// Fields, the `common_*` ones included.
    pub fields: Vec<Field>,
    /// The printf-style format string.
    pub fmt: String,
    /// Its argument expressions.
    pub args: Vec<String>,
}

/// Splits at top-level commas (outside parentheses and quotes).
fn split_args(s: &str) -> Vec<String> {
    let (mut out, mut cur, mut depth, mut quote) = (Vec::new(), String::new(), 0i32, false);
    let mut prev = ' ';
    for c in s.chars() {
        match c {
            '"' if prev != '\\' => quote = !quote,
            '(' if !quote => depth += 1,
            ')' if !quote => depth -= 1,
            ',' if !quote && depth == 0 => {
                out.push(cur.trim().to_string());
                cur.clear();
                prev = c;
                continue;
            }
            _ => {}
        }
        cur.push(c);
        prev = c;
    }
    if !cur.trim().is_empty() {
        out.push(cur.trim().to_string());
    }
    out
}

/// Parses one event's `format` file.
pub fn parse_format(text: &str) -> Option<(u64, Format)> {
    let mut id = None;
    let mut f = Format::default();
    for line in text.lines() {
        let l = line.trim();
        if let Some(n) = l.strip_prefix("name:") {
            f.name = n.trim().to_string();
        } else if let Some(n) = l.strip_prefix("ID:") {
            id = n.trim().parse().ok();
        } else if let Some(rest) = l.strip_prefix("field:") {
            let mut parts = rest.split(';').map(str::trim);
            let decl = parts.next()?;
            let mut offset = 0;
            let mut size = 0;
            let mut signed = false;
            for p in parts {
                if let Some(v) = p.strip_prefix("offset:") {
                    offset = v.parse().ok()?;
                } else if let Some(v) = p.strip_prefix("size:") {
                    size = v.parse().ok()?;
                } else if let Some(v) = p.strip_prefix("signed:") {
                    signed = v == "1";
                }
            }
            let dynamic = decl.starts_with("__data_loc");
            let last = decl.rsplit(' ').next()?;
            let chars = last.contains('[') && decl.contains("char");
            let name = last.split('[').next()?.to_string();
            f.fields.push(Field {
                name,
                offset,
                size,
                signed,
                chars,
                dynamic,
            });
        } else if let Some(p) = l.strip_prefix("print fmt:") {
            let p = p.trim();
            let body = p.strip_prefix('"')?;
            // The format string ends at the first unescaped quote.
            let mut end = None;
            let mut esc = false;
            for (i, c) in body.char_indices() {
                match c {
                    '\\' if !esc => esc = true,
                    '"' if !esc => {
                        end = Some(i);
                        break;
                    }
                    _ => esc = false,
                }
            }
            let end = end?;
            f.fmt = body[..end]
                .replace("\\n", "\n")
                .replace("\\\"", "\"")
                .replace("\\t", "\t");
            let rest = body[end + 1..].trim_start();
            f.args = split_args(rest.strip_prefix(',').unwrap_or(rest));
        }
    }
    Some((id?, f))
}

/// The event formats in a TRACING_DATA section, by tracepoint id.
pub fn parse_tracing_data(d: &[u8]) -> HashMap<u64, Format> {
    let mut out = HashMap::new();
    let _ = (|| -> Option<()> {
        let mut p = d.iter().position(|&b| b == 0)? + 1; // magic + "tracing" + version
        p += 2 + 4; // endianness, long size, page size
        let u32_at = |p: usize| -> Option<u32> {
            Some(u32::from_le_bytes(d.get(p..p + 4)?.try_into().ok()?))
        };
        let u64_at = |p: usize| -> Option<u64> {
            Some(u64::from_le_bytes(d.get(p..p + 8)?.try_into().ok()?))
        };
        for _ in 0..2 {
            // header_page / header_event: a name, a u64 size, the text
            p += d.get(p..)?.iter().position(|&b| b == 0)? + 1;
            p += 8 + usize::try_from(u64_at(p)?).ok()?;
        }
        let nftrace = u32_at(p)?;
        p += 4;
        for _ in 0..nftrace {
            p += 8 + usize::try_from(u64_at(p)?).ok()?;
        }
        let nsys = u32_at(p)?;
        p += 4;
        for _ in 0..nsys {
            p += d.get(p..)?.iter().position(|&b| b == 0)? + 1;
            let n = u32_at(p)?;
            p += 4;
            for _ in 0..n {
                let size = usize::try_from(u64_at(p)?).ok()?;
                let text = d.get(p + 8..p + 8 + size)?;
                if let Some((id, f)) = parse_format(&String::from_utf8_lossy(text)) {
                    out.insert(id, f);
                }
                p += 8 + size;
            }
        }
        Some(())
    })();
    out
}

#[derive(Debug, Clone)]
enum Val {
    Int(i128),
    Str(String),
}

fn field_value(f: &Field, raw: &[u8]) -> Option<Val> {
    if f.dynamic {
        let loc = u32::from_le_bytes(raw.get(f.offset..f.offset + 4)?.try_into().ok()?);
        let (off, len) = ((loc & 0xffff) as usize, (loc >> 16) as usize);
        let bytes = raw.get(off..off + len)?;
        let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
        return Some(Val::Str(
            String::from_utf8_lossy(&bytes[..end]).into_owned(),
        ));
    }
    let bytes = raw.get(f.offset..f.offset + f.size)?;
    if f.chars {
        let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
        return Some(Val::Str(
            String::from_utf8_lossy(&bytes[..end]).into_owned(),
        ));
    }
    let mut v: u64 = 0;
    for (i, b) in bytes.iter().take(8).enumerate() {
        v |= u64::from(*b) << (8 * i);
    }
    let bits = (f.size.min(8) * 8) as u32;
    let val = if f.signed && bits < 64 && bits > 0 {
        let shift = 64 - bits;
        i128::from(((v << shift) as i64) >> shift)
    } else if f.signed {
        i128::from(v as i64)
    } else {
        i128::from(v)
    };
    Some(Val::Int(val))
}

/// The top-level `cond ? a : b` parts of an expression, if it is one.
fn ternary(a: &str) -> Option<(&str, &str, &str)> {
    let (mut depth, mut quote) = (0i32, false);
    let mut q = None;
    for (i, c) in a.char_indices() {
        match c {
            '"' => quote = !quote,
            '(' if !quote => depth += 1,
            ')' if !quote => depth -= 1,
            '?' if !quote && depth == 0 && q.is_none() => q = Some(i),
            ':' if !quote && depth == 0 => {
                if let Some(qi) = q {
                    return Some((&a[..qi], &a[qi + 1..i], &a[i + 1..]));
                }
            }
            _ => {}
        }
    }
    None
}

/// Evaluates an argument: a field, `__get_str(field)`, a string literal, `c ? a : b`, or any
/// of these under casts and parentheses.
fn eval(arg: &str, fmt: &Format, raw: &[u8]) -> Option<Val> {
    let mut a = arg.trim();
    loop {
        if let Some((c, t, f)) = ternary(a) {
            let pick = match eval(c, fmt, raw)? {
                Val::Int(i) => i != 0,
                Val::Str(s) => !s.is_empty(),
            };
            return eval(if pick { t } else { f }, fmt, raw);
        }
        if let Some(lit) = a.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
            return Some(Val::Str(lit.to_string()));
        }
        if let Some(name) = a.strip_prefix("REC->") {
            let f = fmt.fields.iter().find(|f| f.name == name.trim())?;
            return field_value(f, raw);
        }
        if let Some(inner) = a
            .strip_prefix("__get_str(")
            .and_then(|r| r.strip_suffix(')'))
        {
            let f = fmt.fields.iter().find(|f| f.name == inner.trim())?;
            return field_value(f, raw);
        }
        if !a.starts_with('(') {
            return None;
        }
        // Find the parenthesis matching the first one.
        let mut depth = 0;
        let mut close = None;
        for (i, c) in a.char_indices() {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        close = Some(i);
                        break;
                    }
                }
                _ => {}
            }
        }
        let close = close?;
        let inside = &a[1..close];
        let after = a[close + 1..].trim();
        if after.is_empty() {
            a = inside.trim(); // (expr)
        } else if inside
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == ' ' || c == '*')
        {
            a = after; // (type) expr
        } else {
            return None;
        }
    }
}

/// printf of one value with a conversion spec such as `08lx`, `-16s`, `03d`.
fn printf_one(spec: &str, conv: char, v: &Val) -> Option<String> {
    let flags: String = spec.chars().take_while(|c| "-0# +".contains(*c)).collect();
    let rest = &spec[flags.len()..];
    let width: usize = rest
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect::<String>()
        .parse()
        .unwrap_or(0);
    let left = flags.contains('-');
    let zero = flags.contains('0') && !left;
    let alt = flags.contains('#');
    let body = match (conv, v) {
        ('s', Val::Str(s)) => s.clone(),
        ('s', Val::Int(i)) => i.to_string(),
        ('d' | 'i', Val::Int(i)) => i.to_string(),
        ('u', Val::Int(i)) => (*i as u64).to_string(),
        ('x', Val::Int(i)) => format!("{}{:x}", if alt { "0x" } else { "" }, *i as u64),
        ('X', Val::Int(i)) => format!("{}{:X}", if alt { "0X" } else { "" }, *i as u64),
        ('o', Val::Int(i)) => format!("{:o}", *i as u64),
        ('c', Val::Int(i)) => char::from(*i as u8).to_string(),
        ('p', Val::Int(i)) => format!("0x{:x}", *i as u64),
        _ => return None,
    };
    Some(if body.len() >= width {
        body
    } else if left {
        format!("{body:<width$}")
    } else if zero && conv != 's' {
        let (sign, digits) = body
            .strip_prefix('-')
            .map_or(("", body.as_str()), |d| ("-", d));
        format!("{sign}{}{digits}", "0".repeat(width - body.len()))
    } else {
        format!("{body:>width$}")
    })
}

/// The payload as `perf script` prints it, or `None` when the print format is beyond this
/// interpreter.
pub fn pretty(fmt: &Format, raw: &[u8]) -> Option<String> {
    let mut out = String::new();
    let mut args = fmt.args.iter();
    let mut chars = fmt.fmt.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'%') {
            chars.next();
            out.push('%');
            continue;
        }
        let mut spec = String::new();
        let conv = loop {
            let n = chars.next()?;
            if n.is_ascii_alphabetic() && !matches!(n, 'l' | 'h' | 'z' | 'j' | 't' | 'q') {
                break n;
            }
            if !matches!(n, 'l' | 'h' | 'z' | 'j' | 't' | 'q') {
                spec.push(n);
            }
        };
        let v = eval(args.next()?, fmt, raw)?;
        out.push_str(&printf_one(&spec, conv, &v)?);
    }
    Some(out)
}

/// The fallback: every non-common field as `name=value`.
pub fn fields(fmt: &Format, raw: &[u8]) -> String {
    fmt.fields
        .iter()
        .filter(|f| !f.name.starts_with("common_"))
        .filter_map(|f| {
            let v = match field_value(f, raw)? {
                Val::Int(i) => i.to_string(),
                Val::Str(s) => s,
            };
            Some(format!("{}={v}", f.name))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const READ_FMT: &str = "name: sys_enter_read\nID: 700\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\tfield:int __syscall_nr;\toffset:8;\tsize:4;\tsigned:1;\n\tfield:unsigned int fd;\toffset:16;\tsize:8;\tsigned:0;\n\tfield:char * buf;\toffset:24;\tsize:8;\tsigned:0;\n\tfield:size_t count;\toffset:32;\tsize:8;\tsigned:0;\n\nprint fmt: \"fd: 0x%08lx, buf: 0x%08lx, count: 0x%08lx\", ((unsigned long)(REC->fd)), ((unsigned long)(REC->buf)), ((unsigned long)(REC->count))\n";

    #[test]
    fn syscall_format_prints_like_perf() {
        let (id, f) = parse_format(READ_FMT).unwrap();
        assert_eq!(id, 700);
        assert_eq!(f.args.len(), 3);
        let mut raw = vec![0u8; 40];
        raw[16..24].copy_from_slice(&5u64.to_le_bytes());
        raw[24..32].copy_from_slice(&0x7f1b53767e50u64.to_le_bytes());
        raw[32..40].copy_from_slice(&0x20u64.to_le_bytes());
        assert_eq!(
            pretty(&f, &raw).unwrap(),
            "fd: 0x00000005, buf: 0x7f1b53767e50, count: 0x00000020"
        );
    }

    #[test]
    fn strings_and_padding() {
        let text = "name: sched_wakeup\nID: 3\nformat:\n\tfield:char comm[16];\toffset:8;\tsize:16;\tsigned:0;\n\tfield:pid_t pid;\toffset:24;\tsize:4;\tsigned:1;\n\tfield:int target_cpu;\toffset:28;\tsize:4;\tsigned:1;\n\tfield:__data_loc char[] filename;\toffset:32;\tsize:4;\tsigned:0;\n\nprint fmt: \"comm=%s pid=%d target_cpu=%03d file=%s\", REC->comm, REC->pid, REC->target_cpu, __get_str(filename)\n";
        let (_, f) = parse_format(text).unwrap();
        let mut raw = vec![0u8; 48];
        raw[8..12].copy_from_slice(b"perf");
        raw[24..28].copy_from_slice(&(-3i32).to_le_bytes());
        raw[28..32].copy_from_slice(&1i32.to_le_bytes());
        raw[32..36].copy_from_slice(&((5u32 << 16) | 40).to_le_bytes());
        raw[40..45].copy_from_slice(b"/bin\0");
        assert_eq!(
            pretty(&f, &raw).unwrap(),
            "comm=perf pid=-3 target_cpu=001 file=/bin"
        );
    }

    #[test]
    fn unknown_helpers_fall_back_to_fields() {
        let text = "name: x\nID: 4\nformat:\n\tfield:int a;\toffset:0;\tsize:4;\tsigned:1;\n\nprint fmt: \"a=%s\", __print_flags(REC->a, \"|\", { 1, \"A\" })\n";
        let (_, f) = parse_format(text).unwrap();
        assert!(pretty(&f, &7i32.to_le_bytes()).is_none());
        assert_eq!(fields(&f, &7i32.to_le_bytes()), "a=7");
        assert!(parse_tracing_data(b"garbage").is_empty());
        let t = "name: e\nID: 5\nformat:\n\tfield:bool dead;\toffset:0;\tsize:1;\tsigned:0;\n\nprint fmt: \"dead=%s\", REC->dead ? \"true\" : \"false\"\n";
        let (_, f) = parse_format(t).unwrap();
        assert_eq!(pretty(&f, &[1]).unwrap(), "dead=true");
        assert_eq!(pretty(&f, &[0]).unwrap(), "dead=false");
    }
}
