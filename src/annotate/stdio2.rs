//! perf annotate's `--stdio2` text for one function: its TUI browser's lines printed to
//! stdout. Offsets instead of addresses, a label at each jump target, arrows for jumps
//! (`↓`/`↑`), calls (`→`) and returns (`←`), call and outside-jump targets by name,
//! RIP-relative operands by the symbol objdump names in its comment, hot lines only with a
//! percentage.
use std::collections::HashMap;
use std::fmt::Write as _;

use super::Line;

/// How an instruction is read (perf's instruction kinds on x86).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Jump,
    Call,
    Ret,
    /// Two operands, `source,target`, with objdump's `# addr <sym>` comment read.
    Mov,
    /// `nop` in any form prints as `nop`.
    Nop,
    /// Printed as objdump wrote it.
    Other,
}

/// The instructions perf reads as two-operand moves on x86: the arithmetic, logic, compare
/// and move families (their names as objdump spells them).
fn is_mov_like(name: &str) -> bool {
    const EXACT: &[&str] = &[
        "bsr", "bt", "btr", "bts", "btsq", "cs", "gs", "imul", "lea", "divsd", "divss", "mulsd",
        "mulss", "subsd", "subss", "ucomisd", "ucomiss", "xorpd", "xorps", "andpd", "andps",
        "addsd", "movapd", "movaps", "movdqa", "movdqu", "movsd", "movslq", "movss", "movupd",
        "movups", "movzbl", "movzwl", "vaddsd", "vandpd", "vmovdqa", "vmovq", "vmovsd", "vmulsd",
        "vorpd", "vsubsd", "vucomisd", "xbegin",
    ];
    const FAMILIES: &[&str] = &[
        "adc", "add", "and", "cmov", "cmp", "mov", "or", "sbb", "sub", "test", "xadd", "xchg",
        "xor",
    ];
    if EXACT.contains(&name) {
        return true;
    }
    // The family and its size suffixes (`addl`, `cmpq`, `movb`), and cmov's conditions.
    FAMILIES.iter().any(|f| {
        name.strip_prefix(f).is_some_and(|rest| {
            rest.is_empty()
                || (rest.len() == 1 && "bwlq".contains(rest))
                || (*f == "cmov" && rest.len() <= 3)
                || (*f == "cmp" && rest == "xchg")
        })
    })
}

fn kind(name: &str) -> Kind {
    match name {
        "call" | "callq" => Kind::Call,
        "ret" | "retq" => Kind::Ret,
        "nop" | "nopl" | "nopw" => Kind::Nop,
        n if n.starts_with('j') && n.len() <= 6 && n != "jmpf" => Kind::Jump,
        n if is_mov_like(n) => Kind::Mov,
        _ => Kind::Other,
    }
}

/// objdump's `name  operands` split at the first blank.
fn split(text: &str) -> (&str, &str) {
    let t = text.trim();
    match t.find([' ', '\t']) {
        Some(i) => (&t[..i], t[i..].trim_start()),
        None => (t, ""),
    }
}

/// `1149 <cpu>` (a branch's operand): the address and the name between `<>`.
fn target(raw: &str) -> Option<(u64, Option<&str>)> {
    let hex: String = raw.chars().take_while(char::is_ascii_hexdigit).collect();
    let addr = u64::from_str_radix(&hex, 16).ok()?;
    let name = raw
        .find('<')
        .and_then(|i| raw[i + 1..].find('>').map(|j| &raw[i + 1..i + 1 + j]));
    Some((addr, name))
}

/// A name from objdump's `<sym+0x12>`: the symbol itself (perf names the function).
fn symbol_of(name: &str) -> &str {
    name.split('+').next().unwrap_or(name)
}

/// A move's text with objdump's comment read: a `(%rip)` operand becomes the symbol the
/// comment names.
fn mov_text(name: &str, raw: &str, w: usize) -> Option<String> {
    // The source ends at the first comma outside parentheses.
    let cut = if raw[..raw.find(',')?].contains('(') {
        let close = raw.find(')')?;
        if raw.as_bytes().get(close + 1) != Some(&b',') {
            return None;
        }
        close + 1
    } else {
        raw.find(',')?
    };
    let source = &raw[..cut];
    let rest = raw[cut + 1..].trim_start();
    let (target, comment) = match rest.find('#') {
        Some(i) => (rest[..i].trim_end(), Some(rest[i + 1..].trim_start())),
        None => (rest.trim_end(), None),
    };
    let named = |op: &str| -> String {
        match comment {
            Some(c) if op.contains("(%rip)") => match c.find('<').zip(c.find('>')) {
                Some((a, b)) if a < b => c[a + 1..b].to_string(),
                _ => op.to_string(),
            },
            _ => op.to_string(),
        }
    };
    Some(format!("{name:<w$} {},{}", named(source), named(target)))
}

