package ctl

import (
	"bytes"
	"encoding/json"
	"fmt"
)

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }

// decodeStrict decodes one JSON value and refuses fields v does not name:
// the --json shapes tests pin.
func decodeStrict(s string, v any) error {
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

func fmtSscan(s string, n *int) (int, error) { return fmt.Sscan(s, n) }
