//! The workload: a command forked and held before exec until its counters are open, as perf
//! does, so counting starts exactly at exec (enable_on_exec) and nothing before it is seen.
//! The child dies with rperf (parent-death signal), and with `record -o -` its stdout goes to
//! stderr so that it cannot mix into the perf.data stream.
use std::cell::Cell;
use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

/// A forked child waiting for [`Workload::start`].
#[derive(Debug)]
pub struct Workload {
    pid: i32,
    go: Option<OwnedFd>,
    exec_err: OwnedFd,
    pidfd: Option<OwnedFd>,
    /// Set once wait() has collected the child, so that drop does not kill a stranger.
    reaped: Cell<bool>,
}

/// How the child's standard streams are set up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stdio {
    /// The child's stdout is rperf's stderr: rperf's own stdout carries data (`record -o -`).
    pub stdout_to_stderr: bool,
}

/// How the workload ended.
#[derive(Debug, Clone, Copy, Default)]
pub struct Exit {
    /// Exit code, or 128 + signal when killed by a signal.
    pub code: i32,
    /// The signal that killed it, if any.
    pub signal: Option<i32>,
    /// User CPU seconds (its own and its waited-for children's).
    pub user_s: f64,
    /// System CPU seconds.
    pub sys_s: f64,
}

fn pipe_cloexec() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pipe2 succeeded, so both fds are new and owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

