package integration

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/shardgate/shardgate/app"
	"github.com/shardgate/shardgate/conn"
)

const (
	docAdminToken = "docs-admin-token"
	docAuthSecret = "docs-secret-0123456789abcdef0123"
)

// TestProtocolDocument plays every example of docs/PROTOCOL.md against a
// real two-node cluster (sessions connect to n1), in the order of the document, so the document cannot drift
// from the code. Blocks marked `session NAME [user=KEY] [token=T] [since=S]
// [origin=O]` are WebSocket conversations (one connection per NAME, kept
// across blocks): `→ TEXT` sends a frame, `→ (a frame of N bytes)` a send
// request of N bytes, `← JSON` expects the next frame (a member of a batch
// counts as a frame), `✕ CODE REASON` expects the close. Blocks marked
// `http public` or `http admin` are a request (line, headers, body) and,
// from the `HTTP/1.1 STATUS` line on, the expected status, headers and JSON
// body. In expected JSON the string "…" matches any value; objects must
// have exactly the keys shown.
func TestProtocolDocument(t *testing.T) {
	t.Parallel()
	blocks := docBlocks(t, "../../docs/PROTOCOL.md")
	c := newCluster(t, 2, func(cfg *app.Config) {
		cfg.AuthSecret = docAuthSecret
		cfg.Insecure = false // a node never takes both; `user=` sessions get a minted token
		cfg.AdminToken = docAdminToken
		cfg.Partitions = 271
	})
	node := c.node("n1")
	d := &docRun{t: t, wsURL: node.WSURL(), public: node.PublicURL(), admin: node.AdminURL(), sessions: map[string]*docSession{}}
	defer d.closeAll()
	ran := 0
	for _, b := range blocks {
		switch {
		case strings.HasPrefix(b.info, "session "):
			d.session(b)
		case b.info == "http public" || b.info == "http admin":
			d.http(b)
		default:
			continue
		}
		ran++
	}
	if ran < 25 {
		t.Fatalf("only %d examples found in the document: is the parser still reading it?", ran)
	}
	t.Logf("%d examples played", ran)
}

type docBlock struct {
	info  string
	line  int // of the opening fence
	lines []string
}

func docBlocks(t *testing.T, path string) []docBlock {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []docBlock
	var cur *docBlock
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case cur == nil && strings.HasPrefix(line, "```"):
			cur = &docBlock{info: strings.TrimSpace(strings.TrimPrefix(line, "```")), line: n}
		case cur != nil && line == "```":
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			cur.lines = append(cur.lines, line)
		}
	}
	if cur != nil {
		t.Fatalf("%s:%d: unclosed code block", path, cur.line)
	}
	return out
}

type docRun struct {
	t                    *testing.T
	wsURL, public, admin string
	sessions             map[string]*docSession
}

type docSession struct {
	ws      *websocket.Conn
	pending []json.RawMessage // frames of a batch not yet matched
}

func (d *docRun) closeAll() {
	for _, s := range d.sessions {
		s.ws.Close()
	}
}

func (d *docRun) fail(b docBlock, i int, format string, args ...any) {
	d.t.Helper()
	d.t.Fatalf("docs/PROTOCOL.md:%d: %s", b.line+1+i, fmt.Sprintf(format, args...))
}

// session plays one conversation block.
func (d *docRun) session(b docBlock) {
	fields := strings.Fields(b.info)
	name := fields[1]
	s := d.sessions[name]
	if s == nil {
		q := url.Values{}
		hdr := http.Header{}
		user := name
		for _, kv := range fields[2:] {
			k, v, _ := strings.Cut(kv, "=")
			switch k {
			case "user":
				user = v
			case "token", "since":
				q.Set(k, v)
			case "origin":
				hdr.Set("Origin", v)
			default:
				d.fail(b, -1, "unknown session option %q", kv)
			}
		}
		if !q.Has("token") {
			any := []string{"*", "*/*", "*/*/*"}
			tok, err := conn.MintToken([]byte(docAuthSecret), user, time.Hour, nil, any, any)
			if err != nil {
				d.fail(b, -1, "session %s: mint token: %v", name, err)
			}
			q.Set("token", tok)
		}
		ws, _, err := websocket.DefaultDialer.Dial(d.wsURL+"?"+q.Encode(), hdr)
		if err != nil {
			d.fail(b, -1, "session %s: dial: %v", name, err)
		}
		s = &docSession{ws: ws}
		d.sessions[name] = s
	}
	for i := 0; i < len(b.lines); i++ {
		line := b.lines[i]
		switch {
		case strings.TrimSpace(line) == "":
		case strings.HasPrefix(line, "→ "):
			text := strings.TrimPrefix(line, "→ ")
			if n, ok := strings.CutPrefix(text, "(a frame of "); ok {
				size, err := strconv.Atoi(strings.TrimSuffix(n, " bytes)"))
				if err != nil {
					d.fail(b, i, "bad frame size in %q", line)
				}
				head, tail := `{"jsonrpc":"2.0","id":1,"method":"send","params":{"to":"bob","data":"`, `"}}`
				text = head + strings.Repeat("x", size-len(head)-len(tail)) + tail
			}
			if err := s.ws.WriteMessage(websocket.TextMessage, []byte(text)); err != nil {
				d.fail(b, i, "send: %v", err)
			}
		case strings.HasPrefix(line, "← "):
			text := strings.TrimPrefix(line, "← ")
			for !json.Valid([]byte(text)) && i+1 < len(b.lines) {
				i++
				text += "\n" + b.lines[i]
			}
			var want any
			if err := json.Unmarshal([]byte(text), &want); err != nil {
				d.fail(b, i, "expected frame is not JSON: %v", err)
			}
			got := s.next(d, b, i)
			var have any
			json.Unmarshal(got, &have)
			if err := docMatch("", want, have); err != nil {
				d.fail(b, i, "%v\n  want %s\n  got  %s", err, text, got)
			}
		case strings.HasPrefix(line, "✕ "):
			code, reason, _ := strings.Cut(strings.TrimPrefix(line, "✕ "), " ")
			s.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
			var err error
			for err == nil {
				_, _, err = s.ws.ReadMessage()
			}
			var ce *websocket.CloseError
			if !errors.As(err, &ce) || strconv.Itoa(ce.Code) != code || ce.Text != reason {
				d.fail(b, i, "want close %s %q, got %v", code, reason, err)
			}
		default:
			d.fail(b, i, "a session line starts with →, ← or ✕: %q", line)
		}
	}
}

