package conn

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/shardgate/shardgate"
)

// request is one decoded client frame. ID keeps the client's bytes so the
// response echoes exactly what was sent (1, 1.0 and "1" stay distinct).
type request struct {
	ID     json.RawMessage
	Method string
	Params json.RawMessage
}

// rpcError is a JSON-RPC error object.
type rpcError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

var nullID = json.RawMessage("null")

// envelopeDepth is the nesting a frame adds around a param's value: the
// request object and its params object.
const envelopeDepth = 2

// decodeRequest parses one client frame. Params may nest at most maxDepth
// levels of arrays and objects (the frame maxDepth+2); the depth is checked
// before anything is decoded, so a frame that could not travel between
// nodes or be read back from the store is never accepted. On failure it
// still returns the request's id when it could be read, so the error
// response can carry it.
func decodeRequest(b []byte, maxDepth int) (request, *rpcError) {
	req := request{ID: nullID}
	if d := shardgate.JSONDepth(b); d > maxDepth+envelopeDepth {
		req.ID = shallowID(b)
		return req, &rpcError{shardgate.CodeInvalidRequest, fmt.Sprintf(
			"invalid request: the frame nests arrays and objects %d levels deep; data may nest at most %d levels", d, maxDepth)}
	}
	if t := bytes.TrimLeft(b, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		if !json.Valid(b) {
			return req, notJSON()
		}
		if t[0] == '[' {
			return req, &rpcError{shardgate.CodeInvalidRequest, "invalid request: a frame must hold one JSON object (batches are not supported)"}
		}
		return req, &rpcError{shardgate.CodeInvalidRequest, "invalid request: a frame must hold one JSON-RPC request object, not a bare string, number, true, false or null"}
	}
	var raw struct {
		JSONRPC json.RawMessage `json:"jsonrpc"`
		ID      json.RawMessage `json:"id"`
		Method  json.RawMessage `json:"method"`
		Params  json.RawMessage `json:"params"`
	}
	// Unmarshal checks the whole frame is valid JSON before it decodes.
	if err := json.Unmarshal(b, &raw); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return req, notJSON()
		}
		return req, &rpcError{shardgate.CodeParseError, "parse error: " + err.Error()}
	}
	if len(raw.ID) == 0 || string(raw.ID) == "null" {
		return req, &rpcError{shardgate.CodeInvalidRequest, "invalid request: id is required (a string or a number)"}
	}
	if c := raw.ID[0]; c != '"' && c != '-' && (c < '0' || c > '9') {
		return req, &rpcError{shardgate.CodeInvalidRequest, "invalid request: id must be a string or a number"}
	}
	req.ID = raw.ID
	var version string
	if string(raw.JSONRPC) != `"2.0"` && (json.Unmarshal(raw.JSONRPC, &version) != nil || version != "2.0") {
		return req, &rpcError{shardgate.CodeInvalidRequest, `invalid request: "jsonrpc" must be "2.0"`}
	}
	if !plainString(raw.Method, &req.Method) && json.Unmarshal(raw.Method, &req.Method) != nil || req.Method == "" {
		return req, &rpcError{shardgate.CodeInvalidRequest, "invalid request: method must be a non-empty string"}
	}
	req.Params = raw.Params
	return req, nil
}

func notJSON() *rpcError {
	return &rpcError{shardgate.CodeParseError, "parse error: the frame is not valid JSON"}
}

// plainString sets *dst to the JSON string b holds when it has no escapes
// (as a method name has), without a decoder; false means "decode it".
func plainString(b json.RawMessage, dst *string) bool {
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return false
	}
	for _, c := range b[1 : len(b)-1] {
		if c == '\\' || c == '"' || c < 0x20 || c >= 0x80 {
			return false
		}
	}
	*dst = string(b[1 : len(b)-1])
	return true
}

