//! perf trace's argument and return-value printers ("beautifiers"): which printer a syscall
//! argument gets (from perf's per-syscall table, else from the tracepoint field's type and
//! name), and the text each prints, as perf 6.1 prints it.

/// How one argument is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Beauty {
    /// `%ld`.
    Long,
    /// `%#lx`.
    Hex,
    /// `NULL` or `%#lx`.
    Ptr,
    /// A user pointer to a path: perf without its BPF/vfs_getname helpers prints it `%#x`.
    Filename,
    /// A file descriptor.
    Fd,
    /// A directory fd: `CWD` for AT_FDCWD.
    FdAt,
    /// open(2) flags; without O_CREAT the next argument (mode) is hidden.
    OpenFlags,
    /// access(2) mode: F, R, W, X.
    AccessMode,
    /// mmap/mprotect prot.
    MmapProt,
    /// mmap flags; MAP_ANONYMOUS hides fd and offset.
    MmapFlags,
    /// A mode_t.
    Mode,
    /// pipe2 flags.
    PipeFlags,
    /// getrandom flags.
    GetrandomFlags,
    /// A signal number.
    Signum,
    /// clone flags, the exit signal in the low byte left as a number.
    CloneFlags,
    /// wait4/waitid options.
    WaitOptions,
    /// A value named from a table (shown even when zero).
    Table(&'static Table),
    /// arch_prctl's code.
    ArchPrctl,
    /// ioctl's cmd (the common terminal requests by name).
    IoctlCmd,
    /// futex op.
    FutexOp,
    /// madvise behaviour.
    Madvise,
    /// A pid.
    Pid,
    /// statx flags and mask: perf 6.1 prints only the bits of its own tables, here none of
    /// what glibc passes, so an empty string.
    Empty,
}

/// A table of names indexed from `offset`, printed with `%d` when out of range.
#[derive(Debug, PartialEq, Eq)]
pub struct Table {
    /// The value of the first name.
    pub offset: i64,
    /// Names (empty string: a hole).
    pub names: &'static [&'static str],
}

/// rlimit resources.
pub static RLIMIT: Table = Table {
    offset: 0,
    names: &[
        "CPU",
        "FSIZE",
        "DATA",
        "STACK",
        "CORE",
        "RSS",
        "NPROC",
        "NOFILE",
        "MEMLOCK",
        "AS",
        "LOCKS",
        "SIGPENDING",
        "MSGQUEUE",
        "NICE",
        "RTPRIO",
        "RTTIME",
    ],
};
/// lseek whence.
pub static WHENCE: Table = Table {
    offset: 0,
    names: &["SET", "CUR", "END", "DATA", "HOLE"],
};
/// sigprocmask how.
pub static SIGHOW: Table = Table {
    offset: 0,
    names: &["BLOCK", "UNBLOCK", "SETMASK"],
};
/// Clock ids.
pub static CLOCKID: Table = Table {
    offset: 0,
    names: &[
        "REALTIME",
        "MONOTONIC",
        "PROCESS_CPUTIME_ID",
        "THREAD_CPUTIME_ID",
        "MONOTONIC_RAW",
        "REALTIME_COARSE",
        "MONOTONIC_COARSE",
        "BOOTTIME",
        "REALTIME_ALARM",
        "BOOTTIME_ALARM",
        "SGI_CYCLE",
        "TAI",
    ],
};
/// Interval timers.
pub static ITIMERS: Table = Table {
    offset: 0,
    names: &["REAL", "VIRTUAL", "PROF"],
};
/// epoll_ctl ops.
pub static EPOLL_OPS: Table = Table {
    offset: 1,
    names: &["ADD", "DEL", "MOD"],
};
/// fcntl commands (the classic range).
pub static FCNTL: Table = Table {
    offset: 0,
    names: &[
        "DUPFD",
        "GETFD",
        "SETFD",
        "GETFL",
        "SETFL",
        "GETLK",
        "SETLK",
        "SETLKW",
        "SETOWN",
        "GETOWN",
        "SETSIG",
        "GETSIG",
        "GETLK64",
        "SETLK64",
        "SETLKW64",
        "SETOWN_EX",
        "GETOWN_EX",
        "GETOWNER_UIDS",
    ],
};

