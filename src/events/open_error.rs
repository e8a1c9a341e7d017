//! Why perf_event_open refused an event, in words with the fix: perf's hints for
//! permissions (perf_event_paranoid, capabilities), unsupported events, busy PMUs.

/// Whether perf_event_open's error means "this machine cannot count that event", which
/// perf shows as `<not supported>` rather than failing.
pub(crate) fn is_unsupported(e: &std::io::Error) -> bool {
    matches!(
        e.raw_os_error().unwrap_or(0),
        libc::ENOENT | libc::EOPNOTSUPP | libc::EINVAL | libc::ENOSYS | libc::ENXIO | libc::ENODEV
    )
}

/// Where perf_event_open was asked to count: its `pid` and `cpu` arguments.
fn place(pid: i32, cpu: i32) -> String {
    match (pid, cpu) {
        (-1, c) => format!("CPU {c}"),
        (p, -1) => format!("task {p}"),
        (p, c) => format!("task {p} on CPU {c}"),
    }
}

/// An explanation of a perf_event_open failure for `ev` opened with `pid` and `cpu`, with
/// the fix where there is one.
pub(crate) fn open_error(
    ev: &super::Event,
    e: &std::io::Error,
    pid: i32,
    cpu: i32,
) -> anyhow::Error {
    let name = &ev.name;
    match e.raw_os_error().unwrap_or(0) {
        libc::EACCES | libc::EPERM => permission_error(ev, e, pid),
        _ if is_unsupported(e) => anyhow::anyhow!(
            "event '{name}' is not supported on this machine ({e}); `rperf list` shows what is"
        ),
        libc::EMFILE => anyhow::anyhow!(
            "too many open files opening '{name}': raise the limit with `ulimit -n`"
        ),
        libc::ESRCH => anyhow::anyhow!(
            "no such process or thread opening '{name}' on {}: it may have exited",
            place(pid, cpu)
        ),
        libc::EBUSY => {
            anyhow::anyhow!("event '{name}' is busy: another program holds the PMU it needs")
        }
        _ => anyhow::anyhow!(
            "perf_event_open failed for event '{name}' on {}: {e}",
            place(pid, cpu)
        ),
    }
}

/// The user name of `uid` from /etc/passwd, or `uid N`.
fn user_name(uid: u32) -> String {
    std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|p| {
            p.lines().find_map(|l| {
                let mut f = l.split(':');
                let name = f.next()?;
                (f.nth(1)?.parse::<u32>().ok()? == uid).then(|| name.to_string())
            })
        })
        .unwrap_or_else(|| format!("uid {uid}"))
}

/// The spelling of event `name` counting user space only: `cycles:k` → `cycles:u`,
/// `cpu/event=0x3c/k` → `cpu/event=0x3c/u`.
fn user_only(name: &str) -> String {
    match name.rfind('/') {
        Some(i) => format!("{}u", &name[..=i]),
        None => format!("{}:u", name.split(':').next().unwrap_or(name)),
    }
}

/// perf_event_open said EACCES/EPERM: say which rule refused (CPU-wide counting, another
/// user's process, kernel counting) and every way to lift it, as perf's own hint does, with
/// the current perf_event_paranoid value.
fn permission_error(ev: &super::Event, e: &std::io::Error, pid: i32) -> anyhow::Error {
    use crate::sys::counter::{self, cap};
    let name = &ev.name;
    let paranoid = counter::paranoid();
    let level = paranoid.map_or_else(|| "unreadable".to_string(), |p| p.to_string());
    let exe = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "rperf".into());
    let setcap = format!("sudo setcap cap_perfmon,cap_sys_ptrace,cap_syslog=ep {exe}");
    let me = counter::uids("self").map(|u| u[1]);
    let owner = (pid > 0).then(|| counter::uids(&pid.to_string())).flatten();
    // Another user's process: ptrace rules, whatever the paranoid level.
    if let (Some(me), Some(ids)) = (me, owner) {
        if me != 0 && ids.iter().any(|&u| u != me) && !counter::has_capability(cap::SYS_PTRACE) {
            let user = user_name(ids[1]);
            let as_whom = if ids[1] == 0 {
                "as root".to_string()
            } else {
                format!("as {user} or as root")
            };
            return anyhow::anyhow!(
                "no permission to follow process {pid} ({e}): it belongs to {user}, and perf \
                 events on another user's process need ptrace permission over it\n\
                 \x20 fix: run rperf {as_whom}, or give rperf CAP_PERFMON and CAP_SYS_PTRACE: \
                 {setcap}"
            );
        }
    }
    let why = if paranoid.is_some_and(|p| p >= 3) && !counter::has_capability(cap::PERFMON) {
        format!(
            "kernel.perf_event_paranoid is {level}: this kernel lets no one without \
             CAP_PERFMON use perf events"
        )
    } else if pid == -1 {
        format!(
            "counting whole CPUs (-a/-C) needs kernel.perf_event_paranoid <= 0 or CAP_PERFMON \
             (it is {level}); or measure a command or your own process (-p) instead"
        )
    } else if matches!(ev.kind, super::EventKind::Tracepoint { .. }) {
        format!(
            "tracepoints fire in the kernel, and counting the kernel needs \
             kernel.perf_event_paranoid <= 1 or CAP_PERFMON (it is {level})"
        )
    } else if ev.mods.exclude_user && !ev.mods.exclude_kernel {
        format!(
            "it counts only the kernel, which needs kernel.perf_event_paranoid <= 1 or \
             CAP_PERFMON (it is {level}); count user space instead with '{}'",
            user_only(name)
        )
    } else if !ev.mods.exclude_kernel {
        format!(
            "counting the kernel needs kernel.perf_event_paranoid <= 1 or CAP_PERFMON (it is \
             {level}); count user space only with '{}'",
            user_only(name)
        )
    } else {
        format!("kernel.perf_event_paranoid is {level} and rperf has no CAP_PERFMON")
    };
    anyhow::anyhow!(
        "no permission to open event '{name}' ({e}): {why}\n\
         \x20 kernel.perf_event_paranoid allows users without CAP_PERFMON:\n\
         \x20   2  their own processes, user space only (:u)\n\
         \x20   1  their own processes, user and kernel space\n\
         \x20   0  also whole CPUs (-a, -C)\n\
         \x20  -1  everything, raw tracepoint data included\n\
         \x20 fix: sudo sysctl kernel.perf_event_paranoid=N (until reboot; a file in \
         /etc/sysctl.d/ keeps it), or give rperf the capabilities: {setcap}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_only_spellings_keep_the_event() {
        assert_eq!(user_only("cycles:k"), "cycles:u");
        assert_eq!(user_only("instructions"), "instructions:u");
        assert_eq!(user_only("cpu/event=0x3c/k"), "cpu/event=0x3c/u");
        assert_eq!(user_only("msr/tsc/"), "msr/tsc/u");
    }
}
