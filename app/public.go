package app

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/shardgate/shardgate"
	jsclient "github.com/shardgate/shardgate/clients/js"
)

// publicMux serves the public listener: the client endpoint, route
// look-ups, health, and the node links of the cluster.
func (s *Server) publicMux() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /v1/ws", s.conns.Handler())
	mux.Handle("/internal/link", s.mesh)
	mux.HandleFunc("GET /v1/client.js", serveAsset("text/javascript; charset=utf-8", jsclient.Module))
	mux.HandleFunc("GET /v1/client.d.ts", serveAsset("application/typescript; charset=utf-8", jsclient.Types))
	if s.cfg.Demo {
		mux.HandleFunc("GET /demo/", serveAsset("text/html; charset=utf-8", jsclient.Demo))
	}
	mux.HandleFunc("GET /v1/route", func(w http.ResponseWriter, r *http.Request) {
		s.allowCORS(w, r)
		route, err := s.node.Route(r.Context(), r.URL.Query().Get("key"))
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, route)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "node": s.cfg.Name})
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/v1/") {
			// Most likely an admin call (ctl, curl) sent to the wrong port.
			writeError(w, shardgate.Errorf(shardgate.KindNotFound,
				"no such endpoint on the public listener: %s %s; the admin API is served on the admin listener (--admin-addr)", r.Method, r.URL.Path))
			return
		}
		writeError(w, shardgate.Errorf(shardgate.KindNotFound, "no such endpoint: %s %s", r.Method, r.URL.Path))
	})
	return mux
}

// allowCORS lets pages of the allowed origins read the answer (the
// browser client asks the route before it connects).
func (s *Server) allowCORS(w http.ResponseWriter, r *http.Request) {
	w.Header().Add("Vary", "Origin")
	if o := r.Header.Get("Origin"); o != "" && s.conns.OriginAllowed(r) {
		w.Header().Set("Access-Control-Allow-Origin", o)
	}
}

// serveAsset serves an embedded file. The client module is public code
// without credentials, so any origin may import it.
func serveAsset(contentType string, body []byte) http.HandlerFunc {
	sum := sha256.Sum256(body)
	etag := `"` + hex.EncodeToString(sum[:8]) + `"`
	return func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", contentType)
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-cache") // revalidate: a node upgrade changes it
		h.Set("ETag", etag)
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, err error) {
	k := shardgate.KindOf(err)
	writeJSON(w, k.HTTPStatus(), map[string]any{"error": map[string]string{"code": k.String(), "message": shardgate.UserMessage(err)}})
}
