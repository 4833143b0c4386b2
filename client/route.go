package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/shardgate/shardgate"
)

// Route asks a node's public listener where key lives (GET /v1/route), so
// a client can connect to the key's home and save a hop. baseURL is the
// listener's address, http(s):// or ws(s)://, with or without /v1/ws.
func Route(ctx context.Context, baseURL, key string) (shardgate.Route, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return shardgate.Route{}, fmt.Errorf("route: bad URL: %w", err)
	}
	switch u.Scheme {
	case "ws":
		u.Scheme = "http"
	case "wss":
		u.Scheme = "https"
	}
	u.Path = strings.TrimSuffix(strings.TrimSuffix(u.Path, "/"), "/v1/ws") + "/v1/route"
	u.RawQuery = url.Values{"key": {key}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return shardgate.Route{}, fmt.Errorf("route: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return shardgate.Route{}, fmt.Errorf("route: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return shardgate.Route{}, fmt.Errorf("route %q: %w", key, httpError(resp))
	}
	var r shardgate.Route
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return shardgate.Route{}, fmt.Errorf("route %q: bad answer: %w", key, err)
	}
	return r, nil
}
