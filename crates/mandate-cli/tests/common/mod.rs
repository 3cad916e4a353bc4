//! Helpers of the tests that run the `mandate` binary on the diagnostic and lint fixtures
//! (`tests/lint.rs`, `tests/diagnostics.rs`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

/// What a run of `mandate` printed and its exit status.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `mandate` with `args` in `dir`.
pub fn mandate(dir: &Path, args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_mandate"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("runs");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The repository root.
pub fn workspace() -> PathBuf {
    mandate_test_support::workspace_root()
}

/// The codes a fixture declares with `// expect: MD0100 MDL003` lines (`# expect:` in TOML):
/// of the file, or of every file of the directory.
pub fn expected_codes(entry: &Path) -> BTreeSet<String> {
    let files: Vec<PathBuf> = if entry.is_dir() {
        std::fs::read_dir(entry)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect()
    } else {
        vec![entry.to_path_buf()]
    };
    let mut codes = BTreeSet::new();
    for f in files {
        let text = std::fs::read_to_string(f).unwrap_or_default();
        for line in text.lines() {
            if let Some(rest) = line
                .strip_prefix("// expect:")
                .or_else(|| line.strip_prefix("# expect:"))
            {
                codes.extend(rest.split_whitespace().map(str::to_string));
            }
        }
    }
    codes
}

/// The names of the files and directories in `dir` (relative to the repository root) that
/// `keep` accepts, sorted.
pub fn entries(dir: &str, keep: impl Fn(&str) -> bool) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(workspace().join(dir))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| keep(n))
        .collect();
    names.sort();
    names
}
