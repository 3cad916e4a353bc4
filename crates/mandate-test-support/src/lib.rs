//! Helpers for Mandate's tests and benchmarks: finding the `shared/` folder that sits beside the
//! project in development and CI (never on a user's machine).
//!
//! Rule: tests that read `shared/` find it at `$MANDATE_SHARED` or `../shared` (relative to the
//! workspace root). Where it is absent they say plainly that they skip, except under `CI=true`,
//! where its absence is a failure.

use std::path::{Path, PathBuf};

/// The workspace root (two levels above this crate's manifest).
pub fn workspace_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.ancestors()
        .nth(2)
        .map_or_else(|| here.to_path_buf(), Path::to_path_buf)
}

/// Where `shared/` is, if it exists.
pub fn find_shared() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("MANDATE_SHARED") {
        let dir = PathBuf::from(dir);
        if dir.is_dir() {
            return Some(dir);
        }
    }
    let dir = workspace_root().join("../shared");
    dir.is_dir().then_some(dir)
}

/// Outcome of looking for a sub-folder of `shared/`.
#[derive(Debug)]
pub enum Shared {
    /// The folder exists.
    Found(PathBuf),
    /// It does not, and we are not in CI: the caller should return early (the message was printed).
    Skip,
}

/// Look for `shared/<sub>`; print a skip notice when it is absent, and return an error under `CI=true`.
///
/// # Errors
/// When the folder is missing and the environment variable `CI` is `true`.
pub fn shared_subdir(sub: &str) -> Result<Shared, String> {
    let found = find_shared().map(|d| d.join(sub)).filter(|d| d.exists());
    match found {
        Some(dir) => Ok(Shared::Found(dir)),
        None if std::env::var("CI").is_ok_and(|v| v == "true") => Err(format!(
            "shared/{sub} not found (set MANDATE_SHARED or place shared/ beside the project); \
             under CI=true this is a failure, not a skip"
        )),
        None => {
            #[expect(clippy::print_stderr, reason = "the skip notice is the point")]
            {
                eprintln!(
                    "SKIPPED: shared/{sub} not found (set MANDATE_SHARED); skipping this test"
                );
            }
            Ok(Shared::Skip)
        }
    }
}

/// Every file under `dir` (recursively) whose name ends with `suffix`, sorted.
pub fn files_with_suffix(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in rd.flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.to_string_lossy().ends_with(suffix) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}
