package node

import (
	"testing"
	"time"
)

// A peer's summary is trusted until a newer one (a higher version, or any
// version of a later process) replaces it; anything the summaries do not
// rule out is sent.
func TestInterestViews(t *testing.T) {
	i := newInterest(interestDeps{})
	if !i.wants("b", "news") {
		t.Fatal("a peer that sent no summary must get every publication")
	}
	i.receive("b", interestMsg{Epoch: 10, Version: 2, Topics: []string{"news"}})
	if !i.wants("b", "news") || i.wants("b", "sport") {
		t.Fatal("summary {news} not applied")
	}
	i.receive("b", interestMsg{Epoch: 10, Version: 1, Topics: []string{"sport"}}) // late, older
	if i.wants("b", "sport") || !i.wants("b", "news") {
		t.Fatal("an older summary replaced a newer one")
	}
	i.receive("b", interestMsg{Epoch: 9, Version: 7, Topics: []string{"sport"}}) // an earlier process
	if i.wants("b", "sport") {
		t.Fatal("a summary of an earlier process replaced the current one")
	}
	i.receive("b", interestMsg{Epoch: 11, Version: 1}) // restarted, nothing subscribed
	if i.wants("b", "news") {
		t.Fatal("the restarted peer's empty summary was not applied")
	}
	i.receive("b", interestMsg{Epoch: 11, Version: 2, All: true})
	if !i.wants("b", "anything") {
		t.Fatal("a summary saying everything must get everything")
	}
	i.receive("c", interestMsg{Epoch: 1, Version: 1})
	i.mu.Lock()
	v := i.views["c"]
	v.at = time.Now().Add(-interestTTL - time.Second)
	i.views["c"] = v
	i.mu.Unlock()
	if !i.wants("c", "news") {
		t.Fatal("a summary older than interestTTL must not be trusted")
	}
}
