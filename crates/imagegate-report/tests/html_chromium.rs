//! The HTML report as a real browser shows it: Debian's headless chromium renders a report
//! with two regressions (and test output that tries to inject markup and script) to a
//! screenshot, and dumps the DOM it built, which must show both regressions and no sign that
//! any script ran.
//!
//! Needs `/usr/bin/chromium` (`apt-get install chromium`; `.ci/run` installs it). Without it
//! the tests fail rather than skip, so a machine that cannot check the page never looks as if
//! it had. The last screenshot and its page are kept in `target/tmp/html_chromium/` for a
//! person to look at.

#[path = "support/chromium.rs"]
mod chromium;
#[path = "../src/fixtures.rs"]
#[expect(dead_code, reason = "the fixtures module serves several test binaries; this one uses a few")]
mod fixtures;

use std::fs::{self, File};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;

use wait_timeout::ChildExt;

/// A page this size renders in a second or two; a browser that takes a minute is stuck.
const TIMEOUT: Duration = Duration::from_secs(60);

const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

const REGRESSION_IDS: [&str; 2] =
    ["tests.test_auth.LoginTests.test_login_redirects_to_next", "tests.test_session.test_session_cookie_is_secure"];

/// A work folder holding the report's HTML page; the page has two regressions.
fn page() -> (tempfile::TempDir, PathBuf) {
    let work = tempfile::tempdir().expect("a temporary folder");
    let report = fixtures::hostile();
    assert_eq!(report.regressions.len(), 2);
    let html = work.path().join("report.html");
    fs::write(&html, imagegate_report::gate_html(&[report])).expect("the page is written");
    (work, html)
}

/// Runs headless chromium on `url` with `arguments`, in `work`, with its own profile; returns
/// its exit status and what it wrote to stdout. Kills it (and every process it started) when it
/// takes longer than [`TIMEOUT`].
fn run_chromium(work: &Path, arguments: &[String], url: &str) -> (ExitStatus, String) {
    let chromium = chromium::require("the HTML report cannot be checked in a browser");
    let profile = tempfile::tempdir_in(work).expect("a profile folder");
    let stdout_path = work.join("chromium.stdout");
    let stderr_path = work.join("chromium.stderr");
    let mut child = Command::new(&chromium)
        .args(chromium::HEADLESS_FLAGS)
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(arguments)
        .arg(url)
        .current_dir(work)
        // The browser's caches and crash reports stay in the work folder, not in the home of
        // whoever runs the tests.
        .env("HOME", work)
        .env("XDG_CONFIG_HOME", work)
        .env("XDG_CACHE_HOME", work)
        .stdin(Stdio::null())
        .stdout(File::create(&stdout_path).expect("stdout file"))
        .stderr(File::create(&stderr_path).expect("stderr file"))
        // Its own process group, so that a timeout can end the renderer and GPU processes too.
        .process_group(0)
        .spawn()
        .unwrap_or_else(|error| panic!("cannot start {}: {error}", chromium.display()));
    let status = match child.wait_timeout(TIMEOUT).expect("waiting for chromium") {
        Some(status) => status,
        None => {
            let _ = Command::new("kill").args(["-KILL", "--", &format!("-{}", child.id())]).status();
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "chromium did not finish within {} s and was killed; its output:\n{}",
                TIMEOUT.as_secs(),
                fs::read_to_string(&stderr_path).unwrap_or_default()
            );
        }
    };
    let stdout = fs::read_to_string(&stdout_path).expect("chromium's stdout");
    if !status.success() {
        panic!(
            "chromium failed ({status}) on {url}; its output:\n{}",
            fs::read_to_string(&stderr_path).unwrap_or_default()
        );
    }
    (status, stdout)
}

fn file_url(path: &Path) -> String {
    format!("file://{}", path.display())
}

#[test]
fn the_report_renders_to_a_screenshot() {
    let (work, html) = page();
    let screenshot = work.path().join("report.png");
    run_chromium(
        work.path(),
        &[format!("--screenshot={}", screenshot.display()), "--window-size=1280,2000".to_owned()],
        &file_url(&html),
    );

    let png =
        fs::read(&screenshot).unwrap_or_else(|error| panic!("no screenshot at {}: {error}", screenshot.display()));
    assert!(png.starts_with(PNG_SIGNATURE), "not a PNG file");
    // The header chunk comes first: width and height, big-endian, after its length and name.
    assert_eq!(&png[12..16], b"IHDR");
    let width = u32::from_be_bytes([png[16], png[17], png[18], png[19]]);
    let height = u32::from_be_bytes([png[20], png[21], png[22], png[23]]);
    assert_eq!((width, height), (1280, 2000));
    // A blank page of that size compresses to a few kilobytes; text and tables take far more.
    assert!(png.len() > 40_000, "the screenshot is only {} bytes: is the page blank?", png.len());

    let kept = Path::new(env!("CARGO_TARGET_TMPDIR")).join("html_chromium");
    fs::create_dir_all(&kept).expect("a folder to keep the screenshot in");
    fs::copy(&screenshot, kept.join("report.png")).expect("the screenshot is kept");
    fs::copy(&html, kept.join("report.html")).expect("the page is kept");
    println!("screenshot: {}", kept.join("report.png").display());
}

#[test]
fn the_rendered_page_shows_both_regressions_and_runs_no_script() {
    let (work, html) = page();
    let (_, dom) = run_chromium(work.path(), &["--dump-dom".to_owned()], &file_url(&html));
    // Ids carry line-break opportunities between their parts.
    let dom = dom.replace("<wbr>", "");

    assert!(dom.contains("</html>"), "chromium printed no DOM:\n{dom}");
    for id in REGRESSION_IDS {
        assert!(dom.contains(id), "the page does not show the regression {id}");
    }
    // The scripts in the test output would set these when run; as text they never spell them.
    assert!(!dom.contains("EXECUTED"), "a script in the test output ran");
    assert!(!dom.contains("data-executed=\"yes\""), "a script in the test output ran");
    // Serialised text escapes `<`, so an element from test output would show here unescaped.
    assert!(!dom.contains("<script"), "the page has a script element");
    assert!(!dom.contains("<img"), "the page has an image element from test output");
    assert!(dom.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "the test named like a script tag is shown as text");
    assert!(dom.contains("<title>imagegate: regression (web)</title>"), "the title was changed");
}
