# Tests of the text handling the reports get from textkit (classname demo.textkit).

test_slugify() {
  assert_eq "hello-world" "$(report_slug 'Hello, World!')"
}

test_title_case() {
  assert_eq "The Art Of War" "$(report_heading 'the art of war')"
}

test_word_count() {
  assert_eq "3 words" "$(report_summary 'one two   three')"
}
