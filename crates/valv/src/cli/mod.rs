//! Operator commands that work on the installation's data directly.

pub mod audit;
pub mod backup;
pub mod export;
pub mod jobs;
pub mod keys;
pub mod operator;
pub mod restore;
pub mod tenant;
pub mod user;

use serde::Serialize;

/// Prints `value` as JSON (`--json`) or as `text` lines for people.
pub fn print<T: Serialize>(json: bool, value: &T, text: impl FnOnce() -> String) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(value)?);
    } else {
        println!("{}", text());
    }
    Ok(())
}

/// A service error as a message that says what to do.
pub fn explain(e: valv_service::ServiceError) -> anyhow::Error {
    match e {
        valv_service::ServiceError::Validation(fields) => {
            let lines: Vec<String> =
                fields.iter().map(|f| format!("  --{}: {}", f.field.replace('_', "-"), f.message)).collect();
            anyhow::anyhow!("some values were refused:\n{}", lines.join("\n"))
        }
        other => anyhow::anyhow!("{other} ({})", other.code()),
    }
}
