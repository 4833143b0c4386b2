package conn

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/shardgate/shardgate"
)

// TestPermissionClaimShapes: a permission claim is a list of patterns, and
// a single pattern may be given as a string, as JWT's own aud may; a claim
// of another type is refused with a message naming it, not as a malformed
// token.
func TestPermissionClaimShapes(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	a, err := NewAuthenticator(AuthConfig{Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	auth := func(extra jwt.MapClaims) (Claims, error) {
		mc := jwt.MapClaims{"sub": "alice", "exp": time.Now().Add(time.Hour).Unix()}
		for k, v := range extra {
			mc[k] = v
		}
		s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, mc).SignedString(secret)
		if err != nil {
			t.Fatal(err)
		}
		return a.Authenticate(httptest.NewRequest("GET", "/v1/ws?token="+s, nil))
	}

	c, err := auth(jwt.MapClaims{"send": "bob", "subscribe": "news/*", "publish": []string{"room/1", "room/2"}})
	if err != nil {
		t.Fatalf("single-string claims refused: %v", err)
	}
	if c.SendAny || !slices.Equal(c.Send, []string{"bob"}) || !slices.Equal(c.Subscribe, []string{"news/*"}) ||
		!slices.Equal(c.Publish, []string{"room/1", "room/2"}) {
		t.Errorf("claims = %+v", c)
	}
	if !c.CanSend("bob") || c.CanSend("carol") || !c.CanSubscribe("news/a") {
		t.Errorf("permissions of %+v are wrong", c)
	}

	if c, err := auth(jwt.MapClaims{"send": []string{}}); err != nil || c.SendAny || c.CanSend("bob") {
		t.Errorf("empty send claim: %+v, %v; want nobody", c, err)
	}
	if c, err := auth(nil); err != nil || !c.SendAny {
		t.Errorf("absent send claim: %+v, %v; want anyone", c, err)
	}

	for name, bad := range map[string]jwt.MapClaims{
		"send":      {"send": 5},
		"subscribe": {"subscribe": []any{"news", 7}},
		"publish":   {"publish": map[string]any{"a": 1}},
	} {
		_, err := auth(bad)
		if msg := shardgate.UserMessage(err); err == nil || !strings.Contains(msg, name) || strings.Contains(msg, "malformed") {
			t.Errorf("%s claim %v: got %v, want a refusal naming the claim", name, bad[name], err)
		}
	}
}

// A registered claim of the wrong JSON type is refused with a message that
// names it: sub must be a string, exp, nbf and iat numbers (RFC 7519). The
// jwt library alone called a numeric sub a malformed token and took an exp
// written as a string.
func TestRegisteredClaimTypes(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	a, err := NewAuthenticator(AuthConfig{Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	exp := time.Now().Add(time.Hour).Unix()
	for _, tc := range []struct {
		name   string
		claims jwt.MapClaims
		want   string // "" when the token is good
	}{
		{"good", jwt.MapClaims{"sub": "alice", "exp": exp}, ""},
		{"negative iat", jwt.MapClaims{"sub": "alice", "exp": exp, "iat": -1}, ""},
		{"numeric sub", jwt.MapClaims{"sub": 5, "exp": exp}, `"sub" must be a string`},
		{"list sub", jwt.MapClaims{"sub": []string{"alice"}, "exp": exp}, `"sub" must be a string`},
		{"exp as a string", jwt.MapClaims{"sub": "alice", "exp": fmt.Sprint(exp)}, `"exp" must be a number`},
		{"nbf as a string", jwt.MapClaims{"sub": "alice", "exp": exp, "nbf": "0"}, `"nbf" must be a number`},
		{"iat as null", jwt.MapClaims{"sub": "alice", "exp": exp, "iat": nil}, `"iat" must be a number`},
		{"sub with a lone surrogate", jwt.MapClaims{"sub": json.RawMessage(`"x\ud800"`), "exp": exp}, `"sub" must be valid Unicode`},
		{"pattern with a lone surrogate", jwt.MapClaims{"sub": "alice", "exp": exp, "send": json.RawMessage(`["\udc00*"]`)}, `"send" must be valid Unicode`},
		{"exp of 2^63", jwt.MapClaims{"sub": "alice", "exp": json.RawMessage(`9223372036854775807`)}, `"exp" must be a time between the years 1 and 9999`},
		{"exp of 1e300", jwt.MapClaims{"sub": "alice", "exp": json.RawMessage(`1e300`)}, `"exp" must be a time between`},
		{"nbf far before 1970", jwt.MapClaims{"sub": "alice", "exp": exp, "nbf": json.RawMessage(`-1e19`)}, `"nbf" must be a time between`},
		{"exp in the year 9999", jwt.MapClaims{"sub": "alice", "exp": json.RawMessage(`253402300799`)}, ""},
		{"sub with a surrogate pair", jwt.MapClaims{"sub": json.RawMessage(`"x\ud83d\ude00"`), "exp": exp}, ""},
	} {
		s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, tc.claims).SignedString(secret)
		if err != nil {
			t.Fatal(err)
		}
		_, err = a.Authenticate(httptest.NewRequest("GET", "/v1/ws?token="+s, nil))
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: refused: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(shardgate.UserMessage(err), tc.want) || strings.Contains(shardgate.UserMessage(err), "malformed")):
			t.Errorf("%s: got %v, want a refusal saying %s", tc.name, err, tc.want)
		}
	}
}
