//! Adding probes: uprobes through tracefs, kernel probes (refused without kprobes), and the
//! lines perf prints for what it added.
use super::*;

/// `-a`/the definition words, or `-D` (`show` prints instead of adding).
pub(super) fn add(cfg: &ProbeConfig, defs: &[String], show: bool) -> Result<ExitCode> {
    let what = "Failed to add events.";
    let specs = defs
        .iter()
        .map(|d| Spec::parse(d))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| fail(cfg.quiet, &e.0, what, EINVAL))?;
    // `-k VMLINUX` or `-m MODULE.ko`: kernel probes found in its DWARF as user probes are
    // in `-x`'s.
    let module = module_path(cfg);
    let found;
    let exec = match (&cfg.exec, module, &cfg.vmlinux) {
        (Some(x), _, _) => x,
        (None, Some(m), _) => m,
        (None, None, Some(k)) => k,
        (None, None, None) if !specs.iter().any(needs_dwarf) => {
            return add_kernel(cfg, &specs, show)
        }
        // Kernel variables or lines need a vmlinux's DWARF: perf looks in its usual places.
        (None, None, None) => match standard_vmlinux() {
            Some(v) => {
                found = v;
                &found
            }
            None => {
                return Err(fail(
                    cfg.quiet,
                    "Failed to find the path for the kernel: Invalid ELF file",
                    what,
                    ENOENT,
                ))
            }
        },
    };
    let kernel = cfg.exec.is_none();
    // A module's probes name it as the kernel knows it (its .ko's own name, else, as perf
    // writes it, the object's absolute path).
    let module = module.map(|m| {
        probe::debuginfo::module_name(m).unwrap_or_else(|| {
            std::fs::canonicalize(m)
                .unwrap_or_else(|_| m.to_path_buf())
                .to_string_lossy()
                .into_owned()
        })
    });
    if kernel && !show {
        if module.is_some() {
            if !cfg.dry_run && !events_file(true).is_ok_and(|p| p.exists()) {
                return Err(no_kprobes());
            }
        } else {
            check_vmlinux(cfg, exec, what)?;
        }
    }
    let bin = open_binary(cfg, exec, what)?;
    let path = bin.path.to_string_lossy().into_owned();
    let taken: BTreeSet<String> = if show || cfg.dry_run {
        existing(cfg.quiet, what, false).unwrap_or_default()
    } else {
        existing(cfg.quiet, what, true)?
    }
    .into_iter()
    // perf refuses an event name any group already has.
    .map(|(d, _)| d.event)
    .collect();
    let mut taken = taken;
    // (definition, point text, argument text as typed)
    let mut planned: Vec<(Definition, String, Vec<String>)> = Vec::new();
    for spec in &specs {
        if let Point::Sdt { provider, name } = &spec.point {
            for def in sdt_definitions(cfg, spec, &bin, provider, name, &mut taken, show, what)? {
                planned.push((def, format!("%{name}"), Vec::new()));
            }
            continue;
        }
        let (func, addrs) = resolve(cfg, spec, &bin, what)?;
        let sites = inline_instances(&bin, spec);
        if addrs.len() > cfg.max_probes {
            // perf's words and status (-ERANGE).
            return Err(fail(
                cfg.quiet,
                &format!("Too many( > {}) probe point found.", cfg.max_probes),
                what,
                ERANGE,
            ));
        }
        let mut addrs = addrs;
        // perf skips the prologue of user-space functions only.
        for a in addrs.iter_mut().filter(|_| !kernel) {
            if let Some(after) = after_prologue(&bin, spec, *a, site_at(&sites, spec, *a)) {
                if !cfg.quiet {
                    eprintln!(
                        "Target program is compiled without optimization. Skipping prologue.\n\
                         Probe on address 0x{:x} to force probing at the function entry.\n",
                        bin.file_offset(*a).unwrap_or(*a)
                    );
                }
                *a = after;
            }
        }
        let group = spec.group.clone().unwrap_or_else(|| {
            if kernel {
                "probe".into()
            } else {
                probe::default_group(&bin.path)
            }
        });
        // perf marks a return probe's event `__return` even when the user named it.
        let base = match &spec.event {
            Some(e) if spec.is_return() => format!("{e}__return"),
            Some(e) => e.clone(),
            None => probe::default_event(&func, &spec.point),
        };
        // -D checks no names: it shows what each definition alone would write.
        let event = claim_event(cfg, &mut taken, base, show, what)?;
        for addr in addrs {
            if kernel {
                // perf's offline kernel: the symbol the address is in, and how far in.
                let (sym, start) = bin
                    .symbol_at(addr)
                    .map(|s| (s.name.clone(), s.addr))
                    .or_else(|| {
                        let f = bin.debug.as_ref()?.function_at(addr)?;
                        Some((f.name.clone(), f.entry))
                    })
                    .ok_or_else(|| {
                        fail(
                            cfg.quiet,
                            &format!("No symbol of {path} covers 0x{addr:x}."),
                            what,
                            ENOENT,
                        )
                    })?;
                let args = fetch_args(cfg, spec, &bin, what, addr, site_at(&sites, spec, addr))?;
                let def = Definition::kprobe(
                    spec.is_return(),
                    &group,
                    &event,
                    module.as_deref(),
                    &sym,
                    addr - start,
                    args,
                );
                planned.push((def, spec.point_text(), shown_args(spec)));
                continue;
            }
            let off = bin.file_offset(addr).ok_or_else(|| {
                fail(
                    cfg.quiet,
                    &format!(
                        "Address 0x{addr:x} of '{}' is in no loadable segment of {path}.",
                        spec.point_text()
                    ),
                    what,
                    EINVAL,
                )
            })?;
            let args = fetch_args(cfg, spec, &bin, what, addr, site_at(&sites, spec, addr))?;
            let def = Definition::uprobe(spec.is_return(), &group, &event, &path, off, args);
            planned.push((def, spec.point_text(), shown_args(spec)));
        }
    }
    if show {
        let mut out = String::new();
        for (d, _, _) in &planned {
            let _ = writeln!(out, "{}", d.line());
        }
        std::io::stdout().lock().write_all(out.as_bytes())?;
        return Ok(ExitCode::SUCCESS);
    }
    if !cfg.dry_run {
        for (i, (d, _, _)) in planned.iter().enumerate() {
            if let Err(e) = write_events(kernel, &d.line()) {
                // Leave tracefs as it was: take back the probes this run added.
                for (done, _, _) in &planned[..i] {
                    let _ = write_events(kernel, &format!("-:{}/{}", done.group, done.event));
                }
                if e.kind() == std::io::ErrorKind::PermissionDenied {
                    return Err(no_permission(cfg.quiet, what));
                }
                return Err(fail(
                    cfg.quiet,
                    &format!("Failed to write event: {} ({})", strerror(&e), d.line()),
                    what,
                    EINVAL,
                ));
            }
        }
    }
    if !cfg.quiet {
        print_added(&planned, (!kernel).then_some(path.as_str()));
    }
    Ok(ExitCode::SUCCESS)
}

