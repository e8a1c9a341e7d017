//! objdump's instruction text from iced-x86: its GAS (AT&T) or Intel formatter, with the
//! spellings where objdump differs (size suffixes, implied operands, prefixes, branch
//! targets as `addr <name+0xoff>`, `# addr <name>` after RIP-relative operands).
use iced_x86::*;

pub struct Disasm {
    gas: GasFormatter,
    intel: IntelFormatter,
    use_intel: bool,
}

impl Disasm {
    pub fn new(use_intel: bool) -> Disasm {
        let mut gas = GasFormatter::new();
        let mut intel = IntelFormatter::new();
        for o in [gas.options_mut(), intel.options_mut()] {
            o.set_small_hex_numbers_in_decimal(false);
            o.set_uppercase_hex(false);
            o.set_show_zero_displacements(true);
            o.set_rip_relative_addresses(true);
            o.set_signed_immediate_operands(false);
            o.set_signed_memory_displacements(true);
            o.set_space_after_operand_separator(false);
            o.set_branch_leading_zeros(false);
            o.set_show_branch_size(false);
            o.set_uppercase_keywords(true);
            o.set_show_useless_prefixes(true);
        }
        let o = intel.options_mut();
        o.set_always_show_scale(true);
        o.set_hex_prefix("0x");
        o.set_hex_suffix("");
        o.set_add_leading_zero_to_hex_numbers(false);
        o.set_memory_size_options(MemorySizeOptions::Always);
        Disasm {
            gas,
            intel,
            use_intel,
        }
    }

