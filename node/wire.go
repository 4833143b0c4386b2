package node

import (
	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/link/wire"
	"github.com/shardgate/shardgate/store"
)

// Binary forms of the link messages every send or publication carries
// (link/wire): the forwarded send and its result, the replication batch and
// its answer, the push of committed messages, the publication. Everything
// else travels as JSON. A layout change takes a new tag; the JSON tags of
// these types still matter for peers that speak only the JSON codec.

// Tags of the binary forms.
const (
	tagReplicateReq  byte = 1
	tagReplicateResp byte = 2
	tagDeliverMsg    byte = 3
	tagSendReq       byte = 4
	tagSendResult    byte = 5
	tagPublication   byte = 6
	tagInterest      byte = 7
)

// Bounds on what a binary body may claim; the frame limit bounds the
// whole, these keep any one field or list from claiming more than a
// sane message would.
const (
	wireMaxString = 8 << 10  // keys, names, ids: store.maxPart
	wireMaxData   = 64 << 20 // one message's data
	wireMaxCount  = 1 << 20  // elements of one list
)

// sendResult and publication give root types a binary form.
type (
	sendResult  shardgate.SendResult
	publication shardgate.Publication
)

func appendMessage(dst []byte, m *shardgate.Message) []byte {
	dst = wire.AppendUvarint(dst, m.Seq)
	dst = wire.AppendString(dst, m.From)
	dst = wire.AppendBytes(dst, m.Data)
	dst = wire.AppendVarint(dst, m.TS)
	return wire.AppendString(dst, m.ID)
}

// minMessageBytes is the smallest encoded message: five one-byte fields.
const minMessageBytes = 5

func readMessage(r *wire.Reader, m *shardgate.Message) {
	m.Seq = r.Uvarint()
	m.From = r.String(wireMaxString)
	m.Data = r.JSON(wireMaxData)
	m.TS = r.Varint()
	m.ID = r.String(wireMaxString)
}

func readMessages(r *wire.Reader) []shardgate.Message {
	n := r.Count(wireMaxCount, minMessageBytes)
	if n == 0 {
		return nil
	}
	msgs := make([]shardgate.Message, n)
	for i := range msgs {
		readMessage(r, &msgs[i])
	}
	return msgs
}

func (replicateReq) LinkTag() byte { return tagReplicateReq }

func (q replicateReq) AppendLink(dst []byte) []byte {
	dst = wire.AppendUvarint(dst, uint64(q.Shard))
	dst = wire.AppendUvarint(dst, q.Version)
	dst = wire.AppendBool(dst, q.Pending)
	dst = wire.AppendUvarint(dst, uint64(len(q.Ops)))
	for i := range q.Ops {
		op := &q.Ops[i]
		dst = append(dst, byte(op.Kind))
		dst = wire.AppendUvarint(dst, uint64(op.Shard))
		dst = wire.AppendString(dst, op.Key)
		dst = appendMessage(dst, &op.Msg)
		dst = wire.AppendUvarint(dst, op.Seq)
		dst = wire.AppendString(dst, op.From)
		dst = wire.AppendString(dst, op.ID)
		dst = wire.AppendUvarint(dst, op.Version)
	}
	return dst
}

// minOpBytes is the smallest encoded op: seven one-byte fields and a
// message.
const minOpBytes = 7 + minMessageBytes

func (q *replicateReq) DecodeLink(r *wire.Reader) {
	q.Shard = r.Int(maxShardID)
	q.Version = r.Uvarint()
	q.Pending = r.Bool()
	n := r.Count(wireMaxCount, minOpBytes)
	if n == 0 {
		q.Ops = nil
		return
	}
	q.Ops = make([]store.Op, n)
	for i := range q.Ops {
		op := &q.Ops[i]
		op.Kind = store.OpKind(r.Byte())
		op.Shard = r.Int(maxShardID)
		op.Key = r.String(wireMaxString)
		readMessage(r, &op.Msg)
		op.Seq = r.Uvarint()
		op.From = r.String(wireMaxString)
		op.ID = r.String(wireMaxString)
		op.Version = r.Uvarint()
	}
}

// maxShardID bounds shard numbers read from the wire as the store does.
const maxShardID = 1<<32 - 1

func (replicateResp) LinkTag() byte { return tagReplicateResp }

func (p replicateResp) AppendLink(dst []byte) []byte {
	dst = wire.AppendUvarint(dst, uint64(len(p.Gaps)))
	for _, g := range p.Gaps {
		dst = wire.AppendString(dst, g.Key)
		dst = wire.AppendUvarint(dst, g.Have)
	}
	return dst
}

func (p *replicateResp) DecodeLink(r *wire.Reader) {
	n := r.Count(wireMaxCount, 2)
	p.Gaps = nil
	if n > 0 {
		p.Gaps = make([]gap, n)
	}
	for i := range p.Gaps {
		p.Gaps[i] = gap{Key: r.String(wireMaxString), Have: r.Uvarint()}
	}
}

func (deliverMsg) LinkTag() byte { return tagDeliverMsg }

func (d deliverMsg) AppendLink(dst []byte) []byte {
	dst = wire.AppendString(dst, d.Key)
	dst = wire.AppendUvarint(dst, d.LastSeq)
	dst = wire.AppendUvarint(dst, uint64(len(d.Msgs)))
	for i := range d.Msgs {
		dst = appendMessage(dst, &d.Msgs[i])
	}
	return dst
}

func (d *deliverMsg) DecodeLink(r *wire.Reader) {
	d.Key = r.String(wireMaxString)
	d.LastSeq = r.Uvarint()
	d.Msgs = readMessages(r)
}

func (sendReq) LinkTag() byte { return tagSendReq }

func (s sendReq) AppendLink(dst []byte) []byte {
	dst = wire.AppendString(dst, s.From)
	dst = wire.AppendString(dst, s.To)
	dst = wire.AppendBytes(dst, s.Data)
	dst = wire.AppendString(dst, s.ID)
	dst = wire.AppendString(dst, s.Attempt)
	return wire.AppendVarint(dst, s.WaitMS)
}

func (s *sendReq) DecodeLink(r *wire.Reader) {
	s.From = r.String(wireMaxString)
	s.To = r.String(wireMaxString)
	s.Data = r.JSON(wireMaxData)
	s.ID = r.String(wireMaxString)
	s.Attempt = r.String(wireMaxString)
	s.WaitMS = r.Varint()
}

func (sendResult) LinkTag() byte { return tagSendResult }

func (s sendResult) AppendLink(dst []byte) []byte {
	dst = wire.AppendString(dst, s.To)
	return wire.AppendUvarint(dst, s.Seq)
}

func (s *sendResult) DecodeLink(r *wire.Reader) {
	s.To = r.String(wireMaxString)
	s.Seq = r.Uvarint()
}

func (publication) LinkTag() byte { return tagPublication }

func (p publication) AppendLink(dst []byte) []byte {
	dst = wire.AppendString(dst, p.Topic)
	dst = wire.AppendString(dst, p.From)
	dst = wire.AppendBytes(dst, p.Data)
	return wire.AppendVarint(dst, p.TS)
}

func (p *publication) DecodeLink(r *wire.Reader) {
	p.Topic = r.String(wireMaxString)
	p.From = r.String(wireMaxString)
	p.Data = r.JSON(wireMaxData)
	p.TS = r.Varint()
}
