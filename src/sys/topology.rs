//! CPUs and threads: the online CPU list, `-C` lists, a process's threads and their names.
use std::fs;
use std::io;

/// Parses a kernel CPU list such as `0-3,8,10-11`.
pub fn parse_cpu_list(s: &str) -> Option<Vec<u32>> {
    let mut out = Vec::new();
    for part in s.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u32, u32) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
                if b < a || b - a > 1 << 16 {
                    return None;
                }
                out.extend(a..=b);
            }
            None => out.push(part.trim().parse().ok()?),
        }
    }
    out.sort_unstable();
    out.dedup();
    (!out.is_empty()).then_some(out)
}

/// The CPUs that are online.
pub fn online_cpus() -> io::Result<Vec<u32>> {
    let s = fs::read_to_string("/sys/devices/system/cpu/online")?;
    parse_cpu_list(&s).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            "unparsable /sys/devices/system/cpu/online",
        )
    })
}

/// The thread ids of a process (from /proc/PID/task), sorted.
pub fn threads_of(pid: i32) -> io::Result<Vec<i32>> {
    let mut tids: Vec<i32> = fs::read_dir(format!("/proc/{pid}/task"))?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    tids.sort_unstable();
    Ok(tids)
}

/// A thread's command name, as `/proc/PID/comm` gives it.
pub fn comm_of(tid: i32) -> Option<String> {
    fs::read_to_string(format!("/proc/{tid}/comm"))
        .ok()
        .map(|s| s.trim_end_matches('\n').to_string())
}

/// Whether a task still exists (and is not a zombie).
pub fn is_alive(tid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{tid}/stat")) {
        Ok(s) => s
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

/// The machine's names from uname(2).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Uname {
    /// Host name.
    pub nodename: String,
    /// Kernel release.
    pub release: String,
    /// Architecture.
    pub machine: String,
}

/// uname(2); empty strings if it fails.
pub fn uname() -> Uname {
    // SAFETY: a zeroed utsname is a valid out-parameter for uname.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is writable and lives across the call.
    if unsafe { libc::uname(&mut u) } != 0 {
        return Uname::default();
    }
    let text = |raw: &[libc::c_char]| -> String {
        let bytes: Vec<u8> = raw
            .iter()
            .take_while(|c| **c != 0)
            .map(|c| *c as u8)
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    Uname {
        nodename: text(&u.nodename),
        release: text(&u.release),
        machine: text(&u.machine),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("0-3,8\n"), Some(vec![0, 1, 2, 3, 8]));
        assert_eq!(parse_cpu_list("1,1,0"), Some(vec![0, 1]));
        assert_eq!(parse_cpu_list("3-1"), None);
        assert_eq!(parse_cpu_list("x"), None);
        assert_eq!(parse_cpu_list(""), None);
    }

    #[test]
    fn uname_names_the_machine() {
        let u = uname();
        assert!(!u.release.is_empty() && !u.machine.is_empty());
    }

    #[test]
    fn own_process_is_found() {
        let me = std::process::id() as i32;
        assert!(threads_of(me).unwrap().contains(&me));
        assert!(is_alive(me));
        assert!(comm_of(me).is_some());
        assert!(!is_alive(i32::MAX));
    }
}
