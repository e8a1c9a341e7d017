//! A sample's frames: the kernel-written chain with its PERF_CONTEXT_* markers turned into
//! (address, mode) pairs, innermost first; or the lone sampled ip when no chain was recorded.
use crate::data::{Mode, Sample};

/// Chain entries at or above this value are context markers, not addresses.
const PERF_CONTEXT_MAX: u64 = -4095i64 as u64;
const PERF_CONTEXT_HV: u64 = -32i64 as u64;
const PERF_CONTEXT_KERNEL: u64 = -128i64 as u64;
const PERF_CONTEXT_USER: u64 = -512i64 as u64;

/// One frame: an address and where it lies. The first frame is the sampled instruction; the
/// others are return addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame {
    /// The address.
    pub addr: u64,
    /// Kernel or user.
    pub mode: Mode,
}

/// The frames of a sample, innermost first, at most `max` of them.
pub fn frames(s: &Sample, max: usize) -> Vec<Frame> {
    let Some(chain) = s.callchain else {
        return vec![Frame {
            addr: s.ip,
            mode: s.mode,
        }];
    };
    let mut out = Vec::with_capacity(chain.len().min(max));
    let mut mode = s.mode;
    for &a in chain.iter() {
        if a >= PERF_CONTEXT_MAX {
            mode = match a {
                PERF_CONTEXT_KERNEL => Mode::Kernel,
                PERF_CONTEXT_USER => Mode::User,
                PERF_CONTEXT_HV => Mode::Other,
                _ => Mode::Other,
            };
            continue;
        }
        if out.len() >= max {
            break;
        }
        out.push(Frame { addr: a, mode });
    }
    if out.is_empty() {
        out.push(Frame {
            addr: s.ip,
            mode: s.mode,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(chain: Option<&'static [u64]>) -> Sample<'static> {
        Sample {
            event: 0,
            pid: 1,
            tid: 1,
            time: 0,
            cpu: None,
            ip: 0x401000,
            mode: Mode::User,
            period: 1,
            callchain: chain,
            raw: None,
        }
    }

    #[test]
    fn markers_switch_modes() {
        static CHAIN: [u64; 5] = [
            PERF_CONTEXT_KERNEL,
            0xffff_ffff_8100_0000,
            PERF_CONTEXT_USER,
            0x401000,
            0x401234,
        ];
        let s = sample(Some(&CHAIN));
        let f = frames(&s, usize::MAX);
        assert_eq!(f.len(), 3);
        assert_eq!(f[0].mode, Mode::Kernel);
        assert_eq!((f[1].addr, f[1].mode), (0x401000, Mode::User));
        assert_eq!(frames(&s, 2).len(), 2);
        assert_eq!(
            frames(&sample(None), 10),
            vec![Frame {
                addr: 0x401000,
                mode: Mode::User
            }]
        );
    }
}
