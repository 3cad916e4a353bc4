//! Generates the LR(1) parser from `grammar/mandate.lalrpop` into `OUT_DIR`.
//! (`crates/mandate-syntax/grammar` is a symlink to the workspace's `grammar/`, so `cargo package` ships it.)

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    lalrpop::Configuration::new()
        .set_out_dir(std::env::var("OUT_DIR")?)
        .emit_rerun_directives(true)
        .process_file(dir.join("grammar/mandate.lalrpop"))?;
    Ok(())
}
