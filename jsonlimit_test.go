package shardgate

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestJSONDepth(t *testing.T) {
	cases := []struct {
		in   string
		want int
	}{
		{``, 0},
		{`1`, 0},
		{`"[[["`, 0},
		{`[]`, 1},
		{`{}`, 1},
		{`[[]]`, 2},
		{`{"a":[{"b":1}],"c":[]}`, 3},
		{`["\"[", {"\\": ["]"]}]`, 3},
		{`[[[]],[]]`, 3},
		{strings.Repeat("[", 20000) + strings.Repeat("]", 20000), 20000},
	}
	for _, tc := range cases {
		if got := JSONDepth([]byte(tc.in)); got != tc.want {
			t.Errorf("JSONDepth(%.40q) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

// FuzzJSONDepth holds JSONDepth to a decoder's view of the same document.
func FuzzJSONDepth(f *testing.F) {
	for _, s := range []string{`[]`, `{"a":[1,{"b":"]"}]}`, `"\\\""`, `[[[[]]]]`, `{"\u005b":[]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got := JSONDepth(b)
		if !json.Valid(b) {
			return
		}
		if want := decoderDepth(t, b); got != want {
			t.Fatalf("JSONDepth(%q) = %d, decoder says %d", b, got, want)
		}
	})
}

func decoderDepth(t *testing.T, b []byte) int {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber() // 1E700 is valid JSON, just not a float64
	depth, deepest := 0, 0
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return deepest
		}
		if err != nil {
			t.Fatalf("token: %v", err)
		}
		switch tok {
		case json.Delim('['), json.Delim('{'):
			depth++
			deepest = max(deepest, depth)
		case json.Delim(']'), json.Delim('}'):
			depth--
		}
	}
}
