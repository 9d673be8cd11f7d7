#!/usr/bin/env bash
# The whole gate on a small project, start to finish.
#
# The project (examples/demo/project) renders status reports with "textkit", a shell library its
# CI image fetches from a package index at build time. The demo serves that index on loopback,
# publishes a new textkit release that breaks two of the project's tests, and shows imagegate
# blocking the new image, keeping stable where it was, and promoting the same image once the
# project has adapted. One test is order-dependent (flaky) throughout; it never blocks.
#
#   examples/demo/demo.sh            (or `make demo`, which starts docker and builds imagegate first)
#
# Environment:
#   IMAGEGATE              the imagegate binary (default: target/debug/imagegate of this repository)
#   IMAGEGATE_ENGINE       docker (default) or podman
#   IMAGEGATE_DEMO_PORT    port of the package index on 127.0.0.1 (default 8765)
#   IMAGEGATE_DEMO_KEEP=1  keep the work directory after a successful run
#   IMAGEGATE_DEMO_REPORTS where the HTML and Markdown reports are kept (default: demo-reports in
#                          the cargo target folder, outside the work directory the demo deletes)
#
# Needs: a running engine with imagegate-demo/busybox:base (scripts/engines.sh docker base-image),
# busybox on the host (the package index is `busybox httpd`), git.
set -euo pipefail

demo_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd "$demo_dir/../.." && pwd)

engine=${IMAGEGATE_ENGINE:-docker}
port=${IMAGEGATE_DEMO_PORT:-8765}
imagegate_bin=${IMAGEGATE:-${CARGO_TARGET_DIR:-$repo_root/target}/debug/imagegate}
reports=${IMAGEGATE_DEMO_REPORTS:-${CARGO_TARGET_DIR:-$repo_root/target}/demo-reports}
# The demo's project decides where the config and the state live, not the caller's environment.
unset IMAGEGATE_CONFIG IMAGEGATE_STATE_DIR

readonly stable_tag="imagegate-demo/tools:stable"
readonly base_image="imagegate-demo/busybox:base"
# Set by the project's ci/Dockerfile: every image built from it carries this label.
readonly image_label="demo.image=tools"
readonly flaky_test="demo.report.test_render_to_fresh_cache"
readonly broken_tests=("demo.textkit.test_slugify" "demo.textkit.test_title_case")

# --- output ------------------------------------------------------------------------------------

if [[ -t 1 && -z "${NO_COLOR:-}" ]]; then
  bold=$'\e[1m' red=$'\e[31m' green=$'\e[32m' reset=$'\e[0m'
else
  bold="" red="" green="" reset=""
fi

step() {
  printf '\n%s== %s%s\n' "$bold" "$1" "$reset"
  shift
  local line
  for line in "$@"; do
    printf '   %s\n' "$line"
  done
  printf '\n'
}

info() {
  printf '%s\n' "-- $*"
}

fail() {
  printf '\n%sdemo failed:%s %s\n' "$red" "$reset" "$*" >&2
  exit 1
}

exit_meaning() {
  case "$1" in
    0) echo "passed/promoted" ;;
    1) echo "regression, blocked" ;;
    2) echo "usage or configuration error" ;;
    3) echo "engine or infrastructure error" ;;
    4) echo "stable pointer moved" ;;
    *) echo "unexpected" ;;
  esac
}

# --- helpers -----------------------------------------------------------------------------------

last_output=""

imagegate() {
  "$imagegate_bin" "$@"
}

# expect_exit CODE COMMAND…: shows and runs COMMAND, keeps its output in $last_output, and stops
# the demo unless it exits with CODE.
expect_exit() {
  local want=$1 got
  shift
  printf '%s$ %s%s\n' "$bold" "$*" "$reset"
  set +e
  "$@" 2>&1 | tee "$work/last-output"
  got=${PIPESTATUS[0]}
  set -e
  last_output=$(cat "$work/last-output")
  if [[ "$got" != "$want" ]]; then
    fail "expected exit $want ($(exit_meaning "$want")) from '$*', got $got ($(exit_meaning "$got"))"
  fi
  info "exit $got ($(exit_meaning "$got")), as expected"
}

expect_mentioned() {
  local text=$1 why=$2
  if ! grep -qF -- "$text" <<<"$last_output"; then
    fail "expected the output to mention $text ($why)"
  fi
}

# image_id REF: the engine's image id of REF without the "sha256:" prefix, empty if absent.
image_id() {
  local id
  id=$("$engine" image inspect -f '{{.Id}}' "$1" 2>/dev/null) || return 0
  printf '%s\n' "${id#sha256:}"
}

# Ids of all images built from the demo's recipe, one a line, sorted.
demo_images() {
  "$engine" images -q --no-trunc --filter "label=$image_label" | sed 's/^sha256://' | sort -u
}

short() {
  printf '%.12s' "$1"
}

publish_textkit() {
  local version=$1
  mkdir -p "$index/textkit/$version"
  cp "$demo_dir/packages/textkit/$version/textkit.sh" "$index/textkit/$version/textkit.sh"
  printf '%s\n' "$version" >"$index/textkit/latest.new"
  mv "$index/textkit/latest.new" "$index/textkit/latest"
}

