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
func (c Config) validateSecrets() error {
	switch {
	case c.Insecure && c.AuthSecret != "":
		return errors.New("--insecure and --auth-secret exclude each other: with both, anyone could skip the token with ?user=KEY; drop --insecure")
	case c.AuthSecret != "" && len(c.AuthSecret) < MinAuthSecretBytes:
		return fmt.Errorf("--auth-secret is %d bytes; it must be at least %d (try: head -c 32 /dev/urandom | base64)", len(c.AuthSecret), MinAuthSecretBytes)
	case c.AdminToken != "" && len(c.AdminToken) < MinAdminTokenBytes:
		return fmt.Errorf("--admin-token is %d bytes; it must be at least %d (try: head -c 24 /dev/urandom | base64)", len(c.AdminToken), MinAdminTokenBytes)
	case c.JWTMaxTTL < 0:
		return fmt.Errorf("--jwt-max-ttl must be 0 (no maximum) or positive, got %s", c.JWTMaxTTL)
	case (c.JWTAudience != "" || c.JWTIssuer != "" || c.JWTMaxTTL > 0) && c.AuthSecret == "":
		return errors.New("--jwt-audience, --jwt-issuer and --jwt-max-ttl check tokens: they need --auth-secret")
	}
	return nil
}

// warnings are said loudly at start but do not stop the node.
func (c Config) warnings() []string {
	var w []string
	if c.Insecure && !c.allLoopback() {
		w = append(w, "INSECURE MODE ON A NETWORK ADDRESS: --insecure lets every client that reaches "+
			c.WSAddr+" claim any identity with ?user=KEY. Use --auth-secret outside development.")
	}
	return w
}
