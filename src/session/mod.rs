//! Replays side-band records into threads, command names and address spaces, so each sample
//! resolves against the mappings of its process at the time it was taken; and symbolizes
//! (binary, address) pairs, loading each binary once.
use std::collections::HashMap;

use rustc_hash::FxHashMap;
use std::path::{Path, PathBuf};

use rperf_symbols::{ElfSymbols, Kallsyms};

use crate::data::{Mode, Record};

/// Index of a binary (or pseudo-binary) in [`Session::dsos`].
pub type DsoId = u32;

/// A binary that code ran from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dso {
    /// Full path or pseudo-name (`[kernel.kallsyms]`, `[vdso]`).
    pub path: String,
    /// Whether it is the kernel or a module.
    pub kernel: bool,
    /// Memory without a file behind it, which perf addresses absolutely (identity map).
    pub anonymous: bool,
    /// For a JIT map (`/tmp/perf-PID.map`), perf's name for it: `[JIT] tid PID`.
    pub jit_name: Option<String>,
}

/// Whether a mapping's name is memory without a file behind it.
fn is_anonymous(path: &str) -> bool {
    const PREFIXES: [&str; 7] = [
        "//anon",
        "/dev/zero",
        "/anon_hugepage",
        "[stack",
        "/SYSV",
        "[heap]",
        "/tmp/perf-",
    ];
    PREFIXES.iter().any(|p| path.starts_with(p))
}

impl Dso {
    /// The name perf's report shows: the file name, or the pseudo-name.
    pub fn short_name(&self) -> &str {
        if self.path.starts_with('[') {
            return &self.path;
        }
        if let Some(jit) = &self.jit_name {
            return jit;
        }
        self.path.rsplit('/').next().unwrap_or(&self.path)
    }
}

/// A mapping of a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Map {
    /// Start address.
    pub start: u64,
    /// End address (exclusive).
    pub end: u64,
    /// File offset of `start`.
    pub pgoff: u64,
    /// The binary.
    pub dso: DsoId,
    /// Executable.
    pub exec: bool,
}

/// Where an address landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    /// The binary.
    pub dso: DsoId,
    /// The address inside it as perf prints it: map-relative (file offset) for user code,
    /// absolute for the kernel.
    pub rel: u64,
}

/// Threads and address spaces as of the records replayed so far.
#[derive(Debug, Default)]
pub struct Session {
    comms: FxHashMap<i32, u32>,
    comm_names: Vec<String>,
    comm_lookup: FxHashMap<String, u32>,
    pids: FxHashMap<i32, i32>,
    maps: FxHashMap<i32, Vec<Map>>,
    kernel_maps: Vec<Map>,
    dsos: Vec<Dso>,
    dso_ids: FxHashMap<String, DsoId>,
    generations: FxHashMap<i32, u64>,
    kernel_generation: u64,
    /// Records the kernel said it dropped.
    pub lost: u64,
    /// Cgroup paths by id (CGROUP records).
    cgroups: FxHashMap<u64, String>,
    /// Each thread's cgroup namespace (dev, inode), from NAMESPACES records.
    cgroup_ns: FxHashMap<i32, (u64, u64)>,
}

/// Adds `m`, keeping the parts of older maps it does not cover, as perf's
/// `maps__fixup_overlappings` does: an mprotect of part of a mapping is reported as a
/// mapping of that part alone, and the rest of the old one still holds.
fn insert_map(v: &mut Vec<Map>, m: Map) {
    let mut kept = Vec::new();
    v.retain(|o| {
        if o.end <= m.start || o.start >= m.end {
            return true;
        }
        if o.start < m.start {
            kept.push(Map { end: m.start, ..*o });
        }
        if o.end > m.end {
            kept.push(Map {
                start: m.end,
                pgoff: o.pgoff + (m.end - o.start),
                ..*o
            });
        }
        false
    });
    for k in kept.into_iter().chain(std::iter::once(m)) {
        let at = v.partition_point(|o| o.start < k.start);
        v.insert(at, k);
    }
}

