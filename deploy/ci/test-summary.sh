#!/bin/sh
# Summary of a JUnit run from surefire's XML reports: one line per skipped test with its reason, then ONE last line
#     tests: N passed, N failed, N skipped
# (failed counts failures and errors; CI reads this line: keep its format).
#   deploy/ci/test-summary.sh [reports directory, default target/surefire-reports]
set -eu
dir=${1:-target/surefire-reports}
set -- "$dir"/TEST-*.xml
if [ ! -e "$1" ]; then
    echo "tests: 0 passed, 0 failed, 0 skipped (no surefire report in $dir)"
    exit 0
fi
awk '
function attr(line, name,    re, v) {
    re = " " name "=\"[^\"]*\""
    if (!match(line, re)) return ""
    v = substr(line, RSTART + length(name) + 3, RLENGTH - length(name) - 4)
    gsub(/&quot;/, "\"", v); gsub(/&apos;/, "\x27", v); gsub(/&lt;/, "<", v); gsub(/&gt;/, ">", v)
    gsub(/&#10;|&#13;/, " ", v); gsub(/&amp;/, "\\&", v)
    return v
}
/<testsuite[ >]/ {
    run += attr($0, "tests"); fail += attr($0, "failures") + attr($0, "errors"); skip += attr($0, "skipped")
}
/<testcase[ >]/ { test = attr($0, "classname") "." attr($0, "name") }
/<skipped[ \/>]/ {
    why = attr($0, "message")
    skipped[++n] = "skipped: " test ": " (why == "" ? "(no reason given)" : why)
}
END {
    for (i = 1; i <= n; i++) print skipped[i]
    printf "tests: %d passed, %d failed, %d skipped\n", run - fail - skip, fail, skip
}' "$@"
