//! The one error type of this crate.

/// Why a binary could not be used.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Not a 64-bit ELF file this crate understands (or a corrupt one).
    #[error("{path}: not a usable 64-bit ELF file: {msg}")]
    NotElf {
        /// The file, or "ELF image" for one held in memory.
        path: String,
        /// The parser's message.
        msg: String,
    },
}

impl Error {
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Error {
        Error::Io {
            path: path.display().to_string(),
            source,
        }
    }

    pub(crate) fn not_elf(path: &std::path::Path, msg: impl ToString) -> Error {
        Error::NotElf {
            path: path.display().to_string(),
            msg: msg.to_string(),
        }
    }

    /// For an image in memory: the same error without a file name.
    pub(crate) fn image(msg: impl ToString) -> Error {
        Error::not_elf(std::path::Path::new("ELF image"), msg)
    }

    /// The same error naming `path` (for an image that was read from it).
    pub(crate) fn at(self, path: &std::path::Path) -> Error {
        match self {
            Error::NotElf { msg, .. } => Error::not_elf(path, msg),
            e => e,
        }
    }
}
