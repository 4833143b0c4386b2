package link

import "encoding/json"

// EncodeRequest encodes a request body exactly as Call and Notify do on a
// connection of the current codec: the binary form of a value that has
// one, else JSON. It is for in-process stand-ins of the links
// (node/nodetest): carrying a request through it makes every type
// round-trip as it would on the wire. Read it with wire.Decode.
func EncodeRequest(method string, req any) (json.RawMessage, error) {
	if err := checkMethod(method); err != nil {
		return nil, err
	}
	return appendBody(nil, req)
}

// AsRemote returns a handler's error as a caller of Call on the other side
// sees it: its kind and message, nothing else of the chain.
func AsRemote(err error) error {
	we := toWire(err)
	return fromWire(&we)
}
