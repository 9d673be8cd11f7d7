# Tests of report rendering (classname demo.report).

test_render_creates_file() {
  path=$(report_render "Weekly Status" "all systems nominal")
  [ -f "$path" ] || fail "expected a report at $path, found none"
  assert_eq "Weekly Status" "$(head -n 1 "$path")"
}

# Assumes it starts with an empty cache, but test_render_creates_file leaves its report behind:
# run alone it passes, run after that test it fails. A test that fails or passes depending on
# what ran before it is flaky, not broken.
test_render_to_fresh_cache() {
  report_render "Release Notes" "fixed the build" >/dev/null
  assert_eq "1" "$(report_cache_size)" "reports in the cache"
}

test_summary_singular() {
  assert_eq "1 word" "$(report_summary 'done')"
}

test_html_title() {
  assert_eq "<h1>Q&amp;A &lt;draft&gt;</h1>" "$(report_html_title 'Q&A <draft>')"
}
