//! Gate reports for tests: one of each situation a report has to show (a regression with
//! suspects and a package diff, a pass with flaky and fixed tests, an error, a bootstrap), with
//! fixed digests, paths and durations so that rendered output is the same on every machine.
//!
//! The file names only outside crates, so the integration tests include it as well.

use std::collections::BTreeMap;

use imagegate_contract::{
    CandidateRef, CandidateSource, Decision, GATE_SCHEMA, GateReport, ImageRef, PackageChange, PackageDiff,
    PromotionReport, PromotionStatus, RunLinks, RunSummary, Suspect, TestEntry,
};
use imagegate_results::{Counts, Outcome};

pub const CANDIDATE_DIGEST: &str = "sha256:9b1d4c7e2f30a8b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2";
pub const STABLE_DIGEST: &str = "sha256:3e8a51f0c6d2b7a9e8f7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a1f0e9d8c7b6a5";
pub const INPUTS_DIGEST: &str = "sha256:5d0e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e";
pub const COMMIT: &str = "4f1c2a9e8b7d6c5f4e3d2c1b0a9f8e7d6c5b4a39";

/// The traceback of the first regression of [`regression`].
pub const LOGIN_TRACEBACK: &str = r#"Traceback (most recent call last):
  File "/src/tests/test_auth.py", line 48, in test_login_redirects_to_next
    self.assertEqual(response.headers["Location"], "/dashboard")
  File "/usr/local/lib/python3.11/site-packages/werkzeug/test.py", line 1021, in open
    response = self.run_wsgi_app(request.environ, buffered=buffered)
AssertionError: 'http://localhost/dashboard' != '/dashboard'
- http://localhost/dashboard
+ /dashboard"#;

fn entry(id: &str, reason: &str, message: Option<&str>, candidate: &[Outcome], incumbent: &[Outcome]) -> TestEntry {
    TestEntry {
        id: id.to_owned(),
        reason: reason.to_owned(),
        message: message.map(str::to_owned),
        candidate: candidate.to_vec(),
        incumbent: incumbent.to_vec(),
        suspects: Vec::new(),
    }
}

fn suspect(name: &str, from: &str, to: &str, score: f64, evidence: &str) -> Suspect {
    Suspect {
        ecosystem: "python".to_owned(),
        name: name.to_owned(),
        from: Some(from.to_owned()),
        to: Some(to.to_owned()),
        score,
        evidence: evidence.to_owned(),
    }
}

fn change(ecosystem: &str, name: &str, from: Option<&str>, to: Option<&str>, direction: &str) -> PackageChange {
    PackageChange {
        ecosystem: ecosystem.to_owned(),
        name: name.to_owned(),
        from: from.map(str::to_owned),
        to: to.map(str::to_owned),
        direction: direction.to_owned(),
        location: if ecosystem == "python" {
            "/usr/local/lib/python3.11/site-packages".to_owned()
        } else {
            String::new()
        },
    }
}

fn run(image: &str, purpose: &str, exit_code: Option<i32>, seconds: f64, tests: usize, name: &str) -> RunSummary {
    RunSummary {
        image: image.to_owned(),
        purpose: purpose.to_owned(),
        exit_code,
        timed_out: exit_code.is_none(),
        duration_seconds: seconds,
        tests,
        log: format!("/work/.imagegate/runs/{name}.log"),
        output_tail: None,
        skipped: Vec::new(),
        reused: None,
        experiment: None,
    }
}

fn counts(tests: usize, passed: usize, failed: usize, errors: usize, skipped: usize) -> Counts {
    Counts { tests, passed, failed, errors, skipped }
}

/// A report with every field at a neutral value, for `image` with the stable tag `stable_tag`.
fn base(image: &str, stable_tag: &str, decision: Decision) -> GateReport {
    GateReport {
        schema: GATE_SCHEMA.to_owned(),
        image: image.to_owned(),
        stable_tag: stable_tag.to_owned(),
        engine: "docker".to_owned(),
        commit: COMMIT.to_owned(),
        branch: Some("main".to_owned()),
        decision,
        summary: String::new(),
        candidate: CandidateRef {
            digest: CANDIDATE_DIGEST.to_owned(),
            reference: format!(
                "{}:candidate-5d0e6f7a8b9c",
                stable_tag.rsplit_once(':').map_or(stable_tag, |(repository, _)| repository)
            ),
            inputs_digest: INPUTS_DIGEST.to_owned(),
            source: CandidateSource::Built,
        },
        incumbent: Some(ImageRef { digest: STABLE_DIGEST.to_owned(), reference: stable_tag.to_owned(), counts: None }),
        counts: Counts::default(),
        regressions: Vec::new(),
        flaky: Vec::new(),
        preexisting: Vec::new(),
        fixed: Vec::new(),
        fixed_not_measured: None,
        errors: Vec::new(),
        warnings: Vec::new(),
        runs: Vec::new(),
        verdict_id: None,
        promotion: None,
        packages: None,
        started_at: Some("2026-12-04T13:37:05Z".to_owned()),
        imagegate_version: Some("0.1.0".to_owned()),
        links: None,
        culprits: Vec::new(),
    }
}

