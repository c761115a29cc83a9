package l2tp

import (
	"errors"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)

func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

// hdrs decodes the headers of control packets.
func hdrs(t *testing.T, pkts [][]byte) []Header {
	t.Helper()
	var hs []Header
	for _, p := range pkts {
		h, _, err := ParseHeader(p)
		if err != nil || !h.Control {
			t.Fatalf("bad packet %x: %v", p, err)
		}
		hs = append(hs, h)
	}
	return hs
}

func rx(ns, nr uint16) *Header {
	return &Header{Control: true, HasLength: true, HasSeq: true, Ns: ns, Nr: nr}
}

var msgBody = NewMessage(MsgHello).Append(nil, nil)

func TestChannelInOrderDelayedAck(t *testing.T) {
	c := NewChannel(ChannelConfig{})
	d, out := c.Receive(at(0), rx(0, 0), msgBody)
	if len(d) != 1 || len(out) != 0 {
		t.Fatalf("deliver %d out %d, want 1, 0 (ack is delayed)", len(d), len(out))
	}
	if got := c.Deadline(); !got.Equal(at(100)) {
		t.Fatalf("deadline %v, want ack at +100ms", got)
	}
	if out, _ := c.Tick(at(99)); len(out) != 0 {
		t.Fatalf("ack sent early")
	}
	out, err := c.Tick(at(100))
	hs := hdrs(t, out)
	if err != nil || len(hs) != 1 || hs[0].Nr != 1 || hs[0].Ns != 0 || hs[0].Length != 12 {
		t.Fatalf("want one ZLB Ns 0 Nr 1, got %+v %v", hs, err)
	}
	if !c.Deadline().IsZero() {
		t.Fatal("deadline left after ack")
	}
}

func TestChannelPiggybackAck(t *testing.T) {
	c := NewChannel(ChannelConfig{})
	c.Receive(at(0), rx(0, 0), msgBody)
	hs := hdrs(t, c.Send(at(10), 0, msgBody))
	if len(hs) != 1 || hs[0].Nr != 1 {
		t.Fatalf("got %+v, want message with Nr 1", hs)
	}
	if out, _ := c.Tick(at(100)); len(out) != 0 {
		t.Fatal("ZLB sent although the ack rode on a message")
	}
}

func TestChannelReceive(t *testing.T) {
	type step struct {
		ns, nr      uint16
		wantDeliver []uint16 // Ns delivered in order
		wantZLBNr   int      // -1: no immediate packet
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"duplicate re-acked", []step{
			{0, 0, []uint16{0}, -1},
			{0, 0, nil, 1},
		}},
		{"reordered held", []step{
			{1, 0, nil, 0},
			{2, 0, nil, 0},
			{0, 0, []uint16{0, 1, 2}, -1},
		}},
		{"duplicate of held", []step{
			{1, 0, nil, 0},
			{1, 0, nil, 0},
			{0, 0, []uint16{0, 1}, -1},
		}},
		{"beyond window dropped", []step{
			{8, 0, nil, -1},
			{0, 0, []uint16{0}, -1},
		}},
		{"peer restart looks like duplicates", []step{
			{0, 0, []uint16{0}, -1},
			{1, 0, []uint16{1}, -1},
			{2, 0, []uint16{2}, -1},
			{0, 0, nil, 3},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewChannel(ChannelConfig{})
			for i, s := range tt.steps {
				d, out := c.Receive(at(i), rx(s.ns, s.nr), msgBody)
				var got []uint16
				for _, m := range d {
					got = append(got, m.Ns)
				}
				if len(got) != len(s.wantDeliver) {
					t.Fatalf("step %d: delivered %v, want %v", i, got, s.wantDeliver)
				}
				for j := range got {
					if got[j] != s.wantDeliver[j] {
						t.Fatalf("step %d: delivered %v, want %v", i, got, s.wantDeliver)
					}
				}
				hs := hdrs(t, out)
				if s.wantZLBNr < 0 {
					if len(hs) != 0 {
						t.Fatalf("step %d: sent %+v, want nothing", i, hs)
					}
					continue
				}
				if len(hs) != 1 || int(hs[0].Nr) != s.wantZLBNr || hs[0].Length != 12 {
					t.Fatalf("step %d: sent %+v, want ZLB Nr %d", i, hs, s.wantZLBNr)
				}
			}
		})
	}
}

