//! `valv operator totp --email ADDRESS`: a new authenticator secret for an
//! operator who lost theirs. On the server only: whoever can run this can
//! read the data dir anyway.

use std::process::ExitCode;

use clap::Subcommand;
use valv_service::{Caller, Valv};

use super::{explain, print};

#[derive(Debug, Subcommand)]
pub enum OperatorCommand {
    /// Give an operator a new authenticator secret; their sessions end, and
    /// the first code from the app confirms the new secret at sign-in.
    #[command(after_help = "Example:\n  valv operator totp --email ops@provider.example")]
    Totp {
        #[arg(long)]
        email: String,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(valv: &Valv, cmd: OperatorCommand) -> anyhow::Result<ExitCode> {
    let OperatorCommand::Totp { email, json } = cmd;
    let shown = valv.accounts().reset_operator_totp(&Caller::Cli, &email).await.map_err(explain)?;
    print(json, &shown, || {
        format!(
            "enter this secret in the authenticator app of {email}, then sign in with a code from it:\n  {}\n  {}",
            shown.secret, shown.otpauth_url
        )
    })?;
    Ok(ExitCode::SUCCESS)
}
