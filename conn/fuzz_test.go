package conn

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/shardgate/shardgate"
)

// FuzzDecodeRequest holds the frame parser to its promises on any input:
// no panic, only parse or invalid-request errors, a usable id on success,
// and an error response that is itself valid JSON echoing the id.
func FuzzDecodeRequest(f *testing.F) {
	for _, s := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"send","params":{"to":"bob","data":{}}}`,
		`{"jsonrpc":"2.0","id":"a\u0000b","method":"x"}`,
		`{"jsonrpc":"2.0","id":-1.5e3,"method":"history","params":null}`,
		`{"jsonrpc":"2.0","id":null,"method":"ack"}`,
		`[{"jsonrpc":"2.0"}]`, `{"id":{}}`, `{"jsonrpc":"2.0","id":1,"method":"send","params":{"data":[[[[[]]]]]}}`, `{"x":[[[[[[[1]]]]]]],"id":"late","method":"send"}`, `{`, ``, `"just a string"`, ` {"jsonrpc":"2.0","id":true}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		const maxDepth = 4
		req, rerr := decodeRequest(b, maxDepth)
		tooDeep := shardgate.JSONDepth(b) > maxDepth+envelopeDepth
		if tooDeep && rerr == nil {
			t.Fatalf("accepted a frame nested %d deep", shardgate.JSONDepth(b))
		}
		if rerr != nil {
			if rerr.Code != shardgate.CodeParseError && rerr.Code != shardgate.CodeInvalidRequest {
				t.Fatalf("code %d", rerr.Code)
			}
			if !json.Valid(b) && !tooDeep && rerr.Code != shardgate.CodeParseError {
				t.Fatalf("invalid JSON answered with %d", rerr.Code)
			}
		} else {
			if req.Method == "" {
				t.Fatal("accepted a request without method")
			}
			var id any
			if err := json.Unmarshal(req.ID, &id); err != nil {
				t.Fatalf("id %q: %v", req.ID, err)
			}
			switch id.(type) {
			case string, float64:
			default:
				t.Fatalf("accepted id %q", req.ID)
			}
		}
		out, err := encodeResponse(req.ID, nil, rerr)
		if err != nil || !json.Valid(out) {
			t.Fatalf("response %q: %v", out, err)
		}
		if !bytes.Contains(out, append([]byte(`"id":`), req.ID...)) {
			t.Fatalf("response %s does not echo id %s", out, req.ID)
		}
	})
}

// FuzzAuthenticate feeds arbitrary token strings through both places a
// token can come from. Whatever is accepted must be a token this secret
// signed with HS256, unexpired, for a valid key; every refusal must be an
// unauthorized error with a message.
func FuzzAuthenticate(f *testing.F) {
	valid, _ := MintToken(testSecret, "alice", time.Hour, nil, []string{"a/*"}, nil)
	f.Add(valid)
	for _, tok := range badTokens(f) {
		f.Add(tok)
	}
	f.Add("a.b.c")
	f.Add("eyJhbGciOiJIUzI1NiJ9..")
	a, err := NewAuthenticator(AuthConfig{Secret: testSecret})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, token string) {
		byHeader, _ := http.NewRequest(http.MethodGet, "/v1/ws", nil)
		byHeader.Header.Set("Authorization", "Bearer "+token)
		byQuery, _ := http.NewRequest(http.MethodGet, "/v1/ws?token="+url.QueryEscape(token), nil)
		for _, r := range []*http.Request{byHeader, byQuery} {
			c, err := a.Authenticate(r)
			if err != nil {
				var se *shardgate.Error
				if !errors.As(err, &se) || se.Kind != shardgate.KindUnauthorized || se.Message == "" {
					t.Fatalf("refusal %v is not an unauthorized error with a message", err)
				}
				continue
			}
			if shardgate.ValidKey(c.Key) != nil || !c.Expires.After(time.Now()) || len(token) > 4096 {
				t.Fatalf("accepted %q as %+v", token, c)
			}
			_, err = jwt.Parse(token, func(*jwt.Token) (any, error) { return testSecret, nil },
				jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired())
			if err != nil {
				t.Fatalf("accepted %q, which does not verify: %v", token, err)
			}
		}
	})
}

// FuzzUnknownMember holds the params scanner to encoding/json on any valid
// JSON object: it reports an unknown member exactly when decoding into a
// map finds a member that matches none of the known names (in any case).
func FuzzUnknownMember(f *testing.F) {
	for _, s := range []string{
		`{"to":"bob","data":{"a":[1,"]}"]},"id":"x"}`, `{}`, ` { "TO" : 1 , "x\"y" : [ {}, [] ] } `,
		`{"\u0064ata":null,"extra":true}`, `{"data":"\\","id":-1.5e3}`, `{"to":"a","to":"b"}`, `[1]`, `"s"`,
	} {
		f.Add([]byte(s))
	}
	known := namesOf(&struct {
		To   string          `json:"to"`
		Data json.RawMessage `json:"data"`
		ID   string          `json:"id"`
	}{})
	f.Fuzz(func(t *testing.T, b []byte) {
		if !json.Valid(b) {
			return // params are always valid JSON by the time they are checked
		}
		name, found := unknownMember(b, known)
		var m map[string]json.RawMessage
		if json.Unmarshal(b, &m) != nil {
			if found {
				t.Fatalf("%s is not an object, yet member %q was reported", b, name)
			}
			return
		}
		want := false
		for k := range m {
			if !matchesAny([]byte(k), known) {
				want = true
			}
		}
		if found != want {
			t.Fatalf("%s: unknown member reported %v (%q), encoding/json says %v", b, found, name, want)
		}
		if found && matchesAny([]byte(name), known) {
			t.Fatalf("%s: reported %q, which is known", b, name)
		}
	})
}
