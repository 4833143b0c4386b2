// Package jsonscan walks JSON text without decoding it: the start and end
// of strings and values, found without recursion and without allocating, so
// nesting of any depth costs only a counter. Callers use it to look at a
// frame's shape (the envelopes of a link frame, the member names of a
// client's params) before or instead of a full decode; nothing is
// validated, so it is meant for text that is valid JSON or is refused
// anyway.
package jsonscan
