package conn

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/golang-jwt/jwt/v5"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/client"
	"github.com/shardgate/shardgate/internal/testutil"
)

// signed builds a token with arbitrary claims and method.
func signed(t testing.TB, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// algNone builds an unsigned token, as an attacker would.
func algNone(claims map[string]any) string {
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return enc(map[string]string{"alg": "none", "typ": "JWT"}) + "." + enc(claims) + "."
}

func badTokens(t testing.TB) map[string]string {
	exp := time.Now().Add(time.Hour).Unix()
	return map[string]string{
		"forged":      signed(t, jwt.SigningMethodHS256, []byte("another-secret"), jwt.MapClaims{"sub": "alice", "exp": exp}),
		"expired":     signed(t, jwt.SigningMethodHS256, testSecret, jwt.MapClaims{"sub": "alice", "exp": time.Now().Add(-time.Minute).Unix()}),
		"no exp":      signed(t, jwt.SigningMethodHS256, testSecret, jwt.MapClaims{"sub": "alice"}),
		"alg none":    algNone(map[string]any{"sub": "alice", "exp": exp}),
		"HS512":       signed(t, jwt.SigningMethodHS512, testSecret, jwt.MapClaims{"sub": "alice", "exp": exp}),
		"empty sub":   signed(t, jwt.SigningMethodHS256, testSecret, jwt.MapClaims{"sub": "", "exp": exp}),
		"bad pattern": signed(t, jwt.SigningMethodHS256, testSecret, jwt.MapClaims{"sub": "alice", "exp": exp, "send": []string{"a["}}),
		"garbage":     "not-a-token",
		"too long":    signed(t, jwt.SigningMethodHS256, testSecret, jwt.MapClaims{"sub": "alice", "exp": exp, "pad": strings.Repeat("x", 5000)}),
	}
}

func TestBadTokensRefusedWith401(t *testing.T) {
	h := newHarness(t, nil)
	cases := badTokens(t)
	cases["missing"] = ""
	for name, tok := range cases {
		_, err := client.Dial(ctxT(t), h.url, client.Options{Token: tok})
		if !errors.Is(err, shardgate.ErrUnauthorized) {
			t.Errorf("%s: dial error %v, want unauthorized", name, err)
		}
		// The same token in the query string, checked over plain HTTP.
		resp, err := http.Get(h.hs.URL + "/v1/ws?token=" + url.QueryEscape(tok))
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || body.Error.Code != "unauthorized" || body.Error.Message == "" {
			t.Errorf("%s: HTTP %d %+v, want 401 with a message", name, resp.StatusCode, body)
		}
	}
}

// A plain request with a good token (a browser's address bar, curl) is
// told in one sentence that this is a WebSocket endpoint, not in the
// library's terms of headers.
func TestPlainRequestToldItIsAWebSocket(t *testing.T) {
	h := newHarness(t, nil)
	resp, err := http.Get(h.hs.URL + "/v1/ws?token=" + url.QueryEscape(h.token(t, "alice")))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body.Error.Message, "WebSocket endpoint") || strings.Contains(body.Error.Message, "token not found") {
		t.Errorf("HTTP %d %+v, want 400 saying this is a WebSocket endpoint", resp.StatusCode, body)
	}
}

