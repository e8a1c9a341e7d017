//! Probe arguments named by source: a function's parameters and locals found in DWARF, their
//! locations at the probe's address turned into the kernel's fetch syntax (`%di`,
//! `-20(%bp)`, `+8(-40(%bp))`), their types into its type suffixes (`:s32`, `:x64`,
//! `:string`), as perf probe writes them.
use std::path::Path;

use gimli::{AttributeValue, UnitOffset, UnwindSection};
use object::read::elf::ElfFile64;
use object::{Endianness, Object, ObjectSection};

type R<'a> = gimli::EndianSlice<'a, gimli::RunTimeEndian>;

/// One argument as typed: `[NAME=]VAR[->FIELD|.FIELD]...[:TYPE]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgSpec {
    /// `NAME=`.
    pub name: Option<String>,
    /// The variable.
    pub var: String,
    /// Members: (through a pointer `->`, name).
    pub fields: Vec<(bool, String)>,
    /// `:TYPE`.
    pub ty: Option<String>,
    /// The text as typed, without `NAME=`.
    pub text: String,
}

impl ArgSpec {
    /// Parses one argument.
    pub fn parse(arg: &str) -> ArgSpec {
        let (name, rest) = match arg.split_once('=') {
            Some((n, r)) if super::is_event_name(n) => (Some(n.to_string()), r),
            _ => (None, arg),
        };
        let (path, ty) = match rest.rsplit_once(':') {
            Some((p, t)) if !t.contains(['-', '>', '.']) => (p, Some(t.to_string())),
            _ => (rest, None),
        };
        let end = path.find(['-', '.', '[']).unwrap_or(path.len());
        let var = path[..end].to_string();
        let mut fields = Vec::new();
        let mut rest = &path[end..];
        while !rest.is_empty() {
            if rest.starts_with('[') {
                // An element: kept as `[N]`.
                let e = rest.find(']').map_or(rest.len(), |i| i + 1);
                fields.push((false, rest[..e].to_string()));
                rest = &rest[e..];
                continue;
            }
            let (arrow, body) = if let Some(b) = rest.strip_prefix("->") {
                (true, b)
            } else if let Some(b) = rest.strip_prefix('.') {
                (false, b)
            } else {
                break;
            };
            let e = body.find(['-', '.', '[']).unwrap_or(body.len());
            fields.push((arrow, body[..e].to_string()));
            rest = &body[e..];
        }
        ArgSpec {
            name,
            var,
            fields,
            ty,
            text: rest_text(arg),
        }
    }

    /// perf's name for an unnamed argument: the last member, else the text with every
    /// character an event name cannot hold made `_` (`s:string` → `s_string`).
    pub fn default_name(&self) -> String {
        if let Some(n) = &self.name {
            return n.clone();
        }
        if !self.fields.is_empty() {
            return self
                .fields
                .iter()
                .rev()
                .find(|(_, f)| !f.starts_with('['))
                .map_or_else(|| self.var.clone(), |(_, f)| f.clone());
        }
        self.text
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect()
    }
}

fn rest_text(arg: &str) -> String {
    match arg.split_once('=') {
        Some((n, r)) if super::is_event_name(n) => r.to_string(),
        _ => arg.to_string(),
    }
}

/// Where a value is: a register, or memory at a (signed) offset from an address that is
/// itself fetched (`%bp`, or `-40(%bp)` for a pointer kept on the stack).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Place {
    Reg(&'static str),
    Mem(i64, String),
    /// A global variable, `offset` bytes in.
    Global(String, i64),
    /// A constant (DW_AT_const_value), fetched as an immediate as perf does.
    Imm(i64),
}

impl Place {
    fn text(&self) -> String {
        match self {
            Place::Reg(r) => format!("%{r}"),
            Place::Mem(o, base) => format!("{o:+}({base})"),
            Place::Global(name, o) => format!("@{name}{o:+}"),
            Place::Imm(v) => format!("\\{v}"),
        }
    }
}

/// perf's word for a type it cannot name.
const UNKNOWN_TYPE: &str = "(unknown_type)";

/// The offset recorded for a bitfield member, which has none in bytes.
const BITFIELD: u64 = u64::MAX;

/// x86-64's DWARF register numbers as the kernel's fetch syntax names them.
fn reg_name(n: u16) -> Option<&'static str> {
    const NAMES: [&str; 17] = [
        "ax", "dx", "cx", "bx", "si", "di", "bp", "sp", "r8", "r9", "r10", "r11", "r12", "r13",
        "r14", "r15", "ip",
    ];
    NAMES.get(n as usize).copied()
}

