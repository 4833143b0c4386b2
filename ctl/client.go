package ctl

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// maxBody bounds an answer read into memory; the partition table of 65,536
// shards is well below it.
const maxBody = 64 << 20

// Client calls one node's admin API.
type Client struct {
	BaseURL string // http://127.0.0.1:9090
	Token   string // bearer token for /v1/*
	Actor   string // who acts, recorded in the event log (ActorHeader)
	HTTP    *http.Client
}

// ActorHeader names who asks for an action; the server records it in the
// event log with the caller's address.
const ActorHeader = "X-Shardgate-Actor"

// APIError is an answer with an error status, in the API's error shape
// {"error": {"code", "message"}} when the server sent one.
type APIError struct {
	Status  int
	Code    string
	Message string
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("%d %s", e.Status, e.Code)
	if e.Message != "" {
		s += ": " + e.Message
	}
	switch e.Status {
	case http.StatusUnauthorized:
		s += " (set --admin-token or SHARDGATE_ADMIN_TOKEN)"
	}
	return s
}

// Do sends one request and returns the answer's JSON body. body, when not
// nil, is sent as JSON.
func (c *Client) Do(ctx context.Context, method, path string, query url.Values, body any) (json.RawMessage, error) {
	resp, err := c.send(ctx, method, path, query, body, "application/json")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, fmt.Errorf("reading the answer of %s %s: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		return nil, apiError(resp.StatusCode, b)
	}
	if !json.Valid(b) {
		return nil, fmt.Errorf("%s %s answered %d with something that is not JSON: %s", method, path, resp.StatusCode, firstLine(b))
	}
	return b, nil
}

// GetIfJSON asks for path as JSON. An older server that can only stream
// it answers with another content type: then ok is false and nothing was
// read.
func (c *Client) GetIfJSON(ctx context.Context, path string, query url.Values) (raw json.RawMessage, ok bool, err error) {
	resp, err := c.send(ctx, http.MethodGet, path, query, nil, "application/json")
	if err != nil {
		return nil, false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 300 && !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		return nil, false, nil
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, false, fmt.Errorf("reading the answer of GET %s: %w", path, err)
	}
	if resp.StatusCode >= 300 {
		return nil, false, apiError(resp.StatusCode, b)
	}
	return b, true, nil
}

// Stream opens a long-lived GET (server-sent events); the caller closes
// the body.
func (c *Client) Stream(ctx context.Context, path string, query url.Values) (io.ReadCloser, error) {
	resp, err := c.send(ctx, http.MethodGet, path, query, nil, "text/event-stream")
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 300 {
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return nil, apiError(resp.StatusCode, b)
	}
	return resp.Body, nil
}

func (c *Client) send(ctx context.Context, method, path string, query url.Values, body any, accept string) (*http.Response, error) {
	u := strings.TrimRight(c.BaseURL, "/") + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encoding the request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, fmt.Errorf("--admin-url %q: %w", c.BaseURL, errors.Unwrap(err))
	}
	req.Header.Set("Accept", accept)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	if c.Actor != "" {
		req.Header.Set(ActorHeader, c.Actor)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, reachError(c.BaseURL, err)
	}
	return resp, nil
}

// reachError says in one line why the node could not be reached.
func reachError(base string, err error) error {
	var oe *net.OpError
	var ue *url.Error
	if errors.As(err, &oe) && oe.Err != nil {
		err = oe.Err // "connect: connection refused" without the addresses again
	} else if errors.As(err, &ue) {
		err = ue.Err
	}
	return fmt.Errorf("cannot reach the admin API at %s: %w (set --admin-url or SHARDGATE_ADMIN_URL)", base, err)
}

func apiError(status int, body []byte) error {
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && (e.Error.Code != "" || e.Error.Message != "") {
		return &APIError{Status: status, Code: e.Error.Code, Message: e.Error.Message}
	}
	msg := firstLine(body)
	if status == http.StatusNotFound && msg == "" {
		// Every answer of a node's admin API has the JSON error shape: a
		// bare 404 comes from something else at that address.
		msg = "the server answered without shardgate's error body: is --admin-url a node's admin listener?"
	}
	return &APIError{Status: status, Code: strings.ToLower(strings.ReplaceAll(http.StatusText(status), " ", "_")), Message: msg}
}

// firstLine is the start of a body, for errors that must stay on one line.
func firstLine(b []byte) string {
	s := strings.TrimSpace(string(b))
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
