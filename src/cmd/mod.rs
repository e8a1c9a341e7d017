//! One module per subcommand, each with a plain config struct and `run(cfg) -> Result<ExitCode>`.
pub mod annotate;
pub mod archive;
pub mod buildid;
pub mod convert;
pub mod diff;
pub mod dump;
pub mod evlist;
pub mod flamegraph;
pub mod list;
pub mod probe;
pub mod progress;
pub mod record;
pub mod report;
pub mod report_browser;
pub mod sched;
pub mod script;
pub mod serve;
pub mod stat;
pub mod top;
pub mod version;

// Named here too, as the commands have always named them; they live below so that trace
// and the replay reach them without importing a command.
pub use crate::exit::{command_error, Exit};
pub use crate::replay::check_input;
