package ctl

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sync"
)

// safeBuffer is a bytes.Buffer for output written by one goroutine and
// read by another.
type safeBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *safeBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *safeBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }

// decodeStrict decodes one JSON value and refuses fields v does not name:
// the --json shapes tests pin.
func decodeStrict(s string, v any) error {
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

func fmtSscan(s string, n *int) (int, error) { return fmt.Sscan(s, n) }
