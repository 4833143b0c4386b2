// Package archcheck holds tests of the code's own structure: rules that a
// compiler does not enforce but the design depends on. It has no code of
// its own; its tests read the sources of other packages.
//
// It owns nothing at run time and must never be imported.
package archcheck
