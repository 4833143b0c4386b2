package app

import (
	"errors"
	"fmt"
)

// Minimum secret lengths: short enough to type, long enough that guessing
// is hopeless (16 random bytes for a bearer token; 32 for an HS256 key,
// its hash size).
const (
	MinAdminTokenBytes = 16
	MinAuthSecretBytes = 32
)

// validateSecrets refuses configurations that look secure and are not.
// Short secrets stop a node that listens beyond loopback; on loopback
// (development, tests) they are only warned about, as the other secrets
// are optional there.
func (c Config) validateSecrets() error {
	short := c.shortSecrets()
	switch {
	case c.Insecure && c.AuthSecret != "":
		return errors.New("--insecure and --auth-secret exclude each other: with both, anyone could skip the token with ?user=KEY; drop --insecure")
	case len(short) > 0 && !c.allLoopback():
		return errors.New(short[0])
	case c.JWTMaxTTL < 0:
		return fmt.Errorf("--jwt-max-ttl must be 0 (no maximum) or positive, got %s", c.JWTMaxTTL)
	case (c.JWTAudience != "" || c.JWTIssuer != "" || c.JWTMaxTTL > 0) && c.AuthSecret == "":
		return errors.New("--jwt-audience, --jwt-issuer and --jwt-max-ttl check tokens: they need --auth-secret")
	}
	return nil
}

// shortSecrets says which secrets are shorter than their minimum.
func (c Config) shortSecrets() []string {
	var out []string
	for _, sec := range []struct {
		flag, value, hint string
		min               int
	}{
		{"--auth-secret", c.AuthSecret, "head -c 32 /dev/urandom | base64", MinAuthSecretBytes},
		{"--admin-token", c.AdminToken, "head -c 24 /dev/urandom | base64", MinAdminTokenBytes},
	} {
		if sec.value != "" && len(sec.value) < sec.min {
			out = append(out, fmt.Sprintf("%s is %d bytes; it must be at least %d (try: %s)", sec.flag, len(sec.value), sec.min, sec.hint))
		}
	}
	return out
}

// warnings are said loudly at start but do not stop the node.
func (c Config) warnings() []string {
	var w []string
	for _, short := range c.shortSecrets() {
		w = append(w, short+"; a node with a listener beyond loopback refuses to start with it")
	}
	if c.Insecure && !c.allLoopback() {
		w = append(w, "INSECURE MODE ON A NETWORK ADDRESS: --insecure lets every client that reaches "+
			c.WSAddr+" claim any identity with ?user=KEY. Use --auth-secret outside development.")
	}
	return w
}