/// A variable's type, as far as fetching needs it.
#[derive(Debug, Clone)]
enum Type {
    Base {
        name: String,
        size: u64,
        signed: bool,
    },
    Pointer(Box<Type>),
    Struct {
        name: String,
        size: u64,
        members: Vec<(String, u64, Type)>,
    },
    Array(Box<Type>),
    Enum {
        name: String,
        size: u64,
    },
    Void,
    /// Too deep to follow (a list's next pointer…).
    Opaque(String),
}

impl Type {
    /// Bytes one value takes (an element's stride).
    fn size(&self) -> u64 {
        match self {
            Type::Base { size, .. } | Type::Enum { size, .. } | Type::Struct { size, .. } => *size,
            Type::Pointer(_) => 8,
            _ => 0,
        }
    }

    /// perf's spelling in `-V` (`char*`, `struct pt*`).
    fn name(&self) -> String {
        match self {
            Type::Base { name, .. } | Type::Enum { name, .. } | Type::Opaque(name) => name.clone(),
            Type::Pointer(t) => format!("{}*", t.name()),
            Type::Struct { name, .. } => name.clone(),
            // perf shows an array as a pointer to its elements.
            Type::Array(t) => format!("{}*", t.name()),
            Type::Void => "void".into(),
        }
    }
}

/// The facts of one variable at the probe's address.
#[derive(Debug, Clone)]
struct Var {
    name: String,
    param: bool,
    /// Defined outside the function (shown by `-V --externs`).
    global: bool,
    ty: Type,
    /// The type as perf's -V spells it (typedef names kept: `size_t`).
    shown: String,
    place: Option<Place>,
    /// Its location here is one perf does not read (a constant, a computed value: the
    /// expression does not start with a register, memory or frame-base operation).
    unsupported: bool,
    /// Where its locations hold (absolute addresses), for `-V --range`.
    ranges: Vec<(u64, u64)>,
    /// Whether one of them covers the address (usable or not).
    covered: bool,
}

/// The variables visible at one address of one function, found once.
pub struct Scope {
    vars: Vec<Var>,
    /// The function's entry, which `--range` offsets count from.
    entry: u64,
    /// Whether the compiler optimized the unit (`-O1` and up in DW_AT_producer).
    pub optimized: bool,
    /// perf's notes from the last `fetch` (a structure cut down to 64 bits), for stderr.
    pub notes: std::cell::RefCell<Vec<String>>,
}

/// Why an argument cannot be fetched: perf's message.
pub type Why = String;

/// perf's message for a variable whose location here it cannot read (its -EOPNOTSUPP).
pub const UNSUPPORTED: &str = "Sorry, we don't support this variable location yet.";

/// Why a variable has no place to fetch it from at the address.
enum NoPlace {
    /// No location covers the address (optimized out there).
    Missing,
    /// A location perf does not read.
    Unsupported,
}

impl Scope {
    /// The variables of the function entered at `entry` that are live at `addr`: DWARF and
    /// call frames from `dwarf_path` (the binary or its separate debug file); `None` when
    /// there is no DWARF for that function.
    pub fn at(dwarf_path: &Path, entry: u64, addr: u64) -> Option<Scope> {
        Self::within(dwarf_path, entry, None, addr)
    }

    /// As [`Scope::at`], the variables being those of the inlined copy whose DIE is at
    /// `inline_die` in the function's unit (perf reads an inlined copy's own parameters),
    /// the frame base the function's.
    pub fn within(
        dwarf_path: &Path,
        entry: u64,
        inline_die: Option<usize>,
        addr: u64,
    ) -> Option<Scope> {
        let data = rperf_symbols::file::map_regular(dwarf_path).ok()?;
        let file = ElfFile64::<Endianness>::parse(&*data).ok()?;
        let (sections, endian) = super::debuginfo::dwarf_sections(&file)?;
        let dwarf = sections.borrow(|s| gimli::EndianSlice::new(s, endian));
        // perf reads call frames from the file it reads DWARF from: a separate debug file
        // has no .eh_frame (NOBITS there), and without .debug_frame no CFA either.
        let cfa = cfa_at(&file, endian, addr);
        let mut units = dwarf.units();
        while let Ok(Some(header)) = units.next() {
            let Ok(unit) = dwarf.unit(header) else {
                continue;
            };
            // Only the unit whose code holds the function is searched.
            let mut holds = false;
            if let Ok(mut r) = dwarf.unit_ranges(&unit) {
                while let Ok(Some(rg)) = r.next() {
                    holds |= rg.begin <= entry && entry < rg.end;
                }
            }
            if !holds {
                continue;
            }
            let mut found = None;
            let mut entries = unit.entries();
            while let Ok(Some(e)) = entries.next_dfs() {
                if e.tag() == gimli::DW_TAG_subprogram
                    && e.attr_value(gimli::DW_AT_low_pc)
                        .and_then(|v| dwarf.attr_address(&unit, v).ok().flatten())
                        == Some(entry)
                {
                    found = Some(e.offset());
                    break;
                }
            }
            let Some(off) = found else { continue };
            let cx = Cx {
                dwarf: &dwarf,
                unit: &unit,
                addr,
                cfa,
            };
            let optimized = cx.optimized();
            let frame_base = cx
                .entry(off)
                .and_then(|e| e.attr_value(gimli::DW_AT_frame_base));
            let mut vars = Vec::new();
            let off = inline_die.map_or(off, UnitOffset);
            let whole = cx
                .entry(off)
                .map(|e| cx.ranges_of_die(&e))
                .unwrap_or_default();
            cx.collect(off, frame_base.as_ref(), &whole, &mut vars);
            cx.globals(&mut vars);
            return Some(Scope {
                notes: Default::default(),
                vars,
                entry,
                optimized,
            });
        }
        None
    }

