# textkit 2.0: small text helpers for POSIX shell scripts.
# Source it (`. /usr/local/lib/node_modules/textkit/textkit.sh`) and call the functions; each prints its result.
#
# Changes since 1.0:
#   - slugify joins words with "_" by default; pass the separator as a second argument to choose.
#   - title_case follows headline style: articles, conjunctions and short prepositions stay
#     lower-case unless they are the first word.

export TEXTKIT_VERSION=2.0

# slugify TEXT [SEPARATOR]: lower-case, with every run of other characters turned into SEPARATOR
# (default "_").
slugify() {
  printf '%s\n' "$1" | tr '[:upper:]' '[:lower:]' |
    sed -e 's/[^a-z0-9][^a-z0-9]*/_/g' -e 's/^_//' -e 's/_$//' |
    sed -e "s/_/${2:-_}/g"
}

# title_case TEXT: headline style ("The Art of War").
title_case() {
  printf '%s\n' "$1" | awk '{
    for (i = 1; i <= NF; i++) {
      word = tolower($i)
      if (i > 1 && word ~ /^(a|an|and|as|at|but|by|for|in|nor|of|on|or|the|to)$/) $i = word
      else $i = toupper(substr(word, 1, 1)) substr(word, 2)
    }
    print
  }'
}

# word_count TEXT: number of whitespace-separated words.
word_count() {
  printf '%s\n' "$1" | wc -w | tr -d ' '
}
