package app

import (
	"strings"
	"testing"
	"time"
)

// Nodes compare authFingerprint to find members that would refuse the
// tokens this node accepts: it must tell every setting that changes which
// tokens pass, agree on equal settings, and never show the secret.
func TestAuthFingerprint(t *testing.T) {
	secret := strings.Repeat("s", 32)
	base := Config{AuthSecret: secret}
	tests := []struct {
		name string
		mut  func(*Config)
		same bool
	}{
		{"same settings", func(*Config) {}, true},
		{"another secret", func(c *Config) { c.AuthSecret = strings.Repeat("t", 32) }, false},
		{"an audience", func(c *Config) { c.JWTAudience = "chat" }, false},
		{"an issuer", func(c *Config) { c.JWTIssuer = "https://id.example" }, false},
		{"a max ttl", func(c *Config) { c.JWTMaxTTL = time.Hour }, false},
		{"insecure, no secret", func(c *Config) { c.AuthSecret, c.Insecure = "", true }, false},
		{"settings that do not touch tokens", func(c *Config) { c.Name, c.Partitions = "n9", 64 }, true},
	}
	want := authFingerprint(base)
	if want == "" || strings.Contains(want, secret) || strings.Contains(want, "ssss") {
		t.Fatalf("fingerprint %q: empty or shows the secret", want)
	}
	for _, tc := range tests {
		c := base
		tc.mut(&c)
		if got := authFingerprint(c); (got == want) != tc.same {
			t.Errorf("%s: fingerprint %q against %q, want same=%v", tc.name, got, want, tc.same)
		}
	}
	if got := authFingerprint(Config{Insecure: true}); got != "insecure" {
		t.Errorf("insecure node: %q", got)
	}
}
