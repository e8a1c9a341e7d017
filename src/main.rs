//! The rperf binary: parse the command line, dispatch, print the error chain, exit.
fn main() -> std::process::ExitCode {
    rperf::cli::main()
}
