package ppp

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"
)

var packetSeeds = [][]byte{
	{1, 1, 0, 18, 1, 4, 5, 0xd4, 3, 4, 0xc0, 0x23, 5, 6, 0x12, 0x34, 0x56, 0x78},
	{9, 7, 0, 8, 0x12, 0x34, 0x56, 0x78},
	{5, 2, 0, 4, 0xff, 0xff},
	{1, 1, 0, 3},
	{},
}

func FuzzParse(f *testing.F) {
	for _, s := range packetSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, rest, err := Parse(b)
		if err != nil {
			return
		}
		enc := p.Append(nil)
		if !bytes.Equal(enc, b[:len(b)-len(rest)]) {
			t.Fatalf("round trip %x -> %x", b, enc)
		}
	})
}

func FuzzParseOptions(f *testing.F) {
	f.Add([]byte{1, 4, 5, 0xd4, 3, 5, 0xc2, 0x23, 5})
	f.Add([]byte{3, 6, 0, 0, 0, 0, 129, 6, 0, 0, 0, 0})
	f.Add([]byte{1, 10, 1, 2, 3, 4, 5, 6, 7, 8})
	f.Add([]byte{1, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		d := NewOptionDecoder(b)
		var enc []byte
		for d.Next() {
			enc = d.Option().Append(enc)
		}
		if d.Err() == nil && !bytes.Equal(enc, b) {
			t.Fatalf("round trip %x -> %x", b, enc)
		}
		if (d.Err() == nil) != (ValidateOptions(b) == nil) {
			t.Fatal("ValidateOptions disagrees")
		}
	})
}

func FuzzParsePAPRequest(f *testing.F) {
	f.Add(AppendPAPRequest(nil, "alice", "s3cret"))
	f.Add([]byte{5, 'a'})
	f.Fuzz(func(t *testing.T, b []byte) {
		u, p, err := ParsePAPRequest(b)
		if err != nil {
			return
		}
		enc := AppendPAPRequest(nil, string(u), string(p))
		if !bytes.Equal(enc, b[:len(enc)]) {
			t.Fatalf("round trip %x -> %x", b, enc)
		}
	})
}

func FuzzParsePAPMessage(f *testing.F) {
	f.Add(AppendPAPMessage(nil, "welcome"))
	f.Add([]byte{200})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParsePAPMessage(b)
		if err != nil {
			return
		}
		if enc := AppendPAPMessage(nil, string(m)); !bytes.Equal(enc, b[:len(enc)]) {
			t.Fatalf("round trip %x -> %x", b, enc)
		}
	})
}

func FuzzParseCHAP(f *testing.F) {
	f.Add(AppendCHAP(nil, bytes.Repeat([]byte{7}, 16), "bngbox"))
	f.Add([]byte{0})
	f.Fuzz(func(t *testing.T, b []byte) {
		v, n, err := ParseCHAP(b)
		if err != nil {
			return
		}
		if enc := AppendCHAP(nil, v, string(n)); !bytes.Equal(enc, b) {
			t.Fatalf("round trip %x -> %x", b, enc)
		}
	})
}

// FuzzLinkInput feeds arbitrary frames (2-byte protocol, 2-byte length,
// payload; repeated) to a server and a client Link, both fresh and opened,
// with timer ticks in between. It checks for panics and bounded state.
func FuzzLinkInput(f *testing.F) {
	for _, s := range packetSeeds {
		f.Add(uint8(0), frameSeed(ProtoLCP, s))
		f.Add(uint8(3), frameSeed(ProtoIPCP, s))
	}
	f.Add(uint8(1), frameSeed(ProtoPAP, []byte{1, 1, 0, 12, 5, 'a', 'l', 'i', 'c', 'e', 1, 'x'}))
	f.Add(uint8(2), frameSeed(ProtoCHAP, []byte{2, 1, 0, 5, 0}))
	f.Add(uint8(3), frameSeed(0x80fd, []byte{1, 1, 0, 4}))
	f.Fuzz(func(t *testing.T, mode uint8, data []byte) {
		var l *Link
		scfg, ccfg := serverConfig(AuthPAP|AuthCHAP), clientConfig(AuthPAP|AuthCHAP)
		scfg.EchoInterval, ccfg.EchoInterval = time.Second, time.Second
		now := t0
		switch mode % 4 {
		case 0:
			l = New(scfg)
			l.Open(now)
		case 1:
			l = New(ccfg)
			l.Open(now)
		case 2:
			l = openPair(t, scfg, ccfg).s.l
		case 3:
			l = openPair(t, scfg, ccfg).c.l
		}
		for len(data) >= 4 {
			proto := binary.BigEndian.Uint16(data)
			n := int(binary.BigEndian.Uint16(data[2:]))
			data = data[4:]
			n = min(n, len(data))
			pkt := bytes.Clone(data[:n])
			data = data[n:]
			fx := l.Input(now, proto, pkt)
			checkEffects(t, l, fx)
			if d := l.NextDeadline(); !d.IsZero() && proto&1 == 1 {
				now = d
				checkEffects(t, l, l.Tick(now))
			}
			if a := findKind(fx, EffectAuthRequest); a != nil {
				checkEffects(t, l, l.AuthResult(now, proto&2 == 0, "m", NetParams{PeerIP: peerIP}))
			}
		}
		checkEffects(t, l, l.Close(now, ReasonAdmin))
	})
}

func frameSeed(proto uint16, pkt []byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, proto)
	b = binary.BigEndian.AppendUint16(b, uint16(len(pkt)))
	return append(b, pkt...)
}

func checkEffects(t *testing.T, l *Link, fx []Effect) {
	t.Helper()
	if len(fx) > 16 {
		t.Fatalf("%d effects", len(fx))
	}
	if cap(l.out) > 2*l.maxControl()+1024 {
		t.Fatalf("output arena grew to %d", cap(l.out))
	}
	for _, e := range fx {
		if e.Kind == EffectSend {
			if _, _, err := Parse(e.Data); err != nil {
				t.Fatalf("sent unparsable packet %x: %v", e.Data, err)
			}
			if len(e.Data) > 1500 {
				t.Fatalf("sent %d bytes", len(e.Data))
			}
		}
	}
	for _, f := range []*fsm{&l.lcp, &l.ipcp, &l.ipv6cp} {
		if !l.Done() && f.state.timerRuns() != (f.deadline != 0) {
			t.Fatalf("%#x: timer %v in %v", f.proto, f.deadline, f.state)
		}
	}
}
