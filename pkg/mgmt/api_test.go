package mgmt

import (
	"net/netip"
	"testing"

	"github.com/bngbox/bngbox/pkg/session"
)

func TestParseSelector(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Selector
		bad  bool
	}{
		{in: "all", want: Selector{Kind: ByAll}},
		{in: "100.64.0.7", want: Selector{Kind: ByIP, Value: "100.64.0.7"}},
		{in: "2001:db8::1", want: Selector{Kind: ByIP, Value: "2001:db8::1"}},
		{in: "6b15dc7600000003", want: Selector{Kind: BySID, Value: "6b15dc7600000003"}},
		{in: "ppp12", want: Selector{Kind: ByIfname, Value: "ppp12"}},
		{in: "pppoe-user", want: Selector{Kind: ByUser, Value: "pppoe-user"}},
		{in: "alice", want: Selector{Kind: ByUser, Value: "alice"}},
		{in: "username=ppp3", want: Selector{Kind: ByUser, Value: "ppp3"}},
		{in: "mac=x", bad: true},
		{in: "", bad: true},
	} {
		got, err := ParseSelector(tc.in)
		if (err != nil) != tc.bad || (!tc.bad && got != tc.want) {
			t.Errorf("ParseSelector(%q) = %+v, %v", tc.in, got, err)
		}
	}
}

func TestSelectorMatch(t *testing.T) {
	in := &session.Info{ID: "6B15DC7600000003", Ifname: "ppp3", User: "alice", IP: netip.MustParseAddr("100.64.0.7"),
		IPv6: netip.MustParsePrefix("2001:db8:1::/56")}
	for _, tc := range []struct {
		sel  Selector
		want bool
	}{
		{Selector{Kind: ByAll}, true},
		{Selector{Kind: ByIfname, Value: "ppp3"}, true},
		{Selector{Kind: ByIfname, Value: "ppp4"}, false},
		{Selector{Kind: ByUser, Value: "alice"}, true},
		{Selector{Kind: BySID, Value: "6b15dc7600000003"}, true},
		{Selector{Kind: ByIP, Value: "100.64.0.7"}, true},
		{Selector{Kind: ByIP, Value: "2001:db8:1::5"}, true},
		{Selector{Kind: ByIP, Value: "100.64.0.8"}, false},
		{Selector{Kind: ByIP, Value: "garbage"}, false},
	} {
		if got := tc.sel.Match(in); got != tc.want {
			t.Errorf("%+v.Match = %v", tc.sel, got)
		}
	}
}
