//! The syscalls `trace` knows: numbers and names from the syscalls crate's table for this
//! architecture, arguments from tracefs' `syscalls:sys_enter_NAME` formats (read once per
//! syscall, when it is first seen), and `-e` selection by name, glob and `!`.
use std::collections::HashMap;
use std::path::PathBuf;
use std::rc::Rc;

use anyhow::{bail, Result};
use syscalls::Sysno;

use super::beauty::{self, Beauty};

/// One argument of a syscall.
#[derive(Debug, Clone)]
pub struct Arg {
    /// Its name in the tracepoint format.
    pub name: String,
    /// How it is printed.
    pub beauty: Beauty,
}

/// What is known about one syscall.
#[derive(Debug, Clone)]
pub struct Syscall {
    /// Its name.
    pub name: &'static str,
    /// Its arguments, in order.
    pub args: Vec<Arg>,
    /// exit or exit_group: never returns.
    pub is_exit: bool,
    /// Returns an address (perf's hexret).
    pub hexret: bool,
    /// Returns a pid (perf's errpid).
    pub errpid: bool,
    /// Returns 0 on timeout.
    pub timeout: bool,
}

/// Names perf's table gives for syscalls whose tracepoint has another name.
fn alias(name: &str) -> Option<&'static str> {
    Some(match name {
        "fstat" => "newfstat",
        "lstat" => "newlstat",
        "stat" => "newstat",
        "uname" => "newuname",
        "umount2" => "umount",
        "sendfile" => "sendfile64",
        _ => return None,
    })
}

/// The `field:TYPE NAME;` declarations of a format file, past the common fields and the
/// syscall number.
pub fn format_fields(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let Some(rest) = line.trim().strip_prefix("field:") else {
            continue;
        };
        let decl = rest.split(';').next().unwrap_or("").trim();
        let Some(cut) = decl.rfind([' ', '*']) else {
            continue;
        };
        let name = decl[cut + 1..].split('[').next().unwrap_or("").to_string();
        let ctype = decl[..=cut].trim().to_string();
        if name.starts_with("common_") || name == "__syscall_nr" || name == "nr" {
            continue;
        }
        out.push((ctype, name));
    }
    out
}

/// The syscall table, filled as syscalls are seen.
#[derive(Debug, Default)]
pub struct Table {
    root: PathBuf,
    seen: HashMap<i64, Option<Rc<Syscall>>>,
}

impl Table {
    /// A table reading formats under the tracefs root `root`.
    pub fn new(root: PathBuf) -> Table {
        Table {
            root,
            seen: HashMap::new(),
        }
    }

    /// Sets what is known about syscall `id` (tests describe syscalls without tracefs).
    #[cfg(test)]
    pub fn insert(&mut self, id: i64, sc: Syscall) {
        self.seen.insert(id, Some(Rc::new(sc)));
    }

    /// The syscall numbered `id`; None for numbers without a name or tracepoint (perf
    /// skips those events).
    pub fn get(&mut self, id: i64) -> Option<Rc<Syscall>> {
        let root = &self.root;
        self.seen
            .entry(id)
            .or_insert_with(|| load(root, id).map(Rc::new))
            .clone()
    }
}

fn load(root: &std::path::Path, id: i64) -> Option<Syscall> {
    let name = Sysno::new(usize::try_from(id).ok()?)?.name();
    let read = |n: &str| {
        std::fs::read_to_string(
            root.join("events/syscalls")
                .join(format!("sys_enter_{n}"))
                .join("format"),
        )
        .ok()
    };
    let text = read(name).or_else(|| read(alias(name)?))?;
    let args = format_fields(&text)
        .into_iter()
        .enumerate()
        .map(|(i, (ctype, aname))| Arg {
            beauty: beauty::by_syscall(name, i).unwrap_or_else(|| beauty::by_field(&ctype, &aname)),
            name: aname,
        })
        .collect();
    Some(Syscall {
        name,
        args,
        is_exit: matches!(name, "exit" | "exit_group"),
        hexret: matches!(name, "brk" | "mmap" | "mremap"),
        errpid: matches!(
            name,
            "clone" | "getpgid" | "getppid" | "gettid" | "set_tid_address" | "wait4" | "waitid"
        ),
        timeout: matches!(name, "poll" | "ppoll" | "select"),
    })
}

/// The syscall numbers a `-e` list names (globs allowed); `Err` names an unknown one.
pub fn select(names: &[String]) -> Result<Vec<i64>> {
    let mut ids = Vec::new();
    for n in names {
        let pat = glob::Pattern::new(n).ok();
        let before = ids.len();
        for s in Sysno::iter() {
            let sname = s.name();
            if sname == n
                || alias(sname) == Some(n.as_str())
                || pat.as_ref().is_some_and(|p| p.matches(sname))
            {
                ids.push(s.id() as i64);
            }
        }
        if ids.len() == before {
            bail!(
                "unknown syscall '{n}' in -e: give syscall names or globs (e.g. 'open*'), or \
                 tracepoints as SYSTEM:NAME (`rperf list tracepoint`)"
            );
        }
    }
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_fields_skip_common_and_nr() {
        let f = "name: sys_enter_openat\nID: 1\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\tfield:int __syscall_nr;\toffset:8;\tsize:4;\tsigned:1;\n\tfield:int dfd;\toffset:16;\tsize:8;\tsigned:0;\n\tfield:const char * filename;\toffset:24;\tsize:8;\tsigned:0;\n";
        assert_eq!(
            format_fields(f),
            vec![
                ("int".to_string(), "dfd".to_string()),
                ("const char *".to_string(), "filename".to_string())
            ]
        );
    }

    #[test]
    fn select_takes_names_and_globs() {
        let ids = select(&["openat".into(), "clo*".into()]).unwrap();
        assert!(ids.contains(&(Sysno::openat.id() as i64)));
        assert!(ids.contains(&(Sysno::close.id() as i64)));
        assert!(!ids.contains(&(Sysno::read.id() as i64)));
        let e = select(&["nosuchcall".into()]).unwrap_err().to_string();
        assert!(e.contains("unknown syscall 'nosuchcall'"), "{e}");
    }
}
