//! The HTML report's layout as a real browser lays it out, at 1400, 800 and 400 px wide.
//!
//! Debian's headless chromium renders a report of a regressed gate (with long test ids, a long
//! image reference and package location, and output lines with no spaces) and is driven over
//! the DevTools protocol (a WebSocket on loopback): at each width the page is measured with
//! every `<details>` opened, and the test checks, from the element boxes:
//!
//! - the page does not scroll sideways, and no element reaches past the viewport unless it is
//!   inside a box that scrolls on its own (a wide table's wrapper);
//! - no two sibling boxes overlap (cells of a row, the terms and descriptions of a list of
//!   facts, the cards of the tests), and no box's content spills out of it;
//! - every test id wraps only after one of its separators (`.`, `/`, `:`, `_`, `-`, `[`, `,`),
//!   never mid-word.
//!
//! A screenshot of the whole page at each width is kept in `target/tmp/html_layout/` (the path
//! is printed) for a person to look at.
//!
//! Needs `/usr/bin/chromium`, as `html_chromium.rs` does; without it the tests fail.

#[path = "support/chromium.rs"]
mod chromium;
#[path = "../src/fixtures.rs"]
#[expect(dead_code, reason = "the fixtures module serves several test binaries; this one uses a few")]
mod fixtures;

use std::fs;
use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};
use tungstenite::{Message, WebSocket};

/// How long the browser may take to start, and to answer any one command.
const TIMEOUT: Duration = Duration::from_secs(60);

const WIDTHS: [u32; 3] = [1400, 800, 400];

/// Characters after which an id may wrap.
const SEPARATORS: &[char] = &['.', '/', ':', '_', '-', '[', ','];

/// A headless chromium driven over the DevTools protocol, attached to one page. Dropping it
/// kills the browser and every process it started.
struct Browser {
    child: Child,
    socket: WebSocket<TcpStream>,
    session: Option<String>,
    next_id: u64,
    stderr: Arc<Mutex<String>>,
    _profile: tempfile::TempDir,
}

