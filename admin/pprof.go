package admin

import (
	"net/http"
	"net/http/pprof"

	"github.com/labstack/echo/v4"
)

// routePprof serves Go's profiles under /debug/pprof/ behind the admin
// token, so anyone who may steer the cluster can also profile a live node
// (`go tool pprof -http=: -H "Authorization: Bearer $T" URL/debug/pprof/profile`).
// They are registered here, never on http.DefaultServeMux: several nodes
// share one process in tests, and a global mux would serve them all
// without a token.
func (s *Server) routePprof(e *echo.Echo) {
	g := e.Group("/debug/pprof")
	wrap := func(f http.HandlerFunc) echo.HandlerFunc { return echo.WrapHandler(f) }
	g.GET("/cmdline", wrap(pprof.Cmdline), s.requireToken)
	g.GET("/profile", wrap(pprof.Profile), s.requireToken)
	g.GET("/symbol", wrap(pprof.Symbol), s.requireToken)
	g.POST("/symbol", wrap(pprof.Symbol), s.requireToken)
	g.GET("/trace", wrap(pprof.Trace), s.requireToken)
	// Index lists the profiles and serves each named one (heap,
	// goroutine, allocs, block, mutex, threadcreate) from its path.
	g.GET("/", wrap(pprof.Index), s.requireToken)
	g.GET("/*", wrap(pprof.Index), s.requireToken)
}
