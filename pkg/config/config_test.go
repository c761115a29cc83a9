package config

import (
	"strings"
	"testing"
	"time"
)

func TestSampleParses(t *testing.T) {
	c, err := Load("../../etc/bngbox.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.PPPoE.Interfaces[0].Name != "eth1" || c.PPP.LCPEchoInterval != 10*time.Second {
		t.Errorf("sample decoded wrongly: %+v", c)
	}
	if !strings.HasSuffix(c.Auth.UsersFile, "etc/users.yaml") {
		t.Errorf("users-file not resolved against config dir: %q", c.Auth.UsersFile)
	}
	// The sample documents every key with its default, so decoding it must
	// give the defaults back (apart from the example values).
	d := Default()
	if c.PPPoE.MaxSessions != d.PPPoE.MaxSessions || c.PPP.MRU != d.PPP.MRU || c.Shaper.Upstream != d.Shaper.Upstream {
		t.Errorf("sample disagrees with defaults")
	}
}

func TestUnknownKeyNamesFileLineKey(t *testing.T) {
	_, err := Parse("x.yaml", []byte("pppoe:\n  interfaces: [{name: eth0}]\n  ac-nmae: foo\npools: [{name: a, range: 10.0.0.0/24}]\nauth: {users-file: u}\n"))
	if err == nil {
		t.Fatal("no error for unknown key")
	}
	if want := `x.yaml:3: unknown key "ac-nmae" (in pppoe)`; err.Error() != want {
		t.Errorf("err = %q, want %q", err, want)
	}
}

func TestValidateReportsEveryProblemWithLine(t *testing.T) {
	src := `log:
  level: loud
pppoe:
  interfaces:
    - name: eth0
      vlans: ["100-99", "10.5000"]
ppp:
  local-ip: nope
  auth: [chap, mschap]
pools:
  - name: a
    range: 10.0.0.0/33
auth:
  users-file: u
shaper:
  default: 10M
`
	_, err := Parse("bad.yaml", []byte(src))
	if err == nil {
		t.Fatal("no error")
	}
	want := []string{
		"bad.yaml:2: log.level",
		"bad.yaml:6: pppoe.interfaces.0.vlans.0",
		"bad.yaml:6: pppoe.interfaces.0.vlans.1",
		"bad.yaml:9: ppp.auth.1",
		"bad.yaml:8: ppp.local-ip",
		"bad.yaml:12: pools.0.range",
		"bad.yaml:16: shaper.default",
	}
	got := err.Error()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("missing %q in:\n%s", w, got)
		}
	}
	if n := strings.Count(got, "\n") + 1; n != len(want) {
		t.Errorf("%d problems reported, want %d:\n%s", n, len(want), got)
	}
}

func TestMissingRequiredSections(t *testing.T) {
	_, err := Parse("empty.yaml", nil)
	if err == nil {
		t.Fatal("empty config accepted")
	}
	for _, w := range []string{"empty.yaml: pppoe.interfaces:", "empty.yaml: pools:", "empty.yaml: auth.users-file:"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("missing %q in %v", w, err)
		}
	}
}

func TestVLANRange(t *testing.T) {
	for _, tc := range []struct {
		spec  string
		vlans []uint16
		match bool
	}{
		{"untagged", nil, true},
		{"untagged", []uint16{5}, false},
		{"100-199", []uint16{150}, true},
		{"100-199", []uint16{200}, false},
		{"100-199", []uint16{150, 3}, false},
		{"10.100-199", []uint16{10, 100}, true},
		{"10.100-199", []uint16{11, 100}, false},
		{"7", []uint16{7}, true},
	} {
		r, err := ParseVLANRange(tc.spec)
		if err != nil {
			t.Fatalf("%s: %v", tc.spec, err)
		}
		if got := r.Match(tc.vlans); got != tc.match {
			t.Errorf("%s.Match(%v) = %v", tc.spec, tc.vlans, got)
		}
	}
	for _, bad := range []string{"0", "4095", "5-3", "a", "1.", ".1", ""} {
		if _, err := ParseVLANRange(bad); err == nil {
			t.Errorf("ParseVLANRange(%q) accepted", bad)
		}
	}
}

func TestPoolRange(t *testing.T) {
	f, l, err := ParsePoolRange("10.0.0.0/24")
	if err != nil || f.String() != "10.0.0.1" || l.String() != "10.0.0.254" {
		t.Errorf("/24 = %v-%v %v", f, l, err)
	}
	f, l, err = ParsePoolRange("10.0.0.5-10.0.0.9")
	if err != nil || f.String() != "10.0.0.5" || l.String() != "10.0.0.9" {
		t.Errorf("range = %v-%v %v", f, l, err)
	}
	if _, _, err := ParsePoolRange("10.0.0.9-10.0.0.5"); err == nil {
		t.Error("backwards range accepted")
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("pppoe:\n  interfaces: [{name: eth0}]\n"))
	f.Add([]byte("pools: [{name: a, range: 10.0.0.0/24}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("f.yaml", data)
		if err == nil && c.Validate() != nil {
			t.Fatal("Parse accepted a config Validate rejects")
		}
	})
}

