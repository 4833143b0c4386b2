package conn

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// originPolicy decides which browser origins may open /v1/ws. Requests
// without an Origin header (not a browser, so nothing to hijack) and
// same-origin requests are always allowed; other origins must match one of
// the configured patterns.
type originPolicy struct {
	any      bool
	patterns []originPattern
}

// originPattern is one allowed origin: scheme and host[:port], where a host
// starting with "*." matches any subdomain (one or more labels) of the rest.
type originPattern struct {
	scheme string
	host   string // lower case, port included when given
	suffix bool   // host is ".example" from "*.example"
}

// parseOrigins checks and compiles the allowed origins. Each is "*" or
// scheme://host[:port] with no path; the host may start with "*.".
func parseOrigins(list []string) (originPolicy, error) {
	var p originPolicy
	for _, raw := range list {
		s := strings.TrimSpace(raw)
		if s == "" {
			continue
		}
		if s == "*" {
			p.any = true
			continue
		}
		u, err := url.Parse(s)
		if err != nil || u.Scheme == "" || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
			return originPolicy{}, fmt.Errorf("allowed origin %q must look like https://app.example, https://*.example or http://127.0.0.1:8000", raw)
		}
		host := strings.ToLower(u.Host)
		op := originPattern{scheme: strings.ToLower(u.Scheme), host: host}
		if rest, ok := strings.CutPrefix(host, "*."); ok {
			if rest == "" || strings.Contains(rest, "*") {
				return originPolicy{}, fmt.Errorf("allowed origin %q: a wildcard must be followed by a domain, as in https://*.example", raw)
			}
			op.host, op.suffix = "."+rest, true
		} else if strings.Contains(host, "*") {
			return originPolicy{}, fmt.Errorf("allowed origin %q: a wildcard may only be the first label, as in https://*.example", raw)
		}
		p.patterns = append(p.patterns, op)
	}
	return p, nil
}

// allowed reports whether r may be upgraded, and the origin it came from.
func (p originPolicy) allowed(r *http.Request) (ok bool, origin string) {
	origin = r.Header.Get("Origin")
	if origin == "" || p.any {
		return true, origin
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false, origin
	}
	host := strings.ToLower(u.Host)
	if strings.EqualFold(u.Host, r.Host) {
		return true, origin // same origin
	}
	scheme := strings.ToLower(u.Scheme)
	for _, op := range p.patterns {
		if op.scheme != scheme {
			continue
		}
		if op.suffix {
			if strings.HasSuffix(host, op.host) && len(host) > len(op.host) {
				return true, origin
			}
		} else if host == op.host {
			return true, origin
		}
	}
	return false, origin
}
