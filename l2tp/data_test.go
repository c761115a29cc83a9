package l2tp

import (
	"bytes"
	"encoding/binary"
	"net"
	"testing"
	"time"
)

func TestReceiveDataSequencing(t *testing.T) {
	h := newRecHandler()
	n := &node{cfg: Config{Handler: h}}
	c := &Call{n: n}
	frame := func(ns uint16, seq bool, payload []byte) (Header, []byte) {
		hd := Header{HasSeq: seq, Ns: ns}
		b := AppendData(nil, &hd, ProtoLCP, payload)
		var got Header
		p, err := got.Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		return got, p
	}
	for _, f := range []struct {
		ns      uint16
		seq     bool
		deliver bool
	}{
		{5, true, true},
		{6, true, true},
		{4, true, false}, // late: dropped (RFC 2661 §5.4)
		{6, true, false}, // duplicate
		{9, true, true},  // a gap is a loss, not a reason to wait
		{0, false, true}, // unsequenced frames are always taken
	} {
		hd, p := frame(f.ns, f.seq, []byte{byte(f.ns)})
		n.receiveData(c, &hd, p)
		select {
		case d := <-h.data:
			if !f.deliver || d.payload[0] != byte(f.ns) {
				t.Fatalf("Ns %d delivered (want %v)", f.ns, f.deliver)
			}
		default:
			if f.deliver {
				t.Fatalf("Ns %d not delivered", f.ns)
			}
		}
	}
	if st := c.Stats(); st.RxDropped != 2 || st.RxPackets != 4 {
		t.Fatalf("stats %+v", st)
	}
	if !c.seq.Load() {
		t.Fatal("a sequencing peer did not turn on sequencing for our frames")
	}
	// Bare PPP (no FF 03), as l2tpns sends it.
	hd := Header{}
	n.receiveData(c, &hd, []byte{0xc0, 0x21, 9, 9})
	if d := <-h.data; d.proto != ProtoLCP || !bytes.Equal(d.payload, []byte{9, 9}) {
		t.Fatalf("bare frame: %#04x %x", d.proto, d.payload)
	}
}

func TestSendPPPSequenced(t *testing.T) {
	n, err := newNode(Config{Addr: "127.0.0.1:0", Handler: newRecHandler()}, RoleLNS, "")
	if err != nil {
		t.Fatal(err)
	}
	defer n.conn.Close()
	sink, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	c := &Call{n: n, peer: sink.LocalAddr().(*net.UDPAddr).AddrPort(), info: CallInfo{PeerTunnelID: 7, PeerSessionID: 8}}
	c.SendPPP(ProtoIPv4, []byte{0x45})
	c.seq.Store(true)
	c.SendPPP(ProtoIPv4, []byte{0x45})
	c.SendPPP(ProtoIPv4, []byte{0x45})
	sink.SetReadDeadline(time.Now().Add(guard))
	buf := make([]byte, 100)
	for i, want := range []Header{
		{TunnelID: 7, SessionID: 8},
		{HasSeq: true, TunnelID: 7, SessionID: 8, Ns: 0},
		{HasSeq: true, TunnelID: 7, SessionID: 8, Ns: 1},
	} {
		k, err := sink.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		h, p, err := ParseHeader(buf[:k])
		if err != nil || h != want || !bytes.Equal(p, []byte{0xff, 0x03, 0x00, 0x21, 0x45}) {
			t.Fatalf("frame %d: %+v %x %v, want %+v", i, h, p, err, want)
		}
	}
	if st := c.Stats(); st.TxPackets != 3 {
		t.Fatalf("stats %+v", st)
	}
}

func TestReceiveDataIPWriterAllocs(t *testing.T) {
	n := &node{cfg: Config{Handler: newRecHandler()}}
	c := &Call{n: n}
	var got int
	c.SetIPWriter(func(proto uint16, pkt []byte) { got += len(pkt) })
	hd := Header{HasSeq: true}
	b := AppendData(nil, &hd, ProtoIPv4, make([]byte, 1400))
	var h Header
	ns := uint16(0)
	allocs := testing.AllocsPerRun(1000, func() {
		binary.BigEndian.PutUint16(b[6:], ns) // keep the frames in sequence
		ns++
		p, _ := h.Decode(b)
		n.receiveData(c, &h, p)
	})
	if st := c.Stats(); allocs != 0 || st.RxDropped != 0 || got != int(st.RxPackets)*1400 || st.RxPackets < 1000 {
		t.Fatalf("%v allocs per frame, %d bytes written, stats %+v", allocs, got, st)
	}
}

func BenchmarkReceiveDataIP(b *testing.B) {
	n := &node{cfg: Config{Handler: newRecHandler()}}
	c := &Call{n: n}
	c.SetIPWriter(func(uint16, []byte) {})
	hd := Header{}
	pkt := AppendData(nil, &hd, ProtoIPv4, make([]byte, 1400))
	var h Header
	b.SetBytes(int64(len(pkt)))
	b.ReportAllocs()
	for b.Loop() {
		p, _ := h.Decode(pkt)
		n.receiveData(c, &h, p)
	}
}

func BenchmarkAppendData(b *testing.B) {
	h := Header{HasSeq: true, TunnelID: 1, SessionID: 2}
	payload := make([]byte, 1400)
	buf := make([]byte, 0, 2048)
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendData(buf[:0], &h, ProtoIPv4, payload)
		h.Ns++
	}
}
