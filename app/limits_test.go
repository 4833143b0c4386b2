package app

import "testing"

// An address that opens sockets past its own cap must not take the
// listener's room from other addresses: its extra sockets are answered
// (503 or close 4008) without counting in the total, and past a margin
// they are closed unanswered.
func TestOneAddressOverItsCapLeavesRoomForOthers(t *testing.T) {
	l := newConnLimiter(10, 6, "full")
	var refused, dropped int
	for range 40 {
		over, drop, counted := l.acquire("10.0.0.1")
		switch {
		case drop:
			dropped++
		case over != "":
			refused++
			if counted {
				t.Fatalf("a connection over its address's cap counts in the total")
			}
		}
	}
	if want := 6/4 + 16; refused != want || dropped != 40-6-want {
		t.Fatalf("40 sockets from one address with a cap of 6: %d refused with an answer, %d dropped; want %d and %d", refused, dropped, want, 40-6-want)
	}
	for i := range 4 {
		if over, drop, counted := l.acquire("10.0.0.2"); over != "" || drop || !counted {
			t.Fatalf("connection %d of another address: over %q, drop %v; want it served", i+1, over, drop)
		}
	}
	if over, _, _ := l.acquire("10.0.0.3"); over != "full" {
		t.Fatalf("the 11th counted connection: over %q, want the listener's own refusal", over)
	}

	// Releasing an uncounted connection frees its address's place only.
	l.release("10.0.0.1", false)
	if l.total != 11 {
		t.Fatalf("total %d after an uncounted release, want 11", l.total)
	}
	if over, drop, _ := l.acquire("10.0.0.1"); over == "" || drop {
		t.Fatalf("the address is still over its cap: over %q, drop %v", over, drop)
	}
}

func TestAdminPerAddrCap(t *testing.T) {
	for _, c := range []struct{ in, want int }{{0, 0}, {-1, 0}, {10, 10}, {1000, AdminMaxConnections / 4}} {
		if got := adminPerAddrCap(c.in); got != c.want {
			t.Errorf("adminPerAddrCap(%d) = %d, want %d", c.in, got, c.want)
		}
	}
}
