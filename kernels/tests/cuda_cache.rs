//! The PTX cache: a compiled module lands on disk under `ANGLEGRAD_CACHE_DIR`, is read back
//! from there, and a damaged file is compiled again. Needs libnvrtc, not a GPU (skips like the
//! compile test; `ANGLEGRAD_REQUIRE_NVRTC=1` makes that a failure).

use anglegrad_kernels::cuda::{cache, modules::DROPOUT, nvrtc};

#[test]
fn ptx_is_cached_on_disk_and_validated() {
    if let Err(e) = nvrtc::nvrtc() {
        let required = std::env::var("ANGLEGRAD_REQUIRE_NVRTC").is_ok_and(|v| v == "1");
        assert!(!required, "ANGLEGRAD_REQUIRE_NVRTC=1 but {e}");
        println!("skipped: {e}"); // "NVRTC not found: looked in ..."
        return;
    }
    // This test binary has this one test, so setting the variable races with nothing.
    let dir = std::env::temp_dir().join(format!("anglegrad-ptx-cache-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::env::set_var(cache::CACHE_DIR_ENV, &dir);

    let file = cache::cache_file(&DROPOUT, 90)
        .unwrap()
        .expect("a cache folder");
    assert!(file.starts_with(&dir));
    let compiled = cache::ptx(&DROPOUT, 90).unwrap();
    let on_disk = std::fs::read_to_string(&file).expect("the PTX was written");
    assert_eq!(*compiled, on_disk);
    assert!(cache::looks_like_ptx(&on_disk));

    // Read back from disk (not compiled): a marked but valid-looking file is returned as is.
    let marked = on_disk.replacen("//", "// read from the disk cache\n//", 1);
    std::fs::write(&file, &marked).unwrap();
    cache::clear_memory();
    assert_eq!(*cache::ptx(&DROPOUT, 90).unwrap(), marked);

    // A truncated file is not trusted: compiled again and rewritten.
    std::fs::write(&file, &on_disk[..on_disk.len() / 2]).unwrap();
    cache::clear_memory();
    assert_eq!(*cache::ptx(&DROPOUT, 90).unwrap(), on_disk);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), on_disk);

    // Another architecture is another file.
    assert_ne!(cache::cache_file(&DROPOUT, 80).unwrap(), Some(file));
    std::fs::remove_dir_all(&dir).unwrap();
}
