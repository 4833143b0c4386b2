package app

import (
	"encoding/json"
	"net/http"

	"github.com/shardgate/shardgate"
)

// publicMux serves the public listener: the client endpoint, route
// look-ups, health, and the node links of the cluster.
func (s *Server) publicMux() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /v1/ws", s.conns.Handler())
	mux.Handle("/internal/link", s.mesh)
	mux.HandleFunc("GET /v1/route", func(w http.ResponseWriter, r *http.Request) {
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
		writeError(w, shardgate.Errorf(shardgate.KindNotFound, "no such endpoint: %s %s", r.Method, r.URL.Path))
	})
	return mux
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