/// The printer perf's syscall table gives argument `idx` of syscall `name`, if any.
pub fn by_syscall(name: &str, idx: usize) -> Option<Beauty> {
    use Beauty::*;
    Some(match (name, idx) {
        ("access", 1) => AccessMode,
        ("arch_prctl", 0) => ArchPrctl,
        ("arch_prctl", 1) => Ptr,
        ("brk", 0) => Ptr,
        ("clock_gettime", 0) => Table(&CLOCKID),
        ("clone", 0) => CloneFlags,
        ("clone", 1..=4) => Hex,
        ("wait4", 2) | ("waitid", 3) => WaitOptions,
        ("close", 0) => Fd,
        ("epoll_ctl", 1) => Table(&EPOLL_OPS),
        ("fchmodat" | "fchownat" | "futimesat" | "linkat" | "mkdirat" | "mknodat", 0) => FdAt,
        ("fcntl", 1) => Table(&FCNTL),
        ("fcntl", 2) => Hex,
        ("futex", 1) => FutexOp,
        ("getitimer" | "setitimer", 0) => Table(&ITIMERS),
        ("getrandom", 2) => GetrandomFlags,
        ("getrlimit" | "setrlimit", 0) => Table(&RLIMIT),
        ("ioctl", 1) => IoctlCmd,
        ("ioctl", 2) => Hex,
        ("kill", 1) | ("tkill", 1) | ("tgkill", 2) | ("rt_sigaction", 0) => Signum,
        ("rt_sigqueueinfo", 1) | ("rt_tgsigqueueinfo", 2) => Signum,
        ("lseek", 2) => Table(&WHENCE),
        ("madvise", 0) => Hex,
        ("madvise", 2) => Madvise,
        ("mmap", 2) | ("mprotect", 2) | ("pkey_mprotect", 2) => MmapProt,
        ("mmap", 3) => MmapFlags,
        ("mmap", 5) => Hex,
        ("mprotect", 0) | ("pkey_mprotect", 0) => Hex,
        ("name_to_handle_at" | "newfstatat" | "readlinkat" | "symlinkat", 0) => FdAt,
        ("unlinkat" | "utimensat" | "statx", 0) => FdAt,
        ("statx", 2 | 3) => Empty,
        ("open", 1) => OpenFlags,
        ("openat", 0) | ("open_by_handle_at", 0) => FdAt,
        ("openat", 2) | ("open_by_handle_at", 2) => OpenFlags,
        ("pipe2", 1) => PipeFlags,
        ("prlimit64", 1) => Table(&RLIMIT),
        ("renameat" | "renameat2", 0 | 2) => FdAt,
        ("rt_sigprocmask", 0) => Table(&SIGHOW),
        _ => return None,
    })
}

/// The printer perf picks from a tracepoint field's C type and name when its table has none.
pub fn by_field(ctype: &str, name: &str) -> Beauty {
    let pointer = ctype.contains('*');
    if ctype == "const char *" && (name.ends_with("name") || name.contains("path")) {
        Beauty::Filename
    } else if pointer || name.contains("addr") {
        Beauty::Ptr
    } else if ctype == "pid_t" {
        Beauty::Pid
    } else if ctype == "umode_t" {
        Beauty::Mode
    } else if matches!(ctype, "int" | "unsigned int" | "long") && name.ends_with("fd") {
        Beauty::Fd
    } else {
        Beauty::Long
    }
}

/// Whether a zero value is still printed (perf hides zero arguments, except those named
/// from a table).
pub fn shows_zero(b: Beauty) -> bool {
    matches!(b, Beauty::Table(_))
}

