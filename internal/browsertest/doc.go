// Package browsertest is the one headless Chromium driver of shardgate's
// browser tests (build tag browser). It starts a browser that sends
// nothing off this machine (host names resolve to nothing but loopback,
// background networking is off), with its own HOME and profile, records
// every console error and uncaught exception of the page, and at the end of
// the test kills the browser and every process it left behind by PID: the
// crash handler leaves the browser's process group, so killing the group
// is not enough.
//
// A test that needs a browser and finds none fails: a dashboard test that
// skips proves nothing. It must never be imported by code that is not a
// test.
package browsertest
