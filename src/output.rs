//! Where results go: human text (coloured when that helps) or JSON, and errors with their causes.

use std::io::{IsTerminal, Write};

use serde::Serialize;

use crate::cli::{ColorChoice, GlobalArgs};

/// The output settings of this process.
#[derive(Debug, Clone)]
pub struct Output {
    json: bool,
    verbose: u8,
}

impl Output {
    /// Applies `--json`, `--color`/`NO_COLOR` and `--verbose`.
    pub fn new(global: &GlobalArgs) -> Self {
        let color = match global.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty())
                    && std::io::stdout().is_terminal()
            }
        };
        colored::control::set_override(color);
        Self {
            json: global.json,
            verbose: global.verbose,
        }
    }

    /// Whether `--json` was given.
    pub fn json(&self) -> bool {
        self.json
    }

    /// How many times `-v` was given.
    pub fn verbose(&self) -> u8 {
        self.verbose
    }

    /// Prints human text to stdout.
    pub fn text(&self, text: &str) {
        let mut stdout = std::io::stdout().lock();
        // A closed pipe (`dw runtimes | head -1`) is not an error worth reporting.
        let _ = writeln!(stdout, "{text}");
    }

    /// Prints one JSON document to stdout.
    pub fn json_value(&self, value: &impl Serialize) -> anyhow::Result<()> {
        let text = serde_json::to_string_pretty(value)?;
        self.text(&text);
        Ok(())
    }

    /// Reports an error: `error: …` with each cause on stderr, or a JSON object on stdout
    /// under `--json` so that scripts can parse it.
    pub fn error(&self, error: &anyhow::Error) {
        let causes: Vec<String> = error.chain().skip(1).map(ToString::to_string).collect();
        if self.json {
            let value =
                serde_json::json!({ "error": { "message": error.to_string(), "causes": causes } });
            self.text(&value.to_string());
            return;
        }
        let mut stderr = std::io::stderr().lock();
        let _ = writeln!(
            stderr,
            "{} {error}",
            colored::Colorize::bold(colored::Colorize::red("error:"))
        );
        for cause in causes {
            let _ = writeln!(stderr, "  caused by: {cause}");
        }
    }
}