impl Workload {
    /// Forks `argv`; the child blocks until [`start`](Self::start). If rperf dies, even by
    /// SIGKILL, the child is killed too; dropping an unreaped `Workload` kills and reaps it.
    pub fn prepare(argv: &[String], stdio: Stdio) -> io::Result<Workload> {
        if argv.is_empty() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "no command"));
        }
        let cargs: Vec<CString> = argv
            .iter()
            .map(|a| CString::new(a.as_bytes()))
            .collect::<Result<_, _>>()
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "argument contains NUL"))?;
        let mut ptrs: Vec<*const libc::c_char> = cargs.iter().map(|c| c.as_ptr()).collect();
        ptrs.push(std::ptr::null());
        let (go_r, go_w) = pipe_cloexec()?;
        let (err_r, err_w) = pipe_cloexec()?;
        // The child must not hold the parent's ends, or it would never see EOF on `go`.
        let (go_w_raw, err_r_raw) = (go_w.as_raw_fd(), err_r.as_raw_fd());
        // Taken before the fork: if rperf dies between fork and prctl, the child sees another
        // parent and must not run on as an orphan nobody will stop.
        let parent = std::process::id() as libc::pid_t;
        // SAFETY: fork has no memory-safety preconditions; the child below only calls
        // async-signal-safe functions (prctl, getppid, dup2, read, write, execvp, _exit) on
        // memory prepared before.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(io::Error::last_os_error());
        }
        if pid == 0 {
            // SAFETY: in the child: arm the parent-death signal, wait for the go byte, then
            // exec; report errno on failure.
            unsafe {
                // The signal is sent when the forking thread ends: rperf forks from its main
                // thread, which lives as long as the process. It survives exec (except of
                // set-user-ID binaries, which the kernel protects this way).
                if libc::prctl(
                    libc::PR_SET_PDEATHSIG,
                    libc::SIGKILL as libc::c_ulong,
                    0,
                    0,
                    0,
                ) != 0
                    || libc::getppid() != parent
                {
                    libc::_exit(127);
                }
                libc::close(go_w_raw);
                libc::close(err_r_raw);
                if stdio.stdout_to_stderr && libc::dup2(2, 1) < 0 {
                    libc::_exit(127);
                }
                let mut b = 0u8;
                let n = libc::read(go_r.as_raw_fd(), (&mut b as *mut u8).cast(), 1);
                if n != 1 {
                    libc::_exit(127);
                }
                libc::execvp(ptrs[0], ptrs.as_ptr());
                let errno = *libc::__errno_location();
                libc::write(err_w.as_raw_fd(), (&errno as *const i32).cast(), 4);
                libc::_exit(127);
            }
        }
        drop(go_r);
        drop(err_w);
        // SAFETY: pidfd_open takes a pid and flags; the result is a new fd or -1.
        let pfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as i32;
        let pidfd = (pfd >= 0).then(|| {
            // SAFETY: a fresh descriptor returned by pidfd_open.
            unsafe { OwnedFd::from_raw_fd(pfd) }
        });
        Ok(Workload {
            pid,
            go: Some(go_w),
            exec_err: err_r,
            pidfd,
            reaped: Cell::new(false),
        })
    }

    /// The child's pid.
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Lets the child exec. Returns the exec error if the command could not be run.
    pub fn start(&mut self) -> io::Result<()> {
        let go = self
            .go
            .take()
            .ok_or_else(|| io::Error::other("workload already started"))?;
        let b = 1u8;
        // SAFETY: writes one byte from a live local to a pipe we own.
        unsafe { libc::write(go.as_raw_fd(), (&b as *const u8).cast(), 1) };
        drop(go);
        let mut errno = 0i32;
        // The error pipe closes on a successful exec (CLOEXEC), or carries the errno.
        // SAFETY: reads at most 4 bytes into a local i32.
        let n = loop {
            let n = unsafe {
                libc::read(
                    self.exec_err.as_raw_fd(),
                    (&mut errno as *mut i32).cast(),
                    4,
                )
            };
            if n < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            break n;
        };
        if n == 4 {
            let _ = self.wait();
            return Err(io::Error::from_raw_os_error(errno));
        }
        Ok(())
    }

    /// A descriptor that polls readable once the child has exited (pidfd_open), so a wait
    /// for samples can also end the moment the command does.
    pub fn exit_fd(&self) -> Option<&OwnedFd> {
        self.pidfd.as_ref()
    }

    /// Waits up to `timeout` for the child to exit; `true` when it has (not yet reaped).
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        let Some(pfd) = &self.pidfd else {
            std::thread::sleep(timeout);
            return false;
        };
        let mut p = libc::pollfd {
            fd: pfd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: one valid pollfd for the duration of the call.
        let r = unsafe { libc::poll(&mut p, 1, ms) };
        r > 0 && p.revents & libc::POLLIN != 0
    }

    /// Reaps the child. Signals meanwhile are passed on to it (a terminal's ^C already reached it).
    pub fn wait(&self) -> io::Result<Exit> {
        let mut status = 0;
        // SAFETY: zeroed rusage is a valid out-parameter.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        loop {
            // SAFETY: status and ru are valid out-parameters for wait4.
            let r = unsafe { libc::wait4(self.pid, &mut status, 0, &mut ru) };
            if r == self.pid {
                self.reaped.set(true);
                break;
            }
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                if let Some((sig, from_user)) = super::signals::received() {
                    // A tty's ^C reached the child already; forward what was sent to us alone.
                    if from_user || sig != libc::SIGINT {
                        super::signals::kill(self.pid, sig);
                    }
                    super::signals::clear();
                }
                continue;
            }
            return Err(e);
        }
        let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        let (code, signal) = if libc::WIFEXITED(status) {
            (libc::WEXITSTATUS(status), None)
        } else if libc::WIFSIGNALED(status) {
            let s = libc::WTERMSIG(status);
            (128 + s, Some(s))
        } else {
            (1, None)
        };
        Ok(Exit {
            code,
            signal,
            user_s: tv(ru.ru_utime),
            sys_s: tv(ru.ru_stime),
        })
    }
}

impl Drop for Workload {
    /// An error between prepare and the end of the run must not leave the command behind,
    /// held before exec or running unmeasured.
    fn drop(&mut self) {
        if self.reaped.get() {
            return;
        }
        super::signals::kill(self.pid, libc::SIGKILL);
        let mut status = 0;
        // SAFETY: status is a valid out-parameter; the pid is our own unreaped child.
        while unsafe { libc::waitpid(self.pid, &mut status, 0) } < 0
            && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted
        {}
    }
}

/// Sleeps up to `d`, returning early when a signal arrives.
pub fn sleep_interruptible(d: Duration) {
    let ts = libc::timespec {
        tv_sec: d.as_secs() as libc::time_t,
        tv_nsec: d.subsec_nanos() as libc::c_long,
    };
    // SAFETY: a valid timespec; the remainder pointer may be NULL.
    unsafe { libc::nanosleep(&ts, std::ptr::null_mut()) };
}