fn find_map(v: &[Map], addr: u64) -> Option<&Map> {
    let i = v.partition_point(|m| m.start <= addr);
    let m = v.get(i.checked_sub(1)?)?;
    (addr < m.end).then_some(m)
}

impl Session {
    /// An empty session.
    pub fn new() -> Session {
        Session::default()
    }

    /// The path of cgroup `id` (`/` for the root), when a CGROUP record named it.
    pub fn cgroup_path(&self, id: u64) -> Option<&str> {
        self.cgroups.get(&id).map(String::as_str)
    }

    /// The cgroup namespace (dev, inode) of thread `tid` (else of its process), when a
    /// NAMESPACES record told it.
    pub fn cgroup_ns(&self, tid: i32) -> Option<(u64, u64)> {
        self.cgroup_ns.get(&tid).copied().or_else(|| {
            let pid = self.pids.get(&tid)?;
            self.cgroup_ns.get(pid).copied()
        })
    }

    fn intern_comm(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.comm_lookup.get(name) {
            return id;
        }
        let id = self.comm_names.len() as u32;
        self.comm_names.push(name.to_string());
        self.comm_lookup.insert(name.to_string(), id);
        id
    }

    fn dso_id(&mut self, path: &str, kernel: bool) -> DsoId {
        if let Some(&id) = self.dso_ids.get(path) {
            return id;
        }
        let id = self.dsos.len() as DsoId;
        self.dsos.push(Dso {
            path: path.to_string(),
            kernel,
            anonymous: is_anonymous(path),
            jit_name: path
                .strip_prefix("/tmp/perf-")
                .and_then(|r| r.strip_suffix(".map"))
                .map(|pid| format!("[JIT] tid {pid}")),
        });
        self.dso_ids.insert(path.to_string(), id);
        id
    }

    /// Every binary seen.
    pub fn dsos(&self) -> &[Dso] {
        &self.dsos
    }

    /// Applies a side-band record (samples are ignored here).
    pub fn apply(&mut self, rec: &Record) {
        match rec {
            Record::Comm { pid, tid, name, .. } => {
                // On exec perf keeps the old maps: the new program's MMAP2s replace them as
                // they come, and samples inside execve still resolve against the old image.
                let id = self.intern_comm(name);
                self.comms.insert(*tid, id);
                self.pids.insert(*tid, *pid);
            }
            Record::Fork {
                pid,
                ppid,
                tid,
                ptid,
                synthesized,
            } => {
                // A fork makes a new thread, as perf does: whatever an earlier task of the
                // same id left (ids are reused) is gone. The kernel copies the name of the
                // forking thread, not of its process.
                let parent_comm = self
                    .comms
                    .get(ptid)
                    .or_else(|| self.comms.get(ppid))
                    .cloned();
                match parent_comm {
                    Some(c) => self.comms.insert(*tid, c),
                    None => self.comms.remove(tid),
                };
                self.pids.insert(*tid, *pid);
                if pid != ppid {
                    // A new process starts with a copy of its parent's address space; one
                    // the recorder synthesized gets its own MMAPs next, and a copy would
                    // leave the parent's binaries where the child has nothing.
                    let m = match synthesized {
                        false => self.maps.get(ppid).cloned().unwrap_or_default(),
                        true => Vec::new(),
                    };
                    self.maps.insert(*pid, m);
                    *self.generations.entry(*pid).or_default() += 1;
                }
            }
            Record::Mmap {
                pid,
                start,
                len,
                pgoff,
                path,
                mode,
                exec,
            } => {
                let kernel = *mode == Mode::Kernel;
                // Executable anonymous memory is JIT code: perf looks it up in the JIT's
                // /tmp/perf-PID.map.
                let jit;
                // perf names the kernel text map after its symbol; the binary is the kernel.
                let name = if kernel && path.starts_with("[kernel.kallsyms]") {
                    "[kernel.kallsyms]"
                } else if !kernel
                    && *exec
                    && (path == "//anon" || path.is_empty() || path.starts_with("[anon"))
                {
                    jit = format!("/tmp/perf-{pid}.map");
                    jit.as_str()
                } else {
                    path.as_str()
                };
                let dso = self.dso_id(name, kernel);
                let m = Map {
                    start: *start,
                    end: start.saturating_add(*len),
                    pgoff: *pgoff,
                    dso,
                    exec: *exec,
                };
                if kernel {
                    insert_map(&mut self.kernel_maps, m);
                    self.kernel_generation += 1;
                } else {
                    insert_map(self.maps.entry(*pid).or_default(), m);
                    *self.generations.entry(*pid).or_default() += 1;
                }
            }
            Record::Lost { count } => self.lost += count,
            Record::Cgroup { id, path, .. } => {
                self.cgroups.insert(*id, path.clone());
            }
            Record::Namespaces { tid, ns, .. } => {
                // The kernel's order: net, uts, ipc, pid, user, mnt, cgroup.
                if let Some(&c) = ns.get(6) {
                    self.cgroup_ns.insert(*tid, c);
                }
            }
            _ => {}
        }
    }

