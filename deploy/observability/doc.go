// Package observability holds the Prometheus alert rules
// (alerts.yaml) and the Grafana dashboard (grafana-dashboard.json) of
// shardgate, and the test that keeps them to the metric names a node's
// /metrics really exposes. There is no Go code to import here.
package observability
