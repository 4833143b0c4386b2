package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/shardgate/shardgate"
)

// adminClient speaks the admin API of docs/PROTOCOL.md. Every call is bounded: a
// paused or cut-off node must cost the suite seconds, not minutes.
type adminClient struct {
	token string
	hc    *http.Client
}

func newAdminClient(token string) *adminClient {
	return &adminClient{token: token, hc: &http.Client{Timeout: 3 * time.Second}}
}

func (a *adminClient) do(ctx context.Context, method, u string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = strings.NewReader(string(b))
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s: %.300s", method, u, resp.Status, b)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s %s: bad JSON: %w", method, u, err)
	}
	return nil
}

func (a *adminClient) Cluster(ctx context.Context, base string) (shardgate.ClusterView, error) {
	var v shardgate.ClusterView
	err := a.do(ctx, http.MethodGet, base+"/v1/cluster", nil, &v)
	return v, err
}

func (a *adminClient) Partitions(ctx context.Context, base string) (shardgate.PartitionsView, error) {
	var v shardgate.PartitionsView
	err := a.do(ctx, http.MethodGet, base+"/v1/partitions", nil, &v)
	return v, err
}

func (a *adminClient) Drain(ctx context.Context, base, name string) error {
	return a.do(ctx, http.MethodPost, base+"/v1/nodes/"+url.PathEscape(name)+"/drain", nil, nil)
}

func (a *adminClient) Route(ctx context.Context, base, key string) (shardgate.Route, error) {
	var r shardgate.Route
	err := a.do(ctx, http.MethodGet, base+"/v1/route?key="+url.QueryEscape(key), nil, &r)
	return r, err
}

// Ready is GET /readyz: joined, table known, own shards loaded.
func (a *adminClient) Ready(ctx context.Context, base string) error {
	return a.do(ctx, http.MethodGet, base+"/readyz", nil, nil)
}

// Inbox reads a whole inbox page by page (at most 1000 per page).
func (a *adminClient) Inbox(ctx context.Context, base, key string) ([]shardgate.Message, error) {
	var all []shardgate.Message
	since := uint64(0)
	for {
		var page shardgate.HistoryResult
		u := fmt.Sprintf("%s/v1/users/%s/messages?since=%d&limit=1000", base, url.PathEscape(key), since)
		if err := a.do(ctx, http.MethodGet, u, nil, &page); err != nil {
			return nil, err
		}
		all = append(all, page.Messages...)
		if len(page.Messages) == 0 {
			return all, nil
		}
		last := page.Messages[len(page.Messages)-1].Seq
		if last <= since {
			return nil, fmt.Errorf("inbox of %s: a page after seq %d ended at seq %d", key, since, last)
		}
		since = last
		if since >= page.LastSeq {
			return all, nil
		}
	}
}
