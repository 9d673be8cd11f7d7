#!/bin/sh
# Runs the project's tests and writes their results as JUnit XML to $RESULTS_DIR/junit.xml
# (default /results/junit.xml).
#
#   sh tests/run.sh                                   every test, in the order below
#   sh tests/run.sh demo.textkit.test_slugify …       only the named tests
#
# A test id is CLASSNAME.FUNCTION (JUnit classname="demo.textkit" name="test_slugify").
# Exit status: 0 when every test passed, 1 when any failed, 2 for an unknown test id.
# POSIX sh: the CI image has only busybox.
set -u

tests_dir=$(cd "$(dirname "$0")" && pwd)
project_dir=$(dirname "$tests_dir")
results_dir=${RESULTS_DIR:-/results}

all_tests="
demo.textkit.test_slugify
demo.textkit.test_title_case
demo.textkit.test_word_count
demo.report.test_render_creates_file
demo.report.test_render_to_fresh_cache
demo.report.test_summary_singular
demo.report.test_html_title
"

# shellcheck source=SCRIPTDIR/../src/report.sh
. "$project_dir/src/report.sh"
# shellcheck source=SCRIPTDIR/textkit_tests.sh
. "$tests_dir/textkit_tests.sh"
# shellcheck source=SCRIPTDIR/report_tests.sh
. "$tests_dir/report_tests.sh"

# --- assertions (run inside each test's subshell) ---

fail() {
  printf '%s\n' "$*" >"$failure_file"
  exit 1
}

# assert_eq EXPECTED ACTUAL [WHAT]
assert_eq() {
  if [ "$2" != "$1" ]; then
    fail "${3:+$3: }expected \"$1\", got \"$2\""
  fi
}

# --- JUnit output ---

xml_escape() {
  printf '%s' "$1" |
    sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e 's/>/\&gt;/g' -e 's/"/\&quot;/g' -e "s/'/\&apos;/g" |
    tr -d '\000-\010\013\014\016-\037'
}

# Milliseconds on a monotonic clock (busybox date has no %N; /proc/uptime counts centiseconds).
now_ms() {
  if read -r uptime _ </proc/uptime 2>/dev/null; then
    echo $((${uptime%.*} * 1000 + $(echo "${uptime#*.}" | sed 's/^0*//;s/^$/0/') * 10))
  else
    echo $(($(date +%s) * 1000))
  fi
}

seconds() {
  printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000))
}

# --- main ---

if [ $# -gt 0 ]; then
  selected="$*"
  for id in $selected; do
    case "$all_tests" in
      *"
$id
"*) ;;
      *)
        echo "run.sh: unknown test id: $id" >&2
        exit 2
        ;;
    esac
  done
else
  selected=$all_tests
fi

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
failure_file="$scratch/failure"
cases="$scratch/cases.xml"
: >"$cases"

# Every run starts from an empty report cache; the tests of one run share it.
rm -rf "$REPORT_CACHE"

total=0
failed=0
suite_start=$(now_ms)
for id in $selected; do
  classname=${id%.*}
  name=${id##*.}
  rm -f "$failure_file"
  start=$(now_ms)
  ("$name") >"$scratch/output" 2>&1
  status=$?
  elapsed=$(($(now_ms) - start))
  total=$((total + 1))

  printf '    <testcase classname="%s" name="%s" time="%s"' \
    "$(xml_escape "$classname")" "$(xml_escape "$name")" "$(seconds "$elapsed")" >>"$cases"
  if [ "$status" -eq 0 ]; then
    echo "PASS $id"
    echo '/>' >>"$cases"
    continue
  fi

  failed=$((failed + 1))
  if [ -s "$failure_file" ]; then
    message=$(cat "$failure_file")
  else
    message="exited with status $status"
  fi
  echo "FAIL $id: $message"
  # Like a stack trace, the body names the library the assertion ran through.
  body="$message"
  if [ -n "${TEXTKIT:-}" ]; then
    body="$message
    at $TEXTKIT"
  fi
  {
    echo '>'
    printf '      <failure type="AssertionError" message="%s">%s</failure>\n' \
      "$(xml_escape "$(printf '%s\n' "$message" | head -n 1)")" "$(xml_escape "$body")"
    if [ -s "$scratch/output" ]; then
      printf '      <system-out>%s</system-out>\n' "$(xml_escape "$(cat "$scratch/output")")"
    fi
    echo '    </testcase>'
  } >>"$cases"
done
suite_elapsed=$(($(now_ms) - suite_start))

mkdir -p "$results_dir"
{
  echo '<?xml version="1.0" encoding="UTF-8"?>'
  printf '<testsuites name="demo" tests="%d" failures="%d" errors="0" time="%s">\n' \
    "$total" "$failed" "$(seconds "$suite_elapsed")"
  printf '  <testsuite name="demo" tests="%d" failures="%d" errors="0" skipped="0" time="%s">\n' \
    "$total" "$failed" "$(seconds "$suite_elapsed")"
  cat "$cases"
  echo '  </testsuite>'
  echo '</testsuites>'
} >"$results_dir/junit.xml.tmp"
mv "$results_dir/junit.xml.tmp" "$results_dir/junit.xml"

echo "$((total - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
