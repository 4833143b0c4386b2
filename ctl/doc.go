// Package ctl is `shardgate ctl`: the admin API (docs/PROTOCOL.md) from the command
// line, with tables for people and --json for scripts.
//
// It is a client of the HTTP API only: it decodes answers into its own
// lenient views, so fields the server adds later pass through --json
// untouched, and it never imports the engine. It must never change the
// cluster except through the admin API's own actions, and every action
// takes --dry-run, which sends dry_run and prints the plan the server
// answers with.
package ctl
