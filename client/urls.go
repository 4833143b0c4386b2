package client

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
)

// wsURL turns a node address (ws://host:port, http://host:port, with or
// without /v1/ws) into its WebSocket endpoint URL.
func wsURL(node string) (string, error) {
	u, err := url.Parse(node)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("client: node address %q must look like ws://host:port or http://host:port", node)
	}
	switch u.Scheme {
	case "http", "ws":
		u.Scheme = "ws"
	case "https", "wss":
		u.Scheme = "wss"
	default:
		return "", fmt.Errorf("client: node address %q: scheme must be ws, wss, http or https", node)
	}
	u.Path = strings.TrimSuffix(strings.TrimSuffix(u.Path, "/"), "/v1/ws") + "/v1/ws"
	u.RawQuery = ""
	return u.String(), nil
}

// tokenSubject reads the sub claim of a JWT without verifying it (the node
// does that): the client only needs it to look up its route. "" when the
// token cannot be read.
func tokenSubject(token string) string {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return ""
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var claims struct {
		Sub string `json:"sub"`
	}
	if json.Unmarshal(b, &claims) != nil {
		return ""
	}
	return claims.Sub
}

// newID returns a random idempotency id for a send.
func newID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
