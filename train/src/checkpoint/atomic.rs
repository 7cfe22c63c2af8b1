//! Crash-safe file replacement: after a crash at any moment, the target holds either the whole
//! previous file or the whole new one, never a mixture or a truncated file.
//!
//! ```text
//! 1. write the bytes to  <dir>/.<name>.partial      (same directory: same file system)
//! 2. fsync that file                                 the data is on disk before it is named
//! 3. rename it over      <dir>/<name>                atomic on POSIX file systems
//! 4. fsync <dir>                                     the rename itself is on disk
//! ```
//!
//! A crash before step 3 leaves the old target untouched (and a stale `.partial`, which the next
//! write truncates and reuses); a crash after it leaves the complete new file. Without step 2 a
//! power loss could leave the renamed file with no data (ext4 `data=writeback`, XFS); without
//! step 4 the rename could be forgotten. Two processes writing the same target at once is not
//! supported (they would share the `.partial`).
//!
//! [`write_atomic_with`] calls a hook between the steps; tests use it to simulate a crash (the
//! hook returns an error, or aborts the process) and check that the previous file survives.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The points between the steps where [`write_atomic_with`] calls its hook.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// The temporary file exists and is empty.
    TempCreated,
    /// Half of the bytes are written (not yet synced): a crash here leaves a truncated temp.
    HalfWritten,
    /// Every byte is written and synced; the target is still the old file.
    TempSynced,
    /// The temporary file has been renamed over the target; the directory is not yet synced.
    Renamed,
}

/// The temporary file used while writing `target`: `.<name>.partial` beside it.
pub fn temp_path(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    target.with_file_name(format!(".{name}.partial"))
}

/// Replaces `target` with `bytes` atomically (see the module docs).
pub fn write_atomic(target: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomic_with(target, bytes, &mut |_| Ok(()))
}

/// [`write_atomic`] with a hook called at each [`Stage`]. An error from the hook stops the write
/// where it is, *without cleaning up*, as a crash would; an ordinary I/O error removes the
/// temporary file before returning.
pub fn write_atomic_with(
    target: &Path,
    bytes: &[u8],
    hook: &mut dyn FnMut(Stage) -> io::Result<()>,
) -> io::Result<()> {
    if target.file_name().is_none() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "the target path names no file",
        ));
    }
    let temp = temp_path(target);
    let mut crashed = false;
    let mut at = |stage: Stage, crashed: &mut bool| hook(stage).inspect_err(|_| *crashed = true);
    let result = (|| {
        let mut file = File::create(&temp)?;
        at(Stage::TempCreated, &mut crashed)?;
        let half = bytes.len() / 2;
        file.write_all(&bytes[..half])?;
        at(Stage::HalfWritten, &mut crashed)?;
        file.write_all(&bytes[half..])?;
        file.sync_all()?;
        drop(file);
        at(Stage::TempSynced, &mut crashed)?;
        fs::rename(&temp, target)?;
        at(Stage::Renamed, &mut crashed)?;
        sync_dir(target)
    })();
    if result.is_err() && !crashed {
        let _ = fs::remove_file(&temp);
    }
    result
}

/// fsync of the directory holding `path`, so that a rename in it is durable. Directories
/// cannot be opened as files on Windows, where `MoveFileEx` is durable on its own.
fn sync_dir(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        File::open(dir)?.sync_all()?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("anglegrad-atomic-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn replaces_the_target_and_leaves_no_temp() {
        let dir = scratch("replace");
        let target = dir.join("a.bin");
        write_atomic(&target, b"old").unwrap();
        write_atomic(&target, b"new contents").unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"new contents");
        assert!(!temp_path(&target).exists());
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_crash_at_any_stage_before_the_rename_keeps_the_old_file() {
        let dir = scratch("crash");
        let target = dir.join("a.bin");
        write_atomic(&target, b"old").unwrap();
        for stage in [Stage::TempCreated, Stage::HalfWritten, Stage::TempSynced] {
            let err = write_atomic_with(&target, b"new contents", &mut |s| {
                if s == stage {
                    Err(io::Error::other("simulated crash"))
                } else {
                    Ok(())
                }
            });
            assert!(err.is_err());
            assert_eq!(fs::read(&target).unwrap(), b"old", "crash at {stage:?}");
            assert!(
                temp_path(&target).exists(),
                "a crash leaves the temp behind"
            );
        }
        // The stale temp does not get in the way of the next write.
        write_atomic(&target, b"newer").unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"newer");
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_crash_after_the_rename_has_the_new_file() {
        let dir = scratch("renamed");
        let target = dir.join("a.bin");
        write_atomic(&target, b"old").unwrap();
        let r = write_atomic_with(&target, b"new", &mut |s| match s {
            Stage::Renamed => Err(io::Error::other("simulated crash")),
            _ => Ok(()),
        });
        assert!(r.is_err());
        assert_eq!(fs::read(&target).unwrap(), b"new");
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn an_io_error_removes_the_temp() {
        let dir = scratch("ioerr");
        // Renaming a file over a non-empty directory fails: an ordinary I/O error.
        let target = dir.join("occupied");
        fs::create_dir_all(target.join("inside")).unwrap();
        assert!(write_atomic(&target, b"x").is_err());
        assert!(!temp_path(&target).exists());
        fs::remove_dir_all(dir).unwrap();
    }
}