    /// The fetch arguments for `args` (`NAME=FETCH:TYPE`), or perf's message for the first
    /// that cannot be had.
    pub fn fetch(&self, args: &[ArgSpec]) -> Result<Vec<String>, Why> {
        let mut out = Vec::new();
        for a in args {
            if a.var == "$params" || a.var == "$vars" {
                let before = out.len();
                for v in self
                    .vars
                    .iter()
                    .filter(|v| v.param || (a.var == "$vars" && !v.global))
                {
                    if let (Some(p), Ok(t)) = (&v.place, type_suffix(&v.ty, None, &v.name)) {
                        self.note_cut(&v.ty);
                        out.push(fetch_arg(&v.name, &p.text(), &t));
                    }
                }
                if out.len() == before {
                    // perf looks the name itself up when it stands for no variable.
                    return Err(format!(
                        "Failed to find the location of the '{0}' variable at this address.\n \
                         Perhaps it has been optimized out.\n Use -V with the --range option \
                         to show '{0}' location range.",
                        a.var
                    ));
                }
                continue;
            }
            let not_found = || {
                format!(
                    "Failed to find the location of the '{0}' variable at this address.\n \
                     Perhaps it has been optimized out.\n Use -V with the --range option to \
                     show '{0}' location range.",
                    a.var
                )
            };
            let v = self
                .vars
                .iter()
                .find(|v| v.name == a.var)
                .ok_or_else(not_found)?;
            if v.unsupported {
                return Err(UNSUPPORTED.into());
            }
            let mut place = v.place.clone().ok_or_else(not_found)?;
            let mut ty = v.ty.clone();
            for (arrow, field) in &a.fields {
                if let Some(idx) = field.strip_prefix('[').and_then(|f| f.strip_suffix(']')) {
                    let i: i64 = idx
                        .parse()
                        .map_err(|_| format!("Failed to parse the index of {}{field}.", a.var))?;
                    let (elem, through_pointer) = match &ty {
                        Type::Array(e) => ((**e).clone(), false),
                        Type::Pointer(e) => ((**e).clone(), true),
                        _ => {
                            // perf's words for any access into a scalar.
                            return Err(format!("{} is not a data structure nor a union.", a.var));
                        }
                    };
                    let step = i * elem.size() as i64;
                    place = match place {
                        _ if through_pointer => Place::Mem(step, place.text()),
                        Place::Mem(o, base) => Place::Mem(o + step, base),
                        Place::Global(n, o) => Place::Global(n, o + step),
                        Place::Reg(_) | Place::Imm(_) => {
                            return Err(format!(
                                "rperf cannot fetch an element of {} held in a register",
                                a.var
                            ))
                        }
                    };
                    ty = elem;
                    continue;
                }
                let (st, via_pointer) = match (&ty, arrow) {
                    (Type::Pointer(t), true) => ((**t).clone(), true),
                    (Type::Struct { .. }, false) => (ty.clone(), false),
                    (Type::Pointer(_), false) => {
                        return Err(format!("Semantic error: {field} must be referred by '->'"))
                    }
                    _ => return Err(format!("{} is not a data structure nor a union.", a.var)),
                };
                let Type::Struct { members, name, .. } = &st else {
                    return Err(format!("{} is not a data structure nor a union.", a.var));
                };
                let Some((_, off, mty)) = members.iter().find(|(n, _, _)| n == field) else {
                    let short = name.split_whitespace().last().unwrap_or(name);
                    return Err(format!("{}(type:{short}) has no member {field}.", a.var));
                };
                if *off == BITFIELD {
                    return Err(format!("Failed to get the offset of {field}."));
                }
                place = if via_pointer {
                    Place::Mem(*off as i64, place.text())
                } else {
                    match place {
                        Place::Mem(o, base) => Place::Mem(o + *off as i64, base),
                        Place::Global(n, o) => Place::Global(n, o + *off as i64),
                        Place::Reg(_) | Place::Imm(_) => {
                            return Err(format!(
                                "rperf cannot fetch a member of {} held in a register",
                                a.var
                            ))
                        }
                    }
                };
                ty = mty.clone();
            }
            let suffix = type_suffix(&ty, a.ty.as_deref(), &a.var)?;
            if suffix == "string" {
                // A string is read through the pointer: the pointer's value is its address.
                if matches!(ty, Type::Pointer(_)) {
                    place = Place::Mem(0, place.text());
                }
            }
            if a.ty.is_none() {
                self.note_cut(&ty);
            }
            out.push(fetch_arg(&a.default_name(), &place.text(), &suffix));
        }
        Ok(out)
    }

