package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/test/checker"
)

// apiError is an admin API error answer ({"error": {"code", "message"}},
// code being the kind's name): a definite answer, unlike a timeout.
type apiError struct {
	Status  int
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *apiError) Error() string {
	return fmt.Sprintf("HTTP %d, %s (%d): %s", e.Status, e.Code, e.RPC(), e.Message)
}

// RPC is the JSON-RPC code a WebSocket client gets for the same error
// (1002 rate limited, 1003 unavailable, ...).
func (e *apiError) RPC() int { return shardgate.KindFromString(e.Code).RPCCode() }

// Send is the server-side send (POST /v1/users/{key}/messages) with an
// idempotency id. An error answer is an *apiError; anything else (timeout,
// refused connection) leaves the outcome unknown.
func (a *adminClient) Send(ctx context.Context, base, to, from, id string, data any) (shardgate.SendResult, error) {
	var res shardgate.SendResult
	b, err := json.Marshal(map[string]any{"data": data, "from": from, "id": id})
	if err != nil {
		return res, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/users/"+url.PathEscape(to)+"/messages", strings.NewReader(string(b)))
	if err != nil {
		return res, err
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.hc.Do(req)
	if err != nil {
		return res, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return res, err
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error apiError `json:"error"`
		}
		if json.Unmarshal(body, &e) != nil || e.Error.Code == "" {
			return res, fmt.Errorf("send to %s via %s: %s: %.200s", to, base, resp.Status, body)
		}
		e.Error.Status = resp.StatusCode
		return res, &e.Error
	}
	return res, json.Unmarshal(body, &res)
}

// probeSender is the sender name of the suite's own probe writes; they are
// recorded like the workload's, so the checker holds them to the same
// guarantees.
const probeSender = "chaos-probe"

var probeSeq atomic.Int64

// probeOnce sends one write to key through node and records it. It returns
// how long the answer took and the error, if any.
func (s *Suite) probeOnce(ctx context.Context, node, key, id string, timeout time.Duration) (time.Duration, error) {
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	t0 := time.Now()
	res, err := s.admin.Send(actx, s.tier.AdminURL(node), key, probeSender, id, map[string]any{"probe": id})
	took := time.Since(t0)
	var ae *apiError
	switch {
	case err == nil:
		s.rec.Attempt(key, probeSender, id, checker.Acked, res.Seq)
		s.wl.noteAck(sendID{key, probeSender, id}, ackInfo{seq: res.Seq, at: time.Now(), via: node})
	case errors.As(err, &ae):
		s.rec.Attempt(key, probeSender, id, checker.Failed, 0)
	default:
		s.rec.Attempt(key, probeSender, id, checker.Unknown, 0)
	}
	return took, err
}

// resumeProbe measures, from `from`, when writes are acknowledged again for
// every user key: one write per key, each retried (same id, the next node
// after each failure, as a client with a list of nodes would) until it is
// acknowledged or until `until`. It returns when the last key's write was
// acknowledged (zero if some never were) and the keys still refused.
//
// Only writes begun after the fault count: a key whose shard the fault
// does not touch answers at once, so the latest first ack is the time the
// worst-hit shard needed to take writes again.
func (s *Suite) resumeProbe(ctx context.Context, until time.Time) (time.Time, []string) {
	members := s.Members()
	var (
		mu      sync.Mutex
		last    time.Time
		pending []string
		wg      sync.WaitGroup
	)
	for i, key := range s.wl.users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("resume-%d", probeSeq.Add(1))
			for n := i; time.Now().Before(until) && ctx.Err() == nil; n++ {
				_, err := s.probeOnce(ctx, members[n%len(members)], key, id, 750*time.Millisecond)
				if err == nil {
					mu.Lock()
					last = later(last, time.Now())
					mu.Unlock()
					return
				}
				sleepCtx(ctx, 50*time.Millisecond)
			}
			mu.Lock()
			pending = append(pending, key)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if len(pending) > 0 {
		return time.Time{}, pending
	}
	return last, nil
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
