# report.sh: renders the team's weekly status reports.
# Text handling comes from textkit, which the CI image installs at /usr/local/lib/node_modules/textkit.

# shellcheck source=/dev/null # installed in the image, not part of the project
. "${TEXTKIT:-/usr/local/lib/node_modules/textkit/textkit.sh}"

REPORT_CACHE=${REPORT_CACHE:-/tmp/report-cache}

# report_slug TITLE: the report's identifier, words joined by "-" ("weekly-status").
report_slug() {
  slugify "$1"
}

# report_heading TITLE: the heading line, every word capitalised ("The Art Of War").
report_heading() {
  title_case "$1"
}

# report_summary BODY: the closing line, "N words".
report_summary() {
  count=$(word_count "$1")
  if [ "$count" = 1 ]; then
    echo "1 word"
  else
    echo "$count words"
  fi
}

# report_html_title TITLE: the heading as HTML, with the title escaped.
report_html_title() {
  printf '<h1>%s</h1>\n' "$(printf '%s' "$1" | sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e 's/>/\&gt;/g')"
}

# report_render TITLE BODY: writes the report into the cache and prints its path.
report_render() {
  mkdir -p "$REPORT_CACHE"
  path="$REPORT_CACHE/$(report_slug "$1").txt"
  {
    report_heading "$1"
    echo
    printf '%s\n' "$2"
    echo
    report_summary "$2"
  } >"$path"
  printf '%s\n' "$path"
}

# report_cache_size: how many reports the cache holds.
report_cache_size() {
  find "$REPORT_CACHE" -type f 2>/dev/null | wc -l | tr -d ' '
}