/// Adding kernel probes found in `-k VMLINUX`: the kernel must have kprobes (unless only
/// `-n` is asked), and, as perf checks, the file must be the running kernel's build.
pub(super) fn check_vmlinux(cfg: &ProbeConfig, vmlinux: &Path, what: &str) -> Result<()> {
    if !cfg.dry_run && !events_file(true).is_ok_and(|p| p.exists()) {
        return Err(no_kprobes());
    }
    let why = match rperf_symbols::build_id(vmlinux).ok().flatten() {
        None => "Can not read build id",
        Some(id) if Some(&id) != rperf_symbols::kernel_build_id().as_ref() => {
            "Mismatching build id"
        }
        Some(_) => return Ok(()),
    };
    Err(fail(
        cfg.quiet,
        &format!("Failed to find the path for the kernel: {why}"),
        what,
        ENOENT,
    ))
}

/// perf's report of added probes, on stderr (`path`: the binary of user probes).
pub(super) fn print_added(planned: &[(Definition, String, Vec<String>)], path: Option<&str>) {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Added new event{}:",
        if planned.len() > 1 { "s" } else { "" }
    );
    for (d, point, args) in planned {
        let with = if args.is_empty() {
            String::new()
        } else {
            format!(" with {}", args.join(" "))
        };
        let place = path.map(|p| format!(" in {p}")).unwrap_or_default();
        let _ = writeln!(s, "  {:<20} (on {point}{place}{with})", d.full_name());
    }
    if let Some((last, _, _)) = planned.last() {
        let _ = write!(
            s,
            "\nYou can now use it in all perf tools, such as:\n\n\trperf record -e {} -aR sleep \
             1\n\n",
            last.full_name()
        );
    }
    let _ = std::io::stderr().lock().write_all(s.as_bytes());
}

