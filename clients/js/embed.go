package jsclient

import _ "embed"

// Module is shardgate.js, served at /v1/client.js.
//
//go:embed shardgate.js
var Module []byte

// Types is shardgate.d.ts, served at /v1/client.d.ts.
//
//go:embed shardgate.d.ts
var Types []byte

// Demo is a chat page between two users built on the module, served by
// `shardgate dev` at /demo/.
//
//go:embed demo.html
var Demo []byte