/// Links of a GitHub Actions run of `acme/web`.
pub fn github_links() -> RunLinks {
    let repository_url = "https://github.com/acme/web";
    RunLinks {
        provider: "GitHub Actions".to_owned(),
        repository: Some("acme/web".to_owned()),
        repository_url: Some(repository_url.to_owned()),
        commit_url: Some(format!("{repository_url}/commit/{COMMIT}")),
        run_url: Some(format!("{repository_url}/actions/runs/7001")),
        artifacts_url: Some(format!("{repository_url}/actions/runs/7001#artifacts")),
    }
}

/// A rebuilt image that picked up werkzeug 2.3: two regressions with suspects, a flaky and a
/// pre-existing failure, and the package diff between the images.
pub fn regression() -> GateReport {
    let stable_tag = "registry.example.com/acme/ci-web:stable";
    let mut report = base("web", stable_tag, Decision::Regression);
    report.summary = format!(
        "web: regression: 2 tests regressed in candidate 9b1d4c7e2f30 against stable 3e8a51f0c6d2 \
         (412 tests, 1 flaky, 1 pre-existing); `{stable_tag}` unchanged"
    );
    if let Some(incumbent) = report.incumbent.as_mut() {
        incumbent.counts = Some(counts(412, 411, 1, 0, 0));
    }
    report.counts = counts(412, 409, 2, 1, 0);

    let mut login = entry(
        "tests.test_auth.LoginTests.test_login_redirects_to_next",
        "fails on every candidate attempt; passes in the incumbent, also on rerun",
        Some(LOGIN_TRACEBACK),
        &[Outcome::Fail, Outcome::Fail, Outcome::Fail],
        &[Outcome::Pass, Outcome::Pass],
    );
    login.suspects = vec![
        suspect("werkzeug", "2.2.3", "2.3.0", 0.92, "site-packages/werkzeug/… in the traceback"),
        suspect("flask", "2.2.5", "2.3.2", 0.35, "flask is imported by the failing test's module"),
    ];
    let mut session = entry(
        "tests.test_session.test_session_cookie_is_secure",
        "fails on every candidate attempt; passes in the incumbent",
        Some(
            "ImportError: cannot import name 'url_quote' from 'werkzeug.urls' \
             (/usr/local/lib/python3.11/site-packages/werkzeug/urls.py)",
        ),
        &[Outcome::Error, Outcome::Error, Outcome::Error],
        &[Outcome::Pass, Outcome::Pass],
    );
    session.suspects = vec![suspect("werkzeug", "2.2.3", "2.3.0", 0.97, "ImportError from werkzeug.urls")];
    report.regressions = vec![login, session];
    report.flaky = vec![entry(
        "tests.test_cache.test_expiry_after_ttl",
        "failed on attempt 1, passed on attempt 2",
        Some("AssertionError: 0.98 not greater than 1.0"),
        &[Outcome::Fail, Outcome::Pass],
        &[Outcome::Pass],
    )];
    report.preexisting = vec![entry(
        "tests.test_mail.test_send_mail_smtp",
        "also fails in the incumbent",
        Some("ConnectionRefusedError: [Errno 111] Connection refused"),
        &[Outcome::Fail, Outcome::Fail, Outcome::Fail],
        &[Outcome::Fail],
    )];
    report.runs = vec![
        run("candidate", "suite", Some(1), 181.4, 412, "web/17/candidate-suite"),
        run("incumbent", "suite", Some(1), 176.9, 412, "web/17/incumbent-suite"),
        run("candidate", "rerun", Some(1), 6.2, 4, "web/17/candidate-rerun-1"),
        run("candidate", "rerun", Some(1), 5.8, 3, "web/17/candidate-rerun-2"),
        run("incumbent", "confirm", Some(0), 4.1, 2, "web/17/incumbent-confirm"),
    ];
    report.runs[0].output_tail = Some(
        "FAILED tests/test_auth.py::LoginTests::test_login_redirects_to_next - AssertionError\n\
         FAILED tests/test_session.py::test_session_cookie_is_secure - ImportError: cannot import name 'url_quote'\n\
         ========= 2 failed, 1 error, 409 passed in 181.37s (0:03:01) ========="
            .to_owned(),
    );
    report.links = Some(github_links());
    report.verdict_id = Some(17);
    report.promotion = Some(PromotionReport {
        status: PromotionStatus::Blocked,
        message: format!("`{stable_tag}` left on 3e8a51f0c6d2"),
        from: Some(STABLE_DIGEST.to_owned()),
        to: None,
    });
    report.packages = Some(PackageDiff {
        schema: None,
        engine: None,
        from_image: STABLE_DIGEST.to_owned(),
        to_image: CANDIDATE_DIGEST.to_owned(),
        changed: vec![
            change("deb", "ca-certificates", Some("20230311"), Some("20230311+deb12u1"), "upgrade"),
            change("deb", "libssl3", Some("3.0.11-1~deb12u1"), Some("3.0.11-1~deb12u2"), "upgrade"),
            change("deb", "tzdata", Some("2024a-0+deb12u1"), Some("2023c-5+deb12u1"), "downgrade"),
            change("python", "flask", Some("2.2.5"), Some("2.3.2"), "upgrade"),
            change("python", "internal-tools", Some("git-2f1e0c3"), Some("git-8a9b7c1"), "changed"),
            change("python", "werkzeug", Some("2.2.3"), Some("2.3.0"), "upgrade"),
        ],
        added: vec![change("python", "blinker", None, Some("1.6.2"), "added")],
        removed: vec![change("deb", "libgdbm6", Some("1.23-3"), None, "removed")],
        totals: BTreeMap::from([("deb".to_owned(), [142, 141]), ("python".to_owned(), [38, 39])]),
        warnings: Vec::new(),
    });
    report
}

