package observability

import (
	"regexp"
	"sort"
	"strings"
)

// PromQL words that are not metric names.
var promqlWords = map[string]bool{
	"and": true, "or": true, "unless": true, "bool": true, "offset": true,
	"by": true, "without": true, "on": true, "ignoring": true,
	"group_left": true, "group_right": true, "inf": true, "nan": true,
}

var (
	stringLit   = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'`)
	matchers    = regexp.MustCompile(`\{[^}]*\}`)
	ranges      = regexp.MustCompile(`\[[^\]]*\]`)
	labelLists  = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	numbers     = regexp.MustCompile(`\b\d+(?:\.\d+)?(?:[eE][+-]?\d+)?(?:(?:\d+|ms|[smhdwy])*)\b`)
	identifiers = regexp.MustCompile(`[A-Za-z_:][A-Za-z0-9_:]*\s*\(?`)
)

// metricNames returns the metric names a PromQL expression reads: its
// identifiers, less function calls, keywords, label names and the
// contents of strings, matchers, ranges and numbers (5m, 1e9).
func metricNames(expr string) []string {
	e := stringLit.ReplaceAllString(expr, " ")
	e = matchers.ReplaceAllString(e, " ")
	e = ranges.ReplaceAllString(e, " ")
	e = labelLists.ReplaceAllString(e, " ")
	e = numbers.ReplaceAllString(e, " ")
	seen := map[string]bool{}
	for _, tok := range identifiers.FindAllString(e, -1) {
		if strings.HasSuffix(tok, "(") {
			continue // a function or an aggregation
		}
		tok = strings.TrimSpace(tok)
		if promqlWords[strings.ToLower(tok)] {
			continue
		}
		seen[tok] = true
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
