package admin

import (
	"net/http"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/shardgate/shardgate"
)

// actionBody is the optional body of every action (and the required one of
// a move): dry_run and force may also come as query parameters.
type actionBody struct {
	To     string `json:"to"`
	DryRun bool   `json:"dry_run"`
	Force  bool   `json:"force"`
	Reason string `json:"reason"`
}

func (b *actionBody) validate() error {
	if len(b.Reason) > maxReasonBytes {
		return shardgate.Errorf(shardgate.KindInvalid, "reason is %d bytes, the limit is %d", len(b.Reason), maxReasonBytes)
	}
	if b.To != "" {
		return validName("to", b.To)
	}
	return nil
}

const (
	maxReasonBytes = 1024
	// ActorHeader names who asks for an action, for the event log (the CLI
	// sends user@host). Without it the log says "operator" and the
	// caller's address.
	ActorHeader = "X-Shardgate-Actor"
)

func (s *Server) rebalance(c echo.Context) error {
	return s.act(c, shardgate.Action{Kind: shardgate.ActionRebalance})
}

func (s *Server) drain(c echo.Context) error { return s.nodeAction(c, shardgate.ActionDrain) }

func (s *Server) failover(c echo.Context) error { return s.nodeAction(c, shardgate.ActionFailover) }

func (s *Server) readmit(c echo.Context) error { return s.nodeAction(c, shardgate.ActionReadmit) }

func (s *Server) remove(c echo.Context) error { return s.nodeAction(c, shardgate.ActionRemove) }

func (s *Server) nodeAction(c echo.Context, kind string) error {
	name, err := pathParam(c, "name")
	if err != nil {
		return err
	}
	if err := validName("node name", name); err != nil {
		return err
	}
	return s.act(c, shardgate.Action{Kind: kind, Node: name})
}

func (s *Server) moveShard(c echo.Context) error {
	id, err := shardParam(c)
	if err != nil {
		return err
	}
	return s.act(c, shardgate.Action{Kind: shardgate.ActionMove, Shard: id})
}

// act reads the options of an action from the body and the query, asks the
// engine, and answers with its plan.
func (s *Server) act(c echo.Context, a shardgate.Action) error {
	body, err := s.actionOptions(c)
	if err != nil {
		return err
	}
	if a.Kind == shardgate.ActionMove {
		if body.To == "" {
			return shardgate.Errorf(shardgate.KindInvalid, "to is required")
		}
		a.Node = body.To
	} else if body.To != "" {
		return shardgate.Errorf(shardgate.KindInvalid, "\"to\" only applies to a move")
	}
	a.DryRun, a.Force, a.Reason = body.DryRun, body.Force, body.Reason
	if a.Actor, err = actor(c); err != nil {
		return err
	}
	ctx, cancel := s.backendCtx(c)
	defer cancel()
	r, err := s.b.Act(ctx, a)
	if err != nil {
		return err
	}
	r.Moves = nonNil(r.Moves)
	return c.JSON(http.StatusOK, r)
}

// actionOptions merges the body (optional, except for a move) with the
// query parameters dry_run, force and reason. A flag named without a value
// (?dry_run) is set.
func (s *Server) actionOptions(c echo.Context) (actionBody, error) {
	var body actionBody
	req := c.Request()
	if req.ContentLength != 0 {
		var err error
		if body, err = bindBody[actionBody](c, s.cfg.MaxJSONDepth); err != nil && !emptyBody(err) {
			return body, err
		}
	}
	query := c.QueryParams()
	// A misspelt option must not be ignored: "?dry-run=1" would carry the
	// action out for real. The body refuses unknown fields the same way.
	for name := range query {
		switch name {
		case "dry_run", "force", "reason":
		default:
			name = shardgate.Clip(name, 64)
			return body, shardgate.Errorf(shardgate.KindInvalid, "unknown query parameter %q: an action takes dry_run, force and reason", name)
		}
	}
	for name, dst := range map[string]*bool{"dry_run": &body.DryRun, "force": &body.Force} {
		vals, ok := query[name]
		if !ok {
			continue
		}
		raw := vals[0]
		if raw == "" { // a bare ?dry_run is set, as a flag is
			*dst = true
			continue
		}
		v, err := strconv.ParseBool(raw)
		if err != nil {
			return body, shardgate.Errorf(shardgate.KindInvalid, "%s must be true or false (or 1 or 0), not %q", name, raw)
		}
		*dst = *dst || v
	}
	if r := c.QueryParam("reason"); r != "" && body.Reason == "" {
		body.Reason = r
	}
	return body, body.validate()
}

func emptyBody(err error) bool {
	return strings.Contains(shardgate.UserMessage(err), "the request body is empty")
}

// actor is who asked, as the event log records it. A name the log cannot
// keep is refused rather than replaced, so the log never credits an
// action to someone other than the caller said.
func actor(c echo.Context) (string, error) {
	who := strings.TrimSpace(c.Request().Header.Get(ActorHeader))
	switch {
	case who == "":
		who = "operator"
	case len(who) > maxNameBytes:
		return "", shardgate.Errorf(shardgate.KindInvalid, "the %s header is %d bytes, the limit is %d", ActorHeader, len(who), maxNameBytes)
	case !utf8.ValidString(who) || strings.ContainsFunc(who, unicode.IsControl):
		return "", shardgate.Errorf(shardgate.KindInvalid, "the %s header must be UTF-8 text without control characters", ActorHeader)
	}
	return who + " from " + c.RealIP(), nil
}
