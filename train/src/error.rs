//! Errors of the `train` crate (DESIGN.md §3, DATASETS.md §0).
//!
//! Every reader reports *where* a file went wrong: the file name and the byte offset, so a user
//! can open the file in a hex viewer at that offset. Text formats add the line number; offsets
//! into a gzip file count bytes of the decompressed stream and say so:
//!
//! ```text
//! train.rec: byte 4096: bad RecordIO magic 0x3ED7230A
//! pairs.txt: line 602 (byte 9311): expected 3 or 4 fields, found 5
//! train-images-idx3-ubyte.gz: byte 16 (decompressed): truncated: data needs 47040000 bytes, 17 left
//! ```

use std::fmt;
use std::path::Path;

/// Where in a file a format error was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Offset {
    /// A byte offset into the file as stored.
    Byte(u64),
    /// A byte offset into the decompressed stream of a gzip file.
    Decompressed(u64),
    /// A line of a text file (1-based) and the byte offset of the fault.
    Line { line: u64, byte: u64 },
    /// An element of a parsed structure, for formats whose parser keeps no offsets
    /// (the pickled `.bin`: `bins[17] (pair 8)`).
    Item(String),
}

impl fmt::Display for Offset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Offset::Byte(b) => write!(f, "byte {b}"),
            Offset::Decompressed(b) => write!(f, "byte {b} (decompressed)"),
            Offset::Line { line, byte } => write!(f, "line {line} (byte {byte})"),
            Offset::Item(name) => f.write_str(name),
        }
    }
}

/// The error type of `anglegrad-train`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file does not follow its format; `offset` says where.
    #[error("{file}: {offset}: {what}")]
    Format {
        file: String,
        offset: Offset,
        what: String,
    },
    /// The operating system could not read or write a file.
    #[error("{file}: {source}")]
    Io {
        file: String,
        #[source]
        source: std::io::Error,
    },
    /// Files that a list (pairs.txt) names but that are not there.
    #[error("{list}: {count} image file(s) missing, the first: {first}")]
    Missing {
        list: String,
        first: String,
        count: usize,
    },
    /// An evaluation metric cannot be computed from its input (NaN score, no genuine pair...).
    #[error("evaluation: {0}")]
    Eval(String),
    /// A caller passed arguments that do not fit together (shapes, counts, unknown names).
    #[error("invalid argument: {0}")]
    Invalid(String),
    /// An optional data set or font is not on this machine; `hint` says how to install it.
    #[error("{what} not installed: {hint}")]
    NotInstalled { what: String, hint: String },
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// A format error at a byte offset (or a decompressed one).
    pub fn format(file: &str, offset: Offset, what: impl Into<String>) -> Error {
        Error::Format {
            file: file.to_string(),
            offset,
            what: what.into(),
        }
    }

    /// An I/O error on `path`.
    pub fn io(path: &Path, source: std::io::Error) -> Error {
        Error::Io {
            file: path.display().to_string(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_file_and_offset() {
        let e = Error::format(
            "train.rec",
            Offset::Byte(4096),
            "bad RecordIO magic 0x3ED7230A",
        );
        assert_eq!(
            e.to_string(),
            "train.rec: byte 4096: bad RecordIO magic 0x3ED7230A"
        );
        let e = Error::format(
            "pairs.txt",
            Offset::Line {
                line: 602,
                byte: 9311,
            },
            "bad",
        );
        assert_eq!(e.to_string(), "pairs.txt: line 602 (byte 9311): bad");
        let e = Error::format("a.gz", Offset::Decompressed(16), "truncated");
        assert_eq!(e.to_string(), "a.gz: byte 16 (decompressed): truncated");
    }
}
