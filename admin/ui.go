package admin

import (
	"bytes"
	"embed"
	"net/http"

	"github.com/labstack/echo/v4"
)

// The dashboard is three static files compiled into the binary: it must work
// on a machine with no Internet access (the dashboard is self-contained).
//
//go:embed ui/index.html ui/app.js ui/style.css
var uiFiles embed.FS

// dashboardCSP allows nothing but this listener: no inline script, no other
// origin. Styles set from script through CSSOM are not inline styles and
// stay allowed.
const dashboardCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// authPlaceholder in index.html becomes "token" or "open", so the page knows
// whether to ask for a token before its first request instead of learning
// it from a 401.
const authPlaceholder = "{{auth}}"

func renderIndex(tokenRequired bool) []byte {
	page, err := uiFiles.ReadFile("ui/index.html")
	if err != nil {
		panic("admin: the embedded dashboard is missing: " + err.Error()) // impossible: go:embed checked it at build time
	}
	mode := "open"
	if tokenRequired {
		mode = "token"
	}
	return bytes.ReplaceAll(page, []byte(authPlaceholder), []byte(mode))
}

func (s *Server) serveIndex(c echo.Context) error {
	h := c.Response().Header()
	h.Set("Content-Security-Policy", dashboardCSP)
	h.Set(echo.HeaderCacheControl, "no-cache")
	return c.HTMLBlob(http.StatusOK, s.index)
}

func serveAsset(name, contentType string) echo.HandlerFunc {
	body, err := uiFiles.ReadFile("ui/" + name)
	if err != nil {
		panic("admin: the embedded dashboard is missing " + name) // impossible: go:embed checked it at build time
	}
	return func(c echo.Context) error {
		c.Response().Header().Set(echo.HeaderCacheControl, "no-cache")
		return c.Blob(http.StatusOK, contentType, body)
	}
}

// securityHeaders applies to every response: API answers must not be
// sniffed as HTML, framed, or cached by a shared proxy.
func securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set(echo.HeaderCacheControl, "no-store")
		return next(c)
	}
}
