//! The perf mmap ring buffer: one per CPU (or task), drained into a byte sink.
//!
//! The kernel writes records at `data_head`; we copy everything up to it and only then move
//! `data_tail`, so the kernel never overwrites bytes we have not saved. Records that wrap the
//! end of the ring are copied in two pieces and come out whole.
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{fence, Ordering};

/// Byte offsets of the fields of `struct perf_event_mmap_page` we use.
const DATA_HEAD: usize = 1024;
const DATA_TAIL: usize = 1032;
const DATA_OFFSET: usize = 1040;
const DATA_SIZE: usize = 1048;

/// The system page size.
pub fn page_size() -> usize {
    // SAFETY: sysconf has no memory effects.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 {
        p as usize
    } else {
        4096
    }
}

/// A mapped ring buffer of one perf event fd.
#[derive(Debug)]
pub struct Ring {
    base: *mut u8,
    len: usize,
    data_off: usize,
    data_size: usize,
}

// SAFETY: the mapping is owned by this struct and only touched through &mut self or atomic
// loads/stores of the control page; moving it between threads is sound.
unsafe impl Send for Ring {}

impl Ring {
    /// Maps `1 + data_pages` pages of `fd` (`data_pages` must be a power of two).
    pub fn map(fd: &OwnedFd, data_pages: usize) -> io::Result<Ring> {
        if !data_pages.is_power_of_two() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("ring size must be a power of two pages, not {data_pages}"),
            ));
        }
        let ps = page_size();
        let len = (1 + data_pages) * ps;
        // SAFETY: mapping a perf event fd with a valid length; the kernel checks the size.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let base = p.cast::<u8>();
        // SAFETY: the first page is the control page; these u64 fields lie inside it.
        let (off, size) = unsafe {
            (
                std::ptr::read_volatile(base.add(DATA_OFFSET).cast::<u64>()) as usize,
                std::ptr::read_volatile(base.add(DATA_SIZE).cast::<u64>()) as usize,
            )
        };
        // Kernels before 4.1 leave these zero: the data then starts at the second page.
        let (data_off, data_size) = if size == 0 {
            (ps, data_pages * ps)
        } else {
            (off, size)
        };
        Ok(Ring {
            base,
            len,
            data_off,
            data_size,
        })
    }

    fn head(&self) -> u64 {
        // SAFETY: data_head is an aligned u64 in the control page; the kernel updates it, so
        // it is read as an atomic and fenced so record bytes are read after it.
        let h = unsafe {
            (*self
                .base
                .add(DATA_HEAD)
                .cast::<std::sync::atomic::AtomicU64>())
            .load(Ordering::Acquire)
        };
        fence(Ordering::Acquire);
        h
    }

    fn tail(&self) -> u64 {
        // SAFETY: data_tail is an aligned u64 in the control page that only we write.
        unsafe {
            (*self
                .base
                .add(DATA_TAIL)
                .cast::<std::sync::atomic::AtomicU64>())
            .load(Ordering::Relaxed)
        }
    }

    fn set_tail(&mut self, t: u64) {
        // SAFETY: as in `tail`; Release orders our reads of the data before the kernel may
        // reuse the space.
        unsafe {
            (*self
                .base
                .add(DATA_TAIL)
                .cast::<std::sync::atomic::AtomicU64>())
            .store(t, Ordering::Release)
        }
    }

    /// Appends every complete record now in the ring to `out`, then frees the space.
    /// Returns the number of bytes copied.
    pub fn drain_into(&mut self, out: &mut Vec<u8>) -> usize {
        let head = self.head();
        let tail = self.tail();
        let avail = head.wrapping_sub(tail) as usize;
        if avail == 0 || avail > self.data_size {
            return 0;
        }
        let start = (tail as usize) % self.data_size;
        let first = avail.min(self.data_size - start);
        // Room for the FINISHED_ROUND a drain appends too: growing a batch once it is full
        // copies all of it.
        out.reserve(avail + 8);
        // SAFETY: both ranges lie inside the data area [data_off, data_off + data_size) of
        // the live mapping, and the kernel does not write there until data_tail moves.
        unsafe {
            let data = self.base.add(self.data_off);
            out.extend_from_slice(std::slice::from_raw_parts(data.add(start), first));
            if first < avail {
                out.extend_from_slice(std::slice::from_raw_parts(data, avail - first));
            }
        }
        self.set_tail(head);
        avail
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        // SAFETY: unmapping exactly the region mapped in `map`, once.
        unsafe {
            libc::munmap(self.base.cast(), self.len);
        }
    }
}

/// Sends the records of `fd` into the ring of `target` (PERF_EVENT_IOC_SET_OUTPUT), so events
/// on one CPU share one buffer and stay in time order.
pub fn set_output(fd: &OwnedFd, target: &OwnedFd) -> io::Result<()> {
    // SAFETY: SET_OUTPUT takes another perf event fd as its integer argument.
    let r = unsafe {
        libc::ioctl(
            fd.as_raw_fd(),
            perf_event_open_sys::bindings::SET_OUTPUT as _,
            target.as_raw_fd(),
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// The kernel's id of an event (PERF_EVENT_IOC_ID), carried by samples to find their attr.
pub fn event_id(fd: &OwnedFd) -> io::Result<u64> {
    let mut id = 0u64;
    // SAFETY: ID writes one u64 to the pointer given.
    let r = unsafe {
        libc::ioctl(
            fd.as_raw_fd(),
            perf_event_open_sys::bindings::ID as _,
            &mut id as *mut u64,
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(id)
    }
}

/// What [`wait_input`] saw on a file descriptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ready {
    /// Bytes to read.
    Input,
    /// The other end is gone (a terminal hung up): reads will only ever return nothing.
    HungUp,
    /// Nothing within the wait.
    Nothing,
}

/// Waits up to `timeout_ms` for input on `fd` (a terminal's stdin).
pub fn wait_input(fd: std::os::fd::BorrowedFd<'_>, timeout_ms: i32) -> io::Result<Ready> {
    let mut p = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: `p` is one valid pollfd.
    let r = unsafe { libc::poll(&mut p, 1, timeout_ms) };
    if r < 0 {
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::Interrupted {
            return Ok(Ready::Nothing);
        }
        return Err(e);
    }
    Ok(
        if p.revents & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0 {
            Ready::HungUp
        } else if p.revents & libc::POLLIN != 0 {
            Ready::Input
        } else {
            Ready::Nothing
        },
    )
}

/// Waits until one of `fds` has data or `timeout_ms` passes; returns the fds that hung up.
pub fn poll(fds: &[&OwnedFd], timeout_ms: i32) -> io::Result<Vec<usize>> {
    let mut p: Vec<libc::pollfd> = fds
        .iter()
        .map(|f| libc::pollfd {
            fd: f.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    // SAFETY: `p` is a valid array of pollfd of the given length.
    let r = unsafe { libc::poll(p.as_mut_ptr(), p.len() as libc::nfds_t, timeout_ms) };
    if r < 0 {
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::Interrupted {
            return Ok(Vec::new());
        }
        return Err(e);
    }
    Ok(p.iter()
        .enumerate()
        .filter(|(_, p)| p.revents & libc::POLLHUP != 0)
        .map(|(i, _)| i)
        .collect())
}