/// [`regression`] whose candidate suite run was reused from an earlier gate.
pub fn regression_with_reused_run() -> GateReport {
    let mut report = regression();
    report.runs[0].reused = Some(imagegate_contract::ReusedRun {
        recorded_at: "2026-03-01T10:00:00Z".to_owned(),
        source: "local".to_owned(),
        key: "sha256:abc".to_owned(),
    });
    report
}

/// [`regression`] after a culprit proof: `werkzeug` confirmed, two packages cleared, one that
/// could not be put back.
pub fn regression_with_culprits() -> GateReport {
    let mut report = regression();
    let regressions: Vec<String> = report.regressions.iter().map(|entry| entry.id.clone()).collect();
    let culprit = |name: &str, from: &str, to: &str, verdict: &str| imagegate_contract::Culprit {
        ecosystem: "python".to_owned(),
        name: name.to_owned(),
        location: "/usr/lib/python3/dist-packages".to_owned(),
        from: Some(from.to_owned()),
        to: Some(to.to_owned()),
        verdict: verdict.to_owned(),
        regressions: Vec::new(),
        experiments: vec![2],
        partners: Vec::new(),
        pin: None,
        note: None,
    };
    let mut confirmed = culprit("werkzeug", "2.2.3", "2.3.0", "confirmed");
    confirmed.regressions = regressions;
    confirmed.experiments = vec![1, 2];
    confirmed.pin = Some("werkzeug<2.3.0".to_owned());
    let mut inconclusive = culprit("libssl3", "3.0.11-1", "3.0.13-1", "inconclusive");
    inconclusive.ecosystem = "deb".to_owned();
    inconclusive.note = Some("<b>cannot</b> be put back".to_owned());
    report.culprits = vec![
        confirmed,
        inconclusive,
        culprit("markupsafe", "2.1.3", "2.1.5", "cleared"),
        culprit("idna", "3.6", "3.7", "cleared"),
    ];
    report
}

/// A reused candidate that does at least as well: one flaky test, one test it fixes; promoted.
pub fn pass_with_flaky_and_fixed() -> GateReport {
    let stable_tag = "imagegate-demo/tools:stable";
    let mut report = base("tools", stable_tag, Decision::Pass);
    report.candidate.source = CandidateSource::Reused;
    report.summary = format!(
        "tools: pass: candidate 9b1d4c7e2f30 does at least as well against stable 3e8a51f0c6d2 \
         (96 tests, 1 flaky, 1 fixed); promoted to `{stable_tag}`"
    );
    if let Some(incumbent) = report.incumbent.as_mut() {
        incumbent.counts = Some(counts(96, 94, 1, 0, 1));
    }
    report.counts = counts(96, 95, 0, 0, 1);
    report.flaky = vec![entry(
        "demo.report.test_render_to_fresh_cache",
        "failed on attempt 1, passed on attempt 2",
        Some("expected an empty cache, found 1 report from an earlier test"),
        &[Outcome::Fail, Outcome::Pass],
        &[Outcome::Pass],
    )];
    report.fixed = vec![entry(
        "demo.textkit.test_unicode_slug",
        "fails in the incumbent, passes in candidate",
        None,
        &[Outcome::Pass],
        &[Outcome::Fail],
    )];
    report.runs = vec![
        run("candidate", "suite", Some(1), 12.5, 96, "tools/21/candidate-suite"),
        run("incumbent", "suite", Some(1), 12.1, 96, "tools/21/incumbent-suite"),
        run("candidate", "rerun", Some(0), 0.6, 1, "tools/21/candidate-rerun-1"),
    ];
    report.verdict_id = Some(21);
    report.promotion = Some(PromotionReport {
        status: PromotionStatus::Promoted,
        message: format!("`{stable_tag}` moved from 3e8a51f0c6d2 to 9b1d4c7e2f30"),
        from: Some(STABLE_DIGEST.to_owned()),
        to: Some(CANDIDATE_DIGEST.to_owned()),
    });
    report
}