impl Browser {
    fn launch() -> Browser {
        let program = chromium::require("the HTML report's layout cannot be checked");
        let profile = tempfile::tempdir().expect("a profile folder");
        let mut child = Command::new(&program)
            .args(chromium::HEADLESS_FLAGS)
            .args([
                "--hide-scrollbars",
                // Port 0: the browser picks a free loopback port and prints its address.
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .env("HOME", profile.path())
            .env("XDG_CONFIG_HOME", profile.path())
            .env("XDG_CACHE_HOME", profile.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            // Its own process group, so that dropping it ends the renderer and GPU processes too.
            .process_group(0)
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {}: {error}", program.display()));

        // The browser prints `DevTools listening on ws://…` on stderr; the rest of its stderr is
        // kept for the message of a failure.
        let stderr = Arc::new(Mutex::new(String::new()));
        let (address_sender, address) = mpsc::channel();
        let lines = BufReader::new(child.stderr.take().expect("chromium's stderr"));
        let kept = Arc::clone(&stderr);
        std::thread::spawn(move || {
            for line in lines.lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("DevTools listening on ") {
                    let _ = address_sender.send(url.trim().to_owned());
                }
                if let Ok(mut kept) = kept.lock() {
                    kept.push_str(&line);
                    kept.push('\n');
                }
            }
        });
        let url = match address.recv_timeout(TIMEOUT) {
            Ok(url) => url,
            Err(_) => {
                kill(&mut child);
                panic!("chromium printed no DevTools address; its output:\n{}", stderr.lock().expect("stderr").clone());
            }
        };
        let host = url.trim_start_matches("ws://").split('/').next().unwrap_or_default().to_owned();
        let stream = TcpStream::connect(&host).unwrap_or_else(|error| panic!("cannot connect to {host}: {error}"));
        stream.set_read_timeout(Some(TIMEOUT)).expect("a read timeout");
        let (socket, _) = tungstenite::client(url.as_str(), stream)
            .unwrap_or_else(|error| panic!("no DevTools WebSocket at {url}: {error}"));
        let mut browser = Browser { child, socket, session: None, next_id: 0, stderr, _profile: profile };
        let target = browser.call("Target.createTarget", json!({ "url": "about:blank" }));
        let target_id = target["targetId"].as_str().expect("a target id").to_owned();
        let attached = browser.call("Target.attachToTarget", json!({ "targetId": target_id, "flatten": true }));
        browser.session = Some(attached["sessionId"].as_str().expect("a session id").to_owned());
        browser
    }

    /// Sends one command to the page and returns its result, skipping the events in between.
    fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({ "id": id, "method": method, "params": params });
        if let Some(session) = &self.session {
            message["sessionId"] = json!(session);
        }
        self.socket.send(Message::text(message.to_string())).unwrap_or_else(|error| panic!("{method}: {error}"));
        let deadline = Instant::now() + TIMEOUT;
        while Instant::now() < deadline {
            let reply = self.socket.read().unwrap_or_else(|error| {
                panic!("{method}: {error}; chromium's output:\n{}", self.stderr.lock().expect("stderr"))
            });
            let Message::Text(text) = reply else { continue };
            let reply: Value = serde_json::from_str(text.as_str()).expect("DevTools sends JSON");
            if reply["id"] != json!(id) {
                continue;
            }
            if let Some(error) = reply.get("error") {
                panic!("{method} failed: {error}");
            }
            return reply["result"].clone();
        }
        panic!("{method}: no answer within {} s", TIMEOUT.as_secs());
    }

    /// The value of a JavaScript expression in the page.
    fn evaluate(&mut self, expression: &str) -> Value {
        let result = self.call("Runtime.evaluate", json!({ "expression": expression, "returnByValue": true }));
        if let Some(exception) = result.get("exceptionDetails") {
            panic!("the page's script failed: {exception}");
        }
        result["result"]["value"].clone()
    }

    fn open(&mut self, url: &str) {
        self.call("Page.enable", json!({}));
        self.call("Page.navigate", json!({ "url": url }));
        let deadline = Instant::now() + TIMEOUT;
        while self.evaluate("location.href + ' ' + document.readyState") != json!(format!("{url} complete")) {
            assert!(Instant::now() < deadline, "{url} did not load within {} s", TIMEOUT.as_secs());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn set_width(&mut self, width: u32) {
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": 1000, "deviceScaleFactor": 1, "mobile": false }),
        );
    }

    /// A PNG of the whole page, beyond the viewport.
    fn screenshot(&mut self, width: u32) -> Vec<u8> {
        let height = self.evaluate("document.documentElement.scrollHeight").as_f64().expect("a page height");
        let shot = self.call(
            "Page.captureScreenshot",
            json!({
                "format": "png",
                "captureBeyondViewport": true,
                "clip": { "x": 0, "y": 0, "width": width, "height": height, "scale": 1 },
            }),
        );
        base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().expect("screenshot data"))
            .expect("the screenshot is base64")
    }
}

fn kill(child: &mut Child) {
    let _ = Command::new("kill").args(["-KILL", "--", &format!("-{}", child.id())]).status();
    let _ = child.kill();
    let _ = child.wait();
}

impl Drop for Browser {
    fn drop(&mut self) {
        kill(&mut self.child);
    }
}

/// Measures the page with every `<details>` open: the page's width, every element's box and
/// whether its content fits it, and where each test id's lines break.
const MEASURE: &str = r#"(() => {
  for (const details of document.querySelectorAll('details')) details.open = true;
  const all = [...document.body.querySelectorAll('*')];
  const index = new Map(all.map((element, position) => [element, position]));
  const scrolls = element => {
    for (let parent = element.parentElement; parent; parent = parent.parentElement) {
      if (getComputedStyle(parent).overflowX !== 'visible') return true;
    }
    return false;
  };
  const name = element => element.tagName.toLowerCase()
    + (typeof element.className === 'string' && element.className ? '.' + element.className.trim().split(/\s+/).join('.') : '');
  const elements = all.map(element => {
    const style = getComputedStyle(element);
    const box = element.getBoundingClientRect();
    return {
      name: name(element),
      parent: element.parentElement === document.body ? -1 : index.get(element.parentElement),
      display: style.display,
      overflow: style.overflowX,
      inScroller: scrolls(element),
      left: box.left, right: box.right, top: box.top, bottom: box.bottom,
      scrollWidth: element.scrollWidth, clientWidth: element.clientWidth,
      text: (element.textContent || '').trim().slice(0, 80),
    };
  });
  const breaks = [...document.querySelectorAll('code.id')].map(code => {
    const characters = [];
    const walker = document.createTreeWalker(code, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      for (let offset = 0; offset < node.length; offset++) {
        const range = document.createRange();
        range.setStart(node, offset);
        range.setEnd(node, offset + 1);
        const rects = range.getClientRects();
        characters.push({ character: node.data[offset], top: rects.length ? rects[0].top : null });
      }
    }
    const text = characters.map(entry => entry.character).join('');
    const at = [];
    let top = null;
    characters.forEach((entry, position) => {
      if (entry.top === null) return;
      if (top !== null && entry.top > top + 2) at.push(position);
      top = entry.top;
    });
    return { text, at };
  });
  return JSON.stringify({
    viewport: document.documentElement.clientWidth,
    pageWidth: document.documentElement.scrollWidth,
    elements,
    breaks,
  });
})()"#;

