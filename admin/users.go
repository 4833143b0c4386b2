package admin

import (
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/shardgate/shardgate"
)

// sendMessage is the server-side send: same durability and idempotency as
// the client protocol's send, so it answers only once the engine does.
func (s *Server) sendMessage(c echo.Context) error {
	to, err := keyParam(c)
	if err != nil {
		return err
	}
	body, err := bindBody[sendBody](c, s.cfg.MaxJSONDepth)
	if err != nil {
		return err
	}
	ctx, cancel := s.backendCtx(c)
	defer cancel()
	res, err := s.b.Send(ctx, body.From, to, body.Data, body.ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, res)
}

func (s *Server) history(c echo.Context) error {
	key, err := keyParam(c)
	if err != nil {
		return err
	}
	since, err := queryUint(c, "since", ^uint64(0))
	if err != nil {
		return err
	}
	limit, err := queryUint(c, "limit", maxHistoryLimit)
	if err != nil {
		return err
	}
	if c.QueryParam("limit") != "" && limit == 0 {
		// As a client's history: an absent limit takes the default, a
		// limit of 0 asks for nothing and is refused.
		return shardgate.Errorf(shardgate.KindInvalid, "limit must be at least 1 (leave it out for the default page)")
	}
	ctx, cancel := s.backendCtx(c)
	defer cancel()
	h, err := s.b.History(ctx, key, since, int(limit))
	if err != nil {
		return err
	}
	h.Messages = nonNil(h.Messages)
	return c.JSON(http.StatusOK, h)
}

func (s *Server) presence(c echo.Context) error {
	key, err := keyParam(c)
	if err != nil {
		return err
	}
	ctx, cancel := s.backendCtx(c)
	defer cancel()
	m, err := s.b.Presence(ctx, []string{key})
	if err != nil {
		return err
	}
	// A key nobody has seen is simply offline.
	return c.JSON(http.StatusOK, m[key])
}

// published is the answer of POST /v1/topics/:topic/messages.
type published struct {
	DeliveredNodes int `json:"delivered_nodes"`
}

func (s *Server) publish(c echo.Context) error {
	topic, err := pathParam(c, "topic")
	if err != nil {
		return err
	}
	if err := validName("topic", topic); err != nil {
		return err
	}
	body, err := bindBody[publishBody](c, s.cfg.MaxJSONDepth)
	if err != nil {
		return err
	}
	ctx, cancel := s.backendCtx(c)
	defer cancel()
	n, err := s.b.Publish(ctx, body.From, topic, body.Data)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, published{DeliveredNodes: n})
}
