//! Tracepoint payloads decoded with the event formats in perf.data's TRACING_DATA, printed
//! through each event's `print fmt` as `perf script` does: arguments are C expressions
//! (fields, literals, casts, arithmetic and bit operators, `?:`) and the helpers
//! `__get_str`, `__print_flags` and `__print_symbolic`. Formats using other helpers fall
//! back to `field=value` pairs.
use std::collections::HashMap;
use std::fmt::Write as _;

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

/// A token of a print-fmt argument.
#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Int(i128),
    Str(String),
    /// An identifier; `REC->field` arrives as `REC`, `->`, `field`.
    Ident(String),
    /// Punctuation and operators.
    P(&'static str),
}

const OPS: [&str; 29] = [
    "->", "<<", ">>", "<=", ">=", "==", "!=", "&&", "||", "(", ")", "{", "}", ",", "?", ":", "+",
    "-", "*", "/", "%", "&", "|", "^", "~", "!", "<", ">", ".",
];

fn tokenize(s: &str) -> Option<Vec<Tok>> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c == b'"' {
            let mut j = i + 1;
            let mut text = String::new();
            while j < b.len() && b[j] != b'"' {
                if b[j] == b'\\' && j + 1 < b.len() {
                    j += 1;
                }
                text.push(b[j] as char);
                j += 1;
            }
            out.push(Tok::Str(text));
            i = j + 1;
        } else if c.is_ascii_digit() {
            let mut j = i;
            while j < b.len() && (b[j].is_ascii_alphanumeric()) {
                j += 1;
            }
            let lit = s[i..j].trim_end_matches(['u', 'U', 'l', 'L']);
            let v = match lit.strip_prefix("0x").or_else(|| lit.strip_prefix("0X")) {
                Some(h) => i128::from_str_radix(h, 16).ok()?,
                None if lit.len() > 1 && lit.starts_with('0') => {
                    i128::from_str_radix(lit, 8).ok()?
                }
                None => lit.parse().ok()?,
            };
            out.push(Tok::Int(v));
            i = j;
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let mut j = i;
            while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
                j += 1;
            }
            out.push(Tok::Ident(s[i..j].to_string()));
            i = j;
        } else {
            let op = OPS.iter().find(|o| s[i..].starts_with(**o))?;
            out.push(Tok::P(op));
            i += op.len();
        }
    }
    Some(out)
}

/// A recursive-descent evaluator of print-fmt arguments over one payload: C's operators
/// with C's precedence, casts, `REC->field`, string literals, `?:`, and the helpers
/// `__get_str`, `__print_flags` and `__print_symbolic` as libtraceevent prints them.
struct Eval<'a> {
    toks: Vec<Tok>,
    pos: usize,
    fmt: &'a Format,
    raw: &'a [u8],
}

fn int(v: &Val) -> Option<i128> {
    match v {
        Val::Int(i) => Some(*i),
        Val::Str(_) => None,
    }
}

fn truthy(v: &Val) -> bool {
    match v {
        Val::Int(i) => *i != 0,
        Val::Str(s) => !s.is_empty(),
    }
}