/// Arguments an argument's value hides (perf's `arg->mask`): bit i hides argument i.
pub fn masks(b: Beauty, idx: usize, val: u64) -> u32 {
    match b {
        Beauty::OpenFlags if val & libc::O_CREAT as u64 == 0 => 1 << (idx + 1),
        Beauty::MmapFlags if val & libc::MAP_ANONYMOUS as u64 != 0 => (1 << 4) | (1 << 5),
        _ => 0,
    }
}

fn flags(names: &[(u64, &str)], mut v: u64, out: &mut String) {
    let start = out.len();
    for &(bit, n) in names {
        if v & bit == bit && bit != 0 {
            if out.len() > start {
                out.push('|');
            }
            out.push_str(n);
            v &= !bit;
        }
    }
    if v != 0 {
        if out.len() > start {
            out.push('|');
        }
        out.push_str(&format!("{v:#x}"));
    }
}

/// Bit flags perf prints from a table indexed by bit number: unknown bits are dropped.
fn bit_flags(names: &[(u64, &str)], v: u64, out: &mut String) {
    let start = out.len();
    for &(bit, n) in names {
        if v & bit != 0 {
            if out.len() > start {
                out.push('|');
            }
            out.push_str(n);
        }
    }
}

const CLONE_FLAGS: &[(u64, &str)] = &[
    (0x100, "VM"),
    (0x200, "FS"),
    (0x400, "FILES"),
    (0x800, "SIGHAND"),
    (0x1000, "PIDFD"),
    (0x2000, "PTRACE"),
    (0x4000, "VFORK"),
    (0x8000, "PARENT"),
    (0x10000, "THREAD"),
    (0x20000, "NEWNS"),
    (0x40000, "SYSVSEM"),
    (0x80000, "SETTLS"),
    (0x100000, "PARENT_SETTID"),
    (0x200000, "CHILD_CLEARTID"),
    (0x400000, "DETACHED"),
    (0x800000, "UNTRACED"),
    (0x1000000, "CHILD_SETTID"),
    (0x2000000, "NEWCGROUP"),
    (0x4000000, "NEWUTS"),
    (0x8000000, "NEWIPC"),
    (0x10000000, "NEWUSER"),
    (0x20000000, "NEWPID"),
    (0x40000000, "NEWNET"),
    (0x80000000, "IO"),
];

const MMAP_PROT: &[(u64, &str)] = &[
    (0x1, "READ"),
    (0x2, "WRITE"),
    (0x4, "EXEC"),
    (0x8, "SEM"),
    (0x0100_0000, "GROWSDOWN"),
    (0x0200_0000, "GROWSUP"),
];

const MMAP_FLAGS: &[(u64, &str)] = &[
    (0x1, "SHARED"),
    (0x2, "PRIVATE"),
    (0x10, "FIXED"),
    (0x20, "ANONYMOUS"),
    (0x40, "32BIT"),
    (0x100, "GROWSDOWN"),
    (0x800, "DENYWRITE"),
    (0x1000, "EXECUTABLE"),
    (0x2000, "LOCKED"),
    (0x4000, "NORESERVE"),
    (0x8000, "POPULATE"),
    (0x10000, "NONBLOCK"),
    (0x20000, "STACK"),
    (0x40000, "HUGETLB"),
    (0x80000, "SYNC"),
    (0x100000, "FIXED_NOREPLACE"),
    (0x4000000, "UNINITIALIZED"),
];

