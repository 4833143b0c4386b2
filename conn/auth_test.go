package conn

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/client"
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
		origin  string
		ok      bool
	}{
		{nil, "", true},
		{nil, "http://evil.example", false}, // gorilla's same-origin default
		{[]string{"https://app.example"}, "https://app.example", true},
		{[]string{"https://app.example"}, "https://evil.example", false},
		{[]string{"*"}, "https://anything.example", true},
	} {
		h := newHarness(t, func(c *Config, _ *AuthConfig) { c.AllowedOrigins = tc.allowed })
		hdr := http.Header{"Authorization": {"Bearer " + h.token(t, "alice")}}
		if tc.origin != "" {
			hdr.Set("Origin", tc.origin)
		}
		c, err := client.Dial(ctxT(t), h.url, client.Options{Header: hdr})
		if err == nil {
			c.Close()
		}
		if tc.ok && err != nil {
			t.Errorf("%v from %q: %v", tc.allowed, tc.origin, err)
		}
		if !tc.ok && !errors.Is(err, shardgate.ErrForbidden) {
			t.Errorf("%v from %q: %v, want forbidden", tc.allowed, tc.origin, err)
		}
	}
}
