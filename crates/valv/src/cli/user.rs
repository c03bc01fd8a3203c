//! `valv user create|list|invite|block|unblock --tenant ID`: account management with
//! an owner's rights over accounts, never over records or files.

use std::process::ExitCode;

use clap::Subcommand;
use valv_domain::{TenantId, UserId};
use valv_service::{Caller, NewUser, UserView, Valv};

use super::{explain, print};

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user and send them an invitation to set their password.
    #[command(
        after_help = "Example:\n  valv user create --tenant 0190c2a4-… --name 'Bo Ek' --email bo@acme.se \\\n    --phone +46701234568 --role member"
    )]
    Create {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        email: String,
        /// Mobile number in E.164 form.
        #[arg(long)]
        phone: String,
        /// owner, admin, member, viewer or auditor.
        #[arg(long, default_value = "member")]
        role: String,
        #[arg(long)]
        json: bool,
    },
    /// List a tenant's users.
    #[command(after_help = "Example:\n  valv user list --tenant 0190c2a4-… --json")]
    List {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        json: bool,
    },
    /// Send a new invitation to a user who has not set a password yet (after
    /// an expired invitation, or in a tenant copied with `valv restore --as`).
    #[command(after_help = "Example:\n  valv user invite --tenant 0190c2a4-… 0190c2a5-…")]
    Invite {
        #[arg(long)]
        tenant: String,
        user: String,
        #[arg(long)]
        json: bool,
    },
    /// Block a user: their sessions and API tokens end at once.
    #[command(after_help = "Example:\n  valv user block --tenant 0190c2a4-… 0190c2a5-…")]
    Block {
        #[arg(long)]
        tenant: String,
        user: String,
        #[arg(long)]
        json: bool,
    },
    /// Unblock a user.
    #[command(after_help = "Example:\n  valv user unblock --tenant 0190c2a4-… 0190c2a5-…")]
    Unblock {
        #[arg(long)]
        tenant: String,
        user: String,
        #[arg(long)]
        json: bool,
    },
}

fn line(u: &UserView) -> String {
    let state = if u.activated { u.status.as_str() } else { "invited" };
    format!("{}  {:<8} {:<8} {} <{}> {}", u.id, u.role.as_str(), state, u.name, u.email, u.phone)
}

fn ids(tenant: &str, user: Option<&str>) -> anyhow::Result<(TenantId, Option<UserId>)> {
    let t = TenantId::parse(tenant)
        .map_err(|_| anyhow::anyhow!("`{tenant}` is not a tenant id; see `valv tenant list`"))?;
    let u = user
        .map(|u| {
            UserId::parse(u).map_err(|_| anyhow::anyhow!("`{u}` is not a user id; see `valv user list --tenant {t}`"))
        })
        .transpose()?;
    Ok((t, u))
}

pub async fn run(valv: &Valv, cmd: UserCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        UserCommand::Create { tenant, name, email, phone, role, json } => {
            let (t, _) = ids(&tenant, None)?;
            let u = valv
                .accounts()
                .create_user(&Caller::CliForTenant(t), NewUser { name, email, phone, role })
                .await
                .map_err(explain)?;
            print(json, &u, || format!("invited {}", line(&u)))?;
        }
        UserCommand::List { tenant, json } => {
            let (t, _) = ids(&tenant, None)?;
            valv.accounts().tenant(&Caller::Cli, t).await.map_err(explain)?;
            let all = valv.accounts().users(&Caller::CliForTenant(t)).await.map_err(explain)?;
            print(json, &all, || all.iter().map(line).collect::<Vec<_>>().join("\n"))?;
        }
        UserCommand::Invite { tenant, user, json } => {
            let (t, u) = ids(&tenant, Some(&user))?;
            let v = valv.accounts().reinvite(&Caller::CliForTenant(t), u.unwrap_or_default()).await.map_err(explain)?;
            print(json, &v, || format!("invited again {}", line(&v)))?;
        }
        UserCommand::Block { tenant, user, json } => {
            let (t, u) = ids(&tenant, Some(&user))?;
            let v = valv
                .accounts()
                .set_user_blocked(&Caller::CliForTenant(t), u.unwrap_or_default(), true)
                .await
                .map_err(explain)?;
            print(json, &v, || format!("blocked {}", line(&v)))?;
        }
        UserCommand::Unblock { tenant, user, json } => {
            let (t, u) = ids(&tenant, Some(&user))?;
            let v = valv
                .accounts()
                .set_user_blocked(&Caller::CliForTenant(t), u.unwrap_or_default(), false)
                .await
                .map_err(explain)?;
            print(json, &v, || format!("unblocked {}", line(&v)))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
