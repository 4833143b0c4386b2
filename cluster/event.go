package cluster

import "strconv"

// Member statuses, as failure detection sees them.
const (
	StatusAlive = "alive"
	// StatusSuspect is part of the vocabulary, but memberlist v0.7.0 does not
	// expose suspicion, so Members reports suspected nodes as alive until
	// they are declared dead.
	StatusSuspect = "suspect"
	StatusDead    = "dead"
	StatusLeft    = "left"
)

// Member is one node as this node currently sees it.
type Member struct {
	Name       string
	GossipAddr string // host:port
	Meta       Meta
	Status     string // StatusAlive, StatusSuspect, StatusDead or StatusLeft
}

// EventType says what happened to a member.
type EventType int

const (
	// EventJoin: a member appeared, or came back after failing or leaving.
	EventJoin EventType = iota + 1
	// EventLeave: a member left gracefully.
	EventLeave
	// EventFailed: failure detection declared a member dead. A member that
	// restarts under its name before it was declared dead is reported as
	// EventFailed for the old process followed by EventJoin for the new one.
	EventFailed
	// EventUpdate: a member's metadata changed.
	EventUpdate
)

func (t EventType) String() string {
	switch t {
	case EventJoin:
		return "join"
	case EventLeave:
		return "leave"
	case EventFailed:
		return "failed"
	case EventUpdate:
		return "update"
	}
	return "EventType(" + strconv.Itoa(int(t)) + ")"
}

// Event is one membership change. Member holds the state after the change
// (for EventLeave and EventFailed, the last state known before it).
type Event struct {
	Type   EventType
	Member Member
}
