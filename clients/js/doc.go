// Package jsclient embeds the browser client of shardgate (shardgate.js,
// a dependency-free ES module, and its TypeScript declarations) and the
// demo page, so that every node can serve them from its binary. It holds
// no logic: the module is the product, this package only carries it.
package jsclient
