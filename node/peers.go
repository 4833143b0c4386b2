package node

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/shardgate/shardgate/store"
)

const metaPeersKey = "peers"

// peersSaveInterval is how often the node looks whether the gossip
// addresses of its live peers changed, and saves them if they did.
const peersSaveInterval = 5 * time.Second

// KnownPeers reads the gossip addresses of the peers this data dir's node
// last saw alive (nil when it saved none). A restarted node re-joins them
// by itself (cluster.Config.Peers): without them, a node started without
// --join (the first of a cluster) that left on SIGTERM would come back
// alone, since its peers never re-join a node that said goodbye.
func KnownPeers(st *store.Store) ([]string, error) {
	raw, err := st.GetMeta(metaPeersKey)
	if err != nil || raw == nil {
		return nil, err
	}
	var addrs []string
	if err := json.Unmarshal(raw, &addrs); err != nil {
		return nil, fmt.Errorf("node: decode the saved peers: %w", err)
	}
	return addrs, nil
}

// peersLoop saves the gossip addresses of the live peers whenever they
// change. A node that is alone saves nothing: the addresses of its last
// cluster are what it needs to find the way back.
func (n *Node) peersLoop() {
	t := time.NewTicker(peersSaveInterval)
	defer t.Stop()
	var saved []string
	for {
		var addrs []string
		for _, m := range n.mem.Members() {
			if m.Name != n.name && m.GossipAddr != "" {
				addrs = append(addrs, m.GossipAddr)
			}
		}
		slices.Sort(addrs)
		if len(addrs) > 0 && !slices.Equal(addrs, saved) {
			raw, err := json.Marshal(addrs)
			if err == nil {
				err = n.st.PutMeta(metaPeersKey, raw)
			}
			if err != nil {
				n.log.Warn("save the peers' addresses for the next start", "err", err)
			} else {
				saved = addrs
			}
		}
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
		}
	}
}
