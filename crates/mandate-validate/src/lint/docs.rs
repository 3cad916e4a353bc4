//! `docs/lints.md`, generated from the lints' doc comments (a test in
//! `crates/mandate-validate/tests/lints.rs` keeps the committed file up to date).

use std::fmt::Write as _;

use super::LINTS;

/// The Markdown of `docs/lints.md`: an index table, then one section per lint.
pub fn markdown() -> String {
    let mut out = String::new();
    out.push_str(
        "<!-- Generated from the doc comments in crates/mandate-validate/src/lint/; do not edit.\n     \
         Regenerate with: MANDATE_UPDATE_DOCS=1 cargo test -p mandate-validate --test lints -->\n\n",
    );
    out.push_str("# Lints\n\n");
    out.push_str(
        "`mandate lint` runs everything `mandate check` does (parsing and, with `--schema`, type \
         checking) and then these lints. Each has a stable code and a name that describes the \
         pattern it flags; either can be used in `mandate.toml` and in `@allow` annotations. \
         Lints marked *schema* run only when `--schema` is given.\n\n",
    );
    out.push_str(
        "Configure levels in `mandate.toml` at the root of the policy repository (`mandate lint` \
         looks for it in the directories of the paths it is given and their parents):\n\n\
         ```toml\n\
         [lint]\n\
         deny = [\"unmetered-agent-action\"]    # report as errors\n\
         warn = [\"MDL001\"]                    # report as warnings\n\
         allow = [\"fallible-forbid\"]          # do not report\n\
         agent-types = [\"Platform::Bot\"]      # agent types besides those named `Agent`\n\
         exclude = [\"bad\"]                    # directories and files skipped when walking\n\
         ```\n\n\
         Silence a lint on one statement with an annotation listing codes or names:\n\n\
         ```cedar\n\
         @id(\"status-page-reads\")\n\
         @allow(\"unmetered-agent-action, MDL002\")\n\
         permit (principal is Platform::Agent, action == Platform::Action::\"ReadDocument\", resource);\n\
         ```\n\n",
    );
    out.push_str("| Code | Name | Default | Schema | Flags |\n|---|---|---|---|---|\n");
    for l in LINTS {
        let _ = writeln!(
            out,
            "| [{}](#{}) | `{}` | {} | {} | {} |",
            l.code,
            l.anchor(),
            l.name,
            l.default_severity.as_str(),
            if l.needs_schema { "schema" } else { "" },
            l.summary
        );
    }
    for l in LINTS {
        let _ = write!(
            out,
            "\n## {} {}\n\nDefault severity: {}.{}\n",
            l.code,
            l.name,
            l.default_severity.as_str(),
            if l.needs_schema {
                " Runs only with a schema."
            } else {
                ""
            }
        );
        for line in l.doc_lines() {
            // The doc comments use `##` for their sections; here they sit under the lint's `##`.
            if line.starts_with("## ") {
                out.push('#');
            }
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}
