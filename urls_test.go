package shardgate

import "testing"

func TestWSURL(t *testing.T) {
	tests := []struct {
		addr string
		tls  bool
		want string
	}{
		{"127.0.0.1:8080", false, "ws://127.0.0.1:8080/v1/ws"},
		{"node1.example:443", true, "wss://node1.example:443/v1/ws"},
		{"[::1]:8080", false, "ws://[::1]:8080/v1/ws"},
		{"", false, ""},
		{"", true, ""},
	}
	for _, tt := range tests {
		if got := WSURL(tt.addr, tt.tls); got != tt.want {
			t.Errorf("WSURL(%q, %v) = %q, want %q", tt.addr, tt.tls, got, tt.want)
		}
	}
}
