// Command shardgate runs a node of a shardgate cluster, a local dev
// cluster, a load generator, or mints client tokens.
package main