/// open(2) flags in perf's order (x86-64 values).
fn open_flags(v: u64, out: &mut String) {
    let start = out.len();
    if v & 3 == 0 {
        out.push_str("RDONLY");
    }
    if v == 0 {
        return;
    }
    let mut rest = v;
    let put = |name: &str, out: &mut String| {
        if out.len() > start {
            out.push('|');
        }
        out.push_str(name);
    };
    const ORDER: &[(u64, &str)] = &[
        (0o2, "RDWR"),
        (0o2000, "APPEND"),
        (0o20000, "ASYNC"),
        (0o2000000, "CLOEXEC"),
        (0o100, "CREAT"),
        (0o40000, "DIRECT"),
        (0o200000, "DIRECTORY"),
        (0o200, "EXCL"),
        (0o100000, "LARGEFILE"),
        (0o400000, "NOFOLLOW"),
        (0o20200000, "TMPFILE"),
        (0o1000000, "NOATIME"),
        (0o400, "NOCTTY"),
        (0o4000, "NONBLOCK"),
        (0o10000000, "PATH"),
    ];
    for &(bit, name) in ORDER {
        if rest & bit != 0 {
            put(name, out);
            rest &= !bit;
        }
    }
    const SYNC: u64 = 0o4010000;
    const DSYNC: u64 = 0o10000;
    if rest & SYNC == SYNC {
        put("SYNC", out);
    } else if rest & DSYNC != 0 {
        put("DSYNC", out);
        rest &= !DSYNC;
    }
    for &(bit, name) in &[(0o1000u64, "TRUNC"), (0o1, "WRONLY")] {
        if rest & bit != 0 {
            put(name, out);
            rest &= !bit;
        }
    }
    if rest != 0 {
        if out.len() > start {
            out.push('|');
        }
        out.push_str(&format!("{rest:#x}"));
    }
}

fn mode(v: u64, out: &mut String) {
    const M: &[(u64, &str)] = &[
        (0o4000, "ISUID"),
        (0o2000, "ISGID"),
        (0o1000, "ISVTX"),
        (0o700, "IRWXU"),
        (0o400, "IRUSR"),
        (0o200, "IWUSR"),
        (0o100, "IXUSR"),
        (0o70, "IRWXG"),
        (0o40, "IRGRP"),
        (0o20, "IWGRP"),
        (0o10, "IXGRP"),
        (0o7, "IRWXO"),
        (0o4, "IROTH"),
        (0o2, "IWOTH"),
        (0o1, "IXOTH"),
    ];
    flags(M, v & 0o7777, out);
    let rest = v & !0o7777;
    if rest != 0 {
        out.push_str(&format!("|{rest:#x}"));
    }
}

/// Signal names as perf prints them (without the SIG prefix).
pub fn signal_name(sig: i64) -> Option<&'static str> {
    Some(match sig {
        1 => "HUP",
        2 => "INT",
        3 => "QUIT",
        4 => "ILL",
        5 => "TRAP",
        6 => "ABRT",
        7 => "BUS",
        8 => "FPE",
        9 => "KILL",
        10 => "USR1",
        11 => "SEGV",
        12 => "USR2",
        13 => "PIPE",
        14 => "ALRM",
        15 => "TERM",
        16 => "STKFLT",
        17 => "CHLD",
        18 => "CONT",
        19 => "STOP",
        20 => "TSTP",
        21 => "TTIN",
        22 => "TTOU",
        23 => "URG",
        24 => "XCPU",
        25 => "XFSZ",
        26 => "VTALRM",
        27 => "PROF",
        28 => "WINCH",
        29 => "IO",
        30 => "PWR",
        31 => "SYS",
        _ => return None,
    })
}

fn ioctl_name(cmd: u64) -> Option<&'static str> {
    Some(match cmd {
        0x5401 => "TCGETS",
        0x5402 => "TCSETS",
        0x5403 => "TCSETSW",
        0x5404 => "TCSETSF",
        0x540B => "TCFLSH",
        0x540E => "TIOCSCTTY",
        0x540F => "TIOCGPGRP",
        0x5410 => "TIOCSPGRP",
        0x5413 => "TIOCGWINSZ",
        0x5414 => "TIOCSWINSZ",
        0x541B => "FIONREAD",
        0x5421 => "FIONBIO",
        0x5451 => "FIOCLEX",
        0x5450 => "FIONCLEX",
        _ => return None,
    })
}