/// What a measurement found wrong, one line each.
fn layout_problems(measurement: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let number = |value: &Value, key: &str| value[key].as_f64().unwrap_or(0.0);
    let viewport = number(measurement, "viewport");
    let page_width = number(measurement, "pageWidth");
    if page_width > viewport {
        problems.push(format!("the page is {page_width} px wide in a {viewport} px viewport: it scrolls sideways"));
    }
    let elements = measurement["elements"].as_array().expect("elements");
    let describe = |element: &Value| {
        format!("<{}> \"{}\"", element["name"].as_str().unwrap_or("?"), element["text"].as_str().unwrap_or(""))
    };
    let has_box = |element: &Value| {
        number(element, "right") - number(element, "left") > 0.5
            && number(element, "bottom") - number(element, "top") > 0.5
    };
    let laid_out_as_box =
        |element: &Value| !matches!(element["display"].as_str(), Some("inline" | "none" | "contents"));

    for element in elements.iter().filter(|element| has_box(element)) {
        if element["inScroller"] != json!(true)
            && (number(element, "right") > viewport + 0.5 || number(element, "left") < -0.5)
        {
            problems.push(format!(
                "{} spans {:.0}…{:.0} px, outside the {viewport} px viewport",
                describe(element),
                number(element, "left"),
                number(element, "right")
            ));
        }
        // Content wider than its box spills over whatever is next to it.
        if laid_out_as_box(element)
            && element["overflow"] == json!("visible")
            && number(element, "scrollWidth") > number(element, "clientWidth") + 1.0
            && number(element, "clientWidth") > 0.0
        {
            problems.push(format!(
                "the content of {} is {} px wide in a {} px box: it spills out",
                describe(element),
                number(element, "scrollWidth"),
                number(element, "clientWidth")
            ));
        }
    }

    // Sibling boxes, grouped by parent.
    let mut children: std::collections::BTreeMap<i64, Vec<&Value>> = std::collections::BTreeMap::new();
    for element in elements.iter().filter(|element| has_box(element) && laid_out_as_box(element)) {
        children.entry(element["parent"].as_i64().unwrap_or(-1)).or_default().push(element);
    }
    for siblings in children.values() {
        for (position, first) in siblings.iter().enumerate() {
            for second in &siblings[position + 1..] {
                let width = number(first, "right").min(number(second, "right"))
                    - number(first, "left").max(number(second, "left"));
                let height = number(first, "bottom").min(number(second, "bottom"))
                    - number(first, "top").max(number(second, "top"));
                if width > 1.0 && height > 1.0 {
                    problems.push(format!(
                        "{} and {} overlap by {width:.0}×{height:.0} px",
                        describe(first),
                        describe(second)
                    ));
                }
            }
        }
    }

    for id in measurement["breaks"].as_array().expect("breaks") {
        let text: Vec<char> = id["text"].as_str().unwrap_or_default().chars().collect();
        for at in id["at"].as_array().expect("break positions").iter().filter_map(Value::as_u64) {
            let at = usize::try_from(at).expect("a position");
            let before = at.checked_sub(1).and_then(|position| text.get(position));
            // A break before an opening bracket is as good as one after a separator.
            let after = text.get(at);
            if !before.is_some_and(|character| SEPARATORS.contains(character)) && !matches!(after, Some('[' | '(')) {
                let (head, tail): (String, String) = (text[..at].iter().collect(), text[at..].iter().collect());
                problems.push(format!("the id `{head}` / `{tail}` wraps mid-word"));
            }
        }
    }
    problems
}

