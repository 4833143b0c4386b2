// Package wire is the binary form of node-link bodies: append-style
// encoders (varints, length-prefixed strings and bytes) and a Reader that
// bounds every length and count it reads by the bytes that remain and by a
// limit its caller names, so a hostile body costs no more memory than its
// own size and never panics.
//
// A binary body starts with Marker, a byte no JSON text starts with, then
// a tag naming the type and its layout; Decode tells the two forms apart
// by that byte alone. Types opt in by implementing Appender and Decoder;
// everything else crosses the link as JSON.
//
// It must never know what the bodies mean, and imports nothing of
// shardgate's.
package wire
