package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/shardgate/shardgate"
)

// Input limits enforced before anything reaches the engine.
const (
	maxIDBytes      = 256    // idempotency key
	maxNameBytes    = 256    // node names and topics, like keys
	maxHistoryLimit = 10_000 // one inbox page
)

// sendBody is POST /v1/users/:key/messages.
type sendBody struct {
	Data json.RawMessage `json:"data"`
	From string          `json:"from"`
	ID   string          `json:"id"`
}

func (b *sendBody) validate() error {
	if err := requireData(b.Data); err != nil {
		return err
	}
	if err := validFrom(b.From); err != nil {
		return err
	}
	if len(b.ID) > maxIDBytes {
		return shardgate.Errorf(shardgate.KindInvalid, "id is %d bytes, the limit is %d", len(b.ID), maxIDBytes)
	}
	return nil
}

// publishBody is POST /v1/topics/:topic/messages.
type publishBody struct {
	Data json.RawMessage `json:"data"`
	From string          `json:"from"`
}

func (b *publishBody) validate() error {
	if err := requireData(b.Data); err != nil {
		return err
	}
	return validFrom(b.From)
}

// decodeJSON reads exactly one JSON value into dst. Unknown fields are
// refused so that a typo ("dat") is an error rather than a silent no-op.
func decodeJSON(r io.Reader, dst any) error {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return bodyError(err)
	}
	var extra json.RawMessage
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if he := tooLarge(err); he != nil {
			return he
		}
		return shardgate.Errorf(shardgate.KindParse, "the request body holds more than one JSON value")
	}
	return nil
}

func bodyError(err error) error {
	if he := tooLarge(err); he != nil {
		return he
	}
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF):
		return shardgate.Errorf(shardgate.KindInvalid, "the request body is empty; a JSON object is expected")
	case errors.As(err, &syn), errors.Is(err, io.ErrUnexpectedEOF):
		return shardgate.Errorf(shardgate.KindParse, "the request body is not valid JSON: %s", strings.TrimPrefix(err.Error(), "json: "))
	case errors.As(err, &typ):
		if typ.Field == "" {
			return shardgate.Errorf(shardgate.KindInvalid, "the request body must be a JSON object, not %s", typ.Value)
		}
		return shardgate.Errorf(shardgate.KindInvalid, "%q must be a %s, not %s", typ.Field, typ.Type, typ.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return shardgate.Errorf(shardgate.KindInvalid, "the request body has an %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	return shardgate.Errorf(shardgate.KindInvalid, "the request body cannot be read: %s", err.Error())
}

// tooLarge recognises the body limit middleware's error.
func tooLarge(err error) error {
	var he *echo.HTTPError
	if errors.As(err, &he) && he.Code == http.StatusRequestEntityTooLarge {
		return he
	}
	return nil
}

// requireData refuses a body without "data". null is a value like any
// other, as in a client's send.
func requireData(d json.RawMessage) error {
	if len(d) == 0 {
		return shardgate.Errorf(shardgate.KindInvalid, "\"data\" is required: any JSON value")
	}
	return nil
}

func validFrom(from string) error {
	if from == "" {
		return nil // optional: the engine names server-side sends itself
	}
	if err := shardgate.ValidKey(from); err != nil {
		return shardgate.Errorf(shardgate.KindInvalid, "\"from\" is not a usable key: %w", err)
	}
	return nil
}

// validName checks a node name or topic: like a key, 1–256 bytes of UTF-8.
func validName(what, v string) error {
	switch {
	case v == "":
		return shardgate.Errorf(shardgate.KindInvalid, "%s is required", what)
	case len(v) > maxNameBytes:
		return shardgate.Errorf(shardgate.KindInvalid, "%s is %d bytes, the limit is %d", what, len(v), maxNameBytes)
	case !utf8.ValidString(v):
		return shardgate.Errorf(shardgate.KindInvalid, "%s is not valid UTF-8", what)
	}
	return nil
}

// pathParam returns a path parameter decoded. Echo routes on the raw path
// when the request has one (an escaped "/" or "%" in a key), and then hands
// back the escaped segment.
func pathParam(c echo.Context, name string) (string, error) {
	v := c.Param(name)
	if c.Request().URL.RawPath == "" {
		return v, nil
	}
	u, err := url.PathUnescape(v)
	if err != nil {
		return "", shardgate.Errorf(shardgate.KindInvalid, "the %s in the path is not properly escaped", name)
	}
	return u, nil
}

// keyParam is the :key of /v1/users/:key/..., checked as a key.
func keyParam(c echo.Context) (string, error) {
	k, err := pathParam(c, "key")
	if err != nil {
		return "", err
	}
	if err := shardgate.ValidKey(k); err != nil {
		return "", err
	}
	return k, nil
}

// shardParam is the :id of /v1/partitions/:id/...; the engine decides
// whether it is in range.
func shardParam(c echo.Context) (int, error) {
	raw := c.Param("id")
	id, err := strconv.Atoi(raw)
	if err != nil || id < 0 {
		return 0, shardgate.Errorf(shardgate.KindInvalid, "partition id must be a non-negative integer, not %q", raw)
	}
	return id, nil
}

// queryUint parses an optional non-negative integer query parameter.
func queryUint(c echo.Context, name string, max uint64) (uint64, error) {
	raw := c.QueryParam(name)
	if raw == "" {
		return 0, nil
	}
	v, err := strconv.ParseUint(raw, 10, 64)
	if err != nil {
		return 0, shardgate.Errorf(shardgate.KindInvalid, "%s must be a non-negative integer, not %q", name, raw)
	}
	if v > max {
		return 0, shardgate.Errorf(shardgate.KindInvalid, "%s is at most %d", name, max)
	}
	return v, nil
}

// bindBody decodes the request body into T and validates it: every POST
// body of the API is read the same strict way. Values in the body may nest
// at most maxDepth levels of arrays and objects (the body object itself is
// one more): checked before decoding, so that nothing is accepted that could
// not travel between nodes or be read back from the store.
func bindBody[T any, PT interface {
	*T
	validate() error
}](c echo.Context, maxDepth int) (T, error) {
	var body T
	raw, err := io.ReadAll(c.Request().Body) // bounded by the body limit
	if err != nil {
		return body, bodyError(err)
	}
	if !utf8.Valid(raw) {
		// encoding/json would keep such bytes inside a message's data, and
		// the stored message would break every client reading the inbox.
		return body, shardgate.Errorf(shardgate.KindParse, "the request body is not valid UTF-8")
	}
	if d := shardgate.JSONDepth(raw); d > maxDepth+1 {
		return body, shardgate.Errorf(shardgate.KindInvalid,
			"the request body nests arrays and objects %d levels deep; data may nest at most %d levels", d, maxDepth)
	}
	if err := decodeJSON(bytes.NewReader(raw), &body); err != nil {
		return body, err
	}
	if shardgate.HasLoneSurrogate(raw) {
		// Decoded, the escape became U+FFFD: two senders or ids would be one.
		if name := shardgate.LoneSurrogateMember(raw, "data"); name != "" {
			return body, shardgate.Errorf(shardgate.KindInvalid, "%s holds a \\u escape of half a UTF-16 surrogate pair; keys and ids must be valid Unicode", name)
		}
	}
	return body, PT(&body).validate()
}
