package shardgate

// WSPath is the client WebSocket endpoint on the public listener (docs/PROTOCOL.md).
const WSPath = "/v1/ws"

// WSURL is the client WebSocket URL of a public listener at addr
// ("host:port"): wss:// when the listener serves TLS. Empty addr gives "",
// so a node whose address is not known yet is never named by a bad URL.
func WSURL(addr string, tls bool) string {
	if addr == "" {
		return ""
	}
	scheme := "ws://"
	if tls {
		scheme = "wss://"
	}
	return scheme + addr + WSPath
}
