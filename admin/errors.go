package admin

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/shardgate/shardgate"
)

// errorJSON is the one error shape of the admin listener (docs/PROTOCOL.md):
// {"error": {"code": kind name, "message": sentence}}.
type errorJSON struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func errorBody(code, message string) errorJSON {
	return errorJSON{Error: errorDetail{Code: code, Message: message}}
}

// errPanic is what a user sees after a handler panicked: the details stay
// in the log, never in the response.
var errPanic = &shardgate.Error{Kind: shardgate.KindInternal, Message: "internal error; the details are in the node's log"}

// handleError is Echo's HTTPErrorHandler: every failure, including the
// router's own 404 and 405, leaves in the same JSON shape.
func (s *Server) handleError(err error, c echo.Context) {
	status, code, msg := describe(err, c.Request())
	if status >= http.StatusInternalServerError && !errors.Is(err, errPanic) {
		s.log.Error("admin request failed", "method", c.Request().Method, "path", c.Request().URL.Path, "status", status, "err", err)
	}
	if c.Response().Committed {
		return // an SSE stream or a partial body: nothing sensible to add
	}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(status)
		return
	}
	if status == http.StatusUnauthorized {
		c.Response().Header().Set("WWW-Authenticate", `Bearer realm="shardgate admin"`)
	}
	if werr := c.JSON(status, errorBody(code, msg)); werr != nil {
		s.log.Debug("writing an admin error failed", "err", werr)
	}
}

// describe turns any error into status, code and sentence. Our own errors
// carry a Kind; Echo's (router, body limit) carry only a status.
func describe(err error, r *http.Request) (int, string, string) {
	var he *echo.HTTPError
	if !errors.As(err, &he) {
		k := shardgate.KindOf(err)
		return k.HTTPStatus(), k.String(), shardgate.UserMessage(err)
	}
	if inner, ok := he.Internal.(*echo.HTTPError); ok {
		he = inner
	}
	switch he.Code {
	case http.StatusNotFound:
		return he.Code, shardgate.KindNotFound.String(), fmt.Sprintf("there is no %s %s on the admin API", r.Method, r.URL.Path)
	case http.StatusMethodNotAllowed:
		// No kind is named after 405; the caller's request is what is wrong.
		return he.Code, shardgate.KindInvalid.String(), fmt.Sprintf("%s is not allowed on %s", r.Method, r.URL.Path)
	case http.StatusRequestEntityTooLarge:
		return he.Code, shardgate.KindTooLarge.String(), "the request body is over the 1 MiB limit"
	}
	msg := http.StatusText(he.Code)
	if m, ok := he.Message.(string); ok && m != "" {
		msg = m
	}
	return he.Code, shardgate.KindForStatus(he.Code).String(), msg
}

// logPanic is the recover middleware's logger: the stack goes to slog, the
// user gets errPanic.
func (s *Server) logPanic(c echo.Context, err error, stack []byte) error {
	s.log.Error("admin handler panicked", "method", c.Request().Method, "path", c.Request().URL.Path,
		"panic", err, "stack", string(stack))
	return errPanic
}
