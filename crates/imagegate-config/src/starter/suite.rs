//! The test suite `init` proposes, from what the repository already uses: the test command of
//! tox.ini's `[testenv]` (Twisted trial or pytest), a pytest configuration, go.mod, Cargo.toml
//! or package.json. Each is set up to write per-test results into the results folder in a
//! format imagegate reads (subunit v2, JUnit XML, `go test -json`, libtest JSON); every
//! assumption is noted so that the written file can say where it guessed.
//!
//! No I/O: it reads the project snapshot. The results folder is created by imagegate before
//! the suite starts, so no command here makes it.

use std::collections::BTreeMap;

use super::project::Project;

/// The results folder in the container, as imagegate's own examples use it.
pub(crate) const RESULTS: &str = "/results";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProposedSuite {
    pub command: String,
    pub results: String,
    pub env: BTreeMap<String, String>,
    /// Reruns only the named tests (`{tests}`), when the runner accepts the ids it reports.
    pub rerun: Option<String>,
    /// Where the command came from: `tox.ini [testenv] commands`.
    pub source: String,
    /// What was assumed, one sentence each.
    pub guesses: Vec<String>,
    /// Nothing was recognised: the command is a placeholder to replace.
    pub placeholder: bool,
}

impl ProposedSuite {
    fn new(command: String, source: &str) -> ProposedSuite {
        ProposedSuite {
            command,
            results: RESULTS.to_owned(),
            env: BTreeMap::new(),
            rerun: None,
            source: source.to_owned(),
            guesses: Vec::new(),
            placeholder: false,
        }
    }
}

pub(crate) fn propose_suite(project: &Project) -> ProposedSuite {
    if let Some(suite) = project.text("tox.ini").and_then(from_tox) {
        return suite;
    }
    let pytest_configured = project.text("pytest.ini").is_some()
        || project.text("pyproject.toml").is_some_and(|text| text.contains("[tool.pytest"))
        || project.text("setup.cfg").is_some_and(|text| text.contains("[tool:pytest]"))
        || project.text("tox.ini").is_some_and(|text| text.contains("[pytest]"));
    if pytest_configured {
        let source = ["pytest.ini", "pyproject.toml", "setup.cfg", "tox.ini"]
            .into_iter()
            .find(|file| project.text(file).is_some())
            .unwrap_or("pytest.ini");
        let mut suite = pytest(&["python", "-m", "pytest"], &format!("{source} (pytest configuration)"));
        suite.guesses.push("the image must have the project's test dependencies installed".to_owned());
        return suite;
    }
    if project.text("go.mod").is_some() {
        let mut suite = ProposedSuite::new(format!("go test -json ./... > {RESULTS}/go-test.json"), "go.mod");
        suite.guesses.push("every package's tests, as `go test ./...` runs them".to_owned());
        return suite;
    }
    if project.text("Cargo.toml").is_some() {
        return cargo(project);
    }
    if let Some(suite) = project.text("package.json").and_then(from_package_json) {
        return suite;
    }
    let mut suite = ProposedSuite::new("./run-tests.sh".to_owned(), "nothing recognised");
    suite.placeholder = true;
    suite.guesses.push(
        "no test configuration was recognised: replace the command with the project's own, writing JUnit XML, TAP or subunit v2 into the results folder".to_owned(),
    );
    suite
}

/// The test command of tox.ini's `[testenv]`, run directly (not through tox, which would
/// build a new environment inside the image on every run).
fn from_tox(text: &str) -> Option<ProposedSuite> {
    let sections = ini_sections(text);
    let testenv = sections.get("testenv")?;
    let setenv: BTreeMap<String, String> = testenv
        .get("setenv")
        .map(|block| {
            block
                .lines()
                .filter_map(|line| line.split_once('='))
                .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
                .collect()
        })
        .unwrap_or_default();
    let commands = testenv.get("commands")?;
    for written in commands.lines() {
        let Some(written) = without_factor(written) else { continue };
        let line = tox_substitute(written, &setenv);
        let words = shlex::split(&line)?;
        let runner =
            words.iter().position(|word| word == "twisted.trial" || word == "trial" || word.ends_with("/trial"));
        if let Some(runner) = runner {
            let mut suite = trial(&words, runner);
            // Through tox the test dependencies are installed by tox itself; the reporter then
            // goes in tox's positional arguments, which this command passes on to trial.
            if let Some((_, default)) =
                written.trim_end().strip_suffix('}').and_then(|rest| rest.rsplit_once("{posargs"))
            {
                let tests = tox_substitute(&format!("{{posargs{default}}}"), &setenv);
                suite.guesses.push(format!(
                    "or through tox, which installs them: `tox -e ENV -- --reporter=subunitv2-file {}`",
                    tests.trim()
                ));
            }
            return Some(suite);
        }
        if let Some(runner) = words.iter().position(|word| matches!(word.as_str(), "pytest" | "py.test")) {
            let mut suite =
                pytest(&words[..=runner].iter().map(String::as_str).collect::<Vec<_>>(), "tox.ini [testenv] commands");
            suite.command = join_words(&words, runner, "--junitxml=/results/junit.xml");
            suite.guesses.push(
                "runs tox.ini's test command directly: the image must have the test dependencies that tox would install"
                    .to_owned(),
            );
            return Some(suite);
        }
    }
    None
}