func TestChannelWrapAround(t *testing.T) {
	c := NewChannel(ChannelConfig{})
	c.nr = 0xffff
	d, _ := c.Receive(at(0), rx(0, 0), msgBody) // ahead by one: held
	if len(d) != 0 {
		t.Fatal("delivered out of order")
	}
	d, _ = c.Receive(at(1), rx(0xffff, 0), msgBody)
	if len(d) != 2 || c.Nr() != 1 {
		t.Fatalf("delivered %d, nr %d; want 2, 1", len(d), c.Nr())
	}
}

func TestChannelPeerWindow(t *testing.T) {
	c := NewChannel(ChannelConfig{})
	c.SetPeerWindow(2)
	var sent []Header
	for i := range 4 {
		sent = append(sent, hdrs(t, c.Send(at(i), 0, msgBody))...)
	}
	if len(sent) != 2 || sent[0].Ns != 0 || sent[1].Ns != 1 {
		t.Fatalf("sent %+v, want Ns 0, 1 only (window 2)", sent)
	}
	if c.Outstanding() != 4 {
		t.Fatalf("outstanding %d", c.Outstanding())
	}
	// A ZLB acknowledging Ns 0 opens one slot.
	_, out := c.Receive(at(10), rx(0, 1), nil)
	hs := hdrs(t, out)
	if len(hs) != 1 || hs[0].Ns != 2 {
		t.Fatalf("after ack sent %+v, want Ns 2", hs)
	}
	// An Nr acknowledging messages never sent is ignored.
	c.Receive(at(11), rx(0, 9), nil)
	if c.Outstanding() != 3 {
		t.Fatalf("bogus Nr changed outstanding to %d", c.Outstanding())
	}
	_, out = c.Receive(at(12), rx(0, 3), nil)
	if hs := hdrs(t, out); len(hs) != 1 || hs[0].Ns != 3 || c.Outstanding() != 1 {
		t.Fatalf("sent %+v outstanding %d", hs, c.Outstanding())
	}
}

func TestChannelRetransmitBackoffAndGiveUp(t *testing.T) {
	c := NewChannel(ChannelConfig{RetransmitInitial: time.Second, RetransmitMax: 4 * time.Second, MaxRetransmits: 4})
	c.Send(t0, 0, msgBody)
	// Loss: nothing comes back. The peer's message arrives meanwhile, so
	// retransmissions carry the updated Nr.
	c.Receive(t0.Add(10*time.Millisecond), rx(0, 0), msgBody)
	now := t0
	for i, wait := range []time.Duration{1, 2, 4, 4} {
		want := now.Add(wait * time.Second)
		if i == 0 {
			want = t0.Add(time.Second)
		}
		if d := c.Deadline(); !d.Equal(want) && !(i == 0 && d.Before(want)) {
			t.Fatalf("retransmit %d deadline %v, want %v", i, d.Sub(t0), want.Sub(t0))
		}
		now = want
		out, err := c.Tick(now)
		if err != nil {
			t.Fatalf("retransmit %d: %v", i, err)
		}
		hs := hdrs(t, out)
		if len(hs) != 1 || hs[0].Ns != 0 || hs[0].Nr != 1 {
			t.Fatalf("retransmit %d: %+v, want Ns 0 Nr 1", i, hs)
		}
	}
	if _, err := c.Tick(now.Add(4 * time.Second)); !errors.Is(err, ErrPeerUnreachable) {
		t.Fatalf("err %v, want give up", err)
	}
	if _, err := c.Tick(now.Add(5 * time.Second)); !errors.Is(err, ErrPeerUnreachable) {
		t.Fatal("channel recovered after giving up")
	}
}

func TestChannelAckStopsRetransmit(t *testing.T) {
	c := NewChannel(ChannelConfig{})
	c.Send(t0, 0, msgBody)
	c.Receive(t0.Add(time.Millisecond), rx(0, 1), nil)
	if !c.Deadline().IsZero() || c.Outstanding() != 0 {
		t.Fatalf("deadline %v outstanding %d after ack", c.Deadline(), c.Outstanding())
	}
	if out, _ := c.Tick(t0.Add(time.Minute)); len(out) != 0 {
		t.Fatal("retransmitted an acknowledged message")
	}
}

func TestChannelBeyondWindowCounted(t *testing.T) {
	c := NewChannel(ChannelConfig{ReceiveWindow: 4})
	c.Receive(at(0), rx(3, 0), msgBody) // inside the window: held
	c.Receive(at(1), rx(4, 0), msgBody) // beyond: dropped
	c.Receive(at(2), rx(0, 0), msgBody) // duplicate of nothing: delivered
	c.Receive(at(3), rx(0, 0), msgBody) // duplicate: re-acked, not a drop
	if got := c.BeyondWindow(); got != 1 {
		t.Fatalf("BeyondWindow = %d, want 1", got)
	}
}
