//! `imagegate results`: read result files of any supported format and print them normalised.

use std::path::{Path, PathBuf};

use imagegate_contract::{ExitStatus, RESULTS_SCHEMA, ResultLine, ResultsReport};
use imagegate_results::ResultSet;

use crate::cli::ResultsArgs;
use crate::error::CliError;
use crate::runtime::print_json;

/// Reads files and folders of results into one set, as the files of one run (a test in two of
/// them is a duplicate, not a rerun). A path that does not exist is a usage error; a file that
/// cannot be parsed marks the set incomplete (as in a gate run).
pub fn read_paths(paths: &[PathBuf]) -> Result<ResultSet, CliError> {
    let mut set = ResultSet::new();
    for path in paths {
        if path.is_dir() {
            set.merge_file(imagegate_gate::read_results_dir(path, &path.display().to_string()));
        } else if path.is_file() {
            set.merge_file(read_file(path)?);
        } else {
            return Err(CliError::usage(
                format!("`{}` is neither a file nor a folder", path.display()),
                "pass result files or the folders that hold them",
            ));
        }
    }
    Ok(set)
}

fn read_file(path: &Path) -> Result<ResultSet, CliError> {
    let name = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|source| CliError::Io {
        operation: "read",
        path: path.to_path_buf(),
        source,
    })?;
    let mut set = ResultSet::new();
    match imagegate_results::parse_detected_reader(&name, file) {
        Ok(Some(parsed)) => set.merge(parsed),
        Ok(None) => set.mark_incomplete(&name, "not a test results format imagegate reads"),
        Err(error) => set.mark_incomplete(&name, error.to_string()),
    }
    Ok(set)
}

pub fn report(results: &ResultSet) -> ResultsReport {
    ResultsReport {
        schema: RESULTS_SCHEMA.to_owned(),
        engine: None,
        counts: results.counts(),
        incomplete: results
            .incomplete
            .iter()
            .map(|problem| format!("{}: {}", problem.source, problem.reason))
            .collect(),
        tests: results
            .tests()
            .map(|result| ResultLine {
                id: result.id.to_string(),
                outcome: result.final_outcome(),
                attempts: result.attempts.iter().map(|attempt| attempt.outcome).collect(),
                message: result.failure_message().map(str::to_owned),
            })
            .collect(),
    }
}

pub fn run(args: &ResultsArgs) -> Result<ExitStatus, CliError> {
    let results = read_paths(&args.paths)?;
    let report = report(&results);
    if args.json {
        print_json(&report);
    } else {
        print!("{}", imagegate_report::results_text(&report));
    }
    Ok(crate::error::results_status(&results))
}