/// Trial with the subunit v2 reporter writing into the results folder, and a rerun that
/// passes the failed tests' ids (trial's own dotted names) in place of the suite.
fn trial(words: &[String], runner: usize) -> ProposedSuite {
    let mut options = Vec::new();
    let mut index = runner + 1;
    let mut positional = Vec::new();
    while index < words.len() {
        let word = &words[index];
        index += 1;
        if word.starts_with("--reporter") {
            if word == "--reporter" {
                index += 1;
            }
            continue;
        }
        if word.starts_with('-') {
            options.push(word.clone());
        } else {
            positional.push(word.clone());
        }
    }
    let prefix: Vec<String> = words[..=runner].iter().map(|word| quote(word)).collect();
    let mut head = prefix.join(" ");
    head.push_str(" --reporter=subunitv2-file");
    for option in &options {
        head.push(' ');
        head.push_str(&quote(option));
    }
    let command = if positional.is_empty() {
        head.clone()
    } else {
        format!("{head} {}", positional.iter().map(|word| quote(word)).collect::<Vec<_>>().join(" "))
    };
    let mut suite = ProposedSuite::new(command, "tox.ini [testenv] commands");
    suite.env.insert("SUBUNITREPORTER_OUTPUT_PATH".to_owned(), format!("{RESULTS}/results.subunit2"));
    suite.rerun = Some(format!("{head} {{tests}}"));
    suite.guesses.push(
        "runs tox.ini's trial command directly, with the subunitv2-file reporter (from the subunitreporter package): the image must have the test dependencies that tox would install".to_owned(),
    );
    if positional.is_empty() {
        suite.guesses.push("trial was given no test module: add the package to test".to_owned());
    }
    suite
}

fn pytest(runner: &[&str], source: &str) -> ProposedSuite {
    let mut words: Vec<String> = runner.iter().map(|word| (*word).to_owned()).collect();
    words.push(format!("--junitxml={RESULTS}/junit.xml"));
    let mut suite = ProposedSuite::new(words.join(" "), source);
    // pytest's JUnit ids are `module.Class.test`, which pytest does not accept as arguments,
    // so no `rerun`: the whole suite reruns.
    suite.guesses.push("pytest writes JUnit XML; failed tests are rerun with the whole suite".to_owned());
    suite
}

fn cargo(project: &Project) -> ProposedSuite {
    if project.text(".config/nextest.toml").is_some() {
        let mut suite = ProposedSuite::new(
            format!("cargo nextest run --no-fail-fast --message-format libtest-json > {RESULTS}/nextest.json"),
            "Cargo.toml and .config/nextest.toml",
        );
        suite.env.insert("NEXTEST_EXPERIMENTAL_LIBTEST_JSON".to_owned(), "1".to_owned());
        suite
            .guesses
            .push("nextest's libtest JSON output is experimental: it needs cargo-nextest in the image".to_owned());
        return suite;
    }
    let json = "-Z unstable-options --format json --report-time";
    let mut suite =
        ProposedSuite::new(format!("cargo test --no-fail-fast -- {json} > {RESULTS}/libtest.json"), "Cargo.toml");
    // libtest's JSON format is unstable; RUSTC_BOOTSTRAP lets a stable toolchain print it.
    suite.env.insert("RUSTC_BOOTSTRAP".to_owned(), "1".to_owned());
    suite.rerun = Some(format!("cargo test -- {json} --exact {{tests}} > {RESULTS}/libtest.json"));
    suite
        .guesses
        .push("libtest's JSON output is unstable: RUSTC_BOOTSTRAP=1 lets a stable toolchain write it".to_owned());
    suite
}

