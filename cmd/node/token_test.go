package main

import (
	"bytes"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shardgate/shardgate/conn"
)

// TestTokenMatchesPolicy: `shardgate token` reads the secret from a file
// and mints tokens with the aud and iss a node with --jwt-audience and
// --jwt-issuer demands; a token without them is refused by such a node.
func TestTokenMatchesPolicy(t *testing.T) {
	secret := "0123456789abcdef0123456789abcdef"
	file := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(file, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	auth, err := conn.NewAuthenticator(conn.AuthConfig{Secret: []byte(secret), Audience: "chat", Issuer: "login", MaxTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	mint := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := runToken(args, &out, io.Discard)
		return strings.TrimSpace(out.String()), err
	}
	check := func(tok string) error {
		_, err := auth.Authenticate(httptest.NewRequest("GET", "/v1/ws?token="+tok, nil))
		return err
	}
	tok, err := mint("--secret-file", file, "--user", "alice", "--audience", "chat", "--issuer", "login", "--ttl", "30m")
	if err != nil {
		t.Fatal(err)
	}
	if err := check(tok); err != nil {
		t.Fatalf("token with aud and iss refused: %v", err)
	}
	plain, _ := mint("--secret-file", file, "--user", "alice")
	if check(plain) == nil {
		t.Fatal("token without aud accepted by a node that demands one")
	}
	long, _ := mint("--secret-file", file, "--user", "alice", "--audience", "chat", "--issuer", "login", "--ttl", "24h")
	if check(long) == nil {
		t.Fatal("token longer than --jwt-max-ttl accepted")
	}
	if _, err := mint("--secret", secret, "--secret-file", file, "--user", "alice"); err == nil {
		t.Fatal("--secret and --secret-file together accepted")
	}
}

// Missing or bad arguments of `shardgate token` are usage errors (exit 2,
// with where to look), as a bad flag is.
func TestTokenUsageErrorsExit2(t *testing.T) {
	t.Setenv("SHARDGATE_AUTH_SECRET", "")
	for _, args := range [][]string{
		{"token", "--secret", "0123456789abcdef0123456789abcdef"},
		{"token", "--user", "alice"},
		{"token", "--secret", "0123456789abcdef0123456789abcdef", "--user", "alice", "--ttl", "-1s"},
		{"token", "--secret", "0123456789abcdef0123456789abcdef", "--user", "alice", "--ttl", "abc"},
	} {
		var out, errOut bytes.Buffer
		if code := run(args, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "shardgate token -h") {
			t.Errorf("%v: exit %d, %q; want 2 and where to look", args[1:], code, errOut.String())
		}
	}
}