index_serves() {
  # (busybox 1.35 wget crashes with -T; timeout bounds it instead)
  timeout 5 busybox wget -q -O - "http://127.0.0.1:$port/textkit/latest" 2>/dev/null
}

# --- preflight ---------------------------------------------------------------------------------

case "$engine" in
  docker | podman) ;;
  *) fail "IMAGEGATE_ENGINE must be docker or podman, not '$engine'" ;;
esac
if [[ "$imagegate_bin" != */* ]]; then
  imagegate_bin=$(command -v "$imagegate_bin") || fail "'$IMAGEGATE' is not on PATH"
fi
[[ "$imagegate_bin" == /* ]] || imagegate_bin="$PWD/$imagegate_bin"
[[ -x "$imagegate_bin" ]] ||
  fail "no imagegate binary at $imagegate_bin (build it with 'cargo build -p imagegate' or set IMAGEGATE)"
command -v git >/dev/null 2>&1 || fail "git is required"
command -v busybox >/dev/null 2>&1 ||
  fail "busybox is required for the package index (scripts/engines.sh base-image installs busybox-static)"
"$engine" info >/dev/null 2>&1 ||
  fail "$engine is not answering (start it with 'scripts/engines.sh $engine')"
"$engine" image inspect "$base_image" >/dev/null 2>&1 ||
  fail "$base_image is missing in $engine (create it with 'scripts/engines.sh base-image $engine')"

[[ "$reports" == /* ]] || reports="$PWD/$reports"
mkdir -p "$reports" || fail "cannot create the reports folder $reports (set IMAGEGATE_DEMO_REPORTS)"
# Reports of an earlier run would read as this run's; only the demo's own files go.
rm -f "$reports"/2-blocked.html "$reports"/2-blocked.md "$reports"/4-promoted.html "$reports"/4-promoted.md

work=$(mktemp -d "${TMPDIR:-/tmp}/imagegate-demo.XXXXXX")
project="$work/project"
index="$work/index"
server_pid=""

finish() {
  local status=$?
  if [[ -n "$server_pid" ]]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [[ $status -ne 0 ]]; then
    printf 'work directory kept for inspection: %s\n' "$work" >&2
  elif [[ "${IMAGEGATE_DEMO_KEEP:-}" == 1 ]]; then
    printf 'work directory kept: %s\n' "$work"
  else
    rm -rf "$work"
  fi
}
trap finish EXIT

# --- setup -------------------------------------------------------------------------------------

step "Setup" \
  "A copy of examples/demo/project becomes a git repository on branch main, and a package index" \
  "on 127.0.0.1:$port serves textkit 1.0 as its latest release. Engine: $engine."

# Images and the stable tag from an earlier run of the demo would make the first gate a comparison
# against last time's stable instead of a bootstrap.
stale_images=$(demo_images)
if "$engine" image inspect "$stable_tag" >/dev/null 2>&1; then
  "$engine" rmi "$stable_tag" >/dev/null 2>&1 || true
fi
if [[ -n "$stale_images" ]]; then
  stale_count=$(wc -l <<<"$stale_images")
  if [[ "$stale_count" == 1 ]]; then stale_word=image; else stale_word=images; fi
  info "removing $stale_count $stale_word left by an earlier run of the demo"
  # shellcheck disable=SC2086 # one id a word
  "$engine" rmi -f $stale_images >/dev/null 2>&1 || true
fi

cp -R "$demo_dir/project/." "$project"
if [[ "$port" != 8765 ]]; then
  sed -i "s|http://127.0.0.1:8765|http://127.0.0.1:$port|" "$project/imagegate.toml"
fi
git -C "$project" init -q -b main
git -C "$project" config user.name "Demo Developer"
git -C "$project" config user.email "developer@example.com"
git -C "$project" config commit.gpgsign false
git -C "$project" add -A
git -C "$project" commit -q -m "Weekly status reports"

if index_serves >/dev/null; then
  fail "port $port on 127.0.0.1 is already serving; set IMAGEGATE_DEMO_PORT to a free port"
fi
publish_textkit 1.0
busybox httpd -f -p "127.0.0.1:$port" -h "$index" &
server_pid=$!
for _ in $(seq 1 50); do
  [[ "$(index_serves)" == "1.0" ]] && break
  kill -0 "$server_pid" 2>/dev/null || fail "the package index did not start (is port $port free?)"
  sleep 0.1
done
[[ "$(index_serves)" == "1.0" ]] || fail "the package index does not answer on 127.0.0.1:$port"
info "project at $project"
info "package index at http://127.0.0.1:$port/ (textkit 1.0)"

cd "$project"

# --- 1 -----------------------------------------------------------------------------------------

step "1. First gate: nothing is stable yet" \
  "imagegate builds the image (fetching textkit 1.0), runs the suite in it and reruns what failed." \
  "With no incumbent, a candidate that passes its own suite becomes stable (bootstrap)." \
  "$flaky_test fails in the full run but passes alone: flaky, reported, not blocking."
expect_exit 0 imagegate --engine "$engine" gate --promote
expect_mentioned "$flaky_test" "the flaky test is reported"
stable_first=$(image_id "$stable_tag")
[[ -n "$stable_first" ]] || fail "expected $stable_tag to exist after the promotion"
grep -qx "$stable_first" <<<"$(demo_images)" ||
  fail "expected $stable_tag to point at an image built from the demo's recipe"
info "$stable_tag is $(short "$stable_first")"

# --- 2 -----------------------------------------------------------------------------------------

publish_textkit 2.0
step "2. textkit 2.0 is published" \
  "The recipe is unchanged, so only a build without cache (--refresh) picks up the new release." \
  "2.0 joins slugs with '_' and lower-cases short words in title_case: two tests break." \
  "imagegate runs the suite in the candidate and in stable at the same commit and blocks."
images_before=$(demo_images)
expect_exit 1 imagegate --engine "$engine" gate --refresh --promote \
  --html "$reports/2-blocked.html" --markdown "$reports/2-blocked.md"
for test_id in "${broken_tests[@]}"; do
  expect_mentioned "$test_id" "it broke with textkit 2.0"
done
[[ "$(image_id "$stable_tag")" == "$stable_first" ]] ||
  fail "expected $stable_tag to stay at $(short "$stable_first"), it is now $(short "$(image_id "$stable_tag")")"
candidate=$(comm -13 <(printf '%s\n' "$images_before") <(demo_images))
[[ -n "$candidate" && $(wc -l <<<"$candidate") -eq 1 ]] ||
  fail "expected exactly one new image from the rebuild, found: ${candidate:-none}"
expect_mentioned "1.0.0 → 2.0.0" "the package diff shows the new textkit release"
expect_mentioned "likely: textkit" "the report names textkit as the likely cause"
expect_mentioned "HTML report: $reports/2-blocked.html" "gate says where it wrote the report"
grep -qF "likely: <code>textkit</code> 1.0.0 → 2.0.0" "$reports/2-blocked.html" ||
  fail "expected the HTML report to name textkit 1.0.0 → 2.0.0 as the likely cause"
# shellcheck disable=SC2016 # the backticks are Markdown, not a command
grep -qF '**likely: `textkit` 1.0.0 → 2.0.0**' "$reports/2-blocked.md" ||
  fail "expected the Markdown report to name textkit 1.0.0 → 2.0.0 as the likely cause"
candidate_textkit=$("$engine" run --rm --network none "$candidate" cat /usr/local/lib/node_modules/textkit/package.json)
[[ "$candidate_textkit" == *'"2.0.0"'* ]] ||
  fail "expected the candidate to carry textkit 2.0, it has '$candidate_textkit'"
info "candidate $(short "$candidate") (textkit 2.0) blocked; $stable_tag still $(short "$stable_first")"

# --- 3 -----------------------------------------------------------------------------------------

step "3. Gate again, nothing changed" \
  "The blocked candidate is reused rather than rebuilt, and it is still blocked."
images_before=$(demo_images)
expect_exit 1 imagegate --engine "$engine" gate --promote
[[ "$(demo_images)" == "$images_before" ]] || fail "expected no new image (the blocked candidate reused)"
[[ "$(image_id "$stable_tag")" == "$stable_first" ]] || fail "expected $stable_tag to stay at $(short "$stable_first")"
info "no rebuild; $stable_tag still $(short "$stable_first")"

# --- 4 -----------------------------------------------------------------------------------------

git apply "$demo_dir/fix-textkit-2.0.patch"
git commit -q -am "Keep report slugs and headings unchanged on textkit 2.0"
step "4. The project adapts to textkit 2.0" \
  "Commit $(git log -1 --format='%h "%s"')." \
  "The same candidate is tested again at the new commit, without a rebuild, and promoted."
images_before=$(demo_images)
expect_exit 0 imagegate --engine "$engine" gate --promote \
  --html "$reports/4-promoted.html" --markdown "$reports/4-promoted.md"
[[ "$(demo_images)" == "$images_before" ]] || fail "expected no new image (the blocked candidate reused)"
stable_now=$(image_id "$stable_tag")
[[ "$stable_now" == "$candidate" ]] ||
  fail "expected $stable_tag to be the candidate $(short "$candidate"), it is $(short "$stable_now")"
info "$stable_tag moved from $(short "$stable_first") to $(short "$stable_now")"

# --- 5 -----------------------------------------------------------------------------------------

step "5. History" "The promotions of the tools image, as recorded in the project's .imagegate/ store."
expect_exit 0 imagegate --engine "$engine" history
[[ -n "$last_output" ]] || fail "expected 'imagegate history' to print the promotions"

printf '\n%sdemo complete%s\n' "$green" "$reset"
printf 'reports of step 2 (blocked) and step 4 (promoted), kept in %s:\n' "$reports"
for report in 2-blocked.html 2-blocked.md 4-promoted.html 4-promoted.md; do
  printf '  %s\n' "$reports/$report"
done