/// A regressed gate with everything that strains a layout: long ids and references, a long
/// package location, output lines without spaces, and three images, one without a verdict.
fn wide_report() -> Vec<imagegate_contract::GateReport> {
    let mut report = fixtures::regression();
    let template = report.regressions[0].clone();
    let mut long = template.clone();
    long.id = "tests/integration/test_rendering_pipeline.py::TestRenderingPipelineWithUnicode::\
               test_render_to_fresh_cache_with_internationalised_slugs[de_DE-utf8-title_case]"
        .to_owned();
    long.message = Some(format!("E   {}\nE   AssertionError: headings differ", "x".repeat(300)));
    report.regressions.push(long);
    report.candidate.reference =
        "registry.internal.example.com:5000/platform-engineering/continuous-integration/python-web-tools:candidate-5d0e6f7a8b9c"
            .to_owned();
    if let Some(packages) = report.packages.as_mut() {
        packages.changed[3].location =
            "/opt/venvs/continuous-integration-tools/lib/python3.11/site-packages/very/deeply/nested/vendor/folder"
                .to_owned();
    }
    report.runs[1].output_tail = Some(format!("{}\nok", "=".repeat(400)));
    // A suite that timed out brings an error callout and an output tail with escape sequences.
    vec![report, fixtures::pass_with_flaky_and_fixed(), fixtures::error()]
}

fn check_layout(reports: &[imagegate_contract::GateReport], name: &str) -> Vec<String> {
    let work = tempfile::tempdir().expect("a temporary folder");
    let html = work.path().join("report.html");
    fs::write(&html, imagegate_report::gate_html(reports)).expect("the page is written");
    let kept = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("html_layout");
    fs::create_dir_all(&kept).expect("a folder for the screenshots");
    fs::copy(&html, kept.join(format!("{name}.html"))).expect("the page is kept");

    let mut browser = Browser::launch();
    let url = format!("file://{}", html.display());
    browser.open(&url);
    let mut problems = Vec::new();
    for width in WIDTHS {
        browser.set_width(width);
        let measurement: Value =
            serde_json::from_str(browser.evaluate(MEASURE).as_str().expect("a measurement")).expect("JSON");
        assert!(
            measurement["elements"].as_array().is_some_and(|elements| elements.len() > 100),
            "the page at {width} px has hardly any elements: did it render?"
        );
        assert_eq!(measurement["viewport"], json!(width), "the viewport is not {width} px wide");
        let screenshot = kept.join(format!("{name}-{width}.png"));
        fs::write(&screenshot, browser.screenshot(width)).expect("the screenshot is kept");
        println!("screenshot at {width} px: {}", screenshot.display());
        problems.extend(layout_problems(&measurement).into_iter().map(|problem| format!("at {width} px: {problem}")));
    }
    problems
}

#[test]
fn the_report_of_a_regressed_gate_holds_at_1400_800_and_400_px() {
    let problems = check_layout(&wide_report(), "regressed");
    assert!(problems.is_empty(), "the layout breaks:\n{}", problems.join("\n"));
}

/// The checks themselves: a page built to break each rule must fail each of them, so that a
/// passing layout test means something.
#[test]
fn the_layout_checks_catch_overflow_overlap_and_mid_word_breaks() {
    let mut browser = Browser::launch();
    let work = tempfile::tempdir().expect("a temporary folder");
    let page = work.path().join("broken.html");
    fs::write(
        &page,
        "<!DOCTYPE html><html><body style=\"margin:0\">\
         <table style=\"table-layout:fixed;width:300px\"><tr><td style=\"width:100px\"><span style=\"white-space:nowrap\">\
         a-path-that-is-far-too-long-for-its-cell</span></td><td>next</td></tr></table>\
         <div style=\"width:900px\">wider than the viewport</div>\
         <p style=\"margin-top:-30px\">pulled over the block above</p>\
         <div style=\"width:120px\"><code class=\"id\" style=\"overflow-wrap:anywhere\">tests.test_module.TestSomething</code></div>\
         </body></html>",
    )
    .expect("the page is written");
    browser.open(&format!("file://{}", page.display()));
    browser.set_width(400);
    let measurement: Value =
        serde_json::from_str(browser.evaluate(MEASURE).as_str().expect("a measurement")).expect("JSON");
    let problems = layout_problems(&measurement).join("\n");
    assert!(problems.contains("it scrolls sideways"), "{problems}");
    assert!(problems.contains("outside the 400 px viewport"), "{problems}");
    assert!(problems.contains("it spills out"), "{problems}");
    assert!(problems.contains("overlap by"), "{problems}");
    assert!(problems.contains("wraps mid-word"), "{problems}");
}
