package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"testing"
)

// pair is a small type with a binary form, for the tests.
type pair struct {
	Name string          `json:"name"`
	N    int64           `json:"n"`
	Tags []string        `json:"tags"`
	Data json.RawMessage `json:"data"`
	OK   bool            `json:"ok"`
}

func (pair) LinkTag() byte { return 7 }

func (p pair) AppendLink(dst []byte) []byte {
	dst = AppendString(dst, p.Name)
	dst = AppendVarint(dst, p.N)
	dst = AppendUvarint(dst, uint64(len(p.Tags)))
	for _, t := range p.Tags {
		dst = AppendString(dst, t)
	}
	dst = AppendBytes(dst, p.Data)
	return AppendBool(dst, p.OK)
}

func (p *pair) DecodeLink(r *Reader) {
	p.Name = r.String(64)
	p.N = r.Varint()
	if n := r.Count(16, 1); n > 0 {
		p.Tags = make([]string, n)
		for i := range p.Tags {
			p.Tags[i] = r.String(64)
		}
	}
	p.Data = r.JSON(1024)
	p.OK = r.Bool()
}

func TestDecodeBothForms(t *testing.T) {
	want := pair{Name: "a", N: math.MinInt64, Tags: []string{"x", ""}, Data: json.RawMessage(`{"k":[1]}`), OK: true}
	var got pair
	if err := Decode(Append(nil, want), &got); err != nil {
		t.Fatal(err)
	}
	if got.Name != want.Name || got.N != want.N || len(got.Tags) != 2 || string(got.Data) != string(want.Data) || !got.OK {
		t.Fatalf("binary round trip: %+v", got)
	}
	var fromJSON pair
	if err := Decode([]byte(`{"name":"b","n":3}`), &fromJSON); err != nil || fromJSON.Name != "b" {
		t.Fatalf("JSON body: %+v %v", fromJSON, err)
	}
	var other struct{ X int }
	if err := Decode(Append(nil, want), &other); !errors.Is(err, ErrNoBinaryForm) {
		t.Fatalf("binary body into a JSON-only type: %v", err)
	}
	b := Append(nil, want)
	b[1] = 8
	if err := Decode(b, &got); !errors.Is(err, ErrWrongTag) {
		t.Fatalf("wrong tag: %v", err)
	}
	if err := Decode(append(Append(nil, want), 0), &got); !errors.Is(err, ErrTrailing) {
		t.Fatalf("trailing byte: %v", err)
	}
}

// Every length and count is bounded by what remains and by its limit.
func TestReaderBounds(t *testing.T) {
	for name, tc := range map[string]struct {
		body []byte
		read func(*Reader)
		want error
	}{
		"empty":            {nil, func(r *Reader) { r.Byte() }, ErrShort},
		"string over max":  {AppendString(nil, "abcdef"), func(r *Reader) { r.String(5) }, ErrTooLong},
		"string past end":  {AppendUvarint(nil, 10), func(r *Reader) { r.String(100) }, ErrShort},
		"huge length":      {AppendUvarint(nil, math.MaxInt64), func(r *Reader) { r.Bytes(math.MaxInt) }, ErrShort},
		"count over max":   {AppendUvarint(nil, 17), func(r *Reader) { r.Count(16, 0) }, ErrTooMany},
		"count over bytes": {AppendUvarint(nil, 3), func(r *Reader) { r.Count(16, 1) }, ErrTooMany},
		"huge count":       {AppendUvarint(nil, math.MaxUint64), func(r *Reader) { r.Count(math.MaxInt, 8) }, ErrTooMany},
		"varint overflow":  {bytes.Repeat([]byte{0xff}, 11), func(r *Reader) { r.Uvarint() }, ErrOverflow},
		"int over max":     {AppendUvarint(nil, 300), func(r *Reader) { r.Int(255) }, ErrTooLong},
		"bad bool":         {[]byte{2}, func(r *Reader) { r.Bool() }, ErrBadBool},
		"bad json":         {AppendString(nil, "{"), func(r *Reader) { r.JSON(10) }, ErrBadJSON},
	} {
		r := NewReader(tc.body)
		tc.read(r)
		if !errors.Is(r.Err(), tc.want) {
			t.Errorf("%s: %v, want %v", name, r.Err(), tc.want)
		}
		r.Byte() // failures stick
		if !errors.Is(r.Finish(), tc.want) {
			t.Errorf("%s: the first failure did not stick: %v", name, r.Finish())
		}
	}
}

// FuzzDecode: no body panics the decoder or makes it allocate beyond its
// limits, and whatever it accepts survives re-encoding unchanged.
func FuzzDecode(f *testing.F) {
	f.Add(Append(nil, pair{Name: "a", N: -5, Tags: []string{"x"}, Data: json.RawMessage(`[1,{"a":"b"}]`), OK: true}))
	f.Add(Append(nil, pair{}))
	f.Add([]byte{Marker, 7, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Add([]byte(`{"name":"j","tags":["t"]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var p pair
		if err := Decode(body, &p); err != nil || !IsBinary(body) {
			return
		}
		var again pair
		if err := Decode(Append(nil, p), &again); err != nil {
			t.Fatalf("re-encoded %+v rejected: %v", p, err)
		}
		if p.Name != again.Name || p.N != again.N || len(p.Tags) != len(again.Tags) || !bytes.Equal(p.Data, again.Data) || p.OK != again.OK {
			t.Fatalf("round trip changed %+v into %+v", p, again)
		}
	})
}
