package link

import (
	"bytes"
	"reflect"
	"testing"
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
	bad := []string{
		``, `null`, `{}`, `[1]`, `[{}]`, `[{"i":-1,"r":1}]`, `[{"i":1.5,"r":1}]`,
		`[{"r":1}]`, `[{"i":1,"m":"x","r":1}]`, `[{"i":1,"r":1,"e":{"kind":"x"}}]`,
		`[{"i":1,"b":{}}]`, `[{"i":18446744073709551616,"r":1}]`, `[{"i":1,"m":"x","b":}]`,
	}
	for _, in := range bad {
		if _, err := decodeFrame([]byte(in)); err == nil {
			t.Errorf("decodeFrame(%s) accepted a bad frame", in)
		}
	}
	envs, _ := decodeFrame([]byte(`[{"i":0,"m":"note"},{"i":9}]`))
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
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		envs, err := decodeFrame(data)
		if err != nil {
			return
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
		if !reflect.DeepEqual(envs, again) {
			t.Fatalf("round trip changed the frame:\n%#v\n%#v", envs, again)
		}
	})
}
