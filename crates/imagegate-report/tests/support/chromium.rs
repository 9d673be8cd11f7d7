//! Debian's headless chromium as both browser tests of the HTML report start it: where it is,
//! the flags that keep it quiet and offline, and the failure (not a skip) when it is missing.

use std::path::PathBuf;

/// Where Debian's `chromium` package puts the browser.
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// Headless, no sandbox (tests run as root in CI), and nothing fetched or synced behind the
/// page's back.
pub const HEADLESS_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
];

/// The browser's path; stops the test when it is not installed, saying what `unchecked` (what
/// cannot be checked without it) and how to install it.
pub fn require(unchecked: &str) -> PathBuf {
    let path = PathBuf::from(CHROMIUM);
    assert!(
        path.is_file(),
        "chromium is not installed ({CHROMIUM} is missing), so {unchecked}; \
         install it with `apt-get install chromium` (as `.ci/run` does) and run the tests again"
    );
    path
}
