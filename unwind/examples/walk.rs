//! Walks one made-up sample through the CFI of any position-independent x86-64 ELF64
//! binary (a PIE or a library): `cargo run -p rperf-unwind --example walk -- /bin/ls 0x4a30
//! 0x1234` maps BINARY at 0x5555_0000_0000, stops the sample at FUNC (a function's first
//! instruction, as the binary's virtual address) with RETURN on the stack where that
//! function's CFI puts its return address, and prints the frames the unwinder finds.
use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use rperf_unwind::{Cache, Frame, ProcessUnwinder, Regs};

/// Where the example maps the binary, as a mapping record would say.
const BASE: u64 = 0x5555_0000_0000;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args, &mut std::io::stdout().lock()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("walk: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Prints the frames of the sample `args` (BINARY FUNC RETURN) describes.
pub fn run(args: &[String], out: &mut impl Write) -> Result<(), String> {
    let [path, func, ret] = args else {
        return Err("usage: walk BINARY FUNC RETURN   (addresses in hex, e.g. 0x4a30)".into());
    };
    let hex = |s: &str| {
        u64::from_str_radix(s.trim_start_matches("0x"), 16)
            .map_err(|_| format!("'{s}' is not a hex address"))
    };
    let (func, ret) = (hex(func)?, hex(ret)?);
    let image: Arc<[u8]> = std::fs::read(path)
        .map_err(|e| format!("{path}: {e}"))?
        .into();
    let end = BASE + image.len() as u64;
    let mut unwinder = ProcessUnwinder::new();
    unwinder
        .add_elf(path, image, BASE, end, 0, None)
        .map_err(|e| format!("{path}: {e}"))?;
    // At a function's first instruction the return address is the word at the stack pointer.
    let sp = 0x7ffc_0000_0000;
    let mut stack = ret.to_le_bytes().to_vec();
    stack.resize(64, 0);
    let regs = Regs::new(BASE + func, sp, 0);
    let unwound = unwinder.unwind(&mut Cache::new(), regs, &stack, 16);
    for f in &unwound.frames {
        let line = match f {
            Frame::InstructionPointer(a) => format!("ip     {:#x} (binary {:#x})", a, a - BASE),
            Frame::ReturnAddress(a) => format!("return {a:#x}"),
            Frame::OffStack => "off the stack".to_string(),
        };
        writeln!(out, "{line}").map_err(|e| e.to_string())?;
    }
    if unwound.truncated {
        writeln!(out, "(cut short)").map_err(|e| e.to_string())?;
    }
    Ok(())
}