    /// The user-space mappings of a process, by address.
    pub fn user_maps(&self, pid: i32) -> &[Map] {
        self.maps.get(&pid).map(Vec::as_slice).unwrap_or(&[])
    }

    /// A number that changes whenever the mappings of `pid` change.
    pub fn maps_generation(&self, pid: i32) -> u64 {
        self.generations.get(&pid).copied().unwrap_or(0)
    }

    /// A number that changes whenever the kernel's mappings change.
    pub fn kernel_generation(&self) -> u64 {
        self.kernel_generation
    }

    /// The command name of a thread (perf's `:tid` when never named).
    pub fn comm(&self, tid: i32) -> String {
        match self.comms.get(&tid) {
            Some(&c) => self.comm_names[c as usize].clone(),
            // The idle task never gets a COMM record; perf calls it swapper.
            None if tid == 0 => "swapper".to_string(),
            None => format!(":{tid}"),
        }
    }

    /// A thread's command name as a small id ([`Session::comm_name`] gives the text); names
    /// never seen get an id too, so ids identify exactly what [`Session::comm`] returns.
    pub fn comm_id(&mut self, tid: i32) -> u32 {
        match self.comms.get(&tid) {
            Some(&c) => c,
            None => {
                let name = self.comm(tid);
                self.intern_comm(&name)
            }
        }
    }

    /// The text of a comm id.
    pub fn comm_name(&self, id: u32) -> &str {
        &self.comm_names[id as usize]
    }

    /// Resolves an address of process `pid` taken in `mode`.
    pub fn resolve(&self, pid: i32, addr: u64, mode: Mode) -> Option<Location> {
        let m = match mode {
            // Kernel text beyond the recorded map (.init.text and friends) is still the kernel.
            Mode::Kernel => find_map(&self.kernel_maps, addr).or_else(|| {
                let k = self.dso_ids.get("[kernel.kallsyms]")?;
                self.kernel_maps
                    .iter()
                    .find(|m| m.dso == *k && addr >= m.start)
            })?,
            _ => find_map(self.maps.get(&pid)?, addr)?,
        };
        let dso = &self.dsos[m.dso as usize];
        let rel = if dso.kernel || dso.anonymous {
            addr
        } else {
            addr - m.start + m.pgoff
        };
        Some(Location { dso: m.dso, rel })
    }
}

pub use crate::dirs::cache_dir;

/// Symbolizes (binary, address) pairs, loading each binary once.
#[derive(Debug, Default)]
pub struct Symbolizer {
    elf: HashMap<DsoId, Option<ElfSymbols>>,
    jit: HashMap<DsoId, Option<rperf_symbols::PerfMap>>,
    kallsyms: Option<Kallsyms>,
    lines: HashMap<DsoId, Option<rperf_symbols::Lines>>,
    /// Build-ids the file recorded, by path (from its BUILD_ID feature).
    build_ids: HashMap<String, Vec<u8>>,
    /// The build-id the file gives the kernel it was recorded on.
    kernel_id: Option<Vec<u8>>,
    /// `--symfs`: a root prepended to every binary path.
    pub symfs: Option<PathBuf>,
    /// Per binary, the names binutils' addr2line settled on for function instances it
    /// was asked about (see [`Symbolizer::addr2line_stack`]): `Some` when it took the ELF
    /// symbol's name for the instance for good, `None` when it keeps its DWARF name.
    a2l_names: HashMap<DsoId, HashMap<(u64, u64), Option<String>>>,
}

