//go:build browser

package browsertest

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/chromedp/chromedp"
)

// Do runs steps within one step timeout; what names them in a failure.
func (b *Browser) Do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, b.opts.Step)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// Eval evaluates a JavaScript expression in the page and decodes its value
// as JSON into a T.
func Eval[T any](b *Browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, b.opts.Step)
	defer cancel()
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[json.RawMessage](expr))
	if err != nil {
		b.t.Fatalf("evaluating %s: %v", expr, err)
	}
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		b.t.Fatalf("decoding the value of %s: %v (%s)", expr, err, raw)
	}
	return v
}

// Text is the text content of the first element sel selects.
func (b *Browser) Text(sel string) string {
	b.t.Helper()
	return Eval[string](b, `document.querySelector(`+JSString(sel)+`).textContent`)
}

// Count is the number of elements sel selects.
func (b *Browser) Count(sel string) int {
	b.t.Helper()
	return Eval[int](b, `document.querySelectorAll(`+JSString(sel)+`).length`)
}

// Press clicks the first element sel selects, from the page's own script
// (element.click()), once it exists and is enabled. A mouse click aimed at
// the element's box may land beside it when the page moves it between the
// aim and the click: a row re-rendered on a stats tick, the buttons of a
// dialog pushed down by a plan that just arrived. Tests of what a click
// does use Press; chromedp.Click is for tests of where things are.
func (b *Browser) Press(what, sel string) {
	b.t.Helper()
	b.WaitFor(what+": "+sel+" to be there", `(() => { const e = document.querySelector(`+JSString(sel)+`); return e !== null && !e.disabled; })()`)
	if !Eval[bool](b, `(() => { const e = document.querySelector(`+JSString(sel)+`); if (e === null || e.disabled) return false; e.click(); return true; })()`) {
		b.t.Fatalf("%s: %s went away before the click", what, sel)
	}
}

// JSString quotes s as a JavaScript string literal.
func JSString(s string) string {
	q, _ := json.Marshal(s)
	return string(q)
}

// WaitFor polls a JavaScript condition in the page until it is true, or
// fails the test after one step timeout.
func (b *Browser) WaitFor(what, expr string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, b.opts.Step)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(b.opts.Step),
		chromedp.WithPollingInterval(b.opts.Poll)))
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "timeout") {
			b.t.Fatalf("timed out after %v waiting for %s (%s)", b.opts.Step, what, expr)
		}
		b.t.Fatalf("waiting for %s: %v", what, err)
	}
}

// Shot saves a PNG of the whole page.
func (b *Browser) Shot(name string) {
	b.t.Helper()
	b.save(name, chromedp.FullScreenshot(100))
}

// Capture saves a PNG of what the viewport shows.
func (b *Browser) Capture(name string) {
	b.t.Helper()
	b.save(name, chromedp.CaptureScreenshot())
}

func (b *Browser) save(name string, a chromedp.Action[[]byte]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, b.opts.Step)
	defer cancel()
	png, err := chromedp.Run(ctx, a)
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(b.shots, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	b.t.Logf("screenshot: %s", path)
}

// MustBeClean fails the test on any console error or exception so far.
func (b *Browser) MustBeClean() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var problems []string
	for _, p := range b.problems {
		if !slices.ContainsFunc(b.expected, func(e string) bool { return strings.Contains(p, e) }) {
			problems = append(problems, p)
		}
	}
	if len(problems) > 0 {
		b.t.Fatalf("the page reported %d console errors or exceptions:\n%s", len(problems), strings.Join(problems, "\n"))
	}
}

// Expect lets MustBeClean pass console errors that contain s: the browser
// logs every refused request, including the ones a test provokes on
// purpose (a 409 it wants the page to explain).
func (b *Browser) Expect(s string) {
	b.mu.Lock()
	b.expected = append(b.expected, s)
	b.mu.Unlock()
}