// decodeParams unmarshals a request's params into dst, which must be a
// pointer to a struct. Messages name the client's field, not Go types.
func decodeParams(params json.RawMessage, dst any) error {
	if len(params) == 0 || string(params) == "null" {
		return invalidParams("params are required")
	}
	if params[0] != '{' {
		return invalidParams("params must be a JSON object")
	}
	if shardgate.HasLoneSurrogate(params) {
		// Decoded, the escape would become U+FFFD and two keys one.
		if name := shardgate.LoneSurrogateMember(params, "data"); name != "" {
			return invalidParams(fmt.Sprintf("params.%s holds a \\u escape of half a UTF-16 surrogate pair; keys, topics and ids must be valid Unicode", name))
		}
	}
	if name, ok := unknownMember(params, namesOf(dst)); ok {
		name = shardgate.Clip(name, 64)
		return invalidParams(fmt.Sprintf("params has an unknown member %q", name))
	}
	if err := json.Unmarshal(params, dst); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return invalidParams(fmt.Sprintf("params.%s must be %s, got %s", te.Field, jsonType(te.Type.Kind().String()), te.Value))
		}
		return invalidParams("params: " + err.Error())
	}
	return nil
}

// hasMember reports whether the params object holds name with a value
// other than null; it tells a missing param from an empty one on the way
// to an error, never on the path of a good request.
func hasMember(params json.RawMessage, name string) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal(params, &m) != nil {
		return false
	}
	v, ok := m[name]
	return ok && string(v) != "null"
}

// jsonType names a Go kind as the JSON type a client should send.
func jsonType(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "slice", "array":
		return "an array"
	case "struct", "map":
		return "an object"
	case "bool":
		return "a boolean"
	case "uint64", "uint", "uint32":
		return "a non-negative integer"
	case "int", "int64", "int32":
		return "an integer"
	default:
		return "a number"
	}
}

func invalidParams(msg string) error {
	return &shardgate.Error{Kind: shardgate.KindInvalid, Message: msg}
}

// toRPCError maps any error of a method to its JSON-RPC form: the error's
// Kind picks the code, its user message becomes the message.
func toRPCError(err error) *rpcError {
	var re *rpcError
	if errors.As(err, &re) {
		return re
	}
	return &rpcError{Code: shardgate.KindOf(err).RPCCode(), Message: shardgate.UserMessage(err)}
}

func (e *rpcError) Error() string { return fmt.Sprintf("rpc error %d: %s", e.Code, e.Message) }

// response is a JSON-RPC response; exactly one of Result and Error is set.
type response struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Result  any             `json:"result,omitempty"`
	Error   *rpcError       `json:"error,omitempty"`
}

// notification is a server → client frame without id.
type notification struct {
	JSONRPC string `json:"jsonrpc"`
	Method  string `json:"method"`
	Params  any    `json:"params"`
}

func encodeResponse(id json.RawMessage, result any, rerr *rpcError) ([]byte, error) {
	if rerr == nil && result == nil {
		result = struct{}{}
	}
	return shardgate.MarshalJSON(response{JSONRPC: "2.0", ID: id, Result: result, Error: rerr})
}

func encodeNotification(method string, params any) ([]byte, error) {
	return shardgate.MarshalJSON(notification{JSONRPC: "2.0", Method: method, Params: params})
}

// idOf digs the id out of a frame that is not processed (rate limited), so
// the refusal still reaches the right caller.
func idOf(b []byte, maxDepth int) json.RawMessage {
	req, _ := decodeRequest(b, maxDepth)
	return req.ID
}

// shallowID reads the top-level id of a frame too deep to decode, so that
// the refusal reaches the caller that is waiting for it. It reads tokens
// without recursion and gives up (null) on anything unexpected, such as a
// value deeper than encoding/json's own limit before the id.
func shallowID(b []byte) json.RawMessage {
	dec := json.NewDecoder(bytes.NewReader(b))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nullID
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nullID
		}
		if t == "id" {
			var id json.RawMessage
			if dec.Decode(&id) != nil || len(id) == 0 {
				return nullID
			}
			if c := id[0]; c != '"' && c != '-' && (c < '0' || c > '9') {
				return nullID
			}
			return id
		}
		for depth := 0; ; { // skip the key's value
			t, err := dec.Token()
			if err != nil {
				return nullID
			}
			switch t {
			case json.Delim('{'), json.Delim('['):
				depth++
			case json.Delim('}'), json.Delim(']'):
				depth--
			}
			if depth == 0 {
				break
			}
		}
	}
	return nullID
}