fn from_package_json(text: &str) -> Option<ProposedSuite> {
    let package: serde_json::Value = serde_json::from_str(text).ok()?;
    let test = package.get("scripts")?.get("test")?.as_str()?.to_owned();
    let depends = |name: &str| {
        ["dependencies", "devDependencies"]
            .iter()
            .any(|group| package.get(group).and_then(|deps| deps.get(name)).is_some())
    };
    let (command, env, guess) = if test.contains("vitest") || depends("vitest") {
        (format!("npx vitest run --reporter=junit --outputFile={RESULTS}/junit.xml"), None, "vitest's JUnit reporter")
    } else if test.contains("jest") || depends("jest") {
        (
            "npx jest --ci --reporters=default --reporters=jest-junit".to_owned(),
            Some(("JEST_JUNIT_OUTPUT_DIR", RESULTS)),
            "jest with the jest-junit reporter, which must be installed in the image",
        )
    } else if test.contains("mocha") || depends("mocha") {
        (format!("npx mocha --reporter tap > {RESULTS}/results.tap"), None, "mocha's TAP reporter")
    } else if test.contains("node --test") {
        (
            format!("node --test --test-reporter=junit --test-reporter-destination={RESULTS}/junit.xml"),
            None,
            "node's test runner with its JUnit reporter",
        )
    } else {
        (
            format!("npm test > {RESULTS}/results.tap"),
            None,
            "`npm test` is assumed to print TAP; make it write JUnit XML or TAP into the results folder",
        )
    };
    let mut suite = ProposedSuite::new(command, "package.json scripts.test");
    if let Some((name, value)) = env {
        suite.env.insert(name.to_owned(), value.to_owned());
    }
    suite.guesses.push(format!("{guess}; package.json's test script is `{test}`"));
    Some(suite)
}

/// The sections of an INI file, each key's value with its continuation lines (indented
/// lines) joined by newlines; comment lines are left out.
fn ini_sections(text: &str) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut sections: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut section = String::new();
    let mut key: Option<String> = None;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        if trimmed.is_empty() {
            continue;
        }
        if let Some(name) = trimmed.strip_prefix('[').and_then(|rest| rest.strip_suffix(']')) {
            section = name.trim().to_owned();
            key = None;
            continue;
        }
        let continued = line.starts_with([' ', '\t']);
        if continued && let Some(key) = &key {
            let value = sections.entry(section.clone()).or_default().entry(key.clone()).or_default();
            value.push('\n');
            value.push_str(trimmed);
            continue;
        }
        if let Some((name, value)) = trimmed.split_once('=') {
            let name = name.trim().to_owned();
            sections.entry(section.clone()).or_default().insert(name.clone(), value.trim().to_owned());
            key = Some(name);
        }
    }
    sections
}

/// A tox command line that applies to the plain environment: one without a factor condition,
/// or with a negated one (`!coverage: …`); `None` for lines only some factors run.
fn without_factor(line: &str) -> Option<&str> {
    let line = line.trim();
    if line.is_empty() {
        return None;
    }
    let Some((condition, rest)) = line.split_once(": ") else { return Some(line) };
    let is_condition =
        condition.chars().all(|character| character.is_ascii_alphanumeric() || "!-_,".contains(character));
    if !is_condition {
        return Some(line);
    }
    condition.split(',').all(|factor| factor.starts_with('!')).then_some(rest.trim())
}

/// tox's substitutions: `{posargs:DEFAULT}`, `{env:NAME:DEFAULT}` (from `setenv`, else the
/// default), `{toxinidir}`; innermost first.
fn tox_substitute(line: &str, setenv: &BTreeMap<String, String>) -> String {
    let mut text = line.to_owned();
    // Each pass replaces one innermost `{…}`; a line has few.
    for _ in 0..32 {
        let Some(end) = text.find('}') else { break };
        let Some(start) = text[..end].rfind('{') else { break };
        let body = &text[start + 1..end];
        let value = if let Some(default) = body.strip_prefix("posargs") {
            default.strip_prefix(':').unwrap_or_default().to_owned()
        } else if let Some(rest) = body.strip_prefix("env:") {
            let (name, default) = rest.split_once(':').unwrap_or((rest, ""));
            setenv.get(name).cloned().unwrap_or_else(|| default.to_owned())
        } else if body == "toxinidir" {
            ".".to_owned()
        } else {
            String::new()
        };
        text.replace_range(start..=end, &value);
    }
    text
}

