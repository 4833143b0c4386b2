//go:build browser

package browsertest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/chromedp/chromedp"
)

// Find returns the path of Chromium, or fails the test when there is none.
func Find(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "/usr/bin/chromium"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("browsertest: chromium is not installed (apt-get install -y chromium): browser tests need a real browser")
	return ""
}

// allocatorOptions are the flags of every test browser. Host names resolve
// to nothing, so a page or the browser itself cannot reach beyond
// loopback; HOME and the profile are the test's own, so nothing of a
// previous run (or of a person's browser) leaks in.
func allocatorOptions(exe, home, profile string, o Options) []chromedp.ExecAllocatorOption {
	return []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-breakpad", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("metrics-recording-only", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(o.Width, o.Height),
		chromedp.Env("HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"),
			"XDG_CACHE_HOME="+filepath.Join(home, ".cache")),
	}
}

// killLeftovers kills the browser process, if it still runs, and every
// process whose command line names this test's profile directory (the
// renderers, the GPU process, the crash handler that left the group).
func killLeftovers(t testing.TB, browser *os.Process, profile string) {
	if browser != nil {
		_ = browser.Kill()
		_, _ = browser.Wait()
	}
	for _, pid := range pidsNaming(profile) {
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && err != syscall.ESRCH {
			t.Logf("browsertest: kill leftover chromium process %d: %v", pid, err)
		}
	}
}

// pidsNaming lists the processes whose command line contains s.
func pidsNaming(s string) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	self := os.Getpid()
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		cmd, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(string(cmd), s) {
			out = append(out, pid)
		}
	}
	return out
}
