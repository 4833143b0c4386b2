package conn

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TestAudienceIssuerAndMaxTTL: with --jwt-audience, --jwt-issuer and
// --jwt-max-ttl set, a token must name the audience and issuer and must
// not outlive the maximum; without them, the same tokens pass.
func TestAudienceIssuerAndMaxTTL(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	sign := func(aud, iss string, iat, exp time.Time) string {
		rc := jwt.RegisteredClaims{Subject: "alice", ExpiresAt: jwt.NewNumericDate(exp), Issuer: iss}
		if aud != "" {
			rc.Audience = jwt.ClaimStrings{aud}
		}
		if !iat.IsZero() {
			rc.IssuedAt = jwt.NewNumericDate(iat)
		}
		s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, rc).SignedString(secret)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	strict, err := NewAuthenticator(AuthConfig{Secret: secret, Audience: "chat", Issuer: "https://login.example",
		MaxTTL: time.Hour, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	lax, _ := NewAuthenticator(AuthConfig{Secret: secret, Now: func() time.Time { return now }})

	good := sign("chat", "https://login.example", now, now.Add(30*time.Minute))
	for name, tc := range map[string]struct {
		token string
		why   string // "" = accepted by the strict authenticator
	}{
		"all good":            {good, ""},
		"no iat, short":       {sign("chat", "https://login.example", time.Time{}, now.Add(time.Hour)), ""},
		"other audience":      {sign("billing", "https://login.example", now, now.Add(time.Minute)), "aud"},
		"no audience":         {sign("", "https://login.example", now, now.Add(time.Minute)), "aud"},
		"other issuer":        {sign("chat", "https://evil.example", now, now.Add(time.Minute)), "iss"},
		"exp too far":         {sign("chat", "https://login.example", time.Time{}, now.Add(48*time.Hour)), "longer"},
		"iat to exp too long": {sign("chat", "https://login.example", now.Add(-23*time.Hour), now.Add(time.Minute)), "longer"},
	} {
		t.Run(name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/v1/ws?token="+tc.token, nil)
			_, err := strict.Authenticate(r)
			switch {
			case tc.why == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.why != "" && (err == nil || !strings.Contains(err.Error(), tc.why)):
				t.Fatalf("got %v, want a refusal about %s", err, tc.why)
			}
			if _, err := lax.Authenticate(r); err != nil {
				t.Fatalf("without the policy the token is refused: %v", err)
			}
		})
	}
}