fn futex_op(v: u64, out: &mut String) {
    const OPS: &[&str] = &[
        "WAIT",
        "WAKE",
        "FD",
        "REQUEUE",
        "CMP_REQUEUE",
        "WAKE_OP",
        "LOCK_PI",
        "UNLOCK_PI",
        "TRYLOCK_PI",
        "WAIT_BITSET",
        "WAKE_BITSET",
        "WAIT_REQUEUE_PI",
        "CMP_REQUEUE_PI",
        "LOCK_PI2",
    ];
    let cmd = (v & 127) as usize;
    match OPS.get(cmd) {
        Some(n) => out.push_str(n),
        None => out.push_str(&format!("{cmd:#x}")),
    }
    if v & 128 != 0 {
        out.push_str("|PRIVATE_FLAG");
    }
    if v & 256 != 0 {
        out.push_str("|CLOCK_REALTIME");
    }
}

fn madvise(v: u64, out: &mut String) {
    let n = match v {
        0 => "NORMAL",
        1 => "RANDOM",
        2 => "SEQUENTIAL",
        3 => "WILLNEED",
        4 => "DONTNEED",
        8 => "FREE",
        9 => "REMOVE",
        10 => "DONTFORK",
        11 => "DOFORK",
        12 => "MERGEABLE",
        13 => "UNMERGEABLE",
        14 => "HUGEPAGE",
        15 => "NOHUGEPAGE",
        16 => "DONTDUMP",
        17 => "DODUMP",
        18 => "WIPEONFORK",
        19 => "KEEPONFORK",
        20 => "COLD",
        21 => "PAGEOUT",
        22 => "POPULATE_READ",
        23 => "POPULATE_WRITE",
        24 => "DONTNEED_LOCKED",
        25 => "COLLAPSE",
        100 => "HWPOISON",
        101 => "SOFT_OFFLINE",
        _ => {
            out.push_str(&format!("{v:#x}"));
            return;
        }
    };
    out.push_str("MADV_");
    out.push_str(n);
}

/// Prints `val` with printer `b`; `comm` names a pid when one is known.
pub fn print(b: Beauty, val: u64, comm: &dyn Fn(i32) -> Option<String>, out: &mut String) {
    use std::fmt::Write as _;
    match b {
        Beauty::Long => {
            let _ = write!(out, "{}", val as i64);
        }
        Beauty::Fd => {
            let _ = write!(out, "{}", val as i32);
        }
        Beauty::FdAt => {
            if val as i32 == libc::AT_FDCWD {
                out.push_str("CWD");
            } else {
                let _ = write!(out, "{}", val as i32);
            }
        }
        Beauty::Hex => {
            let _ = write!(out, "{val:#x}");
        }
        Beauty::Ptr => {
            if val == 0 {
                out.push_str("NULL");
            } else {
                let _ = write!(out, "{val:#x}");
            }
        }
        // perf's "%#x" of an unsigned long: the low 32 bits.
        Beauty::Filename => {
            let _ = write!(out, "{:#x}", val as u32);
        }
        Beauty::OpenFlags => open_flags(val, out),
        Beauty::AccessMode => {
            let mut m = val as i32;
            if m == 0 {
                out.push('F');
                return;
            }
            for (bit, c) in [(4, 'R'), (2, 'W'), (1, 'X')] {
                if m & bit != 0 {
                    out.push(c);
                    m &= !bit;
                }
            }
            if m != 0 {
                let _ = write!(out, "|{m:#x}");
            }
        }
        Beauty::MmapProt => {
            if val == 0 {
                out.push_str("NONE");
            } else {
                bit_flags(MMAP_PROT, val, out);
            }
        }
        Beauty::MmapFlags => bit_flags(MMAP_FLAGS, val, out),
        Beauty::Mode => mode(val, out),
        Beauty::CloneFlags => flags(CLONE_FLAGS, val, out),
        Beauty::WaitOptions => flags(
            &[
                (1, "NOHANG"),
                (2, "UNTRACED"),
                (8, "CONTINUED"),
                (0x20000000, "NOTHREAD"),
                (0x40000000, "ALL"),
                (0x80000000, "CLONE"),
            ],
            val,
            out,
        ),
        Beauty::PipeFlags | Beauty::GetrandomFlags => {
            let names: &[(u64, &str)] = if b == Beauty::PipeFlags {
                &[(0o2000000, "CLOEXEC"), (0o4000, "NONBLOCK")]
            } else {
                &[(2, "RANDOM"), (1, "NONBLOCK")]
            };
            flags(names, val, out);
        }
        Beauty::Signum => match signal_name(val as i32 as i64) {
            Some(n) => out.push_str(n),
            None => {
                let _ = write!(out, "{val:#x}");
            }
        },
        Beauty::Table(t) => {
            let v = val as i32 as i64;
            match usize::try_from(v - t.offset)
                .ok()
                .and_then(|i| t.names.get(i))
                .filter(|n| !n.is_empty())
            {
                Some(n) => out.push_str(n),
                None => {
                    let _ = write!(out, "{}", val as i32);
                }
            }
        }
        Beauty::ArchPrctl => {
            let n = match val {
                0x1001 => Some("SET_GS"),
                0x1002 => Some("SET_FS"),
                0x1003 => Some("GET_FS"),
                0x1004 => Some("GET_GS"),
                0x1011 => Some("GET_CPUID"),
                0x1012 => Some("SET_CPUID"),
                _ => None,
            };
            match n {
                Some(n) => out.push_str(n),
                None => {
                    let _ = write!(out, "{val:#x}");
                }
            }
        }
        Beauty::IoctlCmd => match ioctl_name(val) {
            Some(n) => out.push_str(n),
            None => {
                let _ = write!(out, "{val:#x}");
            }
        },
        Beauty::FutexOp => futex_op(val, out),
        Beauty::Madvise => madvise(val, out),
        Beauty::Pid => {
            let _ = write!(out, "{}", val as i32);
            if let Some(c) = comm(val as i32) {
                let _ = write!(out, " ({c})");
            }
        }
        Beauty::Empty => {}
    }
}

