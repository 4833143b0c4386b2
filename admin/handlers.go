package admin

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/shardgate/shardgate"
)

// The handlers below validate, call the Backend once, and normalise nil
// slices to [] so tools never have to tell null from empty.

func (s *Server) getCluster(c echo.Context) error {
	ctx, cancel := s.backendCtx(c)
	defer cancel()
	cv, err := s.b.Cluster(ctx)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, normCluster(cv))
}

func (s *Server) getPartitions(c echo.Context) error {
	ctx, cancel := s.backendCtx(c)
	defer cancel()
	pv, err := s.b.Partitions(ctx)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, normPartitions(pv))
}

// shardHistory is GET /v1/partitions/:id/history.
type shardHistory struct {
	Shard   int                         `json:"shard"`
	History []shardgate.OwnershipChange `json:"history"`
}

func (s *Server) getShardHistory(c echo.Context) error {
	id, err := shardParam(c)
	if err != nil {
		return err
	}
	ctx, cancel := s.backendCtx(c)
	defer cancel()
	h, err := s.b.ShardHistory(ctx, id)
	if err != nil {
		return err
	}
	h = normEach(h, func(o *shardgate.OwnershipChange) *[]string { return &o.Backups })
	return c.JSON(http.StatusOK, shardHistory{Shard: id, History: nonNil(h)})
}

func (s *Server) getRoute(c echo.Context) error {
	key := c.QueryParam("key")
	if err := shardgate.ValidKey(key); err != nil {
		return err
	}
	ctx, cancel := s.backendCtx(c)
	defer cancel()
	r, err := s.b.Route(ctx, key)
	if err != nil {
		return err
	}
	r.Backups = nonNil(r.Backups)
	return c.JSON(http.StatusOK, r)
}

func normCluster(cv shardgate.ClusterView) shardgate.ClusterView {
	cv.Nodes = nonNil(cv.Nodes)
	return cv
}

func normPartitions(pv shardgate.PartitionsView) shardgate.PartitionsView {
	pv.Partitions = nonNil(normEach(pv.Partitions, func(p *shardgate.PartitionView) *[]string { return &p.Backups }))
	return pv
}

// normEach replaces nil string slices inside elements with []. The Backend
// may hand out a view it shares with other requests, so it works on a copy
// and only when something needs fixing.
func normEach[T any](s []T, field func(*T) *[]string) []T {
	var out []T
	for i := range s {
		if *field(&s[i]) != nil {
			continue
		}
		if out == nil {
			out = append([]T(nil), s...)
		}
		*field(&out[i]) = []string{}
	}
	if out == nil {
		return s
	}
	return out
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
