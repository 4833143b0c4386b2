package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

// TestCtlConnectionSettings: the admin URL and token come from flags
// (before or after the command), the environment or a token file.
func TestCtlConnectionSettings(t *testing.T) {
	var gotAuth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAuth = r.Header.Get("Authorization")
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"key":"alice","shard":3,"owner":"n1","backups":["n2"],"ws_url":"ws://x/v1/ws","version":7}`))
	}))
	defer srv.Close()
	tokenFile := writeFile(t, "token", "from-file\n")
	tests := []struct {
		name string
		env  map[string]string
		args []string
		auth string
	}{
		{"environment", map[string]string{"SHARDGATE_ADMIN_URL": srv.URL, "SHARDGATE_ADMIN_TOKEN": "from-env"}, []string{"ctl", "route", "alice"}, "Bearer from-env"},
		{"flags before the command", nil, []string{"ctl", "--admin-url", srv.URL, "--admin-token", "from-flag", "route", "alice"}, "Bearer from-flag"},
		{"flags after the command", map[string]string{"SHARDGATE_ADMIN_TOKEN": "from-env"}, []string{"ctl", "route", "alice", "--admin-url=" + srv.URL, "--admin-token=from-flag"}, "Bearer from-flag"},
		{"token file", map[string]string{"SHARDGATE_ADMIN_URL": srv.URL, "SHARDGATE_ADMIN_TOKEN_FILE": tokenFile}, []string{"ctl", "route", "alice"}, "Bearer from-file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			gotAuth = ""
			var out, errOut bytes.Buffer
			if code := run(tc.args, &out, &errOut); code != 0 {
				t.Fatalf("exit %d: %s", code, errOut.String())
			}
			if gotAuth != tc.auth {
				t.Errorf("Authorization %q, want %q", gotAuth, tc.auth)
			}
			if !strings.Contains(out.String(), "alice  3      n1") {
				t.Errorf("output:\n%s", out.String())
			}
		})
	}
	var errOut bytes.Buffer
	t.Setenv("SHARDGATE_REQUEST_TIMEOUT", "soon")
	if code := run([]string{"ctl", "--admin-url", srv.URL, "status"}, &errOut, &errOut); code == 0 || !strings.Contains(errOut.String(), "SHARDGATE_REQUEST_TIMEOUT=soon: not a duration") {
		t.Errorf("bad timeout: exit %d, %s", code, errOut.String())
	}
	// A bad URL names where it came from: the variable, not a flag that
	// was never given.
	errOut.Reset()
	t.Setenv("SHARDGATE_REQUEST_TIMEOUT", "")
	os.Unsetenv("SHARDGATE_REQUEST_TIMEOUT")
	t.Setenv("SHARDGATE_ADMIN_URL", "ftp://x")
	if code := run([]string{"ctl", "status"}, &errOut, &errOut); code != 2 || !strings.Contains(errOut.String(), "SHARDGATE_ADMIN_URL=ftp://x: must be http://HOST:PORT") {
		t.Errorf("bad SHARDGATE_ADMIN_URL: exit %d, %s", code, errOut.String())
	}
}