func TestCLIListeners(t *testing.T) {
	base := "pppoe: {interfaces: [{name: eth0}]}\npools: [{name: a, range: 10.0.0.0/24}]\nauth: {users-file: u}\n"
	c, err := Parse("/etc/bb/x.yaml", []byte(base+"cli: {telnet-listen: 127.0.0.1:2000, ssh-listen: '[::1]:2022', ssh-host-key: hk, ssh-authorized-keys: /k}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.CLI.SSHListen != "[::1]:2022" || c.CLI.SSHHostKey != "/etc/bb/hk" || c.CLI.SSHAuthorizedKeys != "/k" {
		t.Errorf("cli = %+v", c.CLI)
	}
	for _, tc := range []struct{ cli, want string }{
		{"{ssh-listen: localhost}", `cli.ssh-listen: "localhost": want host:port`},
		{"{telnet-listen: ':x'}", `cli.telnet-listen: ":x": bad port`},
		{"{telnet-listen: ':2000', ssh-listen: ':2000'}", "cli.ssh-listen: same address as cli.telnet-listen"},
		{"{ssh-listen: ':22', ssh-host-key: ''}", "cli.ssh-host-key: required with cli.ssh-listen"},
		{"{ssh-listen: ':22', ssh-authorized-keys: ''}", "cli.ssh-authorized-keys: required with cli.ssh-listen"},
	} {
		_, err := Parse("x.yaml", []byte(base+"cli: "+tc.cli+"\n"))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("cli %s: err = %v, want %q", tc.cli, err, tc.want)
		}
	}
}

func TestUserspaceUnitCache(t *testing.T) {
	base := "pppoe: {interfaces: [{name: eth0}]}\npools: [{name: a, range: 10.0.0.0/24}]\nauth: {users-file: u}\n"
	c, err := Parse("x.yaml", []byte(base+"userspace: {unit-cache: 2000}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Userspace.UnitCache != 2000 {
		t.Errorf("unit-cache = %d, want 2000", c.Userspace.UnitCache)
	}
	if c, err := Parse("x.yaml", []byte(base)); err != nil || c.Userspace.UnitCache != 0 {
		t.Errorf("default unit-cache = %v, %v; want 0", c, err)
	}
	_, err = Parse("x.yaml", []byte(base+"userspace:\n  unit-cache: -1\n"))
	if err == nil || !strings.Contains(err.Error(), "x.yaml:5: userspace.unit-cache") {
		t.Errorf("negative unit-cache: err = %v", err)
	}
}

func TestShaperKeys(t *testing.T) {
	base := "pppoe: {interfaces: [{name: eth0}]}\npools: [{name: a, range: 10.0.0.0/24}]\nauth: {users-file: u}\n"
	c, err := Parse("ok.yaml", []byte(base+"shaper: {enabled: true, upstream: ifb, default: 10M/5M, mandatory: true, burst-time: 20ms, latency: 100ms, setup-defer: 2s}\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := Shaper{Enabled: true, Upstream: "ifb", Default: "10M/5M", Mandatory: true, BurstTime: 20 * time.Millisecond, PoliceBurstTime: 300 * time.Millisecond, Latency: 100 * time.Millisecond, SetupDefer: 2 * time.Second}
	if c.Shaper != want {
		t.Errorf("shaper = %+v, want %+v", c.Shaper, want)
	}
	if d := Default().Shaper; d.BurstTime != 10*time.Millisecond || d.Latency != 50*time.Millisecond || d.SetupDefer != 5*time.Second {
		t.Errorf("defaults = %+v", d)
	}
	_, err = Parse("bad.yaml", []byte(base+"shaper: {upstream: tbf, burst-time: 0s, latency: 1h, setup-defer: -1s}\n"))
	if err == nil {
		t.Fatal("bad shaper section accepted")
	}
	for _, w := range []string{"shaper.upstream", "shaper.burst-time", "shaper.latency", "shaper.setup-defer"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("missing %q in:\n%v", w, err)
		}
	}
	// ifb-pool went with the per-session IFB devices (shared IFBs now).
	if _, err := Parse("old.yaml", []byte(base+"shaper: {ifb-pool: 64}\n")); err == nil || !strings.Contains(err.Error(), `unknown key "ifb-pool"`) {
		t.Errorf("ifb-pool: %v, want unknown key", err)
	}
}

func TestParseIntfID(t *testing.T) {
	for _, c := range []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"::1", 1, true},
		{"0:0:0:1", 1, true},
		{"::a:b:c:d", 0x000a000b000c000d, true},
		{"1:2:3:4", 0x0001000200030004, true},
		{"random", 0, true},
		{"::", 0, false},
		{"0:0:0:0", 0, false},
		{"2001:db8::1", 0, false},
		{"1.2.3.4", 0, false},
		{"::ffff:1.2.3.4", 0, false},
		{"x", 0, false},
		{"", 0, false},
	} {
		got, err := ParseIntfID(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("ParseIntfID(%q) = %#x, %v; want %#x, ok %v", c.in, got, err, c.want, c.ok)
		}
	}
	_, err := Parse("x.yaml", []byte(base+"ppp:\n  ipv6-intf-id: \"2001:db8::1\"\n"))
	if err == nil || !strings.Contains(err.Error(), "x.yaml:5: ppp.ipv6-intf-id") {
		t.Errorf("bad ipv6-intf-id: err = %v", err)
	}
}
