package config

import (
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

const radiusBase = `pppoe:
  interfaces: [{name: eth0}]
pools: [{name: a, range: 10.0.0.0/24}]
nas: {identifier: bng1, ip: 192.0.2.1}
`

func TestRADIUSParses(t *testing.T) {
	dir := t.TempDir()
	src := radiusBase + `auth: {backend: radius}
accounting: {backend: radius, interim-interval: 1m}
radius:
  auth-servers:
    - {address: 192.0.2.10, secret: s1, priority: 2}
    - {address: "192.0.2.11:1645", secret: s2, priority: 1}
  acct-servers: [{address: 192.0.2.10, secret: s1}]
  retries: 0
  spool-path: spool/acct.db
  dictionaries: [../../../etc/dictionary.bngbox]
  rates: {filter-id: down/up}
  kill-on-unacked-start: true
  dae:
    listen: ":3799"
    clients: [{address: 192.0.2.10, secret: coa}]
`
	c, err := Parse(filepath.Join(dir, "b.yaml"), []byte(strings.ReplaceAll(src, "../../../etc", mustAbs(t, "../../etc"))))
	if err != nil {
		t.Fatal(err)
	}
	want := RADIUS{
		AuthServers: []RADIUSServer{{Address: "192.0.2.10", Secret: "s1", Priority: 2}, {Address: "192.0.2.11:1645", Secret: "s2", Priority: 1}},
		AcctServers: []RADIUSServer{{Address: "192.0.2.10", Secret: "s1"}},
		Timeout:     3 * time.Second, Retries: 0, DeadTime: 30 * time.Second, MaxInFlight: 256,
		SpoolPath: filepath.Join(dir, "spool/acct.db"), SpoolMaxMB: 256,
		Rates:              RADIUSRate{FilterID: "down/up"},
		Dictionaries:       []string{mustAbs(t, "../../etc/dictionary.bngbox")},
		KillOnUnackedStart: true,
		DAE:                DAE{Listen: ":3799", Clients: []DAEClient{{Address: "192.0.2.10", Secret: "coa"}}, ReplayWindow: 300 * time.Second},
	}
	if !reflect.DeepEqual(want, c.RADIUS) {
		t.Errorf("radius:\n got %+v\nwant %+v", c.RADIUS, want)
	}
	if c.Auth.Backend != "radius" || c.Accounting.Backend != "radius" {
		t.Errorf("backends %q/%q", c.Auth.Backend, c.Accounting.Backend)
	}
	if got := c.NASIPAddress().String(); got != "192.0.2.1" {
		t.Errorf("NAS-IP-Address from nas.ip = %s", got)
	}
}

func mustAbs(t *testing.T, p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestAccountingBackendDefault(t *testing.T) {
	for _, tc := range []struct {
		name, acct, want string
	}{
		{"file named", `accounting: {file: a.jsonl}`, "file"},
		{"nothing", ``, "log"},
		{"explicit log", `accounting: {backend: log, file: a.jsonl}`, "log"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse("x.yaml", []byte(radiusBase+"auth: {users-file: u}\n"+tc.acct+"\n"))
			if err != nil {
				t.Fatal(err)
			}
			if c.Accounting.Backend != tc.want {
				t.Errorf("backend %q, want %q", c.Accounting.Backend, tc.want)
			}
		})
	}
}

func TestRADIUSValidateWithLines(t *testing.T) {
	src := radiusBase + `auth: {backend: radius}
accounting: {backend: radius}
radius:
  auth-servers:
    - {address: "10.0.0.1:99999", secret: ""}
  timeout: 0s
  retries: 11
  nas-ip: 2001:db8::1
  spool-path: ""
  rates: {filter-id: sideways, attr-up: X}
  dictionaries: [/nonexistent/dict]
  dae:
    listen: "3799"
    clients: [{address: nope, secret: ""}]
`
	_, err := Parse("r.yaml", []byte(src))
	if err == nil {
		t.Fatal("no error")
	}
	want := []string{
		"r.yaml:6: accounting.backend: radius.acct-servers: at least one server",
		"r.yaml:13: radius.spool-path: required",
		"r.yaml:9: radius.auth-servers.0.address",
		"r.yaml:9: radius.auth-servers.0.secret",
		"r.yaml:10: radius.timeout",
		"r.yaml:11: radius.retries",
		"r.yaml:12: radius.nas-ip",
		"r.yaml:14: radius.rates.filter-id",
		"r.yaml:14: radius.rates: set both",
		"r.yaml:15: radius.dictionaries.0",
		"r.yaml:17: radius.dae.listen",
		"r.yaml:18: radius.dae.clients.0.address",
		"r.yaml:18: radius.dae.clients.0.secret",
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

func TestRADIUSBackendNeedsServers(t *testing.T) {
	_, err := Parse("n.yaml", []byte(radiusBase+"auth: {backend: radius}\naccounting: {backend: radius}\n"))
	if err == nil {
		t.Fatal("radius backends without servers accepted")
	}
	for _, w := range []string{"n.yaml:5: auth.backend: radius.auth-servers: at least one", "n.yaml:6: accounting.backend: radius.acct-servers: at least one"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("missing %q in:\n%s", w, err)
		}
	}
	if strings.Contains(err.Error(), "users-file") {
		t.Errorf("users-file required with backend radius:\n%s", err)
	}
}

// TestSampleRADIUSDefaults: etc/bngbox.yaml documents every radius key with
// its default.
func TestSampleRADIUSDefaults(t *testing.T) {
	c, err := Load("../../etc/bngbox.yaml")
	if err != nil {
		t.Fatal(err)
	}
	d := Default()
	if got, want := fmt.Sprintf("%+v", c.RADIUS), fmt.Sprintf("%+v", d.RADIUS); got != want {
		t.Errorf("sample radius section:\n got %s\nwant %s", got, want)
	}
	if c.Auth.Backend != "local" || c.Accounting.Backend != "log" {
		t.Errorf("sample backends %q/%q", c.Auth.Backend, c.Accounting.Backend)
	}
	for _, key := range []string{"auth-servers", "acct-servers", "timeout", "retries", "dead-time", "max-in-flight", "nas-ip",
		"spool-path", "spool-max-mb", "rates.attr-up", "rates.attr-down", "rates.filter-id", "dictionaries",
		"kill-on-unacked-start", "allow-missing-reply-message-authenticator", "dae.listen", "dae.clients", "dae.replay-window"} {
		path := "radius." + key
		if c.lineOf(path) == c.lineOf(path[:strings.LastIndex(path, ".")]) { // absent: the parent's line
			t.Errorf("sample does not document radius.%s", key)
		}
	}
}