    /// `-V`'s lines: `TYPE\tNAME`, sorted as perf sorts them, for variables with a location.
    /// With `range` (the function's name), each line says whether the variable has a usable
    /// location here (`[VAL]`) or none covers the address (`[INV]`), and where its locations
    /// hold, in bytes from the entry: `@<work+[0-16]>`.
    pub fn available(&self, externs: bool, range: Option<&str>) -> Vec<String> {
        let mut v: Vec<String> = self
            .vars
            .iter()
            .filter(|v| externs || !v.global)
            .filter_map(|v| {
                let Some(func) = range else {
                    return v
                        .place
                        .is_some()
                        .then(|| format!("{}\t{}", v.shown, v.name));
                };
                if v.global {
                    return Some(format!("[EXT]\t{}\t{}", v.shown, v.name));
                }
                let tag = match (&v.place, v.covered) {
                    // perf's range listing leaves constants out.
                    (Some(Place::Imm(_)), _) => return None,
                    (Some(_), _) => "[VAL]",
                    (None, false) => "[INV]",
                    (None, true) => return None,
                };
                let spans: Vec<String> = v
                    .ranges
                    .iter()
                    .map(|&(b, e)| {
                        format!(
                            "{}-{}",
                            b.saturating_sub(self.entry),
                            e.saturating_sub(self.entry)
                        )
                    })
                    .collect();
                Some(format!(
                    "{tag}\t{}\t{}\t@<{func}+[{}]>",
                    v.shown,
                    v.name,
                    spans.join(",")
                ))
            })
            .collect();
        v.sort();
        v.dedup();
        v
    }
}

impl Scope {
    /// perf's note when it reads a structure wider than 64 bits as its first 64.
    fn note_cut(&self, ty: &Type) {
        if let Type::Struct { name, size, .. } = ty {
            if *size > 8 {
                let short = name.split_whitespace().last().unwrap_or(name);
                self.notes.borrow_mut().push(format!(
                    "{short} exceeds max-bitwidth. Cut down to 64 bits."
                ));
            }
        }
    }
}

/// One fetch argument as the kernel takes it (`NAME=PLACE:TYPE`, no type when perf gives
/// none).
fn fetch_arg(name: &str, place: &str, ty: &str) -> String {
    if ty.is_empty() {
        format!("{name}={place}")
    } else {
        format!("{name}={place}:{ty}")
    }
}

/// The kernel type suffix for a value of type `ty` (the user's `want` when given): perf's
/// for a structure is its size in bits (64 at most), for an array none (it has no size).
fn type_suffix(ty: &Type, want: Option<&str>, var: &str) -> Result<String, Why> {
    if let Some(w) = want {
        if w == "string" {
            let ok = match ty {
                Type::Pointer(t) | Type::Array(t) => {
                    matches!(&**t, Type::Base { size: 1, .. })
                }
                // perf names the variable's real type when it is no pointer or array.
                _ => {
                    let name = match ty {
                        Type::Base { name, .. } | Type::Opaque(name) => name.as_str(),
                        Type::Struct { name, .. } | Type::Enum { name, .. } => {
                            name.split_whitespace().last().unwrap_or(name)
                        }
                        _ => "(null)",
                    };
                    return Err(format!(
                        "Failed to cast into string: {var}({name}) is not a pointer nor array."
                    ));
                }
            };
            if !ok {
                return Err(format!(
                    "Failed to cast into string: {var} is not (unsigned) char *."
                ));
            }
        }
        return Ok(w.to_string());
    }
    match ty {
        // perf shows unsigned values in hex (the kernel's x types), floating point ones as
        // their bits.
        Type::Base { size, signed, .. } => {
            Ok(format!("{}{}", if *signed { 's' } else { 'x' }, size * 8))
        }
        Type::Enum { size, .. } => Ok(format!("x{}", size * 8)),
        Type::Pointer(_) => Ok("x64".into()),
        Type::Struct { size, .. } => Ok(format!("x{}", (size * 8).min(64))),
        Type::Array(_) => Ok(String::new()),
        _ => Err(format!(
            "{var} is a {}: name one of its members (VAR->MEMBER or VAR.MEMBER).",
            ty.name()
        )),
    }
}

