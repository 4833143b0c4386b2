// Package apptest starts whole shardgate nodes (app.Server) in the test's
// own process, for the packages whose tests need a small live cluster
// without the integration harness: the CLI, the bench tool and the
// observability manifests. test/integration keeps its own harness, which also kills,
// restarts and partitions nodes.
package apptest
