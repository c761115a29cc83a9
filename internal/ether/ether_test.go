package ether

import (
	"bytes"
	"errors"
	"net"
	"reflect"
	"testing"
)

var (
	macA = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x0a}
	macB = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x0b}
)

func cat(segs ...[]byte) []byte { return bytes.Join(segs, nil) }

var parseTests = []struct {
	name  string
	frame []byte
	want  Header
	off   int
	err   error
}{
	{
		name:  "untagged",
		frame: cat(macA, macB, []byte{0x88, 0x63}, []byte{0x11}),
		want:  Header{Dst: macA, Src: macB, EtherType: TypePPPoEDiscover},
		off:   14,
	},
	{
		name:  "dot1q",
		frame: cat(macA, macB, []byte{0x81, 0x00, 0xa0, 0x64}, []byte{0x88, 0x64}),
		want: Header{Dst: macA, Src: macB, NumVLANs: 1, VID: [2]uint16{100},
			TPID: [2]uint16{TPID8021Q}, PCP: [2]uint8{5}, EtherType: TypePPPoESession},
		off: 18,
	},
	{
		name:  "qinq 88a8",
		frame: cat(macA, macB, []byte{0x88, 0xa8, 0x00, 0x64}, []byte{0x81, 0x00, 0x0f, 0xff}, []byte{0x88, 0x63}),
		want: Header{Dst: macA, Src: macB, NumVLANs: 2, VID: [2]uint16{100, 4095},
			TPID: [2]uint16{TPID8021AD, TPID8021Q}, EtherType: TypePPPoEDiscover},
		off: 22,
	},
	{
		name:  "qinq 9100",
		frame: cat(macA, macB, []byte{0x91, 0x00, 0x00, 0x07}, []byte{0x81, 0x00, 0x00, 0x08}, []byte{0x08, 0x00}),
		want: Header{Dst: macA, Src: macB, NumVLANs: 2, VID: [2]uint16{7, 8},
			TPID: [2]uint16{TPIDQinQ, TPID8021Q}, EtherType: TypeIPv4},
		off: 22,
	},
	{
		name:  "qinq 8100 8100",
		frame: cat(macA, macB, []byte{0x81, 0x00, 0x00, 0x07}, []byte{0x81, 0x00, 0x00, 0x08}, []byte{0x08, 0x00}),
		want: Header{Dst: macA, Src: macB, NumVLANs: 2, VID: [2]uint16{7, 8},
			TPID: [2]uint16{TPID8021Q, TPID8021Q}, EtherType: TypeIPv4},
		off: 22,
	},
	{
		// Found by FuzzParse: the DEI bit must survive a round trip.
		name:  "dei",
		frame: cat(macA, macB, []byte{0x81, 0x00, 0x30, 0x30}, []byte{0x30, 0x30}),
		want: Header{Dst: macA, Src: macB, NumVLANs: 1, VID: [2]uint16{0x030},
			TPID: [2]uint16{TPID8021Q}, PCP: [2]uint8{1}, DEI: [2]bool{true}, EtherType: 0x3030},
		off: 18,
	},
	{name: "empty", frame: nil, err: ErrShort},
	{name: "13 bytes", frame: cat(macA, macB, []byte{0x88}), err: ErrShort},
	{name: "truncated tag", frame: cat(macA, macB, []byte{0x81, 0x00, 0x00}), err: ErrShort},
	{name: "tag without type", frame: cat(macA, macB, []byte{0x81, 0x00, 0x00, 0x01}), err: ErrShort},
	{
		name:  "three tags",
		frame: cat(macA, macB, []byte{0x88, 0xa8, 0, 1, 0x81, 0, 0, 2, 0x81, 0, 0, 3, 0x88, 0x63}),
		err:   ErrTooManyTags,
	},
	{
		name:  "inner 88a8",
		frame: cat(macA, macB, []byte{0x81, 0x00, 0, 1, 0x88, 0xa8, 0, 2, 0x88, 0x63}),
		err:   ErrBadTag,
	},
}

func TestParse(t *testing.T) {
	for _, tt := range parseTests {
		t.Run(tt.name, func(t *testing.T) {
			h, off, err := Parse(tt.frame)
			if !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if err != nil {
				return
			}
			if !reflect.DeepEqual(h, tt.want) || off != tt.off {
				t.Fatalf("Parse = %+v, %d; want %+v, %d", h, off, tt.want, tt.off)
			}
			if got := AppendHeader(nil, h); !bytes.Equal(got, tt.frame[:off]) {
				t.Fatalf("AppendHeader = %x, want %x", got, tt.frame[:off])
			}
		})
	}
}

func TestAppendHeaderDefaults(t *testing.T) {
	var h Header
	h.Dst, h.Src, h.EtherType = macA, macB, TypePPPoEDiscover
	if err := h.SetVLANs([]uint16{10, 20}); err != nil {
		t.Fatal(err)
	}
	want := cat(macA, macB, []byte{0x88, 0xa8, 0, 10, 0x81, 0, 0, 20, 0x88, 0x63})
	if got := AppendHeader([]byte{}, h); !bytes.Equal(got, want) {
		t.Fatalf("double: got %x want %x", got, want)
	}
	_ = h.SetVLANs([]uint16{0x1234})
	want = cat(macA, macB, []byte{0x81, 0, 0x02, 0x34, 0x88, 0x63})
	if got := AppendHeader(nil, h); !bytes.Equal(got, want) {
		t.Fatalf("single: got %x want %x", got, want)
	}
	if got := h.VLANs(); !reflect.DeepEqual(got, []uint16{0x234}) {
		t.Fatalf("VLANs = %v", got)
	}
	if err := h.SetVLANs([]uint16{1, 2, 3}); !errors.Is(err, ErrTooManyTags) {
		t.Fatalf("SetVLANs(3 tags) err = %v", err)
	}
}

func TestParseAllocs(t *testing.T) {
	frame := parseTests[2].frame
	n := testing.AllocsPerRun(100, func() {
		h, _, err := Parse(frame)
		if err != nil || h.NumVLANs != 2 {
			t.Fatal("bad parse")
		}
	})
	if n != 0 {
		t.Fatalf("Parse allocates %v times, want 0", n)
	}
}

func FuzzParse(f *testing.F) {
	for _, tt := range parseTests {
		f.Add(tt.frame)
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		h, off, err := Parse(frame)
		if err != nil {
			return
		}
		if off != h.Len() || off > len(frame) {
			t.Fatalf("offset %d, Len %d, frame %d", off, h.Len(), len(frame))
		}
		enc := AppendHeader(nil, h)
		if !bytes.Equal(enc, frame[:off]) {
			t.Fatalf("re-encode %x != %x", enc, frame[:off])
		}
		h2, off2, err := Parse(enc)
		if err != nil || off2 != off || !reflect.DeepEqual(h, h2) {
			t.Fatalf("round trip: %+v %d %v vs %+v %d", h2, off2, err, h, off)
		}
	})
}

func BenchmarkParse(b *testing.B) {
	frame := parseTests[2].frame
	b.ReportAllocs()
	for b.Loop() {
		_, _, _ = Parse(frame)
	}
}