func TestTokenInQueryAccepted(t *testing.T) {
	h := newHarness(t, nil)
	u := h.url + "?token=" + url.QueryEscape(h.token(t, "alice"))
	c, err := client.Dial(ctxT(t), u, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Welcome().Key != "alice" {
		t.Fatalf("welcome %+v", c.Welcome())
	}
}

func TestInsecureMode(t *testing.T) {
	h := newHarness(t, func(_ *Config, a *AuthConfig) { a.Secret = nil; a.Insecure = true })
	c := h.dial(t, "dev", client.Options{User: "dev"})
	if err := c.Subscribe(ctxT(t), "any/thing/deep"); err != nil {
		t.Fatalf("insecure identities may do anything: %v", err)
	}
	for _, opts := range []client.Options{{}, {User: strings.Repeat("u", 300)}, {Token: h.token(t, "x")}} {
		if _, err := client.Dial(ctxT(t), h.url, opts); !errors.Is(err, shardgate.ErrUnauthorized) {
			t.Errorf("%+v: %v, want unauthorized", opts, err)
		}
	}
}

func TestSinceValidated(t *testing.T) {
	h := newHarness(t, nil)
	for _, v := range []string{"-1", "abc", "1.5", ""} {
		_, err := client.Dial(ctxT(t), h.url+"?since="+v, client.Options{Token: h.token(t, "a")})
		if !errors.Is(err, shardgate.ErrInvalid) || !strings.Contains(err.Error(), "since") {
			t.Errorf("since=%q: %v, want a 400 naming since", v, err)
		}
	}
}

func TestTokenExpiryClosesConnection(t *testing.T) {
	var skew atomic.Int64 // how far the node's clock is ahead
	h := newHarness(t, func(_ *Config, a *AuthConfig) {
		a.Now = func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	})
	c := h.dial(t, "alice", client.Options{})
	skew.Store(int64(2 * time.Hour))
	_, err := c.Presence(ctxT(t), "alice")
	var re *client.RPCError
	if !errors.As(err, &re) || re.Code != 1001 {
		t.Fatalf("call after expiry: %v, want 1001", err)
	}
	if code := waitClosed(t, c); code != closeUnauthorized {
		t.Fatalf("close code %d, want 4001", code)
	}
}

func TestClaimsGlobs(t *testing.T) {
	c := Claims{Send: []string{"bob", "team-?", "room/*"}, Subscribe: []string{"news/[a-c]*"}}
	for _, tc := range []struct {
		ok   bool
		what string
	}{
		{c.CanSend("bob"), "bob"},
		{c.CanSend("team-1"), "team-1"},
		{c.CanSend("room/42"), "room/42"},
		{!c.CanSend("room/42/x"), "not room/42/x: * stops at /"},
		{!c.CanSend("bobby"), "not bobby"},
		{c.CanSubscribe("news/alpha"), "news/alpha"},
		{!c.CanSubscribe("news/zeta"), "not news/zeta"},
		{!c.CanPublish("news/alpha"), "no publish claim: nothing"},
		{Claims{SendAny: true}.CanSend("anyone"), "absent send claim: anyone"},
		{!Claims{Send: []string{}}.CanSend("anyone"), "empty send claim: nobody"},
	} {
		if !tc.ok {
			t.Errorf("%s", tc.what)
		}
	}
}

func TestMintTokenRoundTrip(t *testing.T) {
	a, err := NewAuthenticator(AuthConfig{Secret: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	tok := mustToken(t, "alice", []string{}, []string{"a/*"}, nil)
	r, _ := http.NewRequest(http.MethodGet, "/v1/ws", nil)
	r.Header.Set("Authorization", "bearer "+tok)
	c, err := a.Authenticate(r)
	if err != nil {
		t.Fatal(err)
	}
	if c.Key != "alice" || c.SendAny || c.CanSend("bob") || !c.CanSubscribe("a/b") || c.Expires.IsZero() {
		t.Fatalf("claims %+v", c)
	}
	if _, err := MintToken(testSecret, "", time.Hour, nil, nil, nil); err == nil {
		t.Fatal("minted a token for an empty key")
	}
	if _, err := NewAuthenticator(AuthConfig{}); err == nil {
		t.Fatal("an authenticator without secret in secure mode")
	}
}

func TestOriginChecked(t *testing.T) {
	for _, tc := range []struct {
		allowed []string
		origin  string // "same" is the listener's own origin
		ok      bool
	}{
		{nil, "", true},
		{nil, "same", true},
		{nil, "http://evil.example", false},
		{[]string{"https://app.example"}, "https://app.example", true},
		{[]string{"https://app.example"}, "https://APP.example", true},
		{[]string{"https://app.example"}, "http://app.example", false},
		{[]string{"https://app.example"}, "https://evil.example", false},
		{[]string{"https://app.example"}, "https://app.example:8443", false},
		{[]string{"https://app.example"}, "same", true},
		{[]string{"https://*.example"}, "https://a.example", true},
		{[]string{"https://*.example"}, "https://a.b.example", true},
		{[]string{"https://*.example"}, "https://example", false},
		{[]string{"https://*.example"}, "https://evilexample", false},
		{[]string{"https://*.example"}, "https://a.example.evil", false},
		{[]string{"http://*.example:8000"}, "http://a.example:8000", true},
		{[]string{"http://*.example:8000"}, "http://a.example", false},
		{[]string{"https://x.example", "https://*.example"}, "https://y.example", true},
		{[]string{"*"}, "https://anything.example", true},
		{[]string{"https://app.example"}, "null", false},
	} {
		h := newHarness(t, func(c *Config, _ *AuthConfig) { c.AllowedOrigins = tc.allowed })
		origin := tc.origin
		if origin == "same" {
			origin = h.hs.URL
		}
		hdr := http.Header{"Authorization": {"Bearer " + h.token(t, "alice")}}
		if origin != "" {
			hdr.Set("Origin", origin)
		}
		// A WebSocket upgrade: refused with close 4003 and a reason.
		ws, _, err := websocket.DefaultDialer.Dial(h.url, hdr)
		if err != nil {
			t.Fatalf("%v from %q: upgrade failed: %v", tc.allowed, origin, err)
		}
		ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, data, err := ws.ReadMessage()
		ws.Close()
		var ce *websocket.CloseError
		switch {
		case tc.ok && err != nil:
			t.Errorf("%v from %q: %v", tc.allowed, origin, err)
		case tc.ok && !strings.Contains(string(data), `"welcome"`):
			t.Errorf("%v from %q: first frame %s", tc.allowed, origin, data)
		case !tc.ok && (!errors.As(err, &ce) || ce.Code != closeForbidden || !strings.Contains(ce.Text, origin)):
			t.Errorf("%v from %q: %v, want close 4003 naming the origin", tc.allowed, origin, err)
		}
		// A plain request: 403 with a JSON body.
		req, _ := http.NewRequest(http.MethodGet, h.hs.URL+"/v1/ws", nil)
		req.Header = hdr
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if !tc.ok && resp.StatusCode != http.StatusForbidden {
			t.Errorf("%v from %q over plain HTTP: %d, want 403", tc.allowed, origin, resp.StatusCode)
		}
	}
}

func TestOriginPatternsValidated(t *testing.T) {
	for _, bad := range [][]string{
		{"app.example"}, {"https://"}, {"https://app.example/path"}, {"https://a.*.example"},
		{"https://*."}, {"https://app.example?x=1"}, {"https://u@app.example"},
	} {
		c := testConfig()
		c.AllowedOrigins = bad
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), bad[0]) {
			t.Errorf("%q: %v, want an error naming it", bad, err)
		}
	}
	c := testConfig()
	c.AllowedOrigins = []string{"https://app.example", " https://*.example ", "http://127.0.0.1:8000", "*", ""}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestOriginRefusalLogged(t *testing.T) {
	var buf testutil.Buffer
	h := newHarness(t, func(c *Config, _ *AuthConfig) {
		c.AllowedOrigins = []string{"https://app.example"}
		c.Logger = slog.New(slog.NewTextHandler(&buf, nil))
	})
	resp, err := http.DefaultClient.Do(&http.Request{Method: http.MethodGet, URL: mustURL(t, h.hs.URL+"/v1/ws"),
		Header: http.Header{"Origin": {"https://evil.example"}}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if !strings.Contains(buf.String(), "origin=https://evil.example") {
		t.Fatalf("refusal not logged with its origin: %q", buf.String())
	}
}

func TestBadTokenOnUpgradeClosesWith4001(t *testing.T) {
	h := newHarness(t, nil)
	for name, tok := range badTokens(t) {
		ws, _, err := websocket.DefaultDialer.Dial(h.url+"?token="+url.QueryEscape(tok), nil)
		if err != nil {
			t.Fatalf("%s: the upgrade should succeed and then close: %v", name, err)
		}
		ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, _, err = ws.ReadMessage()
		ws.Close()
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != closeUnauthorized || ce.Text == "" {
			t.Errorf("%s: %v, want close 4001 with a reason", name, err)
		}
	}
}

func mustURL(t testing.TB, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