/// Writes one function in perf's `--stdio2` layout: `title` (perf's `Samples: … of event
/// …` line) and `name_line` (`main() /path`) first, then every line. `start` and `size`
/// are the function's, in objdump's addresses; `resolve` names the function at an address
/// of the binary (perf names call targets by its own symbols, objdump's name otherwise).
#[allow(clippy::too_many_arguments)]
pub fn render(
    out: &mut String,
    lines: &[Line],
    percents: &[Option<f64>],
    start: u64,
    size: u64,
    title: &str,
    name_line: &str,
    resolve: &dyn Fn(u64) -> Option<String>,
) {
    let _ = writeln!(out, "{title}\n{name_line}");
    let end = start + size;
    // perf's widths: offsets as wide as the function's size in hex, instruction names as
    // the longest one.
    let w = format!("{size:x}").len();
    let parsed: Vec<Option<(&str, &str)>> = lines
        .iter()
        .map(|l| l.addr.map(|_| split(&l.text)))
        .collect();
    let max_name = parsed
        .iter()
        .flatten()
        .map(|(n, _)| n.len())
        .max()
        .unwrap_or(0);
    let offsets: std::collections::HashSet<u64> = lines.iter().filter_map(|l| l.addr).collect();
    // Jump targets inside the function get a label.
    let mut sources: HashMap<u64, usize> = HashMap::new();
    for (n, raw) in parsed.iter().flatten() {
        if kind(n) == Kind::Jump {
            if let Some((a, _)) = target(raw) {
                if a >= start && a < end && offsets.contains(&a) {
                    *sources.entry(a).or_default() += 1;
                }
            }
        }
    }
    for (i, (l, p)) in lines.iter().zip(percents).enumerate() {
        let hot = p.filter(|p| *p != 0.0);
        match (l.addr, hot) {
            (Some(_), Some(p)) => {
                let _ = write!(out, "{p:6.2} ");
            }
            // The first line carries the column's title unless it is hot.
            _ if i == 0 => out.push_str("Percent"),
            _ => out.push_str("       "),
        }
        out.push(' ');
        let Some(a) = l.addr else {
            if l.text.is_empty() {
                out.push_str("       ");
            } else {
                let _ = write!(out, "{:w$}  {:<pad$}", "", l.text, pad = w + 8);
            }
            out.push('\n');
            continue;
        };
        let (name, raw) = parsed[i].unwrap_or(("", ""));
        if sources.contains_key(&a) {
            let _ = write!(out, "{:>w$x}: ", a - start);
        } else {
            let _ = write!(out, "{:w$}  ", "");
        }
        let k = kind(name);
        let inside = |t: u64| t >= start && t < end;
        let text = match k {
            Kind::Jump => match target(raw) {
                Some((t, _)) if inside(t) => {
                    out.push_str(if t > a { "↓ " } else { "↑ " });
                    format!("{name:<max_name$} {:x}", t - start)
                }
                // Before the function: perf has no offset for it and prints objdump's text.
                Some((t, _)) if t < start => {
                    out.push_str("→ ");
                    format!("{name:<max_name$} {raw}")
                }
                Some((t, sym)) => {
                    out.push_str("→ ");
                    match resolve(t).or_else(|| sym.map(|s| symbol_of(s).to_string())) {
                        Some(s) => format!("{name:<max_name$} {s}"),
                        None => format!("{name:<max_name$} {:x}", t - start),
                    }
                }
                _ => {
                    out.push_str("  ");
                    format!("{name:<max_name$} {raw}")
                }
            },
            Kind::Call => {
                out.push_str("→ ");
                match target(raw) {
                    Some((t, sym)) => match resolve(t).or_else(|| sym.map(String::from)) {
                        Some(s) => format!("{name:<max_name$} {s}"),
                        None => format!("{name:<max_name$} *{t:x}"),
                    },
                    _ => format!("{name:<max_name$} {raw}"),
                }
            }
            Kind::Ret => {
                out.push_str("← ");
                format!("{name:<max_name$} {raw}")
            }
            Kind::Nop => {
                out.push_str("  ");
                format!("{:<max_name$}", "nop")
            }
            Kind::Mov => {
                out.push_str("  ");
                mov_text(name, raw, max_name).unwrap_or_else(|| format!("{name:<max_name$} {raw}"))
            }
            Kind::Other => {
                out.push_str("  ");
                format!("{name:<max_name$} {raw}")
            }
        };
        let _ = writeln!(out, "{text:<pad$}", pad = w + 12);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(addr: Option<u64>, text: &str) -> Line {
        Line {
            addr,
            text: text.into(),
            line_nr: 0,
        }
    }

    #[test]
    fn labels_arrows_names_and_hot_lines_as_perf() {
        let lines = vec![
            line(None, ""),
            line(None, "main():"),
            line(Some(0x1181), "   push   %rbp"),
            line(
                Some(0x1182),
                "   mov    0xe7f(%rip),%rbx        # 2010 <_IO_stdin_used+0x10>",
            ),
            line(Some(0x1189), "   call   1149 <cpu>"),
            line(Some(0x118e), "   movapd %xmm0,%xmm1"),
            line(Some(0x1192), "   jne    1189 <main+0x8>"),
            line(Some(0x1194), "   ret"),
        ];
        let p = vec![
            None,
            None,
            Some(0.0),
            Some(0.0),
            Some(0.0),
            Some(55.02),
            Some(0.0),
            Some(0.0),
        ];
        let mut out = String::new();
        let resolve = |a: u64| (a == 0x1149).then(|| "cpu".to_string());
        render(
            &mut out,
            &lines,
            &p,
            0x1181,
            0x8b,
            "T",
            "main() /x",
            &resolve,
        );
        let want = [
            "T",
            "main() /x",
            "Percent        ",
            "            main():   ",
            "              push   %rbp   ",
            "              mov    _IO_stdin_used+0x10,%rbx",
            "         8: → call   cpu    ",
            " 55.02        movapd %xmm0,%xmm1",
            "            ↑ jne    8      ",
            "            ← ret           ",
        ]
        .map(|l| format!("{l}\n"))
        .concat();
        assert_eq!(out, want);
    }
}