/// A resolved symbol: name and offset of the address into it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sym {
    /// Function name.
    pub name: String,
    /// Offset from the function start.
    pub offset: u64,
}

impl Symbolizer {
    /// A symbolizer with an optional `--symfs` root.
    pub fn new(symfs: Option<PathBuf>) -> Symbolizer {
        Symbolizer {
            symfs,
            ..Symbolizer::default()
        }
    }

    /// Which kernel the file was recorded on (its BUILD_ID feature's kernel entry), for
    /// [`Symbolizer::kernel`]; before any kernel lookup.
    pub fn recorded_on(&mut self, kernel_build_id: Option<Vec<u8>>) {
        self.kernel_id = kernel_build_id;
    }

    /// The recorded kernel's symbol table (loaded on first use): see [`recorded_kernel`].
    pub fn kernel(&mut self) -> &Kallsyms {
        let id = self.kernel_id.as_deref();
        self.kallsyms.get_or_insert_with(|| recorded_kernel(id))
    }

    /// Loads, in parallel, the symbol tables of the binaries among `paths` (the file's
    /// BUILD_ID list: those samples hit) that the session knows and that are not loaded
    /// yet. Lookups then find them ready; a binary is still loaded at most once.
    pub fn preload(&mut self, session: &Session, hits: &[(String, Vec<u8>)]) {
        use rayon::prelude::*;
        if self.build_ids.is_empty() {
            self.build_ids = hits.iter().cloned().collect();
        }
        let todo: Vec<(DsoId, String)> = session
            .dsos()
            .iter()
            .enumerate()
            .filter(|(i, d)| {
                !d.kernel
                    && d.jit_name.is_none()
                    && !self.elf.contains_key(&(*i as DsoId))
                    && hits.binary_search_by(|(p, _)| p.cmp(&d.path)).is_ok()
            })
            .map(|(i, d)| (i as DsoId, d.path.clone()))
            .collect();
        // The kernel's table (read from its cache and unpacked) loads beside the binaries
        // when the file has kernel maps.
        let kernel = self.kallsyms.is_none() && session.dsos().iter().any(|d| d.kernel);
        if todo.len() + usize::from(kernel) < 2 {
            return;
        }
        let (ids, symfs, kernel_id) = (&self.build_ids, &self.symfs, self.kernel_id.as_deref());
        let (loaded, kallsyms) = rayon::join(
            || -> Vec<(DsoId, Option<ElfSymbols>)> {
                todo.into_par_iter()
                    .map(|(id, path)| (id, load_elf(ids, symfs, &path)))
                    .collect()
            },
            || kernel.then(|| recorded_kernel(kernel_id)),
        );
        self.elf.extend(loaded);
        if kallsyms.is_some() {
            self.kallsyms = kallsyms;
        }
    }

    /// Where to read the binary recorded as `path`: the file itself (below `--symfs`) when it
    /// is the one recorded, else perf's build-id cache copy (`$PERF_BUILDID_DIR` or
    /// `~/.debug`, `.build-id/xx/rest/elf`), else the file anyway when its build-id cannot
    /// be told. None when the file there is another build and no copy of the recorded one
    /// is cached: its symbols would name other code, so perf shows raw addresses, as rperf
    /// does. Returns the path and the root to read it under.
    pub fn locate(&self, path: &str) -> Option<(PathBuf, Option<PathBuf>)> {
        locate(&self.build_ids, &self.symfs, path)
    }

    fn load_elf(&self, path: &str) -> Option<ElfSymbols> {
        load_elf(&self.build_ids, &self.symfs, path)
    }

