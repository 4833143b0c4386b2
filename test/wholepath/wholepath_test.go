package wholepath

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"

	"github.com/shardgate/shardgate"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// sender is the key the fuzzer connects as.
const sender = "fuzzer"

// readLimit is conn's default frame limit: a bigger frame closes the
// connection with 1009, as it should.
const readLimit = 64 << 10

// clearCodes are the errors a client may get for bad input (docs/PROTOCOL.md).
var clearCodes = map[int]bool{
	shardgate.CodeParseError: true, shardgate.CodeInvalidRequest: true, shardgate.CodeMethodNotFound: true,
	shardgate.CodeInvalidParams: true, shardgate.CodeUnauthorized: true, shardgate.CodeRateLimited: true,
	shardgate.CodeTooLarge: true,
}

// FuzzWholePath sends one client frame at a time into a real endpoint
// whose engine forwards over a real node link to a real store, and holds
// the result to the guarantees of docs/PROTOCOL.md: a refused frame gets a clear error and stores
// nothing; an acknowledged send is stored at the next seq and reads back,
// through the link, equal to what was sent; the node link is never cut;
// the client connection survives everything but an oversized frame or a
// frame that is not UTF-8.
func FuzzWholePath(f *testing.F) {
	for _, s := range seeds() {
		f.Add([]byte(s))
	}
	r := newRig(f)
	c := dial(f, r)
	// The connection outlives each input, and is replaced when one closes
	// it: the fuzz target's own cleanup closes whichever is current.
	f.Cleanup(func() { c.ws.Close() })
	f.Fuzz(func(t *testing.T, frame []byte) {
		var claim struct {
			Method string `json:"method"`
			Params struct {
				To   string          `json:"to"`
				Data json.RawMessage `json:"data"`
				ID   string          `json:"id"`
			} `json:"params"`
		}
		_ = json.Unmarshal(frame, &claim) // only meaningful when the node accepts the frame
		to := claim.Params.To
		before := r.lastSeq(t, to)

		resp, closed := c.call(t, frame)
		if closed {
			// Only a frame over the limit (1009) or one that is not UTF-8
			// (1007, RFC 6455) may end the connection, and neither stores.
			if len(frame) <= readLimit && utf8.Valid(frame) {
				t.Fatalf("a %d-byte frame closed the connection", len(frame))
			}
			c.ws.Close()
			c = dial(t, r)
			if after := r.lastSeq(t, to); after != before {
				t.Fatalf("frame %q closed the connection and changed %q from seq %d to %d", frame, to, before, after)
			}
			return
		}
		if n := r.linkDials.Load(); n > 1 {
			t.Fatalf("the node link was dialed %d times: a frame cut it", n)
		}
		if resp.Error != nil {
			if !clearCodes[resp.Error.Code] || resp.Error.Message == "" {
				t.Fatalf("frame %q: error %+v is not a clear refusal", frame, resp.Error)
			}
			if after := r.lastSeq(t, to); after != before {
				t.Fatalf("refused frame %q changed %q from seq %d to %d", frame, to, before, after)
			}
			return
		}
		if claim.Method != "send" {
			return
		}
		var res shardgate.SendResult
		if err := json.Unmarshal(resp.Result, &res); err != nil || res.To != to || res.Seq != before+1 {
			t.Fatalf("send %q answered %s, want seq %d for %q", frame, resp.Result, before+1, to)
		}
		m := r.readBack(t, to, res.Seq)
		if m.From != sender || m.ID != claim.Params.ID || !sameJSON(m.Data, claim.Params.Data) {
			t.Fatalf("send %q read back as from %q id %q data %s", frame, m.From, m.ID, m.Data)
		}
	})
}

// client is the fuzzer's WebSocket connection.
type client struct{ ws *websocket.Conn }

type response struct {
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method"`
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func dial(tb testing.TB, r *rig) *client {
	tb.Helper()
	ws, _, err := websocket.DefaultDialer.Dial(r.wsURL, nil)
	if err != nil {
		tb.Fatalf("dial: %v", err)
	}
	c := &client{ws: ws}
	if m, _ := c.next(tb); m.Method != "welcome" {
		tb.Fatalf("first frame %+v, want welcome", m)
	}
	return c
}

// call writes frame and returns the response to it; closed reports that the
// server closed the connection instead.
func (c *client) call(tb testing.TB, frame []byte) (response, bool) {
	tb.Helper()
	_ = c.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if err := c.ws.WriteMessage(websocket.TextMessage, frame); err != nil {
		return response{}, true
	}
	for {
		m, closed := c.next(tb)
		if closed || m.Method == "" {
			return m, closed
		}
	}
}

func (c *client) next(tb testing.TB) (response, bool) {
	tb.Helper()
	_ = c.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, b, err := c.ws.ReadMessage()
	if err != nil {
		if _, ok := err.(*websocket.CloseError); ok {
			return response{}, true
		}
		tb.Fatalf("read: %v", err)
	}
	if bytes.HasPrefix(b, []byte("[")) {
		return response{Method: "batch"}, false
	}
	var m response
	if err := json.Unmarshal(b, &m); err != nil {
		tb.Fatalf("server frame %q: %v", b, err)
	}
	return m, false
}

// sameJSON compares two JSON values as values: the link re-encodes data
// (escaping <, > and &), numbers keep their text.
func sameJSON(a, b []byte) bool {
	va, ea := decode(a)
	vb, eb := decode(b)
	return ea == nil && eb == nil && reflect.DeepEqual(va, vb)
}

func decode(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	return v, err
}

func seeds() []string {
	send := func(id, to, data string) string {
		return `{"jsonrpc":"2.0","id":` + id + `,"method":"send","params":{"to":` + to + `,"data":` + data + `}}`
	}
	deep := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	return []string{
		send(`1`, `"bob"`, `{"text":"hi"}`),
		send(`"a"`, `"bob"`, `"<script>&amp;</script>"`),
		send(`2`, `"b\u0000b"`, `[1,2.50,-0,1E700,"\u2028\ud800"]`),
		send(`3`, `"bob"`, deep(32)),
		send(`4`, `"bob"`, deep(33)),
		send(`5`, `"bob"`, deep(9998)),
		send(`6`, `"`+strings.Repeat("k", 257)+`"`, `1`),
		send(`7`, `"bob"`, `null`),
		`{"jsonrpc":"2.0","id":8,"method":"send","params":{"to":"bob","data":{"a":1},"id":"idem-1"}}`,
		`{"jsonrpc":"2.0","id":9,"method":"send","params":{"to":"bob","data":1,"id":"` + strings.Repeat("i", 300) + `"}}`,
		`{"jsonrpc":"2.0","id":10,"method":"history","params":{"since":0,"limit":5}}`,
		`{"jsonrpc":"2.0","id":11,"method":"publish","params":{"topic":"t","data":` + deep(40) + `}}`,
		`{"jsonrpc":"2.0","id":12,"method":"SEND","Params":{"TO":"bob","DATA":1}}`,
		`{"jsonrpc":"2.0","id":13,"method":"send","params":{"to":"bob","data":1,"to":"carol"}}`,
		`[{"jsonrpc":"2.0","id":14,"method":"send"}]`,
		`{"jsonrpc":"2.0","id":15,"method":"send","params":{"to":"bob","data":"` + "\xff\xfe" + `"}}`,
		`{`, ``, `null`,
	}
}