/// The CFA rule at `addr` from .eh_frame: (register, offset).
fn cfa_at(
    file: &ElfFile64<'_, Endianness>,
    endian: gimli::RunTimeEndian,
    addr: u64,
) -> Option<(u16, i64)> {
    let mut ctx = Box::new(gimli::UnwindContext::new());
    // A linked binary's .eh_frame; else .debug_frame, what a kernel module built without
    // unwind tables has (perf reads either), relocated where the object is relocatable.
    let eh_sec = file
        .section_by_name(".eh_frame")
        .filter(|s| s.kind() != object::SectionKind::UninitializedData)
        .filter(|_| !super::debuginfo::is_relocatable(file));
    let debug_frame;
    let row = if let Some(sec) = eh_sec {
        let data = sec.data().ok()?;
        let eh = gimli::EhFrame::new(data, endian);
        let mut bases = gimli::BaseAddresses::default().set_eh_frame(sec.address());
        if let Some(t) = file.section_by_name(".text") {
            bases = bases.set_text(t.address());
        }
        eh.unwind_info_for_address(&bases, &mut ctx, addr, gimli::EhFrame::cie_from_offset)
            .ok()?
    } else {
        let sec = file.section_by_name(".debug_frame")?;
        debug_frame = super::debuginfo::section_data(file, &sec)?;
        let mut df = gimli::DebugFrame::new(&debug_frame, endian);
        df.set_address_size(8);
        df.unwind_info_for_address(
            &gimli::BaseAddresses::default(),
            &mut ctx,
            addr,
            gimli::DebugFrame::cie_from_offset,
        )
        .ok()?
    };
    match row.cfa() {
        gimli::CfaRule::RegisterAndOffset { register, offset } => Some((register.0, *offset)),
        _ => None,
    }
}

struct Cx<'a, 'd> {
    dwarf: &'a gimli::Dwarf<R<'d>>,
    unit: &'a gimli::Unit<R<'d>>,
    addr: u64,
    cfa: Option<(u16, i64)>,
}