impl Eval<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }
    fn eat(&mut self, p: &str) -> bool {
        let hit = matches!(self.peek(), Some(Tok::P(q)) if *q == p);
        if hit {
            self.pos += 1;
        }
        hit
    }
    fn expect(&mut self, p: &str) -> Option<()> {
        self.eat(p).then_some(())
    }

    fn ternary(&mut self) -> Option<Val> {
        let c = self.binary(0)?;
        if !self.eat("?") {
            return Some(c);
        }
        let a = self.ternary()?;
        self.expect(":")?;
        let b = self.ternary()?;
        Some(if truthy(&c) { a } else { b })
    }

    /// Binary operators by C precedence level (0 = `||` … 9 = `* / %`).
    fn binary(&mut self, level: usize) -> Option<Val> {
        const LEVELS: [&[&str]; 10] = [
            &["||"],
            &["&&"],
            &["|"],
            &["^"],
            &["&"],
            &["==", "!="],
            &["<", "<=", ">", ">="],
            &["<<", ">>"],
            &["+", "-"],
            &["*", "/", "%"],
        ];
        if level == LEVELS.len() {
            return self.unary();
        }
        let mut l = self.binary(level + 1)?;
        loop {
            let Some(Tok::P(op)) = self.peek().cloned() else {
                return Some(l);
            };
            if !LEVELS[level].contains(&op) {
                return Some(l);
            }
            self.pos += 1;
            let r = self.binary(level + 1)?;
            l = match op {
                "||" => Val::Int(i128::from(truthy(&l) || truthy(&r))),
                "&&" => Val::Int(i128::from(truthy(&l) && truthy(&r))),
                _ => {
                    let (a, b) = (int(&l)?, int(&r)?);
                    Val::Int(match op {
                        "|" => a | b,
                        "^" => a ^ b,
                        "&" => a & b,
                        "==" => i128::from(a == b),
                        "!=" => i128::from(a != b),
                        "<" => i128::from(a < b),
                        "<=" => i128::from(a <= b),
                        ">" => i128::from(a > b),
                        ">=" => i128::from(a >= b),
                        "<<" => a.checked_shl(u32::try_from(b).ok()?)?,
                        ">>" => a.checked_shr(u32::try_from(b).ok()?)?,
                        "+" => a.checked_add(b)?,
                        "-" => a.checked_sub(b)?,
                        "*" => a.checked_mul(b)?,
                        "/" => a.checked_div(b)?,
                        "%" => a.checked_rem(b)?,
                        _ => return None,
                    })
                }
            };
        }
    }

    /// Whether `(` at the cursor opens a cast: only type words and `*` up to its `)`.
    fn at_cast(&self) -> bool {
        let mut i = self.pos + 1;
        let mut any = false;
        while let Some(t) = self.toks.get(i) {
            match t {
                Tok::Ident(n) if n != "REC" => any = true,
                Tok::P("*") => {}
                Tok::P(")") => return any,
                _ => return false,
            }
            i += 1;
        }
        false
    }

    fn unary(&mut self) -> Option<Val> {
        if self.eat("-") {
            return Some(Val::Int(-int(&self.unary()?)?));
        }
        if self.eat("+") {
            return self.unary();
        }
        if self.eat("!") {
            return Some(Val::Int(i128::from(!truthy(&self.unary()?))));
        }
        if self.eat("~") {
            return Some(Val::Int(!int(&self.unary()?)?));
        }
        if self.peek() == Some(&Tok::P("(")) && self.at_cast() {
            while self.peek() != Some(&Tok::P(")")) {
                self.pos += 1;
            }
            self.pos += 1;
            return self.unary();
        }
        self.primary()
    }

    fn field(&self, name: &str) -> Option<Val> {
        let f = self.fmt.fields.iter().find(|f| f.name == name)?;
        field_value(f, self.raw)
    }

    /// `{ value, "name" }, …` up to the closing parenthesis of a helper.
    fn table(&mut self) -> Option<Vec<(Option<i128>, String)>> {
        let mut v = Vec::new();
        while self.eat(",") {
            self.expect("{")?;
            // Values can be enum names the format does not define: such an entry never
            // matches (libtraceevent then prints the number in hex, as here).
            let n = match self.peek() {
                Some(Tok::Ident(name)) if name != "REC" => {
                    self.pos += 1;
                    None
                }
                _ => Some(int(&self.ternary()?)?),
            };
            self.expect(",")?;
            let Some(Tok::Str(s)) = self.peek().cloned() else {
                return None;
            };
            self.pos += 1;
            self.expect("}")?;
            v.push((n, s));
        }
        self.expect(")")?;
        Some(v)
    }

    fn primary(&mut self) -> Option<Val> {
        let t = self.peek()?.clone();
        self.pos += 1;
        match t {
            Tok::Int(i) => Some(Val::Int(i)),
            Tok::Str(s) => Some(Val::Str(s)),
            Tok::P("(") => {
                let v = self.ternary()?;
                self.expect(")")?;
                Some(v)
            }
            Tok::Ident(n) if n == "REC" => {
                self.expect("->")?;
                let Some(Tok::Ident(f)) = self.peek().cloned() else {
                    return None;
                };
                self.pos += 1;
                self.field(&f)
            }
            Tok::Ident(n) if n == "__get_str" => {
                self.expect("(")?;
                let Some(Tok::Ident(f)) = self.peek().cloned() else {
                    return None;
                };
                self.pos += 1;
                self.expect(")")?;
                self.field(&f)
            }
            Tok::Ident(n) if n == "__print_flags" => {
                self.expect("(")?;
                let mut val = int(&self.ternary()?)?;
                self.expect(",")?;
                let Some(Tok::Str(delim)) = self.peek().cloned() else {
                    return None;
                };
                self.pos += 1;
                let table = self.table()?;
                let mut parts: Vec<String> = Vec::new();
                if val == 0 {
                    if let Some((_, name)) = table.iter().find(|(v, _)| *v == Some(0)) {
                        parts.push(name.clone());
                    }
                }
                for (flag, name) in &table {
                    let Some(flag) = flag else { continue };
                    if *flag != 0 && val & flag == *flag {
                        parts.push(name.clone());
                        val &= !flag;
                    }
                }
                if val != 0 {
                    parts.push(format!("0x{val:x}"));
                }
                Some(Val::Str(parts.join(&delim)))
            }
            Tok::Ident(n) if n == "__print_symbolic" => {
                self.expect("(")?;
                let val = int(&self.ternary()?)?;
                let table = self.table()?;
                Some(Val::Str(
                    match table.into_iter().find(|(v, _)| *v == Some(val)) {
                        Some((_, name)) => name,
                        None => format!("0x{val:x}"),
                    },
                ))
            }
            _ => None,
        }
    }
}

