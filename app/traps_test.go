package app

import (
	"bytes"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestConfigurationTraps: settings that look safe and are not stop the
// node with a sentence naming the flag.
func TestConfigurationTraps(t *testing.T) {
	secret := strings.Repeat("s", 32)
	token := strings.Repeat("t", 16)
	for name, tc := range map[string]struct {
		mut  func(*Config)
		want string // "" = valid
	}{
		"insecure with auth secret": {func(c *Config) { c.Insecure, c.AuthSecret = true, secret }, "--insecure and --auth-secret"},
		"short auth secret":         {func(c *Config) { c.Insecure, c.AuthSecret, c.WSAddr = false, secret[:31], "0.0.0.0:0" }, "--auth-secret is 31 bytes"},
		"short admin token":         {func(c *Config) { c.AdminToken, c.AdminAddr = "x", "0.0.0.0:0" }, "--admin-token is 1 bytes"},
		// On loopback (development, tests) short secrets only warn.
		"short secrets on loopback": {func(c *Config) { c.Insecure, c.AuthSecret, c.AdminToken = false, "secret", "token" }, ""},
		"negative max ttl":          {func(c *Config) { c.Insecure, c.AuthSecret, c.JWTMaxTTL = false, secret, -time.Second }, "--jwt-max-ttl"},
		"jwt policy without secret": {func(c *Config) { c.JWTAudience = "chat" }, "need --auth-secret"},
		"tls cert without key":      {func(c *Config) { c.TLSCert = "c.pem" }, "--tls-cert and --tls-key"},
		"tls without cluster key":   {func(c *Config) { c.TLSCert, c.TLSKey = "c.pem", "k.pem" }, "--tls-cert needs --cluster-key"},
		"link files incomplete":     {func(c *Config) { c.LinkTLSCert = "c.pem" }, "--link-tls-cert, --link-tls-key and --link-tls-ca"},
		"minimum lengths":           {func(c *Config) { c.Insecure, c.AuthSecret, c.AdminToken = false, secret, token }, ""},
		"jwt policy": {func(c *Config) {
			c.Insecure, c.AuthSecret, c.JWTAudience, c.JWTMaxTTL = false, secret, "chat", time.Hour
		}, ""},
		"insecure alone": {func(c *Config) {}, ""},
	} {
		t.Run(name, func(t *testing.T) {
			c := DefaultConfig()
			c.Name, c.Insecure = "n1", true
			tc.mut(&c)
			c.fill()
			err := c.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("got %v, want an error naming %q", err, tc.want)
			}
		})
	}
}

// TestInsecureOffLoopbackWarns: --insecure on a network address starts,
// but says so loudly; on loopback it says nothing.
func TestInsecureOffLoopbackWarns(t *testing.T) {
	for _, tc := range []struct {
		wsAddr string
		warn   bool
	}{{"0.0.0.0:0", true}, {"127.0.0.1:0", false}} {
		var logs bytes.Buffer
		s := startNode(t, func(c *Config) {
			c.Name = "w" + strings.NewReplacer(".", "", ":", "").Replace(tc.wsAddr)
			c.DataDir = filepath.Join(t.TempDir(), c.Name)
			c.WSAddr = tc.wsAddr
			c.AdminToken = "0123456789abcdef0123"
			c.ClusterKey = testClusterKey
			c.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
		})
		s.Kill()
		if got := strings.Contains(logs.String(), "INSECURE MODE ON A NETWORK ADDRESS"); got != tc.warn {
			t.Errorf("--ws-addr %s: warning logged %v, want %v:\n%s", tc.wsAddr, got, tc.warn, logs.String())
		}
	}
}

// TestShortSecretsOnLoopbackWarn: a node on loopback starts with short
// secrets and says so; off loopback they stop it (TestConfigurationTraps).
func TestShortSecretsOnLoopbackWarn(t *testing.T) {
	c := DefaultConfig()
	c.Name, c.AuthSecret, c.AdminToken = "n1", "secret", "token"
	c.fill()
	if err := c.Validate(); err != nil {
		t.Fatalf("short secrets on loopback refused: %v", err)
	}
	w := strings.Join(c.warnings(), "\n")
	for _, want := range []string{"--auth-secret is 6 bytes", "--admin-token is 5 bytes"} {
		if !strings.Contains(w, want) {
			t.Errorf("warnings lack %q:\n%s", want, w)
		}
	}
	c.AuthSecret, c.AdminToken = strings.Repeat("s", MinAuthSecretBytes), strings.Repeat("t", MinAdminTokenBytes)
	if w := c.warnings(); len(w) != 0 {
		t.Errorf("long enough secrets warned: %q", w)
	}
}
