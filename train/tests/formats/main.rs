//! Reader tests on files the tests write (DATASETS.md §0): writer round trips; files cut at
//! each header boundary and one byte short; wrong magic; lengths past the end. Each failure
//! must name the right offset.

mod fuzz;
mod idx;
mod pairs;
mod recordio;
mod verification_bin;

/// A fresh empty directory under the target's temp dir, unique per test.
pub fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("anglegrad-train-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Asserts that `result` failed with a message containing `needle`.
#[track_caller]
pub fn assert_err<T>(result: anglegrad_train::Result<T>, needle: &str) {
    match result {
        Ok(_) => panic!("expected an error containing {needle:?}, got Ok"),
        Err(e) => {
            let msg = e.to_string();
            assert!(msg.contains(needle), "expected {needle:?} in: {msg}");
        }
    }
}
