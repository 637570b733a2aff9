//! One function per command; `dispatch` routes to them.

pub(crate) mod compare;
mod daemon;
mod demo;
mod demo_compare;
mod federation;
mod local;
mod proposal;
mod protection;
mod remote;
mod structures;
mod validate;

use std::process::ExitCode;

use crate::args::{Command, FederationCommand, MembersCommand};
use crate::settings::Settings;

/// Runs `command`.
pub fn dispatch(settings: &Settings, command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Init {
            member,
            listen,
            json,
        } => local::init(settings, &member, listen, json.json),
        Command::Daemon { log_format } => daemon::run(settings, log_format),
        Command::Id { json } => remote::id(settings, json.json),
        Command::Members(MembersCommand::Add {
            code,
            peer_id,
            addrs,
            json,
        }) => remote::members_add(settings, code, peer_id, addrs, json.json),
        Command::Members(MembersCommand::Remove { code, json }) => {
            remote::members_remove(settings, code, json.json)
        }
        Command::Members(MembersCommand::List { json }) => {
            remote::members_list(settings, json.json)
        }
        Command::Federation(command) => federation_command(settings, command),
        Command::Release(args) => remote::release(settings, *args),
        Command::Datasets { json } => remote::datasets(settings, json.json),
        Command::Structures { json } => structures::list(settings, json.json),
        Command::Compare(args) => compare::run(settings, *args),
        Command::Validate {
            file,
            structure,
            json,
        } => validate::run(&file, &structure, json.json),
        Command::Catalog { json } => remote::catalog(settings, json.json),
        Command::Pull { id, out, json } => remote::pull(settings, id, out, json.json),
        Command::Export {
            id,
            out,
            force,
            json,
        } => remote::export(settings, id, out, force, json.json),
        Command::Verify {
            bundle,
            signer,
            json,
        } => local::verify(&bundle, signer.as_deref(), json.json),
        Command::Revoke { id, reason, json } => remote::revoke(settings, id, reason, json.json),
        Command::Audit { strict, json } => remote::audit(settings, strict, json.json),
        Command::Log { json } => remote::log(settings, json.json),
        Command::Peers { json } => remote::peers(settings, json.json),
        Command::Demo => demo::run(),
        Command::Completions { shell } => local::completions(shell),
    }
}

/// Runs a `federation` subcommand.
fn federation_command(settings: &Settings, command: FederationCommand) -> anyhow::Result<ExitCode> {
    match command {
        FederationCommand::Init {
            name,
            threshold,
            founders,
            out,
            json,
        } => federation::init(settings, &name, threshold, &founders, &out, json.json),
        FederationCommand::Sign { file, json } => federation::sign(settings, &file, json.json),
        FederationCommand::Adopt { file, json } => federation::adopt(settings, file, json.json),
        FederationCommand::Status { json } => federation::status(settings, json.json),
        FederationCommand::Propose(change) => proposal::propose(settings, change),
        FederationCommand::Approve { id, json } => proposal::approve(settings, id, json.json),
        FederationCommand::Import { file, json } => proposal::import(settings, &file, json.json),
        FederationCommand::Export { id, out, json } => {
            proposal::export(settings, id, &out, json.json)
        }
    }
}
