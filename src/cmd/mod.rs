//! One module per subcommand, each with a plain config struct and `run(cfg) -> Result<ExitCode>`.
pub mod list;
pub mod stat;