// next returns the next frame (or member of a batch) within 15 s (a moved
// hint waits for the shard move).
func (s *docSession) next(d *docRun, b docBlock, i int) json.RawMessage {
	if len(s.pending) == 0 {
		s.ws.SetReadDeadline(time.Now().Add(15 * time.Second))
		_, data, err := s.ws.ReadMessage()
		if err != nil {
			d.fail(b, i, "waiting for a frame: %v", err)
		}
		if t := strings.TrimSpace(string(data)); strings.HasPrefix(t, "[") {
			if err := json.Unmarshal(data, &s.pending); err != nil {
				d.fail(b, i, "bad batch %s", data)
			}
		} else {
			s.pending = []json.RawMessage{data}
		}
	}
	f := s.pending[0]
	s.pending = s.pending[1:]
	return f
}

// http plays one request block.
func (d *docRun) http(b docBlock) {
	base := d.public
	if b.info == "http admin" {
		base = d.admin
	}
	i := 0
	method, path, ok := strings.Cut(b.lines[0], " ")
	if !ok {
		d.fail(b, 0, "request line %q", b.lines[0])
	}
	req, err := http.NewRequest(method, base+path, nil)
	if err != nil {
		d.fail(b, 0, "%v", err)
	}
	for i = 1; i < len(b.lines) && b.lines[i] != ""; i++ {
		k, v, _ := strings.Cut(b.lines[i], ": ")
		req.Header.Set(k, strings.ReplaceAll(v, "$ADMIN_TOKEN", docAdminToken))
	}
	var body []string
	for ; i < len(b.lines) && !strings.HasPrefix(b.lines[i], "HTTP/1.1 "); i++ {
		body = append(body, b.lines[i])
	}
	if i == len(b.lines) {
		d.fail(b, i, "no HTTP/1.1 status line")
	}
	if reqBody := strings.TrimSpace(strings.Join(body, "\n")); reqBody != "" {
		req.Body = io.NopCloser(strings.NewReader(reqBody))
		req.Header.Set("Content-Type", "application/json")
	}
	status := strings.Fields(b.lines[i])[1]
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		d.fail(b, 0, "%v", err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strconv.Itoa(resp.StatusCode) != status {
		d.fail(b, i, "status %d, want %s (body %s)", resp.StatusCode, status, got)
	}
	for i++; i < len(b.lines) && strings.Contains(b.lines[i], ": ") && !strings.HasPrefix(b.lines[i], "{"); i++ {
		k, v, _ := strings.Cut(b.lines[i], ": ")
		if resp.Header.Get(k) != v {
			d.fail(b, i, "header %s is %q, want %q", k, resp.Header.Get(k), v)
		}
	}
	text := strings.TrimSpace(strings.Join(b.lines[i:], "\n"))
	if text == "" {
		return
	}
	var want, have any
	if err := json.Unmarshal([]byte(text), &want); err != nil {
		d.fail(b, i, "expected body is not JSON: %v", err)
	}
	if err := json.Unmarshal(got, &have); err != nil {
		d.fail(b, i, "body is not JSON: %s", got)
	}
	if err := docMatch("", want, have); err != nil {
		d.fail(b, i, "%v\n  want %s\n  got  %s", err, text, got)
	}
}

// docMatch compares an expected JSON value with an actual one: "…"
// matches anything, objects must have the same keys.
func docMatch(path string, want, have any) error {
	if w, ok := want.(string); ok && w == "…" {
		return nil
	}
	switch w := want.(type) {
	case map[string]any:
		h, ok := have.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: want an object, got %v", path, have)
		}
		var keys []string
		for k := range w {
			keys = append(keys, k)
		}
		for k := range h {
			if _, ok := w[k]; !ok {
				return fmt.Errorf("%s: field %q is not documented", path, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			hv, ok := h[k]
			if !ok {
				return fmt.Errorf("%s: field %q is missing", path, k)
			}
			if err := docMatch(path+"."+k, w[k], hv); err != nil {
				return err
			}
		}
		return nil
	case []any:
		h, ok := have.([]any)
		if !ok || len(h) != len(w) {
			return fmt.Errorf("%s: want %d elements, got %v", path, len(w), have)
		}
		for i := range w {
			if err := docMatch(fmt.Sprintf("%s[%d]", path, i), w[i], h[i]); err != nil {
				return err
			}
		}
		return nil
	}
	if !reflect.DeepEqual(want, have) {
		return fmt.Errorf("%s: want %v, got %v", path, want, have)
	}
	return nil
}
