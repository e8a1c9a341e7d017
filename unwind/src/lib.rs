//! rperf-unwind: turns a sample's user registers and stack bytes into frame addresses.
//!
//! This crate is a leaf: it knows nothing about symbols, the command line or perf.data. The
//! unwinding itself (framehop behind a small API) arrives with the DWARF unwinding work; for now
//! the crate defines the vocabulary shared with the root crate.
//!
//! ```
//! use rperf_unwind::Frame;
//! let f = Frame::ReturnAddress(0x401234);
//! // Return addresses are looked up one byte before, inside the calling instruction.
//! assert_eq!(f.lookup_address(), 0x401233);
//! ```
#![deny(missing_docs)]

/// One frame of a stack, keeping the instruction pointer of the innermost frame apart from
/// the return addresses of its callers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Frame {
    /// The sampled instruction pointer: the instruction itself.
    InstructionPointer(u64),
    /// A return address: the instruction after a call.
    ReturnAddress(u64),
}

impl Frame {
    /// The address to symbolize: return addresses point after the call, so look one byte back.
    pub fn lookup_address(self) -> u64 {
        match self {
            Frame::InstructionPointer(a) => a,
            Frame::ReturnAddress(a) => a.saturating_sub(1),
        }
    }
}
