//! Resolves addresses in any ELF64 binary: `cargo run -p rperf-symbols --example resolve --
//! /bin/ls 0x1234 [0x5678 ...]` prints, for each virtual address, the function that holds
//! it with the offset into it, and the source line (with inlined frames) when the binary
//! or its separate debug file has DWARF.
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use rperf_symbols::{build_id, ElfSymbols, Lines};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args, &mut std::io::stdout().lock()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("resolve: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Prints what `args` (BINARY ADDRESS...) resolve to.
pub fn run(args: &[String], out: &mut impl Write) -> Result<(), String> {
    let Some((path, addrs)) = args.split_first().filter(|(_, a)| !a.is_empty()) else {
        return Err("usage: resolve BINARY ADDRESS...   (addresses in hex, e.g. 0x1234)".into());
    };
    let path = Path::new(path);
    let syms =
        ElfSymbols::load_with_debug(path, None).map_err(|e| format!("{}: {e}", path.display()))?;
    let w = |out: &mut dyn Write, s: String| writeln!(out, "{s}").map_err(|e| e.to_string());
    if let Ok(Some(id)) = build_id(path) {
        let hex: String = id.iter().map(|b| format!("{b:02x}")).collect();
        w(
            out,
            format!("{}: build-id {hex}, {} symbols", path.display(), syms.len()),
        )?;
    }
    let lines = Lines::load(path, None);
    for a in addrs {
        let vaddr = u64::from_str_radix(a.trim_start_matches("0x"), 16)
            .map_err(|_| format!("'{a}' is not a hex address"))?;
        match syms.lookup_vaddr(vaddr) {
            Some((sym, off)) => w(out, format!("{vaddr:#x} {}+{off:#x}", sym.name))?,
            None => w(out, format!("{vaddr:#x} ??"))?,
        }
        for f in lines.as_ref().map(|l| l.frames(vaddr)).unwrap_or_default() {
            let name = f.function.as_deref().unwrap_or("??");
            let file = f.file.as_deref().unwrap_or("??");
            w(out, format!("    {name} at {file}:{}", f.line.unwrap_or(0)))?;
        }
    }
    Ok(())
}