/// perf's `= -1 ENOENT (No such file or directory)` for a negative return.
pub fn errno_text(err: i64) -> String {
    let e = (-err) as i32;
    let name = syscalls::Errno::new(e).name().unwrap_or("");
    let msg = std::io::Error::from_raw_os_error(e).to_string();
    let msg = match msg.rfind(" (os error") {
        Some(i) => msg[..i].to_string(),
        None => msg,
    };
    format!("-1 {name} ({msg})")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(b: Beauty, v: u64) -> String {
        let mut s = String::new();
        print(b, v, &|_| None, &mut s);
        s
    }

    #[test]
    fn flags_print_as_perf() {
        assert_eq!(p(Beauty::OpenFlags, 0o2000000), "RDONLY|CLOEXEC");
        assert_eq!(
            p(Beauty::OpenFlags, 0o2000000 | 0o200000 | 0o4000),
            "RDONLY|CLOEXEC|DIRECTORY|NONBLOCK"
        );
        assert_eq!(
            p(Beauty::OpenFlags, 0o1 | 0o100 | 0o1000),
            "CREAT|TRUNC|WRONLY"
        );
        assert_eq!(p(Beauty::MmapProt, 3), "READ|WRITE");
        assert_eq!(p(Beauty::MmapProt, 0), "NONE");
        assert_eq!(p(Beauty::MmapFlags, 0x812), "PRIVATE|FIXED|DENYWRITE");
        assert_eq!(p(Beauty::AccessMode, 4), "R");
        assert_eq!(p(Beauty::FdAt, (-100i64) as u64), "CWD");
        assert_eq!(p(Beauty::Table(&RLIMIT), 3), "STACK");
        assert_eq!(p(Beauty::Filename, 0x7f12_98c2_f2a0), "0x98c2f2a0");
        assert_eq!(p(Beauty::Mode, 0o644), "IRUSR|IWUSR|IRGRP|IROTH");
    }

    #[test]
    fn errors_name_the_errno() {
        assert_eq!(errno_text(-2), "-1 ENOENT (No such file or directory)");
        assert_eq!(
            errno_text(-25),
            "-1 ENOTTY (Inappropriate ioctl for device)"
        );
    }
}