/// A candidate whose suite timed out: no verdict.
pub fn error() -> GateReport {
    let stable_tag = "registry.example.com/acme/ci-docs:stable";
    let mut report = base("docs", stable_tag, Decision::Error);
    let problem = "candidate results incomplete: suite: timed out after 45m; results/junit.xml ends inside \
                   <testcase name=\"test_build_pdf\">";
    report.summary = format!(
        "docs: error: no verdict for candidate 9b1d4c7e2f30 against stable 3e8a51f0c6d2: {problem} (37 tests read)"
    );
    report.errors = vec![problem.to_owned()];
    report.counts = counts(37, 36, 0, 1, 0);
    let mut candidate_run = run("candidate", "suite", None, 2700.0, 37, "docs/22/candidate-suite");
    candidate_run.output_tail = Some(
        "tests/test_pdf.py::test_build_pdf\n\u{1b}[33mRunaway argument?\u{1b}[0m\n\
         ! File ended while scanning use of \\@xdblarg.\n\
         Latexmk: Waiting for input (press RETURN or type X to abort)"
            .to_owned(),
    );
    report.runs = vec![candidate_run, run("incumbent", "suite", Some(0), 1312.4, 140, "docs/22/incumbent-suite")];
    report.warnings = vec![
        "the candidate's suite exited with status 137 although no test in its results failed; \
         imagegate judges by the results, not the exit status (output: /work/.imagegate/runs/docs/22/candidate-suite.log)"
            .to_owned(),
    ];
    if let Some(incumbent) = report.incumbent.as_mut() {
        incumbent.counts = Some(counts(140, 140, 0, 0, 0));
    }
    report
}

/// The first gate of an image: there is no stable image yet, so nothing to compare with.
pub fn bootstrap() -> GateReport {
    let stable_tag = "registry.example.com/acme/ci-base:stable";
    let mut report = base("base", stable_tag, Decision::Pass);
    report.incumbent = None;
    report.branch = None;
    report.summary = format!(
        "base: pass: candidate 9b1d4c7e2f30 does at least as well with no stable image yet (58 tests); promoted to `{stable_tag}`"
    );
    report.counts = counts(58, 57, 0, 0, 1);
    report.runs = vec![run("candidate", "suite", Some(0), 30.2, 58, "base/1/candidate-suite")];
    report.verdict_id = Some(1);
    report.promotion = Some(PromotionReport {
        status: PromotionStatus::Promoted,
        message: format!("`{stable_tag}` moved from nothing to 9b1d4c7e2f30"),
        from: None,
        to: Some(CANDIDATE_DIGEST.to_owned()),
    });
    report
}

/// [`regression`] with test output that tries to escape every format: markup and a script in
/// a failure message, a test whose id is a script tag, fences, mentions, terminal escapes and
/// control characters.
pub fn hostile() -> GateReport {
    let mut report = regression();
    if let Some(session) = report.regressions.get_mut(1) {
        session.message = Some(
            "AssertionError: got <img src=x onerror=\"document.title='EXEC'+'UTED'\"> in the page\n\
             <script>document.body.setAttribute('data-executed', 'y' + 'es')</script>\n\
             ```\n</details> | cc @octocat see #1 & &lt;b&gt;\n\
             \u{1b}[31mred\u{1b}[0m \u{1b}]0;retitled\u{7}bell\u{7} nul\u{0} \u{fffe}"
                .to_owned(),
        );
    }
    // Lists are ordered by id, and `<` sorts before letters.
    report.flaky.insert(
        0,
        entry(
            "tests.<script>alert(1)</script>",
            "failed on attempt 1, passed on attempt 2",
            Some("`` ` ``` ```` <!-- --> ]]> @here"),
            &[Outcome::Fail, Outcome::Pass],
            &[Outcome::Pass],
        ),
    );
    report.warnings.push("note from @octocat: <b>bold</b> | pipe".to_owned());
    report
}
