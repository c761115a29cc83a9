package telemetry

import (
	"bufio"
	"bytes"
	"fmt"
	"path/filepath"
	"testing"
)

func TestWireEncoding(t *testing.T) {
	tests := []struct {
		name string
		got  []byte
		want [][]byte // one segment per field
	}{
		{
			name: "connect with credentials",
			got:  connectPacket("c", "u", "p", 30),
			want: [][]byte{
				{0x10, 19},                 // CONNECT, remaining length
				{0, 4, 'M', 'Q', 'T', 'T'}, // protocol name
				{4},                        // level 3.1.1
				{0xc2},                     // user, password, clean session
				{0, 30},                    // keepalive
				{0, 1, 'c'}, {0, 1, 'u'}, {0, 1, 'p'},
			},
		},
		{
			name: "connect anonymous",
			got:  connectPacket("id", "", "", 0),
			want: [][]byte{{0x10, 14}, {0, 4, 'M', 'Q', 'T', 'T'}, {4}, {0x02}, {0, 0}, {0, 2, 'i', 'd'}},
		},
		{
			name: "publish qos1 retain",
			got:  publishPacket("a/b", []byte("xy"), true, false, 7),
			want: [][]byte{{0x33, 9}, {0, 3, 'a', '/', 'b'}, {0, 7}, {'x', 'y'}},
		},
		{
			name: "publish qos1 dup",
			got:  publishPacket("t", nil, false, true, 0x0102),
			want: [][]byte{{0x3a, 5}, {0, 1, 't'}, {1, 2}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if want := bytes.Join(tt.want, nil); !bytes.Equal(tt.got, want) {
				t.Fatalf("(-want +got):\n-% x\n+% x", want, tt.got)
			}
		})
	}
}

func TestRemainingLength(t *testing.T) {
	// MQTT 3.1.1 §2.2.3 table 2.4 boundaries.
	for _, n := range []int{0, 127, 128, 16383, 16384, 2097151, 2097152} {
		b := appendRemLen([]byte{pktPuback << 4}, n)
		b = append(b, make([]byte, n)...)
		typ, _, body, err := readPacket(bufio.NewReader(bytes.NewReader(b)))
		if err != nil || typ != pktPuback || len(body) != n {
			t.Fatalf("n=%d: type %d, %d bytes, %v", n, typ, len(body), err)
		}
	}
	if _, _, _, err := readPacket(bufio.NewReader(bytes.NewReader([]byte{0x40, 0xff, 0xff, 0xff, 0xff, 1}))); err == nil {
		t.Fatal("5-byte remaining length accepted")
	}
}

func FuzzReadPacket(f *testing.F) {
	f.Add([]byte{0x20, 2, 0, 0})
	f.Add([]byte{0x40, 2, 0, 1})
	f.Add(publishPacket("a", []byte("b"), true, true, 1))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 1 && b[1]&0x80 != 0 {
			return // avoid huge allocations from long lengths
		}
		typ, _, body, err := readPacket(bufio.NewReader(bytes.NewReader(b)))
		if err == nil && typ == pktPuback {
			packetID(body)
		}
		if err == nil && typ == pktConnack {
			connackCode(body)
		}
	})
}

func TestBridgeQueueBound(t *testing.T) {
	cfg := BridgeConfig{Address: "127.0.0.1:1", QueuePath: filepath.Join(t.TempDir(), "q.db"), QueueMax: 5}.withDefaults()
	b, err := newBridge(cfg, "nas1", discard())
	if err != nil {
		t.Fatal(err)
	}
	// Two batches: 3 fit, then 5 more overflow by 3.
	for i := 1; i <= 3; i++ {
		b.enqueue(fmt.Sprintf("t/%d", i), []byte{byte(i)}, i == 1)
	}
	b.flush()
	for i := 4; i <= 8; i++ {
		b.enqueue(fmt.Sprintf("t/%d", i), []byte{byte(i)}, false)
	}
	b.flush()
	if q, d := b.queued.Load(), b.dropped.Load(); q != 5 || d != 3 {
		t.Fatalf("queued %d dropped %d, want 5 and 3", q, d)
	}
	msgs, err := b.readAfter(0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range msgs {
		got = append(got, fmt.Sprintf("%s=%d r=%v", m.topic, m.payload[0], m.retain))
	}
	want := "[t/4=4 r=false t/5=5 r=false t/6=6 r=false t/7=7 r=false t/8=8 r=false]"
	if fmt.Sprint(got) != want {
		t.Fatalf("queue = %v, want %s", got, want)
	}
	// Acknowledge two (one of them twice) and reopen: the rest is still there, in order.
	if err := b.remove([]uint64{msgs[0].seq, msgs[1].seq, msgs[0].seq}); err != nil {
		t.Fatal(err)
	}
	if err := b.close(); err != nil {
		t.Fatal(err)
	}
	b, err = newBridge(cfg, "nas1", discard())
	if err != nil {
		t.Fatal(err)
	}
	defer b.close()
	if q := b.queued.Load(); q != 3 {
		t.Fatalf("queued after reopen = %d, want 3", q)
	}
	msgs, _ = b.readAfter(0, 100)
	if len(msgs) != 3 || msgs[0].topic != "t/6" || msgs[2].topic != "t/8" {
		t.Fatalf("after reopen: %+v", msgs)
	}
}

func TestMessageCodec(t *testing.T) {
	v := encodeMsg(nil, "a/b", []byte("payload"), true)
	topic, payload, retain, err := decodeMsg(v)
	if err != nil || topic != "a/b" || string(payload) != "payload" || !retain {
		t.Fatalf("decode = %q %q %v %v", topic, payload, retain, err)
	}
	for _, bad := range [][]byte{nil, {1}, {0, 0, 5, 'a'}} {
		if _, _, _, err := decodeMsg(bad); err == nil {
			t.Errorf("decodeMsg(% x) accepted", bad)
		}
	}
}