impl<'d> Cx<'_, 'd> {
    fn entry(&self, off: UnitOffset) -> Option<gimli::DebuggingInformationEntry<R<'d>>> {
        self.unit.entry(off).ok()
    }

    fn string(
        &self,
        e: &gimli::DebuggingInformationEntry<R<'d>>,
        at: gimli::DwAt,
    ) -> Option<String> {
        let v = e.attr_value(at)?;
        let s = self.dwarf.attr_string(self.unit, v).ok()?;
        Some(s.to_string_lossy().into_owned())
    }

    fn optimized(&self) -> bool {
        let Ok(mut entries) = self
            .unit
            .entries_at_offset(UnitOffset(self.unit.header.header_size()))
        else {
            return true;
        };
        let Ok(Some(root)) = entries.next_dfs() else {
            return true;
        };
        let producer = self.string(root, gimli::DW_AT_producer).unwrap_or_default();
        producer
            .split_whitespace()
            .rfind(|w| w.starts_with("-O"))
            .is_some_and(|o| o != "-O0")
    }

    /// The unit's variables at fixed addresses, fetched by name (`@counter+0`).
    fn globals(&self, out: &mut Vec<Var>) {
        let Ok(mut tree) = self.unit.entries_tree(None) else {
            return;
        };
        let Ok(root) = tree.root() else { return };
        let mut children = root.children();
        while let Ok(Some(child)) = children.next() {
            let e = child.entry();
            if e.tag() != gimli::DW_TAG_variable {
                continue;
            }
            let Some(name) = self.string(e, gimli::DW_AT_name) else {
                continue;
            };
            let Some(AttributeValue::Exprloc(expr)) = e.attr_value(gimli::DW_AT_location) else {
                continue;
            };
            let mut ops = expr.operations(self.unit.encoding());
            if !matches!(ops.next(), Ok(Some(gimli::Operation::Address { .. }))) {
                continue;
            }
            let (ty, shown) = match e.attr_value(gimli::DW_AT_type) {
                Some(AttributeValue::UnitRef(t)) => (self.ty(t, 0), self.type_name(t, 0)),
                _ => (Type::Void, UNKNOWN_TYPE.to_string()),
            };
            out.push(Var {
                place: Some(Place::Global(name.clone(), 0)),
                unsupported: false,
                name,
                param: false,
                global: true,
                ty,
                shown,
                ranges: Vec::new(),
                covered: true,
            });
        }
    }

    /// Parameters and locals under `off` whose scope covers the address.
    fn collect(
        &self,
        off: UnitOffset,
        frame_base: Option<&AttributeValue<R<'d>>>,
        scope: &[(u64, u64)],
        out: &mut Vec<Var>,
    ) {
        let Ok(mut tree) = self.unit.entries_tree(Some(off)) else {
            return;
        };
        let Ok(root) = tree.root() else { return };
        self.walk(root, frame_base, scope, out);
    }

    /// The address ranges a DIE (a function, a block) covers.
    fn ranges_of_die(&self, e: &gimli::DebuggingInformationEntry<R<'d>>) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        if let Ok(mut r) = self.dwarf.die_ranges(self.unit, e) {
            while let Ok(Some(rg)) = r.next() {
                out.push((rg.begin, rg.end));
            }
        }
        out
    }

    /// Where a location attribute holds: a whole scope for an expression, each entry of a
    /// location list; and whether the address is in one.
    fn ranges_of_location(
        &self,
        loc: Option<AttributeValue<R<'d>>>,
        scope: &[(u64, u64)],
    ) -> (Vec<(u64, u64)>, bool) {
        let ranges = match loc {
            None => Vec::new(),
            Some(AttributeValue::Exprloc(_)) => scope.to_vec(),
            Some(other) => {
                let mut v = Vec::new();
                let mut first_fetchable = None;
                if let Ok(Some(mut list)) = self.dwarf.attr_locations(self.unit, other) {
                    while let Ok(Some(entry)) = list.next() {
                        first_fetchable.get_or_insert_with(|| self.fetchable(entry.data));
                        v.push((entry.range.begin, entry.range.end));
                    }
                }
                // perf lists a variable not live here ([INV]) only when its first location
                // is one it could fetch (not a constant or a computed value).
                if first_fetchable == Some(false)
                    && !v.iter().any(|&(b, e)| b <= self.addr && self.addr < e)
                {
                    return (v, true);
                }
                v
            }
        };
        let covered = ranges.iter().any(|&(b, e)| b <= self.addr && self.addr < e);
        (ranges, covered)
    }

    /// Whether an expression is a single register, register-relative or frame-relative
    /// location.
    fn fetchable(&self, expr: gimli::Expression<R<'d>>) -> bool {
        let mut ops = expr.operations(self.unit.encoding());
        let first = matches!(
            ops.next(),
            Ok(Some(
                gimli::Operation::Register { .. }
                    | gimli::Operation::RegisterOffset { .. }
                    | gimli::Operation::FrameOffset { .. }
            ))
        );
        first && matches!(ops.next(), Ok(None))
    }

    fn walk(
        &self,
        node: gimli::EntriesTreeNode<'_, '_, R<'d>>,
        frame_base: Option<&AttributeValue<R<'d>>>,
        scope: &[(u64, u64)],
        out: &mut Vec<Var>,
    ) {
        let mut children = node.children();
        while let Ok(Some(child)) = children.next() {
            let e = child.entry();
            match e.tag() {
                gimli::DW_TAG_formal_parameter | gimli::DW_TAG_variable => {
                    // A copy of an inline function names its variables through their
                    // abstract instances.
                    let origin = match e.attr_value(gimli::DW_AT_abstract_origin) {
                        Some(AttributeValue::UnitRef(o)) => self.entry(o),
                        _ => None,
                    };
                    let Some(name) = self
                        .string(e, gimli::DW_AT_name)
                        .or_else(|| self.string(origin.as_ref()?, gimli::DW_AT_name))
                    else {
                        continue;
                    };
                    let ty_attr = e
                        .attr_value(gimli::DW_AT_type)
                        .or_else(|| origin.as_ref()?.attr_value(gimli::DW_AT_type));
                    let (ty, shown) = match ty_attr {
                        Some(AttributeValue::UnitRef(t)) => (self.ty(t, 0), self.type_name(t, 0)),
                        _ => (Type::Void, UNKNOWN_TYPE.to_string()),
                    };
                    let loc = e.attr_value(gimli::DW_AT_location);
                    // perf neither finds nor lists a variable with no location, constant
                    // value or outside definition (an argument optimized out everywhere).
                    if loc.is_none()
                        && e.attr_value(gimli::DW_AT_const_value).is_none()
                        && e.attr_value(gimli::DW_AT_external).is_none()
                    {
                        continue;
                    }
                    // A static local lives at a fixed address, fetched by its name.
                    let placed = loc.map(|l| match l {
                        AttributeValue::Exprloc(x)
                            if matches!(
                                x.operations(self.unit.encoding()).next(),
                                Ok(Some(gimli::Operation::Address { .. }))
                            ) =>
                        {
                            Ok(Place::Global(name.clone(), 0))
                        }
                        l => self.place(l, frame_base, false),
                    });
                    // A constant with no location is fetched as an immediate (`\7`).
                    let placed = placed.or_else(|| {
                        e.attr_value(gimli::DW_AT_const_value)?
                            .sdata_value()
                            .map(|v| Ok(Place::Imm(v)))
                    });
                    let unsupported = matches!(placed, Some(Err(NoPlace::Unsupported)));
                    let place = placed.and_then(Result::ok);
                    let (ranges, covered) = self.ranges_of_location(loc, scope);
                    out.push(Var {
                        name,
                        param: e.tag() == gimli::DW_TAG_formal_parameter,
                        global: false,
                        ty,
                        shown,
                        place,
                        unsupported,
                        ranges,
                        covered,
                    });
                }
                // perf looks into every scope holding the address, inlined copies too.
                gimli::DW_TAG_lexical_block | gimli::DW_TAG_inlined_subroutine => {
                    let covers = self
                        .dwarf
                        .die_ranges(self.unit, e)
                        .ok()
                        .map(|mut r| {
                            let mut hit = false;
                            while let Ok(Some(rg)) = r.next() {
                                hit |= rg.begin <= self.addr && self.addr < rg.end;
                            }
                            hit
                        })
                        .unwrap_or(false);
                    if covers {
                        let block = self.ranges_of_die(child.entry());
                        self.walk(child, frame_base, &block, out);
                    }
                }
                _ => {}
            }
        }
    }

    /// perf's name of the type at `off`: typedef names kept, qualifiers dropped, `*` for
    /// pointers and arrays, `(unknown_type)` where a type has no name (`void *`).
    fn type_name(&self, off: UnitOffset, depth: u32) -> String {
        let Some(e) = self.entry(off) else {
            return UNKNOWN_TYPE.into();
        };
        let inner = || match e.attr_value(gimli::DW_AT_type) {
            Some(AttributeValue::UnitRef(t)) if depth < 8 => Some(self.type_name(t, depth + 1)),
            _ => None,
        };
        let name = self.string(&e, gimli::DW_AT_name);
        match e.tag() {
            gimli::DW_TAG_pointer_type | gimli::DW_TAG_array_type => {
                inner().map_or_else(|| UNKNOWN_TYPE.into(), |t| format!("{t}*"))
            }
            gimli::DW_TAG_const_type
            | gimli::DW_TAG_volatile_type
            | gimli::DW_TAG_restrict_type => inner().unwrap_or_else(|| UNKNOWN_TYPE.into()),
            gimli::DW_TAG_structure_type => format!("struct {}", name.unwrap_or_default()),
            gimli::DW_TAG_union_type => format!("union {}", name.unwrap_or_default()),
            gimli::DW_TAG_enumeration_type => format!("enum {}", name.unwrap_or_default()),
            gimli::DW_TAG_subroutine_type => "(function_type)".into(),
            _ => name.unwrap_or_else(|| UNKNOWN_TYPE.into()),
        }
    }

    /// The type at `off`, following typedefs and qualifiers; members of structures to a few
    /// levels (a pointer to a list node would go on for ever).
    fn ty(&self, off: UnitOffset, depth: u32) -> Type {
        let Some(e) = self.entry(off) else {
            return Type::Void;
        };
        let inner = |cx: &Self, d: u32| match e.attr_value(gimli::DW_AT_type) {
            Some(AttributeValue::UnitRef(t)) => cx.ty(t, d),
            _ => Type::Void,
        };
        let size = match e.attr_value(gimli::DW_AT_byte_size) {
            Some(AttributeValue::Udata(n)) => n,
            Some(v) => v.udata_value().unwrap_or(0),
            None => 0,
        };
        let name = self.string(&e, gimli::DW_AT_name);
        match e.tag() {
            gimli::DW_TAG_base_type => {
                let enc = match e.attr_value(gimli::DW_AT_encoding) {
                    Some(AttributeValue::Encoding(x)) => x,
                    _ => gimli::DW_ATE_signed,
                };
                Type::Base {
                    name: name.unwrap_or_default(),
                    size,
                    signed: matches!(enc, gimli::DW_ATE_signed | gimli::DW_ATE_signed_char),
                }
            }
            gimli::DW_TAG_typedef
            | gimli::DW_TAG_const_type
            | gimli::DW_TAG_volatile_type
            | gimli::DW_TAG_restrict_type => inner(self, depth),
            gimli::DW_TAG_pointer_type => Type::Pointer(Box::new(inner(self, depth + 1))),
            gimli::DW_TAG_array_type => Type::Array(Box::new(inner(self, depth + 1))),
            gimli::DW_TAG_enumeration_type => Type::Enum {
                name: format!("enum {}", name.unwrap_or_default()),
                size,
            },
            gimli::DW_TAG_structure_type | gimli::DW_TAG_union_type => {
                let kw = if e.tag() == gimli::DW_TAG_union_type {
                    "union"
                } else {
                    "struct"
                };
                let full = format!("{kw} {}", name.unwrap_or_default());
                if depth > 3 {
                    return Type::Opaque(full);
                }
                let mut members = Vec::new();
                if let Ok(mut tree) = self.unit.entries_tree(Some(off)) {
                    if let Ok(root) = tree.root() {
                        let mut ch = root.children();
                        while let Ok(Some(m)) = ch.next() {
                            let me = m.entry();
                            if me.tag() != gimli::DW_TAG_member {
                                continue;
                            }
                            let Some(mname) = self.string(me, gimli::DW_AT_name) else {
                                continue;
                            };
                            // A bitfield has no byte offset to fetch (perf 6.1 refuses it).
                            let moff = match me.attr_value(gimli::DW_AT_data_member_location) {
                                _ if me.attr(gimli::DW_AT_bit_size).is_some() => BITFIELD,
                                Some(v) => v.udata_value().unwrap_or(0),
                                None => 0,
                            };
                            let mty = match me.attr_value(gimli::DW_AT_type) {
                                Some(AttributeValue::UnitRef(t)) => self.ty(t, depth + 1),
                                _ => Type::Void,
                            };
                            members.push((mname, moff, mty));
                        }
                    }
                }
                Type::Struct {
                    name: full,
                    size,
                    members,
                }
            }
            _ => Type::Void,
        }
    }

    /// A location attribute at the address: an expression, or the entry of a location list
    /// that covers it.
    /// Where a variable is at the address: perf reads the first operation of the location
    /// expression covering it (a register, a register plus offset, the frame base plus
    /// offset, the CFA) and ignores what follows; any other first operation it does not
    /// support; the CFA only as a frame base (`is_frame_base`).
    fn place(
        &self,
        loc: AttributeValue<R<'d>>,
        frame_base: Option<&AttributeValue<R<'d>>>,
        is_frame_base: bool,
    ) -> Result<Place, NoPlace> {
        let expr = match loc {
            AttributeValue::Exprloc(e) => e,
            other => {
                let mut list = self
                    .dwarf
                    .attr_locations(self.unit, other)
                    .ok()
                    .flatten()
                    .ok_or(NoPlace::Missing)?;
                let mut found = None;
                while let Ok(Some(entry)) = list.next() {
                    if entry.range.begin <= self.addr && self.addr < entry.range.end {
                        found = Some(entry.data);
                        break;
                    }
                }
                found.ok_or(NoPlace::Missing)?
            }
        };
        let mut ops = expr.operations(self.unit.encoding());
        let op = ops.next().ok().flatten().ok_or(NoPlace::Missing)?;
        let reg = |r: u16| reg_name(r).ok_or(NoPlace::Missing);
        match op {
            gimli::Operation::Register { register } => reg(register.0).map(Place::Reg),
            gimli::Operation::RegisterOffset {
                register, offset, ..
            } => Ok(Place::Mem(offset, format!("%{}", reg(register.0)?))),
            gimli::Operation::FrameOffset { offset } => {
                // Without a frame base here (or a CFA for one that is the CFA) perf
                // has nothing to add the offset to.
                let fb = frame_base.ok_or(NoPlace::Unsupported)?;
                let base = self
                    .place(*fb, None, true)
                    .map_err(|_| NoPlace::Unsupported)?;
                match base {
                    Place::Mem(o, b) => Ok(Place::Mem(o + offset, b)),
                    Place::Reg(r) => Ok(Place::Mem(offset, format!("%{r}"))),
                    Place::Global(..) | Place::Imm(_) => Err(NoPlace::Missing),
                }
            }
            gimli::Operation::CallFrameCFA if is_frame_base => {
                let (r, o) = self.cfa.ok_or(NoPlace::Unsupported)?;
                Ok(Place::Mem(o, format!("%{}", reg(r)?)))
            }
            _ => Err(NoPlace::Unsupported),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_parse_and_are_named_as_perf() {
        let a = ArgSpec::parse("p->name:string");
        assert_eq!(a.var, "p");
        assert_eq!(a.fields, vec![(true, "name".to_string())]);
        assert_eq!(a.ty.as_deref(), Some("string"));
        assert_eq!(a.default_name(), "name");
        assert_eq!(ArgSpec::parse("s:string").default_name(), "s_string");
        assert_eq!(ArgSpec::parse("a:x32").default_name(), "a_x32");
        assert_eq!(ArgSpec::parse("b=a:u8").default_name(), "b");
        let a = ArgSpec::parse("x.y->z");
        assert_eq!(
            a.fields,
            vec![(false, "y".to_string()), (true, "z".to_string())]
        );
        assert_eq!(Place::Mem(-20, "%bp".into()).text(), "-20(%bp)");
        assert_eq!(Place::Mem(16, "-40(%bp)".into()).text(), "+16(-40(%bp))");
    }
}