    /// The virtual address of `loc` in its ELF binary (the symbol table maps file offsets).
    pub fn vaddr(&mut self, session: &Session, loc: Location) -> Option<u64> {
        let dso = &session.dsos()[loc.dso as usize];
        if dso.kernel || dso.jit_name.is_some() || !dso.path.starts_with('/') {
            return None;
        }
        self.symbol(session, loc)?;
        self.elf.get(&loc.dso)?.as_ref()?.offset_to_vaddr(loc.rel)
    }

    fn dwarf(&mut self, session: &Session, loc: Location) -> Option<&rperf_symbols::Lines> {
        if !self.lines.contains_key(&loc.dso) {
            // The binary that ran, as for its symbols: a rebuilt one's DWARF names other code.
            let lines = self
                .locate(&session.dsos()[loc.dso as usize].path)
                .and_then(|(file, root)| rperf_symbols::Lines::load(&file, root.as_deref()));
            self.lines.insert(loc.dso, lines);
        }
        self.lines.get(&loc.dso)?.as_ref()
    }

    /// The inlined calls at `loc`, innermost first, without the containing function (which
    /// [`Symbolizer::symbol`] names): empty when there are none or no DWARF.
    pub fn inlined(&mut self, session: &Session, loc: Location) -> Vec<rperf_symbols::InlineFrame> {
        let mut v = self.inline_stack(session, loc);
        v.pop();
        v
    }

    /// Every function DWARF places at `loc`: the inlined calls innermost first, then the
    /// containing function as DWARF names it. Empty when there is no DWARF for it.
    pub fn inline_stack(
        &mut self,
        session: &Session,
        loc: Location,
    ) -> Vec<rperf_symbols::InlineFrame> {
        let Some(vaddr) = self.vaddr(session, loc) else {
            return Vec::new();
        };
        let Some(lines) = self.dwarf(session, loc) else {
            return Vec::new();
        };
        lines.frames(vaddr)
    }

    /// The functions at `loc` as binutils' addr2line names them when perf asks it (one
    /// addr2line per binary for the whole session, each address once, in sample order):
    /// innermost first, each frame's `function` the name it prints. Its rule: the innermost
    /// function is named by its DWARF linkage name; without one (Rust's line-tables-only
    /// DWARF, Go), by the ELF symbol at the address (the first in the symbol table of the
    /// aliases of folded code, not perf's pick), and the function's entry is then marked
    /// as named, so that later lookups in it print its DWARF name, unless the symbol starts
    /// where the function's first range does, in which case the symbol's name replaces the
    /// DWARF name for good, also where the function is a caller of an inlined one.
    /// perf then shows a frame whose name equals the symbol's as the symbol itself.
    pub fn addr2line_stack(
        &mut self,
        session: &Session,
        loc: Location,
    ) -> Vec<rperf_symbols::InlineFrame> {
        let mut stack = self.inline_stack(session, loc);
        if stack.is_empty() {
            return stack;
        }
        let mut sym = self.symbol(session, loc);
        let start = self
            .vaddr(session, loc)
            .zip(sym.as_ref())
            .map(|(v, s)| v.wrapping_sub(s.offset));
        // binutils reads the symbol table itself: of folded aliases it takes the first.
        let alias = start.and_then(|st| {
            let table = self.elf.get(&loc.dso)?.as_ref()?;
            table.binutils_alias(st)
        });
        if let (Some(s), Some(a)) = (sym.as_mut(), alias) {
            s.name = a;
        }
        let named = self.a2l_names.entry(loc.dso).or_default();
        let first = &mut stack[0];
        if !first.linkage {
            match first.instance.and_then(|k| named.get(&k)) {
                Some(Some(renamed)) => first.function = Some(renamed.clone()),
                Some(None) => {}
                None => {
                    let renamed = match &sym {
                        Some(s) => {
                            first.function = Some(s.name.clone());
                            (first.low.is_some() && first.low == start).then(|| s.name.clone())
                        }
                        None => None,
                    };
                    if let Some(k) = first.instance {
                        named.insert(k, renamed);
                    }
                }
            }
        }
        for f in stack.iter_mut().skip(1) {
            if let Some(Some(renamed)) = f.instance.and_then(|k| named.get(&k)) {
                f.function = Some(renamed.clone());
            }
        }
        for f in &mut stack {
            f.linkage = true;
        }
        stack
    }

