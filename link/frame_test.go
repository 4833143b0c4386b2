package link

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/shardgate/shardgate"
)

func TestDecodeFrame(t *testing.T) {
	ok := []string{
		`[]`,
		`[{"i":1,"m":"send","b":{"to":"bob"}}]`,
		`[{"i":0,"m":"note"}]`,
		`[{"i":2,"r":{"seq":3}},{"i":3,"e":{"kind":"unavailable","message":"moving"}}]`,
		`[{"i":4}]`,
	}
	for _, in := range ok {
		if _, err := decodeFrame([]byte(in)); err != nil {
			t.Errorf("decodeFrame(%s): %v", in, err)
		}
	}
	// Nothing readable at all: an error, and the reader drops the frame.
	for _, in := range []string{``, `null`, `{}`, `"x"`, `[`, `[,1]`} {
		if envs, err := decodeFrame([]byte(in)); err == nil {
			t.Errorf("decodeFrame(%s) = %+v, want an error", in, envs)
		}
	}
	// A bad envelope spoils only itself: it comes back marked, with the
	// id and method that could be salvaged.
	deep := strings.Repeat("[", 10001) + strings.Repeat("]", 10001)
	bad := []struct {
		in     string
		id     uint64
		method string
	}{
		{`[1]`, 0, ""},
		{`[{}]`, 0, ""},
		{`[{"i":-1,"r":1}]`, 0, ""},
		{`[{"i":1.5,"r":1}]`, 0, ""},
		{`[{"r":1}]`, 0, ""},
		{`[{"i":1,"m":"x","r":1}]`, 1, "x"},
		{`[{"i":1,"r":1,"e":{"kind":"x"}}]`, 1, ""},
		{`[{"i":1,"b":{}}]`, 1, ""},
		{`[{"i":18446744073709551616,"r":1}]`, 0, ""},
		{`[{"i":1,"m":"x","b":}]`, 1, "x"},
		{`[{"i":5,"m":"send","b":` + deep + `}]`, 5, "send"},
		{`[{"i":6,"r":` + deep + `}]`, 6, ""},
		{`[{"m":"send","i":7,"b":{"x":"` + strings.Repeat(`\"[`, 3) + `"}, "b":` + deep + `}]`, 7, "send"},
	}
	for _, tc := range bad {
		envs, err := decodeFrame([]byte(`[{"i":40,"r":1},` + tc.in[1:len(tc.in)-1] + `,{"i":41,"m":"after"}]`))
		if err != nil || len(envs) != 3 {
			t.Errorf("decodeFrame(%.60s): %d envelopes, %v; want 3", tc.in, len(envs), err)
			continue
		}
		if envs[0].bad != nil || envs[0].I != 40 || envs[2].bad != nil || envs[2].M != "after" {
			t.Errorf("decodeFrame(%.60s): the good neighbours were spoilt: %+v %+v", tc.in, envs[0], envs[2])
		}
		if e := envs[1]; e.bad == nil || e.I != tc.id || e.M != tc.method {
			t.Errorf("decodeFrame(%.60s) = id %d method %q bad %v; want id %d method %q, bad", tc.in, e.I, e.M, e.bad, tc.id, tc.method)
		}
	}
	// A frame cut short keeps what came before the damage.
	envs, err := decodeFrame([]byte(`[{"i":1,"r":2},{"i":2,"r":[`))
	if err != nil || len(envs) != 2 || envs[0].bad != nil || envs[1].bad == nil {
		t.Errorf("truncated frame: %+v %v", envs, err)
	}
	envs, _ = decodeFrame([]byte(`[{"i":0,"m":"note"},{"i":9}]`))
	if string(envs[0].B) != "null" || string(envs[1].R) != "null" {
		t.Errorf("absent body and result not normalised to null: %+v", envs)
	}
}

// FuzzDecodeFrame: frames come from the network, so the decoder must never
// panic, and whatever it accepts must survive re-encoding unchanged (the
// writer and the reader agree on the format).
func FuzzDecodeFrame(f *testing.F) {
	for _, s := range []string{
		`[{"i":1,"m":"send","b":{"to":"bob","data":[1,2,3]}}]`,
		`[{"i":0,"m":"note","b":null},{"i":7,"r":"x"},{"i":8,"e":{"kind":"conflict","message":"no"}}]`,
		`[{"i":1,"m":"\u00e9\ud800","b":"\ufffd"}]`,
		`[{"i":3}]`, `[]`, `[{"i":1,"r":1,"x":2}]`,
		`[{"i":1,"r":2},{"i":2,"m":"x","b":` + strings.Repeat("[", 10001) + `}]`,
		`[{"i":1,"r":2},garbage,{"i":"3","r":[}]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		all, err := decodeFrame(data)
		if err != nil {
			return
		}
		envs := make([]envelope, 0, len(all))
		for _, e := range all {
			if e.bad == nil {
				envs = append(envs, e)
			}
		}
		var buf bytes.Buffer
		buf.WriteByte('[')
		for i := range envs {
			if i > 0 {
				buf.WriteByte(',')
			}
			buf.Write(envs[i].encode(nil))
		}
		buf.WriteByte(']')
		again, err := decodeFrame(buf.Bytes())
		if err != nil {
			t.Fatalf("re-encoded frame %s rejected: %v", buf.Bytes(), err)
		}
		for _, e := range again {
			if e.bad != nil {
				t.Fatalf("re-encoded frame %s holds a bad envelope: %v", buf.Bytes(), e.bad)
			}
		}
		if !reflect.DeepEqual(envs, again) {
			t.Fatalf("round trip changed the frame:\n%#v\n%#v", envs, again)
		}
	})
}

// Bodies and results cross the link at their own size: characters that
// json.Marshal would escape for HTML are sent as they are.
func TestBodiesAreNotHTMLEscaped(t *testing.T) {
	body, err := shardgate.MarshalJSON(map[string]any{"data": json.RawMessage(`"<a&b>` + "\u2028" + `"`), "s": "<&>"})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"data":"<a&b>` + "\u2028" + `","s":"<&>"}`; string(body) != want {
		t.Fatalf("marshal = %s, want %s", body, want)
	}
}
