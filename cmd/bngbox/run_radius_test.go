package main

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/bngbox/bngbox/pkg/config"
)

func TestRADIUSConfigMapping(t *testing.T) {
	const base = `pppoe: {interfaces: [{name: eth0}]}
pools: [{name: a, range: 10.0.0.0/24}]
nas: {identifier: bng1, ip: 192.0.2.1}
radius:
  auth-servers: [{address: 192.0.2.10, secret: a, priority: 3}]
  acct-servers: [{address: 192.0.2.11, secret: b}]
  retries: 0
  spool-max-mb: 2
  spool-path: s.db
`
	for _, tc := range []struct {
		name, aaa      string
		auth, acct     int
		usesRADIUS     bool
		wantRetries    int
		wantSpoolBytes int64
	}{
		{"both", "auth: {backend: radius}\naccounting: {backend: radius}\n", 1, 1, true, -1, 2 << 20},
		{"auth only", "auth: {backend: radius}\naccounting: {backend: log}\n", 1, 0, true, -1, 2 << 20},
		{"acct only", "auth: {users-file: u}\naccounting: {backend: radius}\n", 0, 1, true, -1, 2 << 20},
		{"none", "auth: {users-file: u}\n", 0, 0, false, -1, 2 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			c, err := config.Parse(filepath.Join(dir, "b.yaml"), []byte(base+tc.aaa))
			if err != nil {
				t.Fatal(err)
			}
			if usesRADIUS(c) != tc.usesRADIUS {
				t.Errorf("usesRADIUS = %v", !tc.usesRADIUS)
			}
			rc := radiusConfig(c, slog.New(slog.DiscardHandler))
			if len(rc.AuthServers) != tc.auth || len(rc.AcctServers) != tc.acct {
				t.Errorf("servers auth %d acct %d, want %d %d", len(rc.AuthServers), len(rc.AcctServers), tc.auth, tc.acct)
			}
			if tc.auth == 1 && (rc.AuthServers[0].Address != "192.0.2.10" || rc.AuthServers[0].Secret != "a" || rc.AuthServers[0].Priority != 3) {
				t.Errorf("auth server %+v", rc.AuthServers[0])
			}
			if rc.Retries != tc.wantRetries || rc.SpoolMaxBytes != tc.wantSpoolBytes || rc.Timeout != 3*time.Second {
				t.Errorf("retries %d spool %d timeout %v", rc.Retries, rc.SpoolMaxBytes, rc.Timeout)
			}
			if rc.NASIdentifier != "bng1" || rc.NASIPAddress.String() != "192.0.2.1" || rc.SpoolPath != filepath.Join(dir, "s.db") {
				t.Errorf("nas %q %v spool %q", rc.NASIdentifier, rc.NASIPAddress, rc.SpoolPath)
			}
		})
	}
}

// TestRADIUSDAEOnly: a DAE listener with local auth and file accounting
// builds a client without servers (for the CoA interpreter) and starts.
func TestRADIUSDAEOnly(t *testing.T) {
	dir := t.TempDir()
	c, err := config.Parse(filepath.Join(dir, "b.yaml"), []byte(`pppoe: {interfaces: [{name: eth0}]}
pools: [{name: a, range: 10.0.0.0/24}]
auth: {users-file: u}
accounting: {file: a.jsonl}
radius: {dae: {listen: "127.0.0.1:0", clients: [{address: 127.0.0.1, secret: c}]}}
`))
	if err != nil {
		t.Fatal(err)
	}
	if !usesRADIUS(c) {
		t.Fatal("usesRADIUS = false with radius.dae.listen set")
	}
	rc := radiusConfig(c, slog.New(slog.DiscardHandler))
	if len(rc.AuthServers) != 0 || len(rc.AcctServers) != 0 {
		t.Errorf("servers auth %v acct %v, want none", rc.AuthServers, rc.AcctServers)
	}
	d := &daemon{cfg: c, log: slog.New(slog.DiscardHandler)}
	if err := d.startRADIUS(); err != nil {
		t.Fatal(err)
	}
	defer d.stopRADIUS()
	if d.radius.client == nil || d.radius.acct {
		t.Errorf("client %v, acct %v: want a client that is not the accounter", d.radius.client, d.radius.acct)
	}
	if _, err := os.Stat(c.RADIUS.SpoolPath); err == nil {
		t.Errorf("spool %s opened without accounting servers", c.RADIUS.SpoolPath)
	}
}

func TestRADIUSNeedsRestart(t *testing.T) {
	a, b := config.Default(), config.Default()
	if k := radiusNeedsRestart(a, b); len(k) != 0 {
		t.Errorf("no change: %v", k)
	}
	b.RADIUS.Timeout = time.Second
	b.Auth.Backend = "radius"
	if k := radiusNeedsRestart(a, b); len(k) != 2 || k[0] != "auth.backend" || k[1] != "radius" {
		t.Errorf("changes: %v", k)
	}
}
