package app

import (
	"net"
	"net/http"
	"strings"
)

// loopbackOnly guards a node that runs without an admin token (the `dev`
// default): such a node trusts whoever can reach it, which is only safe
// when that is this machine. A browser tricked by DNS rebinding reaches a
// loopback port under a foreign name, so the Host header (and the Origin,
// when a browser sends one) must name this machine too, unless the
// operator listed that origin in --allowed-origins (allowedOrigin; nil on
// the admin listener).
func loopbackOnly(next http.Handler, allowedOrigin func(*http.Request) bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !loopbackHost(r.Host) {
			refuseHost(w, "without --admin-token this node answers only to loopback host names (localhost, 127.x.x.x, [::1]), not "+quoteHost(r.Host))
			return
		}
		if o := r.Header.Get("Origin"); o != "" && !loopbackOrigin(o) && (allowedOrigin == nil || !allowedOrigin(r)) {
			refuseHost(w, "without --admin-token this node accepts only loopback origins, not "+quoteHost(o))
			return
		}
		next.ServeHTTP(w, r)
	})
}

func refuseHost(w http.ResponseWriter, msg string) {
	w.Header().Set("Connection", "close")
	writeJSON(w, http.StatusForbidden, map[string]any{"error": map[string]string{"code": "forbidden", "message": msg}})
}

func quoteHost(h string) string {
	if len(h) > 100 {
		h = h[:100] + "…"
	}
	return "\"" + strings.ToValidUTF8(h, "?") + "\""
}

// loopbackHost reports whether a Host header (host or host:port) names
// this machine: localhost, 127.0.0.0/8 or ::1.
func loopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") || strings.EqualFold(host, "localhost.") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// loopbackOrigin reports whether an Origin (scheme://host[:port]) is on this
// machine. "null" (sandboxed frames, file://) is not.
func loopbackOrigin(origin string) bool {
	_, rest, ok := strings.Cut(origin, "://")
	return ok && loopbackHost(rest)
}
