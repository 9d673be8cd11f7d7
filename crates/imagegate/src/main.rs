//! The `imagegate` command: parses arguments, dispatches to a command, and maps every outcome
//! to one of the documented exit codes.

mod cli;
mod commands;
mod error;
mod progress;
mod runtime;
mod settings;

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use clap::Parser;
use imagegate_contract::ExitStatus;

use crate::cli::{Cli, Command};
use crate::error::CliError;

/// Set when an interrupt arrives; the handler then owns the process's exit.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

fn main() -> ExitCode {
    // Crash tests stop the process at chosen steps (`FAILPOINTS`); compiled in only with the
    // `failpoints` feature.
    #[cfg(feature = "failpoints")]
    let _failpoints = fail::FailScenario::setup();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => exit_on_bad_arguments(&error),
    };
    let (command, json) = (cli.command.name(), cli.command.json());
    // A Ctrl-C (or a CI runner cancelling the job) must not leave test containers behind.
    let _ = ctrlc::set_handler(|| {
        INTERRUPTED.store(true, Ordering::SeqCst);
        let removed = imagegate_engine::remove_live_containers();
        eprintln!("imagegate: interrupted; removed {}", imagegate_contract::plural(removed, "test container"));
        std::process::exit(130);
    });
    let outcome = run(cli);
    if INTERRUPTED.load(Ordering::SeqCst) {
        // The work failed because the handler is removing its containers: let the handler
        // finish and exit with 130 rather than report that failure.
        std::thread::sleep(Duration::from_secs(120));
    }
    let status = match outcome {
        Ok(status) => status,
        Err(error) => {
            eprintln!("error: {}", render(&error));
            if json {
                runtime::print_json(&error::error_document(command, None, &error));
            }
            error.exit_status()
        }
    };
    ExitCode::from(status.code() as u8)
}

/// Clap's own report and exit (2 for bad usage), after an `imagegate.error/v1` document on
/// stdout when `--json` was among the arguments: a `--json` run prints a document whatever
/// goes wrong.
fn exit_on_bad_arguments(error: &clap::Error) -> ! {
    use clap::error::ErrorKind;
    let informational = matches!(error.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion)
        || error.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand;
    if !informational && std::env::args_os().skip(1).any(|argument| argument == "--json") {
        let command = std::env::args().nth(1).filter(|word| !word.starts_with('-')).unwrap_or_default();
        let text = error.to_string();
        let message = text.lines().next().unwrap_or("invalid arguments").trim_start_matches("error: ").to_owned();
        let document = imagegate_contract::ErrorDocument::new(
            &command,
            ExitStatus::Usage.code(),
            "usage",
            &format!("{message}\n  hint: run `imagegate {command} --help` for the arguments it takes"),
        );
        runtime::print_json(&document);
    }
    error.exit()
}

fn run(cli: Cli) -> Result<ExitStatus, CliError> {
    match cli.command {
        Command::Init(args) => commands::init::run(&cli.global, &args),
        Command::Plan(args) => commands::plan::run(&cli.global, &args),
        Command::Build(args) => commands::build::run(&cli.global, &args),
        Command::Test(args) => commands::test::run(&cli.global, &args),
        Command::Gate(args) => commands::gate::run(&cli.global, &args),
        Command::Promote(args) => commands::promote::run(&cli.global, &args),
        Command::Rollback(args) => commands::rollback::run(&cli.global, &args),
        Command::History(args) => commands::history::run(&cli.global, &args),
        Command::Results(args) => commands::results::run(&args),
        Command::Compare(args) => commands::compare::run(&args),
        Command::Ci(args) => commands::ci::run(&cli.global, &args),
        Command::Diff(args) => commands::diff::run(&cli.global, &args),
        Command::Prune(args) => commands::prune::run(&cli.global, &args),
    }
}

/// Errors of operations read after "failed to"; errors that state a fact stand alone.
pub(crate) fn render(error: &CliError) -> String {
    use imagegate_gate::GateError;
    let operation = match error {
        CliError::Engine(_)
        | CliError::Store(_)
        | CliError::Digest(_)
        | CliError::Io { .. }
        | CliError::Ci(_)
        | CliError::Registry(_)
        | CliError::CiOutput(_) => true,
        CliError::Gate(gate) => matches!(
            gate,
            GateError::Engine(_)
                | GateError::Transfer { .. }
                | GateError::Store(_)
                | GateError::Digest(_)
                | GateError::Registry(_)
                | GateError::Io { .. }
                | GateError::VerifyFailed { .. }
        ),
        CliError::Config(_) | CliError::Usage { .. } | CliError::Infrastructure { .. } | CliError::Auth(_) => false,
    };
    if operation { format!("failed to {error}") } else { error.to_string() }
}
