package pppoe

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

func cat(segs ...[]byte) []byte { return bytes.Join(segs, nil) }

var packetTests = []struct {
	name string
	b    [][]byte // one segment per field
	want Packet
	rest []byte
	err  error
	// validErr is what Validate returns for the parsed packet.
	validErr error
}{
	{
		name: "PADI",
		b: [][]byte{
			{0x11, 0x09, 0x00, 0x00, 0x00, 0x12}, // ver/type, code, sid, length 18
			{0x01, 0x01, 0x00, 0x00},             // Service-Name ""
			{0x01, 0x03, 0x00, 0x04, 1, 2, 3, 4}, // Host-Uniq
			{0x01, 0x20, 0x00, 0x02, 0x05, 0xdc}, // PPP-Max-Payload 1500
		},
		want: Packet{Code: CodePADI, Tags: []Tag{
			{TagServiceName, []byte{}},
			{TagHostUniq, []byte{1, 2, 3, 4}},
			{TagPPPMaxPayload, []byte{0x05, 0xdc}},
		}},
		rest: []byte{},
	},
	{
		name: "PADO with padding and unknown tag",
		b: [][]byte{
			{0x11, 0x07, 0x00, 0x00, 0x00, 0x13},
			{0x01, 0x02, 0x00, 0x02, 'a', 'c'},
			{0x01, 0x01, 0x00, 0x03, 'i', 's', 'p'},
			{0x7f, 0xff, 0x00, 0x02, 9, 9},
			{0, 0, 0}, // padding
		},
		want: Packet{Code: CodePADO, Tags: []Tag{
			{TagACName, []byte("ac")},
			{TagServiceName, []byte("isp")},
			{0x7fff, []byte{9, 9}},
		}},
		rest: []byte{0, 0, 0},
	},
	{
		name: "PADS",
		b: [][]byte{
			{0x11, 0x65, 0x12, 0x34, 0x00, 0x04},
			{0x01, 0x01, 0x00, 0x00},
		},
		want: Packet{Code: CodePADS, SessionID: 0x1234, Tags: []Tag{{TagServiceName, []byte{}}}},
		rest: []byte{},
	},
	{
		name: "PADS error",
		b: [][]byte{
			{0x11, 0x65, 0x00, 0x00, 0x00, 0x06},
			{0x02, 0x01, 0x00, 0x02, 'n', 'o'},
		},
		want: Packet{Code: CodePADS, Tags: []Tag{{TagServiceNameError, []byte("no")}}},
		rest: []byte{},
	},
	{
		name: "PADT with End-Of-List and junk after it",
		b: [][]byte{
			{0x11, 0xa7, 0x00, 0x01, 0x00, 0x07},
			{0x00, 0x00, 0x00, 0x00},
			{0xff, 0xff, 0xff},
		},
		want: Packet{Code: CodePADT, SessionID: 1, Tags: []Tag{{TagEndOfList, []byte{}}}},
		rest: []byte{},
	},
	{
		name: "PADI two Service-Names", b: [][]byte{{0x11, 0x09, 0, 0, 0, 8}, {1, 1, 0, 0}, {1, 1, 0, 0}},
		want:     Packet{Code: CodePADI, Tags: []Tag{{TagServiceName, []byte{}}, {TagServiceName, []byte{}}}},
		rest:     []byte{},
		validErr: ErrExtraTag,
	},
	{
		name: "PADI no Service-Name", b: [][]byte{{0x11, 0x09, 0, 0, 0, 0}},
		want: Packet{Code: CodePADI}, rest: []byte{}, validErr: ErrMissingTag,
	},
	{
		name: "PADR nonzero sid", b: [][]byte{{0x11, 0x19, 0, 1, 0, 4}, {1, 1, 0, 0}},
		want:     Packet{Code: CodePADR, SessionID: 1, Tags: []Tag{{TagServiceName, []byte{}}}},
		rest:     []byte{},
		validErr: ErrSessionID,
	},
	{
		name: "PADT zero sid", b: [][]byte{{0x11, 0xa7, 0, 0, 0, 0}},
		want: Packet{Code: CodePADT}, rest: []byte{}, validErr: ErrSessionID,
	},
	{
		name: "PADO without AC-Name", b: [][]byte{{0x11, 0x07, 0, 0, 0, 4}, {1, 1, 0, 0}},
		want:     Packet{Code: CodePADO, Tags: []Tag{{TagServiceName, []byte{}}}},
		rest:     []byte{},
		validErr: ErrMissingTag,
	},
	{
		name: "unknown code", b: [][]byte{{0x11, 0x42, 0, 0, 0, 0}},
		want: Packet{Code: 0x42}, rest: []byte{}, validErr: ErrCode,
	},
	{name: "short", b: [][]byte{{0x11, 0x09, 0, 0, 0}}, err: ErrShort},
	{name: "bad version", b: [][]byte{{0x21, 0x09, 0, 0, 0, 0}}, err: ErrVersion},
	{name: "length past end", b: [][]byte{{0x11, 0x09, 0, 0, 0, 5}, {1, 1, 0, 0}}, err: ErrLength},
	{name: "truncated tag header", b: [][]byte{{0x11, 0x09, 0, 0, 0, 3}, {1, 1, 0}}, err: ErrTagLength},
	{name: "tag past payload", b: [][]byte{{0x11, 0x09, 0, 0, 0, 4}, {1, 1, 0, 1}, {'x'}}, err: ErrTagLength},
	{name: "EOL with length", b: [][]byte{{0x11, 0x09, 0, 0, 0, 5}, {0, 0, 0, 1, 0}}, err: ErrTagLength},
	{name: "Max-Payload 1 byte", b: [][]byte{{0x11, 0x09, 0, 0, 0, 5}, {1, 0x20, 0, 1, 5}}, err: ErrTagLength},
	{name: "Vendor-Specific 3 bytes", b: [][]byte{{0x11, 0x09, 0, 0, 0, 7}, {1, 5, 0, 3, 0, 0, 9}}, err: ErrTagLength},
}

