package shardgate

import (
	"encoding/json"
	"testing"
	"unicode/utf8"
)

func TestHasLoneSurrogate(t *testing.T) {
	tests := []struct {
		json string
		lone bool
	}{
		{`"plain"`, false},
		{`"\ud800"`, true},
		{`"x\udc00"`, true},
		{`"\uD83D\uDE00"`, false}, // a pair: 😀
		{`"\ud83d\ude00 and \ud800"`, true},
		{`"\ud83d\u0041"`, true}, // a high half followed by no low half
		{`"\\ud800"`, false},     // an escaped backslash, then text
		{`"\\\ud800"`, true},
		{`"\u00e9\n\t\""`, false},
		{`{"to":"a","data":"\udfff"}`, true},
		{`"\ud800`, true}, // cut short; b need not be valid JSON
		{`"\ud8`, false},
	}
	for _, tc := range tests {
		if got := HasLoneSurrogate([]byte(tc.json)); got != tc.lone {
			t.Errorf("HasLoneSurrogate(%s) = %v, want %v", tc.json, got, tc.lone)
		}
	}
}

func TestLoneSurrogateMember(t *testing.T) {
	tests := []struct {
		obj, want string
	}{
		{`{"to":"x\ud800","data":1}`, "to"},
		{`{"to":"x","data":"\ud800"}`, ""},
		{`{"keys":["a","\udc00"]}`, "keys"},
		{`{"topic":"\ud83d\ude00"}`, ""},
		{`[1]`, ""},
	}
	for _, tc := range tests {
		if got := LoneSurrogateMember([]byte(tc.obj), "data"); got != tc.want {
			t.Errorf("LoneSurrogateMember(%s) = %q, want %q", tc.obj, got, tc.want)
		}
	}
}

// What encoding/json decodes to a string without U+FFFD standing in for
// an escape is exactly what HasLoneSurrogate lets through: a string that
// has a lone surrogate escape decodes to U+FFFD, one without never does
// unless it held U+FFFD itself.
func FuzzHasLoneSurrogate(f *testing.F) {
	for _, s := range []string{`"\ud800"`, `"\ud83d\ude00"`, `"\\ud800"`, `"a\u00e9"`, `"\ufffd"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var out string
		if json.Unmarshal([]byte(s), &out) != nil || !utf8.ValidString(s) {
			return
		}
		lone := HasLoneSurrogate([]byte(s))
		replaced := false
		for _, r := range out {
			if r == utf8.RuneError {
				replaced = true
			}
		}
		if lone && !replaced {
			t.Fatalf("%s: lone surrogate reported, but it decodes to %q without U+FFFD", s, out)
		}
		if !lone && replaced && !containsFFFD(s) {
			t.Fatalf("%s: no lone surrogate reported, but it decodes to %q with U+FFFD", s, out)
		}
	})
}

// containsFFFD reports whether s holds U+FFFD itself, raw or as \ufffd.
func containsFFFD(s string) bool {
	for i, r := range s {
		if r == utf8.RuneError {
			return true
		}
		if i+6 <= len(s) && (s[i:i+6] == `\ufffd` || s[i:i+6] == `\uFFFD`) {
			return true
		}
	}
	return false
}