    /// perf's srcline for `loc`: `file.c:12` from DWARF, else `symbol+offset` (decimal),
    /// else the binary's short name and its objdump address in hex (`prog[1281]`: perf's
    /// `__get_srcline` for code without debug info or symbols).
    pub fn srcline(&mut self, session: &Session, loc: Location) -> String {
        if let Some(s) = self.dwarf_srcline(session, loc) {
            return s;
        }
        match self.symbol(session, loc) {
            Some(s) => format!("{}+{}", s.name, s.offset),
            None => {
                let addr = (self.elf.get(&loc.dso))
                    .and_then(|t| t.as_ref()?.offset_to_vaddr(loc.rel))
                    .unwrap_or(loc.rel);
                let dso = &session.dsos()[loc.dso as usize];
                format!("{}[{addr:x}]", dso.short_name())
            }
        }
    }

    /// The `file.c:12` DWARF gives `loc`, if any.
    pub fn dwarf_srcline(&mut self, session: &Session, loc: Location) -> Option<String> {
        let vaddr = self.vaddr(session, loc)?;
        self.dwarf(session, loc)
            .and_then(|l| l.location(vaddr))
            .and_then(|f| f.srcline())
    }

    /// The symbol at `loc`, if the binary can be read and has one there.
    pub fn symbol(&mut self, session: &Session, loc: Location) -> Option<Sym> {
        let dso = &session.dsos()[loc.dso as usize];
        if dso.kernel {
            let ks = self.kernel();
            let s = ks.lookup(loc.rel)?;
            return Some(Sym {
                name: s.name.to_string(),
                offset: loc.rel - s.addr,
            });
        }
        if dso.jit_name.is_some() {
            let path = dso.path.clone();
            let map = self.jit.entry(loc.dso).or_insert_with(|| {
                rperf_symbols::file::read_regular_to_string(Path::new(&path))
                    .ok()
                    .map(|t| rperf_symbols::PerfMap::parse(&t))
            });
            let (s, off) = map.as_ref()?.lookup(loc.rel)?;
            return Some(Sym {
                name: s.name.clone(),
                offset: off,
            });
        }
        if dso.path == "[vdso]" {
            let table = self.elf.entry(loc.dso).or_insert_with(|| {
                rperf_symbols::vdso_image().and_then(|img| ElfSymbols::parse(&img).ok())
            });
            let (s, off) = table.as_ref()?.lookup_offset(loc.rel)?;
            return Some(Sym {
                name: s.name,
                offset: off,
            });
        }
        if !dso.path.starts_with('/') {
            return None;
        }
        if !self.elf.contains_key(&loc.dso) {
            let t = self.load_elf(&dso.path);
            self.elf.insert(loc.dso, t);
        }
        let table = self.elf.entry(loc.dso).or_default();
        let (s, off) = table.as_ref()?.lookup_offset(loc.rel)?;
        Some(Sym {
            name: s.name,
            offset: off,
        })
    }
}

/// Where the binary recorded at `path` is read from, given the build-ids the file lists
/// (`build_ids`, by path): see [`Symbolizer::locate`]. The unwinder finds its binaries the
/// same way, so a rebuilt binary is unwound with the CFI of the code that ran.
pub fn locate(
    build_ids: &HashMap<String, Vec<u8>>,
    symfs: &Option<PathBuf>,
    path: &str,
) -> Option<(PathBuf, Option<PathBuf>)> {
    let here = Some((PathBuf::from(path), symfs.clone()));
    let Some(want) = build_ids.get(path).filter(|id| !id.is_empty()) else {
        return here;
    };
    let real = match symfs {
        Some(r) => r.join(path.trim_start_matches('/')),
        None => PathBuf::from(path),
    };
    let id_of = |p: &Path| rperf_symbols::build_id(p).ok().flatten();
    let there = id_of(&real);
    if there.as_ref() == Some(want) {
        return here;
    }
    if let Some(cached) = cached_copy(want) {
        return Some((cached, None));
    }
    // A file with no build-id to compare is read anyway; one with another build is not.
    match there {
        Some(_) => None,
        None => here,
    }
}