func TestParse(t *testing.T) {
	for _, tt := range packetTests {
		t.Run(tt.name, func(t *testing.T) {
			b := cat(tt.b...)
			p, rest, err := Parse(b)
			if !errors.Is(err, tt.err) {
				t.Fatalf("Parse err = %v, want %v", err, tt.err)
			}
			if err != nil {
				return
			}
			if !reflect.DeepEqual(tt.want, p) {
				t.Fatalf("Parse (-want +got):\n- %+v\n+ %+v", tt.want, p)
			}
			if !bytes.Equal(rest, tt.rest) {
				t.Fatalf("rest = %x, want %x", rest, tt.rest)
			}
			if err := p.Validate(); !errors.Is(err, tt.validErr) {
				t.Fatalf("Validate = %v, want %v", err, tt.validErr)
			}
			// Round trip: canonical packets (no padding, nothing after
			// End-Of-List) re-encode to the same bytes.
			enc := p.Append(nil)
			if wantEnc := b[:len(b)-len(rest)]; tt.name != "PADT with End-Of-List and junk after it" && !bytes.Equal(enc, wantEnc) {
				t.Fatalf("Append = %x, want %x", enc, wantEnc)
			}
			p2, _, err := Parse(enc)
			if err != nil || !reflect.DeepEqual(p, p2) {
				t.Fatalf("re-Parse = %+v, %v", p2, err)
			}
		})
	}
}

func TestGetters(t *testing.T) {
	var p Packet
	p.Code = CodePADO
	p.Add(TagACName, []byte("bng1"))
	p.Add(TagServiceName, []byte("gold"))
	p.Add(TagServiceName, []byte("silver"))
	p.Add(TagHostUniq, []byte{7})
	p.Add(TagACCookie, []byte{1, 2})
	p.Add(TagRelaySessionID, []byte{3})
	p.Add(TagPPPMaxPayload, []byte{0x05, 0xdc})
	if s, ok := p.ServiceName(); !ok || s != "gold" {
		t.Errorf("ServiceName = %q %v", s, ok)
	}
	if s, ok := p.ACName(); !ok || s != "bng1" {
		t.Errorf("ACName = %q %v", s, ok)
	}
	if !bytes.Equal(p.HostUniq(), []byte{7}) || !bytes.Equal(p.Cookie(), []byte{1, 2}) ||
		!bytes.Equal(p.RelaySessionID(), []byte{3}) || p.MaxPayload() != 1500 {
		t.Errorf("getters: %x %x %x %d", p.HostUniq(), p.Cookie(), p.RelaySessionID(), p.MaxPayload())
	}
	if n := p.Count(TagServiceName); n != 2 {
		t.Errorf("Count = %d", n)
	}
	if _, _, ok := p.Error(); ok {
		t.Errorf("Error on a packet without error tags")
	}
	if err := p.Validate(); err != nil {
		t.Errorf("Validate = %v", err)
	}
	p.Add(TagGenericError, []byte("boom"))
	if typ, msg, ok := p.Error(); !ok || typ != TagGenericError || msg != "boom" {
		t.Errorf("Error = %v %q %v", typ, msg, ok)
	}
	if got := TagType(0x0120).String(); got != "PPP-Max-Payload" {
		t.Errorf("String = %q", got)
	}
	if got := Code(0x65).String(); got != "PADS" {
		t.Errorf("String = %q", got)
	}
}

func TestParseHeaderAllocs(t *testing.T) {
	b := []byte{0x11, 0x00, 0x00, 0x07, 0x00, 0x02, 0xc0, 0x21, 0, 0}
	n := testing.AllocsPerRun(100, func() {
		h, payload, rest, err := ParseHeader(b)
		if err != nil || h.SessionID != 7 || len(payload) != 2 || len(rest) != 2 {
			t.Fatal("bad parse")
		}
	})
	if n != 0 {
		t.Fatalf("ParseHeader allocates %v", n)
	}
}

func FuzzParse(f *testing.F) {
	for _, tt := range packetTests {
		f.Add(cat(tt.b...))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, rest, err := Parse(b)
		if err != nil {
			return
		}
		_ = p.Validate()
		if len(rest) > len(b) {
			t.Fatal("rest longer than input")
		}
		enc := p.Append(nil)
		p2, rest2, err := Parse(enc)
		if err != nil {
			t.Fatalf("re-Parse: %v", err)
		}
		if len(rest2) != 0 || !reflect.DeepEqual(p, p2) {
			t.Fatalf("round trip:\n%+v\n%+v", p, p2)
		}
		if !bytes.Equal(p2.Append(nil), enc) {
			t.Fatal("encoding not stable")
		}
	})
}

func FuzzParseHeader(f *testing.F) {
	for _, tt := range packetTests {
		f.Add(cat(tt.b...))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, payload, rest, err := ParseHeader(b)
		if err != nil {
			return
		}
		if int(h.Length) != len(payload) || HeaderLen+len(payload)+len(rest) != len(b) {
			t.Fatalf("lengths: %+v %d %d %d", h, len(payload), len(rest), len(b))
		}
		enc := append(AppendHeader(nil, h), payload...)
		if !bytes.Equal(enc, b[:len(b)-len(rest)]) {
			t.Fatalf("re-encode %x", enc)
		}
	})
}
