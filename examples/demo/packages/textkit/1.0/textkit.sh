# textkit 1.0: small text helpers for POSIX shell scripts.
# Source it (`. /usr/local/lib/node_modules/textkit/textkit.sh`) and call the functions; each prints its result.

export TEXTKIT_VERSION=1.0

# slugify TEXT: lower-case, with every run of other characters turned into one "-".
slugify() {
  printf '%s\n' "$1" | tr '[:upper:]' '[:lower:]' | sed -e 's/[^a-z0-9][^a-z0-9]*/-/g' -e 's/^-//' -e 's/-$//'
}

# title_case TEXT: every word capitalised.
title_case() {
  printf '%s\n' "$1" | awk '{
    for (i = 1; i <= NF; i++) $i = toupper(substr($i, 1, 1)) tolower(substr($i, 2))
    print
  }'
}

# word_count TEXT: number of whitespace-separated words.
word_count() {
  printf '%s\n' "$1" | wc -w | tr -d ' '
}
