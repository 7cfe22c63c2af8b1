//! `<out>/metrics.jsonl`: one JSON object per line, a line per training step and per
//! evaluation, appended as the run goes (a crashed run keeps everything logged so far).

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::Path;

use serde_json::Value;

use crate::error::{Error, Result};

pub struct MetricsLog {
    file: BufWriter<File>,
    path: String,
}

impl MetricsLog {
    /// Opens the log for appending (a resumed run continues the same file).
    pub fn open(path: &Path) -> Result<MetricsLog> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| Error::io(path, e))?;
        Ok(MetricsLog {
            file: BufWriter::new(file),
            path: path.display().to_string(),
        })
    }

    /// Appends one record.
    pub fn write(&mut self, record: &Value) -> Result<()> {
        writeln!(self.file, "{record}")
            .and_then(|_| self.file.flush())
            .map_err(|e| Error::Invalid(format!("{}: {e}", self.path)))
    }
}
