//! The `mandate` command.
fn main() {}
