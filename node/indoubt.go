package node

import (
	"crypto/rand"
	"encoding/hex"
	"sync"
	"time"
)

// A send whose batch committed on the home but not on every other holder
// is in doubt: it is stored here and answered "unavailable". Its caller
// retries the very same request (Send gives every call an attempt id that
// its retries keep), and the retry must not store the message again under
// a new seq. The writer remembers the seq each in-doubt attempt got and
// answers a retry by re-replicating that message instead.
//
// The record lives in memory on the home that stored the message. If the
// home changes between two attempts, the new home has either received the
// message (then it holds it at the same seq, and the retry, lacking the
// record, stores it once more) or not (then the retry stores it once).
// Callers that need exactly-once across a home change give an id.

// inDoubtTTL bounds how long an in-doubt record waits for its retry; it
// outlives every internal retry window.
const inDoubtTTL = time.Minute

// maxInDoubt bounds the records one shard writer keeps.
const maxInDoubt = 100_000

type inDoubtSend struct {
	key string
	seq uint64
	at  time.Time
}

// inDoubtBook belongs to one shard writer; only its goroutine uses it, but
// it is locked so tests and stats may read it.
type inDoubtBook struct {
	mu   sync.Mutex
	byID map[string]inDoubtSend
}

func newInDoubtBook() *inDoubtBook { return &inDoubtBook{byID: map[string]inDoubtSend{}} }

func (b *inDoubtBook) get(attempt, key string) (uint64, bool) {
	if attempt == "" {
		return 0, false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.byID[attempt]
	if !ok || e.key != key {
		return 0, false
	}
	return e.seq, true
}

func (b *inDoubtBook) put(attempt, key string, seq uint64, now time.Time) {
	if attempt == "" {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.byID) >= maxInDoubt {
		b.expireLocked(now)
	}
	if len(b.byID) < maxInDoubt {
		b.byID[attempt] = inDoubtSend{key: key, seq: seq, at: now}
	}
}

func (b *inDoubtBook) remove(attempt string) {
	if attempt == "" {
		return
	}
	b.mu.Lock()
	delete(b.byID, attempt)
	b.mu.Unlock()
}

func (b *inDoubtBook) expire(now time.Time) {
	b.mu.Lock()
	b.expireLocked(now)
	b.mu.Unlock()
}

func (b *inDoubtBook) expireLocked(now time.Time) {
	for id, e := range b.byID {
		if now.Sub(e.at) > inDoubtTTL {
			delete(b.byID, id)
		}
	}
}

// newAttemptID names one Send call; its internal retries reuse it.
func newAttemptID() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