/// Kernel probes: through kprobe_events, which this kernel may not have.
pub(super) fn add_kernel(cfg: &ProbeConfig, specs: &[Spec], show: bool) -> Result<ExitCode> {
    let what = "Failed to add events.";
    let has_kprobes = events_file(true).is_ok_and(|p| p.exists());
    if !has_kprobes && !show {
        return Err(no_kprobes());
    }
    let mut defs = Vec::new();
    for spec in specs {
        let Point::Func {
            name,
            offset,
            ret,
            src: None,
            rel_line: None | Some(0),
        } = &spec.point
        else {
            return Err(fail(
                cfg.quiet,
                "rperf probes kernel functions by symbol only (FUNC[+OFF|%return]): kernel DWARF \
                 is not read",
                what,
                ENOSYS,
            ));
        };
        let mut args = Vec::new();
        for a in &spec.args {
            let e = match a.split_once('=') {
                Some((n, e)) if probe::is_event_name(n) => e,
                _ => a.as_str(),
            };
            if !is_raw_fetch(e) {
                return Err(fail(
                    cfg.quiet,
                    &format!(
                        "rperf cannot fetch the kernel variable '{e}' by name: give a raw \
                              fetch argument such as {e}=%si:u64"
                    ),
                    what,
                    ENOSYS,
                ));
            }
            // As perf writes them: unnamed ones bare (the kernel names them argN).
            args.push(a.clone());
        }
        if let Some(module) = cfg.kernel_file.as_deref() {
            // A loaded module by name: its symbols are not read, the kernel resolves them.
            if !module_loaded(module) {
                return Err(fail(
                    cfg.quiet,
                    &format!(
                        "Module {module} is not loaded: give the path of its .ko file \
                         (-m /path/to/{module}.ko)"
                    ),
                    what,
                    EINVAL,
                ));
            }
            let group = spec.group.clone().unwrap_or_else(|| "probe".into());
            let event = spec
                .event
                .clone()
                .unwrap_or_else(|| probe::default_event(name, &spec.point));
            defs.push((
                Definition::kprobe(*ret, &group, &event, Some(module), name, *offset, args),
                spec,
            ));
            continue;
        }
        let found = kernel::kallsyms_definitions(cfg, spec, name, *offset, *ret, args, what)?;
        defs.extend(found.into_iter().map(|d| (d, spec)));
    }
    if show {
        for (d, _) in &defs {
            println!("{}", d.line());
        }
        return Ok(ExitCode::SUCCESS);
    }
    if !cfg.dry_run {
        for (d, _) in &defs {
            write_events(true, &d.line()).map_err(|e| {
                if e.kind() == std::io::ErrorKind::PermissionDenied {
                    no_permission(cfg.quiet, what)
                } else {
                    fail(
                        cfg.quiet,
                        &format!("Failed to write event: {e}"),
                        what,
                        EINVAL,
                    )
                }
            })?;
        }
    }
    if !cfg.quiet {
        let planned: Vec<_> = defs
            .into_iter()
            .map(|(d, s)| (d, s.point_text(), s.args.clone()))
            .collect();
        let mut s = String::new();
        for (d, p, _) in &planned {
            let _ = writeln!(s, "  {:<20} (on {p})", d.full_name());
        }
        eprint!(
            "Added new event{}:\n{s}",
            if planned.len() > 1 { "s" } else { "" }
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `-m`'s module when it is given by path (perf's rule: a name holding a '/'), which is
/// read offline as `-k`'s vmlinux is; a bare name is a loaded module's.
pub(super) fn module_path(cfg: &ProbeConfig) -> Option<&Path> {
    cfg.kernel_file
        .as_deref()
        .filter(|m| m.contains('/'))
        .map(Path::new)
}

/// Whether the running kernel has module `name` loaded (`-` and `_` being one).
fn module_loaded(name: &str) -> bool {
    let norm = |s: &str| s.replace('-', "_");
    std::fs::read_to_string("/proc/modules").is_ok_and(|t| {
        t.lines()
            .filter_map(|l| l.split_whitespace().next())
            .any(|m| norm(m) == norm(name))
    })
}

/// perf's `perf_probe_event_need_dwarf`: a source line, a lazy pattern or an argument that
/// names a variable needs the target's DWARF.
fn needs_dwarf(spec: &Spec) -> bool {
    let point = match &spec.point {
        Point::Func { src, rel_line, .. } => src.is_some() || rel_line.is_some_and(|l| l > 0),
        Point::Sdt { .. } => false,
        _ => true,
    };
    point || spec.args.iter().any(|a| is_named(a))
}

/// The first vmlinux of perf's search list (`vmlinux_path`) that exists: the working
/// directory's, /boot's, then the running release's under /boot, /usr/lib/debug and
/// /lib/modules.
fn standard_vmlinux() -> Option<PathBuf> {
    let r = crate::sys::topology::uname().release;
    [
        "vmlinux".to_string(),
        "/boot/vmlinux".to_string(),
        format!("/boot/vmlinux-{r}"),
        format!("/usr/lib/debug/boot/vmlinux-{r}"),
        format!("/lib/modules/{r}/build/vmlinux"),
        format!("/usr/lib/debug/lib/modules/{r}/vmlinux"),
        format!("/usr/lib/debug/boot/vmlinux-{r}.debug"),
    ]
    .into_iter()
    .map(PathBuf::from)
    .find(|p| p.is_file())
}