fn join_words(words: &[String], after: usize, inserted: &str) -> String {
    let mut out: Vec<String> = words[..=after].iter().map(|word| quote(word)).collect();
    out.push(inserted.to_owned());
    out.extend(words[after + 1..].iter().map(|word| quote(word)));
    out.join(" ")
}

fn quote(word: &str) -> String {
    shlex::try_quote(word).map(|quoted| quoted.into_owned()).unwrap_or_else(|_| word.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shape of Tahoe-LAFS's tox.ini: the unit tests run trial through a factor condition
    /// and tox substitutions; the integration environment uses pytest.
    const TOX: &str = "[pytest]\ntwisted = 1\n\n[tox]\nenvlist = py{39,311}-{coverage},integration\n\n\
        [testenv]\nusedevelop = False\nsetenv =\n       TEST_SUITE = acme\n       COLUMNS = 80\ncommands =\n\
        \x20        # dump the packages\n         pip freeze\n\n         acme --version\n\
        \x20        !coverage: python -b -m twisted.trial {env:ACME_TRIAL_ARGS:--rterrors} {posargs:{env:TEST_SUITE}}\n\
        \x20        coverage: python -b -m coverage run -m twisted.trial {env:ACME_TRIAL_ARGS:--rterrors --reporter=timing} {posargs:{env:TEST_SUITE}}\n\n\
        [testenv:integration]\ncommands =\n         py.test --timeout=1800 -s -v {posargs:integration}\n";

    #[test]
    fn tox_trial_gets_the_subunit_reporter_into_the_results_folder() {
        let project = Project::from_files("acme", [("tox.ini", TOX)]);
        let suite = propose_suite(&project);
        assert_eq!(suite.command, "python -b -m twisted.trial --reporter=subunitv2-file --rterrors acme");
        assert_eq!(
            suite.rerun.as_deref(),
            Some("python -b -m twisted.trial --reporter=subunitv2-file --rterrors {tests}")
        );
        assert_eq!(suite.env["SUBUNITREPORTER_OUTPUT_PATH"], "/results/results.subunit2");
        assert_eq!(suite.results, "/results");
        assert!(!suite.placeholder);
        assert!(!suite.command.contains("mkdir"));
        let through_tox = "`tox -e ENV -- --reporter=subunitv2-file acme`";
        assert!(suite.guesses.iter().any(|guess| guess.contains(through_tox)), "{:?}", suite.guesses);
    }

    #[test]
    fn tox_pytest_writes_junit() {
        let tox = "[testenv]\ndeps = pytest\ncommands = pytest {posargs:tests} -q\n";
        let suite = propose_suite(&Project::from_files("acme", [("tox.ini", tox)]));
        assert_eq!(suite.command, "pytest --junitxml=/results/junit.xml tests -q");
        assert_eq!(suite.rerun, None);
    }

    #[test]
    fn other_ecosystems() {
        let suite = |files: &[(&str, &str)]| propose_suite(&Project::from_files("acme", files.iter().copied()));
        assert_eq!(
            suite(&[("pyproject.toml", "[tool.pytest.ini_options]\n")]).command,
            "python -m pytest --junitxml=/results/junit.xml"
        );
        assert_eq!(suite(&[("go.mod", "module x\n")]).command, "go test -json ./... > /results/go-test.json");
        let rust = suite(&[("Cargo.toml", "[package]\n")]);
        assert!(rust.command.contains("--format json") && rust.env["RUSTC_BOOTSTRAP"] == "1", "{rust:?}");
        let jest = suite(&[("package.json", r#"{"scripts": {"test": "jest"}}"#)]);
        assert_eq!(jest.env["JEST_JUNIT_OUTPUT_DIR"], "/results");
        let nothing = suite(&[("README.md", "hello")]);
        assert!(nothing.placeholder);
    }

    #[test]
    fn factor_conditions() {
        assert_eq!(without_factor("!coverage: trial x"), Some("trial x"));
        assert_eq!(without_factor("coverage: coverage xml"), None);
        assert_eq!(without_factor("python -c \"print('a: b')\""), Some("python -c \"print('a: b')\""));
    }
}