/// The symbols of the kernel the file was recorded on, as perf finds them: the running
/// kernel's (`/proc/kallsyms`) when the file names no kernel build-id or the running one's;
/// else the copy perf's build-id cache keeps (`~/.debug/[kernel.kallsyms]/ID/kallsyms`);
/// else none, and kernel addresses print raw. Another kernel's addresses must not be named
/// with this one's symbols.
fn recorded_kernel(kernel_id: Option<&[u8]>) -> Kallsyms {
    let Some(want) = kernel_id.filter(|id| !id.is_empty()) else {
        return Kallsyms::load(cache_dir().as_deref());
    };
    if rperf_symbols::buildid::kernel_build_id().as_deref() == Some(want) {
        return Kallsyms::load(cache_dir().as_deref());
    }
    let copy = buildid_cache_root().map(|r| {
        r.join("[kernel.kallsyms]")
            .join(rperf_symbols::buildid::hex(want))
            .join("kallsyms")
    });
    copy.and_then(|c| std::fs::read_to_string(c).ok())
        .map(|text| Kallsyms::parse(&text))
        .unwrap_or_default()
}

/// perf's build-id cache: `$PERF_BUILDID_DIR`, else `~/.debug`.
fn buildid_cache_root() -> Option<PathBuf> {
    std::env::var_os("PERF_BUILDID_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".debug")))
}

/// The copy of the binary with build-id `want` in perf's build-id cache
/// (`$PERF_BUILDID_DIR`, else `~/.debug`), when it is there and has that build-id.
fn cached_copy(want: &[u8]) -> Option<PathBuf> {
    let hex = rperf_symbols::buildid::hex(want);
    let root = buildid_cache_root()?;
    if hex.len() <= 2 {
        return None;
    }
    let cached = root
        .join(".build-id")
        .join(&hex[..2])
        .join(&hex[2..])
        .join("elf");
    (rperf_symbols::build_id(&cached).ok().flatten().as_deref() == Some(want)).then_some(cached)
}

fn load_elf(
    build_ids: &HashMap<String, Vec<u8>>,
    symfs: &Option<PathBuf>,
    path: &str,
) -> Option<ElfSymbols> {
    let (file, root) = locate(build_ids, symfs, path)?;
    let table = ElfSymbols::load_with_debug(&file, root.as_deref()).ok();
    if table.as_ref().is_some_and(ElfSymbols::from_symtab) {
        return table;
    }
    // perf takes a function table from the build-id cache's copy before the binary's own
    // exported names: a copy cached before the binary was stripped names every function.
    let cached = (build_ids.get(path).filter(|id| !id.is_empty()))
        .and_then(|want| cached_copy(want))
        .filter(|c| *c != file);
    match cached {
        Some(c) => match ElfSymbols::load_with_debug(&c, None) {
            Ok(t) if t.from_symtab() => Some(t),
            _ => table,
        },
        None => table,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mmap(pid: i32, start: u64, len: u64, path: &str, mode: Mode) -> Record<'static> {
        Record::Mmap {
            pid,
            start,
            len,
            pgoff: 0x1000,
            path: path.into(),
            mode,
            exec: true,
        }
    }

    #[test]
    fn a_mapping_over_part_of_another_keeps_the_rest() {
        let mut s = Session::new();
        // A file mapped at 0x10000 (file offset 0x1000), then its first page re-reported
        // alone (mprotect of a RELRO page): the pages after it still belong to the file.
        s.apply(&mmap(7, 0x10000, 0x4000, "/bin/x", Mode::User));
        s.apply(&mmap(7, 0x10000, 0x1000, "/bin/x", Mode::User));
        let l = s.resolve(7, 0x12010, Mode::User).unwrap();
        assert_eq!(l.rel, 0x3010);
        // A mapping in the middle splits the old one in two.
        s.apply(&mmap(7, 0x12000, 0x1000, "//anon", Mode::User));
        assert_eq!(s.resolve(7, 0x11010, Mode::User).unwrap().rel, 0x2010);
        assert_eq!(s.resolve(7, 0x13010, Mode::User).unwrap().rel, 0x4010);
        assert_eq!(s.resolve(7, 0x12010, Mode::User).unwrap().rel, 0x12010);
    }

    #[test]
    fn addresses_resolve_against_the_process_maps_over_time() {
        let mut s = Session::new();
        s.apply(&Record::Comm {
            pid: 10,
            tid: 10,
            name: "sh".into(),
            exec: false,
            at: Default::default(),
        });
        s.apply(&mmap(10, 0x5000, 0x1000, "/bin/sh", Mode::User));
        s.apply(&mmap(
            -1,
            0xffff_0000,
            u64::MAX - 0xffff_0000,
            "[kernel.kallsyms]_text",
            Mode::Kernel,
        ));
        let l = s.resolve(10, 0x5010, Mode::User).unwrap();
        assert_eq!(
            (s.dsos()[l.dso as usize].short_name(), l.rel),
            ("sh", 0x1010)
        );
        let k = s.resolve(10, 0xffff_1234, Mode::Kernel).unwrap();
        assert_eq!(
            (s.dsos()[k.dso as usize].path.as_str(), k.rel),
            ("[kernel.kallsyms]", 0xffff_1234)
        );
        // fork copies the address space and the name
        s.apply(&Record::Fork {
            pid: 11,
            ppid: 10,
            tid: 11,
            ptid: 10,
            synthesized: false,
        });
        assert_eq!(s.comm(11), "sh");
        assert!(s.resolve(11, 0x5010, Mode::User).is_some());
        // exec renames; the new image's mappings replace the old ones as they arrive
        s.apply(&Record::Comm {
            pid: 11,
            tid: 11,
            name: "ls".into(),
            exec: true,
            at: Default::default(),
        });
        assert_eq!(s.comm(11), "ls");
        s.apply(&mmap(11, 0x5000, 0x2000, "/bin/ls", Mode::User));
        let l = s.resolve(11, 0x5010, Mode::User).unwrap();
        assert_eq!(s.dsos()[l.dso as usize].short_name(), "ls");
        assert_eq!(s.comm(99), ":99");
    }

    fn fork(pid: i32, ppid: i32, synthesized: bool) -> Record<'static> {
        Record::Fork {
            pid,
            ppid,
            tid: pid,
            ptid: ppid,
            synthesized,
        }
    }

    /// perf's record synthesizes a FORK (marked FORK_EXEC) for every process running when it
    /// starts, parent included; the child's own MMAPs follow. A copy of the parent's maps
    /// would name the parent's binary for child addresses nothing maps (a compiler's
    /// collect2 showed gcc's binary where perf shows [unknown]).
    #[test]
    fn a_synthesized_fork_copies_nothing_and_a_reused_id_starts_afresh() {
        let mut s = Session::new();
        s.apply(&mmap(10, 0x5000, 0x1000, "/usr/bin/gcc", Mode::User));
        s.apply(&fork(11, 10, true));
        s.apply(&mmap(11, 0x9000, 0x1000, "/usr/lib/collect2", Mode::User));
        assert!(s.resolve(11, 0x5010, Mode::User).is_none());
        assert!(s.resolve(11, 0x9010, Mode::User).is_some());
        // Process 11 gone and its id reused by a child of a process nothing is known of:
        // neither the old maps nor the old name stay.
        s.apply(&Record::Comm {
            pid: 11,
            tid: 11,
            name: "collect2".into(),
            exec: true,
            at: Default::default(),
        });
        s.apply(&fork(11, 20, false));
        assert!(s.resolve(11, 0x9010, Mode::User).is_none());
        assert_eq!(s.comm(11), ":11");
        // A real fork copies the parent's maps.
        s.apply(&fork(12, 10, false));
        assert!(s.resolve(12, 0x5010, Mode::User).is_some());
    }
}
