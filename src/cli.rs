//! Command-line definitions (clap derive only).
use std::process::ExitCode;

/// Entry point used by the binary.
pub fn main() -> ExitCode {
    ExitCode::SUCCESS
}