    pub fn format(
        &mut self,
        ins: &Instruction,
        bytes: &[u8],
        name: &dyn Fn(u64) -> Option<(String, u64)>,
    ) -> String {
        let intel = self.use_intel;
        let f: &mut dyn Formatter = if intel {
            &mut self.intel
        } else {
            &mut self.gas
        };
        let mut mnem = String::new();
        f.format_mnemonic(ins, &mut mnem);
        let mut ops: Vec<String> = Vec::new();
        let n = f.operand_count(ins);
        let mut comment = None;
        let mut has_mem = false;
        for i in 0..n {
            let mut s = String::new();
            let op = f.get_instruction_operand(ins, i).ok().flatten();
            match op.map(|o| ins.op_kind(o)) {
                Some(OpKind::NearBranch16 | OpKind::NearBranch32 | OpKind::NearBranch64) => {
                    s = sym_addr(ins.near_branch_target(), name);
                }
                Some(OpKind::Memory) => {
                    has_mem = true;
                    f.format_operand(ins, &mut s, i).ok();
                    if ins.is_ip_rel_memory_operand() {
                        comment = Some(ins.ip_rel_memory_address());
                        // Intel syntax: objdump prints a negative RIP displacement as unsigned.
                        let d = ins.ip_rel_memory_address().wrapping_sub(ins.next_ip());
                        if intel && (d as i64) < 0 {
                            if let Some(p) = s.find("rip-") {
                                if let Some(end) = s[p..].find(']') {
                                    s.replace_range(p..p + end, &format!("rip+0x{d:x}"));
                                }
                            }
                        }
                    } else if intel
                        && ins.memory_base() == Register::None
                        && ins.memory_index() == Register::None
                    {
                        // An absolute address: objdump leaves out the brackets.
                        if let (Some(a), Some(b)) = (s.find('['), s.rfind(']')) {
                            if s[..a].ends_with(':') {
                                s.replace_range(b..=b, "");
                                s.replace_range(a..=a, "");
                            }
                        }
                    } else if !intel
                        && ins.memory_index() != Register::None
                        && ins.memory_index_scale() == 1
                    {
                        if let Some(p) = s.rfind(')') {
                            s.insert_str(p, ",1");
                        }
                    }
                }
                kind => {
                    f.format_operand(ins, &mut s, i).ok();
                    // objdump names the segment of string operands.
                    match kind {
                        Some(OpKind::MemoryESRDI | OpKind::MemoryESEDI | OpKind::MemoryESDI)
                            if !s.contains(':') =>
                        {
                            s.insert_str(
                                usize::from(s.starts_with('[')),
                                if intel { "es:" } else { "%es:" },
                            );
                        }
                        Some(
                            OpKind::MemorySegRSI
                            | OpKind::MemorySegESI
                            | OpKind::MemorySegSI
                            | OpKind::MemorySegRDI
                            | OpKind::MemorySegEDI
                            | OpKind::MemorySegDI,
                        ) if !s.contains(':') => {
                            s.insert_str(
                                usize::from(s.starts_with('[')),
                                if intel { "ds:" } else { "%ds:" },
                            );
                        }
                        _ => {}
                    }
                }
            }
            ops.push(s);
        }
        // D0/D1/D2/D3: objdump leaves out the implied count of one.
        let op = opcode(bytes);
        if matches!(op, Some(0xd0 | 0xd1)) && ops.len() == 2 {
            if intel {
                ops[1] = "1".to_string();
            } else {
                ops.remove(0);
            }
        }
        // objdump spells three-operand imul with equal registers in full.
        if ins.mnemonic() == Mnemonic::Imul && ins.op_count() == 3 && ops.len() == 2 {
            let mut r = String::new();
            r.push_str(f.format_register(ins.op0_register()));
            if intel {
                ops.insert(0, r);
            } else {
                ops.push(r);
            }
        }
        if !intel && has_mem {
            // objdump (binutils 2.40) drops the size suffix where the operand size is the
            // default one: indirect call/jmp and push/pop of memory.
            for (from, to) in [
                ("callq", "call"),
                ("jmpq", "jmp"),
                ("pushq", "push"),
                ("popq", "pop"),
            ] {
                if let Some(rest) = mnem.strip_suffix(from) {
                    mnem = format!("{rest}{to}");
                }
            }
        }
        if intel && ins.code() == Code::Mov_r64_imm64 {
            mnem = "movabs".to_string();
        }
        if intel
            && ops.len() == 2
            && matches!(
                ins.mnemonic(),
                Mnemonic::Fxch
                    | Mnemonic::Fld
                    | Mnemonic::Fst
                    | Mnemonic::Fstp
                    | Mnemonic::Fucom
                    | Mnemonic::Fucomp
                    | Mnemonic::Fcom
                    | Mnemonic::Fcomp
            )
            && ops[0] == "st"
        {
            ops.remove(0);
        }
        // objdump's Intel syntax leaves out st beside a memory operand.
        if intel && has_mem && ops.len() > 1 {
            ops.retain(|o| o != "st" && o != "st(0)");
        }
        // x87 register operands iced leaves implicit.
        if ins.op_count() as usize > ops.len()
            && (0..ins.op_count()).all(|i| {
                ins.op_kind(i) == OpKind::Register
                    && (Register::ST0..=Register::ST7).contains(&ins.op_register(i))
            })
        {
            let single = matches!(
                ins.mnemonic(),
                Mnemonic::Fxch
                    | Mnemonic::Fucom
                    | Mnemonic::Fucomp
                    | Mnemonic::Fcom
                    | Mnemonic::Fcomp
            );
            ops = (0..ins.op_count())
                .map(|i| ins.op_register(i))
                .filter(|&r| !single || r != Register::ST0)
                .map(|r| {
                    if r == Register::ST0 {
                        if intel {
                            "st".to_string()
                        } else {
                            "%st".to_string()
                        }
                    } else {
                        f.format_register(r).to_string()
                    }
                })
                .collect();
            if !intel {
                ops.reverse();
            }
        }
        // A segment prefix on a nop is printed as a prefix.
        if ins.mnemonic() == Mnemonic::Nop && ins.segment_prefix() != Register::None {
            let seg = f
                .format_register(ins.segment_prefix())
                .trim_start_matches('%')
                .to_string();
            for o in ops.iter_mut() {
                *o = o
                    .replacen(&format!("%{seg}:"), "", 1)
                    .replacen(&format!("{seg}:"), "", 1);
            }
            mnem = format!("{seg} {mnem}");
            let data16 = bytes
                .iter()
                .take_while(|&&b| b == 0x66 || b == 0x2e)
                .filter(|&&b| b == 0x66)
                .count();
            for _ in 1..data16 {
                mnem.insert_str(0, "data16 ");
            }
        }
        if mnem == "rep ret" {
            mnem = "repz ret".to_string();
        }
        let mut out = mnem;
        if !ops.is_empty() {
            while out.len() < 6 {
                out.push(' ');
            }
            out.push(' ');
            out.push_str(&ops.join(","));
        }
        if let Some(t) = comment {
            out.push_str("        # ");
            out.push_str(&sym_addr(t, name));
        }
        out
    }
}

/// The opcode byte after the legacy and REX prefixes.
fn opcode(bytes: &[u8]) -> Option<u8> {
    bytes.iter().copied().find(|b| {
        !matches!(
            b,
            0x66 | 0x67 | 0xf0 | 0xf2 | 0xf3 | 0x2e | 0x36 | 0x3e | 0x26 | 0x64 | 0x65 | 0x40
                ..=0x4f
        )
    })
}

fn sym_addr(t: u64, name: &dyn Fn(u64) -> Option<(String, u64)>) -> String {
    match name(t) {
        Some((s, at)) if at == t => format!("{t:x} <{s}>"),
        Some((s, at)) if at > t => format!("{t:x} <{s}-0x{:x}>", at - t),
        Some((s, at)) => format!("{t:x} <{s}+0x{:x}>", t - at),
        None => format!("0x{t:x}"),
    }
}
