package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/gorilla/websocket"

	"github.com/shardgate/shardgate"
)

// Close codes of the protocol that a client acts on.
const (
	closeUnauthorized = 4001
	closeForbidden    = 4003
	closePolicy       = 4008
	closeSlowConsumer = 4009
)

// ErrClosed is returned by calls on a connection that has ended.
var ErrClosed = errors.New("client: connection closed")

// RPCError is a JSON-RPC error answered by the server.
type RPCError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func (e *RPCError) Error() string {
	return fmt.Sprintf("shardgate: error %d: %s", e.Code, e.Message)
}

// Retryable reports whether the same call may succeed later: 1003 (a
// shard moving, no quorum, a node unreachable) or 1002 (rate limited or
// overloaded), after a pause.
func (e *RPCError) Retryable() bool {
	return e.Code == shardgate.CodeUnavailable || e.Code == shardgate.CodeRateLimited
}

// refusal gives a connection closed before its welcome with 4001 or 4003
// the kind of error a refused upgrade has, keeping the close error inside.
func refusal(err error) error {
	var ce *websocket.CloseError
	if !errors.As(err, &ce) {
		return err
	}
	switch ce.Code {
	case closeUnauthorized:
		return &shardgate.Error{Kind: shardgate.KindUnauthorized, Message: "refused: " + ce.Text, Err: err}
	case closeForbidden:
		return &shardgate.Error{Kind: shardgate.KindForbidden, Message: "refused: " + ce.Text, Err: err}
	}
	return err
}

// httpError turns a refused HTTP call (upgrade or route) into a
// *shardgate.Error of the kind the server named, so callers can use
// errors.Is(err, shardgate.ErrUnauthorized).
func httpError(resp *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil || e.Error.Message == "" {
		return &shardgate.Error{Kind: shardgate.KindForStatus(resp.StatusCode), Message: fmt.Sprintf("HTTP %s", resp.Status)}
	}
	return &shardgate.Error{
		Kind:    shardgate.KindFromString(e.Error.Code),
		Message: fmt.Sprintf("HTTP %d: %s", resp.StatusCode, e.Error.Message),
	}
}