/// Evaluates one print-fmt argument against a payload; None for anything beyond the
/// evaluator (the caller then prints `field=value` pairs).
fn eval(arg: &str, fmt: &Format, raw: &[u8]) -> Option<Val> {
    let mut e = Eval {
        toks: tokenize(arg)?,
        pos: 0,
        fmt,
        raw,
    };
    let v = e.ternary()?;
    (e.pos == e.toks.len()).then_some(v)
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
    pretty_with(fmt, raw, &|_| None)
}

/// [`pretty`], with kernel addresses printed by `%ps`/`%pS` named through `ksym`
/// (address to `(name, offset)`).
pub fn pretty_with(
    fmt: &Format,
    raw: &[u8],
    ksym: &dyn Fn(u64) -> Option<(String, u64)>,
) -> Option<String> {
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
        if conv == 'p' {
            // The kernel's %p extensions: a letter right after the p.
            match chars.peek().copied() {
                Some(ext @ ('s' | 'S')) => {
                    chars.next();
                    let addr = int(&v)? as u64;
                    match ksym(addr) {
                        Some((name, off)) if ext == 'S' => {
                            let _ = write!(out, "{name}+{off:#x}");
                        }
                        Some((name, _)) => out.push_str(&name),
                        None => {
                            let _ = write!(out, "{addr:#x}");
                        }
                    }
                    continue;
                }
                Some(e) if e.is_ascii_alphabetic() => {
                    chars.next();
                }
                _ => {}
            }
        }
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

    /// sched_switch's format as this kernel's tracefs writes it.
    const SWITCH_FMT: &str = "name: sched_switch\nID: 316\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\tfield:char prev_comm[16];\toffset:8;\tsize:16;\tsigned:0;\n\tfield:pid_t prev_pid;\toffset:24;\tsize:4;\tsigned:1;\n\tfield:int prev_prio;\toffset:28;\tsize:4;\tsigned:1;\n\tfield:long prev_state;\toffset:32;\tsize:8;\tsigned:1;\n\tfield:char next_comm[16];\toffset:40;\tsize:16;\tsigned:0;\n\tfield:pid_t next_pid;\toffset:56;\tsize:4;\tsigned:1;\n\tfield:int next_prio;\toffset:60;\tsize:4;\tsigned:1;\n\nprint fmt: \"prev_comm=%s prev_pid=%d prev_prio=%d prev_state=%s%s ==> next_comm=%s next_pid=%d next_prio=%d\", REC->prev_comm, REC->prev_pid, REC->prev_prio, (REC->prev_state & ((((0x00000000 | 0x00000001 | 0x00000002 | 0x00000004 | 0x00000008 | 0x00000010 | 0x00000020 | 0x00000040) + 1) << 1) - 1)) ? __print_flags(REC->prev_state & ((((0x00000000 | 0x00000001 | 0x00000002 | 0x00000004 | 0x00000008 | 0x00000010 | 0x00000020 | 0x00000040) + 1) << 1) - 1), \"|\", { 0x00000001, \"S\" }, { 0x00000002, \"D\" }, { 0x00000004, \"T\" }, { 0x00000008, \"t\" }, { 0x00000010, \"X\" }, { 0x00000020, \"Z\" }, { 0x00000040, \"P\" }, { 0x00000080, \"I\" }) : \"R\", REC->prev_state & (((0x00000000 | 0x00000001 | 0x00000002 | 0x00000004 | 0x00000008 | 0x00000010 | 0x00000020 | 0x00000040) + 1) << 1) ? \"+\" : \"\", REC->next_comm, REC->next_pid, REC->next_prio\n";

    fn switch(state: i64) -> Vec<u8> {
        let mut raw = vec![0u8; 64];
        raw[8..12].copy_from_slice(b"bash");
        raw[24..28].copy_from_slice(&42i32.to_le_bytes());
        raw[28..32].copy_from_slice(&120i32.to_le_bytes());
        raw[32..40].copy_from_slice(&state.to_le_bytes());
        raw[40..47].copy_from_slice(b"swapper");
        raw[60..64].copy_from_slice(&120i32.to_le_bytes());
        raw
    }

    #[test]
    fn sched_switch_states_print_like_perf() {
        let (_, f) = parse_format(SWITCH_FMT).unwrap();
        let line = |state| pretty(&f, &switch(state)).unwrap();
        assert_eq!(
            line(0),
            "prev_comm=bash prev_pid=42 prev_prio=120 prev_state=R ==> next_comm=swapper next_pid=0 next_prio=120"
        );
        assert!(line(1).contains("prev_state=S ==>"), "{}", line(1));
        assert!(line(2).contains("prev_state=D ==>"));
        assert!(line(0x80).contains("prev_state=I ==>"));
        // Several flags join with the delimiter; the preemption bit above them adds "+".
        assert!(line(3).contains("prev_state=S|D ==>"));
        assert!(line(0x100).contains("prev_state=R+ ==>"), "{}", line(0x100));
    }

    #[test]
    fn expressions_follow_c_precedence() {
        let f = Format::default();
        let v = |e: &str| match eval(e, &f, &[]) {
            Some(Val::Int(i)) => i,
            other => panic!("{e}: {other:?}"),
        };
        assert_eq!(v("1 + 2 * 3"), 7);
        assert_eq!(v("(1 + 2) * 3"), 9);
        assert_eq!(v("((0x1 | 0x2) + 1) << 1"), 8);
        assert_eq!(v("10 - 3 - 2"), 5);
        assert_eq!(v("1 < 2 && 2 >= 2"), 1);
        assert_eq!(v("~0 & 0xff"), 255);
        assert_eq!(v("(unsigned long)-1 & 1"), 1);
        assert_eq!(v("0 ? 5 : 1 ? 6 : 7"), 6);
        assert!(eval("1 +", &f, &[]).is_none());
        assert!(eval("1 / 0", &f, &[]).is_none());
        assert!(eval("REC->missing", &f, &[]).is_none());
    }

    #[test]
    fn flags_and_symbols_like_libtraceevent() {
        let f = Format::default();
        let s = |e: &str| match eval(e, &f, &[]) {
            Some(Val::Str(s)) => s,
            other => panic!("{e}: {other:?}"),
        };
        let table = r#"{ 1, "A" }, { 2, "B" }, { 4, "C" }"#;
        assert_eq!(s(&format!("__print_flags(5, \"|\", {table})")), "A|C");
        assert_eq!(s(&format!("__print_flags(9, \",\", {table})")), "A,0x8");
        assert_eq!(s(&format!("__print_flags(0, \"|\", {table})")), "");
        assert_eq!(
            s(r#"__print_flags(0, "|", { 0, "NONE" }, { 1, "A" })"#),
            "NONE"
        );
        assert_eq!(s(&format!("__print_symbolic(2, {table})")), "B");
        assert_eq!(s(&format!("__print_symbolic(3, {table})")), "0x3");
    }

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
        let text = "name: x\nID: 4\nformat:\n\tfield:int a;\toffset:0;\tsize:4;\tsigned:1;\n\nprint fmt: \"a=%s\", __print_hex(REC->a, 4)\n";
        let (_, f) = parse_format(text).unwrap();
        assert!(pretty(&f, &7i32.to_le_bytes()).is_none());
        assert_eq!(fields(&f, &7i32.to_le_bytes()), "a=7");
        // Short payloads and garbage never panic.
        assert!(pretty(&f, &[1]).is_none());
        assert!(parse_tracing_data(b"garbage").is_empty());
        let t = "name: e\nID: 5\nformat:\n\tfield:bool dead;\toffset:0;\tsize:1;\tsigned:0;\n\nprint fmt: \"dead=%s\", REC->dead ? \"true\" : \"false\"\n";
        let (_, f) = parse_format(t).unwrap();
        assert_eq!(pretty(&f, &[1]).unwrap(), "dead=true");
        assert_eq!(pretty(&f, &[0]).unwrap(), "dead=false");
    }
}
