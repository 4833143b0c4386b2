package shardgate

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"unicode/utf8"
)

// Kind classifies an error by what the caller can do about it. Each kind maps
// to exactly one JSON-RPC code and one HTTP status, so the client protocol and
// the admin API never disagree about the same failure.
type Kind uint8

const (
	KindInternal       Kind = iota // a bug or an unexpected I/O failure
	KindInvalid                    // the request is malformed or its params are wrong
	KindNotFound                   // the named node, shard or method does not exist
	KindUnauthorized               // no credentials, or credentials that do not verify
	KindForbidden                  // valid credentials that do not allow this action
	KindRateLimited                // the caller is over its rate
	KindUnavailable                // retryable: shard moving, no quorum, node unreachable
	KindTooLarge                   // a frame or payload over the limit
	KindUnknownState               // the recipient's state cannot be determined
	KindConflict                   // the request contradicts the current state (e.g. drain the last node)
	KindParse                      // the frame is not valid JSON
	KindMethodNotFound             // JSON-RPC method is unknown
	KindStorageFull                // the node's storage limit is reached: writes are refused, reads still served
)

// JSON-RPC error codes of the client protocol (docs/PROTOCOL.md).
const (
	CodeParseError     = -32700
	CodeInvalidRequest = -32600
	CodeMethodNotFound = -32601
	CodeInvalidParams  = -32602
	CodeInternal       = -32603
	CodeUnauthorized   = 1001
	CodeRateLimited    = 1002
	CodeUnavailable    = 1003
	CodeTooLarge       = 1004
	CodeUnknownState   = 1005
)

var kindInfo = map[Kind]struct {
	name   string
	rpc    int
	status int
}{
	KindInternal:       {"internal", CodeInternal, http.StatusInternalServerError},
	KindInvalid:        {"invalid_argument", CodeInvalidParams, http.StatusBadRequest},
	KindNotFound:       {"not_found", CodeInvalidParams, http.StatusNotFound},
	KindUnauthorized:   {"unauthorized", CodeUnauthorized, http.StatusUnauthorized},
	KindForbidden:      {"forbidden", CodeUnauthorized, http.StatusForbidden},
	KindRateLimited:    {"rate_limited", CodeRateLimited, http.StatusTooManyRequests},
	KindUnavailable:    {"unavailable", CodeUnavailable, http.StatusServiceUnavailable},
	KindTooLarge:       {"too_large", CodeTooLarge, http.StatusRequestEntityTooLarge},
	KindUnknownState:   {"unknown_state", CodeUnknownState, http.StatusConflict},
	KindConflict:       {"conflict", CodeInvalidParams, http.StatusConflict},
	KindParse:          {"parse_error", CodeParseError, http.StatusBadRequest},
	KindMethodNotFound: {"method_not_found", CodeMethodNotFound, http.StatusNotFound},
	KindStorageFull:    {"storage_full", CodeUnavailable, http.StatusInsufficientStorage},
}

// String is the stable name used as "code" in admin API errors.
func (k Kind) String() string { return kindInfo[k].name }

// RPCCode is the JSON-RPC error code for this kind.
func (k Kind) RPCCode() int { return kindInfo[k].rpc }

// HTTPStatus is the HTTP status for this kind.
func (k Kind) HTTPStatus() int { return kindInfo[k].status }

// KindFromString reverses String; unknown names are KindInternal.
func KindFromString(s string) Kind {
	for k, v := range kindInfo {
		if v.name == s {
			return k
		}
	}
	return KindInternal
}

// Error is the one error type that crosses package and process boundaries.
// Message is a sentence meant for the user; Err keeps the cause for logs and
// errors.Is.
type Error struct {
	Kind    Kind
	Message string
	Err     error
}

func (e *Error) Error() string {
	if e.Err != nil && e.Message == "" {
		return e.Err.Error()
	}
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrUnavailable) true for any *Error of that kind.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Message == "" && t.Err == nil && t.Kind == e.Kind
}

// Errorf builds an *Error of the given kind with a formatted message. A %w
// verb in format keeps the cause reachable through errors.Is/As.
func Errorf(kind Kind, format string, args ...any) *Error {
	err := fmt.Errorf(format, args...)
	return &Error{Kind: kind, Message: err.Error(), Err: errors.Unwrap(err)}
}

// Sentinels to compare with errors.Is; each matches any *Error of its kind.
var (
	// ErrUnavailable: retry later (shard moving, no quorum, peer unreachable).
	ErrUnavailable = &Error{Kind: KindUnavailable}
	// ErrNotFound: the named thing does not exist.
	ErrNotFound = &Error{Kind: KindNotFound}
	// ErrInvalid: the request is malformed.
	ErrInvalid = &Error{Kind: KindInvalid}
	// ErrUnauthorized: missing or bad credentials.
	ErrUnauthorized = &Error{Kind: KindUnauthorized}
	// ErrForbidden: credentials do not allow the action.
	ErrForbidden = &Error{Kind: KindForbidden}
	// ErrConflict: the action contradicts the cluster's state.
	ErrConflict = &Error{Kind: KindConflict}
)

// KindOf reports the kind of err. Timeouts and cancellations count as
// unavailable: the caller may retry.
func KindOf(err error) Kind {
	if err == nil {
		return KindInternal
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return KindUnavailable
	}
	return KindInternal
}

// UserMessage is the one sentence shown to a user for err.
func UserMessage(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Message != "" {
		return e.Message
	}
	if KindOf(err) == KindUnavailable {
		return "temporarily unavailable, retry: " + err.Error()
	}
	return err.Error()
}

// CutUTF8 is the longest prefix of s of at most n bytes that does not end
// inside a UTF-8 sequence.
func CutUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

// Clip is CutUTF8 with a cut marked by "…": for quoting input of any
// length in an error message.
func Clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return CutUTF8(s, n) + "…"
}
