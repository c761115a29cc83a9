package kernel

import (
	"fmt"
	"slices"
	"testing"
)

func TestInnerEtherType(t *testing.T) {
	hdr := make([]byte, 12) // MACs
	tests := []struct {
		name   string
		frame  []byte
		want   uint16
		wantOK bool
	}{
		{name: "untagged discovery", frame: append(hdr[:12:12], 0x88, 0x63, 0x11), want: 0x8863, wantOK: true},
		{name: "802.1Q", frame: append(hdr[:12:12], 0x81, 0x00, 0x00, 0x64, 0x88, 0x63), want: 0x8863, wantOK: true},
		{name: "QinQ 802.1ad+802.1Q", frame: append(hdr[:12:12], 0x88, 0xa8, 0, 10, 0x81, 0x00, 0, 20, 0x88, 0x64), want: 0x8864, wantOK: true},
		{name: "0x9100 outer", frame: append(hdr[:12:12], 0x91, 0x00, 0, 10, 0x88, 0x63), want: 0x8863, wantOK: true},
		{name: "three tags", frame: append(hdr[:12:12], 0x88, 0xa8, 0, 1, 0x81, 0, 0, 2, 0x81, 0, 0, 3, 0x88, 0x63)},
		{name: "short", frame: append(hdr[:12:12], 0x88)},
		{name: "tag without type", frame: append(hdr[:12:12], 0x81, 0x00, 0x00, 0x64)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := innerEtherType(tt.frame)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("innerEtherType = %#04x, %v; want %#04x, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestVLANName(t *testing.T) {
	for _, tt := range []struct {
		parent string
		vid    uint16
		want   string
	}{
		{"eth0", 100, "eth0.100"},
		{"eth0.10", 20, "eth0.10.20"},
		{"enp1s0f0.4000", 4001, "vl7.4001"}, // 18 bytes: over IFNAMSIZ-1
	} {
		if got := vlanName(tt.parent, 7, tt.vid); got != tt.want {
			t.Errorf("vlanName(%q, 7, %d) = %q, want %q", tt.parent, tt.vid, got, tt.want)
		}
	}
}

func TestVLANTPIDs(t *testing.T) {
	for _, tt := range []struct {
		vlans, protos, want []uint16
		wantErr             bool
	}{
		{vlans: []uint16{100}, want: []uint16{0x8100}},
		{vlans: []uint16{10, 20}, want: []uint16{0x88a8, 0x8100}},
		{vlans: []uint16{10, 20}, protos: []uint16{0x8100, 0x8100}, want: []uint16{0x8100, 0x8100}},
		{vlans: []uint16{10, 20}, protos: []uint16{0x9100, 0x8100}, wantErr: true},
		{vlans: []uint16{10, 20}, protos: []uint16{0x8100}, wantErr: true},
		{vlans: []uint16{1, 2, 3}, wantErr: true},
		{vlans: nil, wantErr: true},
	} {
		t.Run(fmt.Sprint(tt.vlans, tt.protos), func(t *testing.T) {
			got, err := vlanTPIDs(tt.vlans, tt.protos)
			if (err != nil) != tt.wantErr || !slices.Equal(got, tt.want) {
				t.Errorf("vlanTPIDs = %#04x, %v; want %#04x, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}
