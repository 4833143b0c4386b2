package admin

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/shardgate/shardgate"
)

// eventsPath is the one route that also takes ?token=: browsers cannot set
// headers on an EventSource.
const eventsPath = "/v1/events"

// requireToken guards /v1/* with the configured bearer token. Both sides are
// hashed before the constant-time compare so that not even the token's
// length leaks through timing.
func (s *Server) requireToken(next echo.HandlerFunc) echo.HandlerFunc {
	if s.cfg.Token == "" {
		return next
	}
	want := sha256.Sum256([]byte(s.cfg.Token))
	return func(c echo.Context) error {
		got, ok := bearer(c.Request())
		if !ok && c.Path() == eventsPath {
			got = c.QueryParam("token")
			ok = got != ""
		}
		if !ok {
			return shardgate.Errorf(shardgate.KindUnauthorized, "an admin token is required: send it as \"Authorization: Bearer <token>\"")
		}
		sum := sha256.Sum256([]byte(got))
		if subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
			return shardgate.Errorf(shardgate.KindUnauthorized, "the admin token is wrong")
		}
		return next(c)
	}
}

// bearer extracts the token of an "Authorization: Bearer X" header; the
// scheme is case-insensitive (RFC 9110).
func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

// sameOrigin refuses state-changing requests sent by another web site. With
// no token configured (loopback only), any page the operator visits could
// otherwise POST to 127.0.0.1 and drain the cluster.
func sameOrigin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			return next(c)
		}
		if site := r.Header.Get("Sec-Fetch-Site"); site == "cross-site" || site == "same-site" {
			return shardgate.Errorf(shardgate.KindForbidden, "admin actions are refused from another web site")
		}
		if o := r.Header.Get("Origin"); o != "" {
			// Behind a reverse proxy the page's host may only be in
			// X-Forwarded-Host; a cross-site page cannot set that header
			// without a preflight this listener never grants.
			u, err := url.Parse(o)
			if err != nil || (u.Host != r.Host && u.Host != r.Header.Get("X-Forwarded-Host")) || u.Host == "" {
				return shardgate.Errorf(shardgate.KindForbidden, "admin actions are refused from origin %q", o)
			}
		}
		return next(c)
	}
}
