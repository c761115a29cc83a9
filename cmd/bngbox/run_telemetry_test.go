package main

import (
	"testing"
	"time"

	"github.com/bngbox/bngbox/pkg/config"
)

func TestTelemetryConfig(t *testing.T) {
	c, err := config.Parse("/etc/bngbox/b.yaml", []byte(`pppoe: {interfaces: [{name: eth0}]}
pools: [{name: a, range: 10.0.0.0/24}]
auth: {users-file: u}
nas: {identifier: bng-1}
telemetry:
  enabled: true
  prefix: isp
  operators: [{user: noc, password: pw}]
  auth-cache-ttl: 0s
  bridge: {address: "central:1883", queue: q.db}
metrics: {listen: "127.0.0.1:0"}
`))
	if err != nil {
		t.Fatal(err)
	}
	tc := telemetryConfig(c)
	if tc.NAS != "bng-1" || tc.Prefix != "isp" || tc.Listen != ":1883" || tc.MetricsListen != "127.0.0.1:0" {
		t.Errorf("telemetry config = %+v", tc)
	}
	if tc.AuthCacheTTL >= 0 {
		t.Errorf("auth-cache-ttl 0s (off) became %v, want negative (telemetry's off)", tc.AuthCacheTTL)
	}
	if tc.StorePath != "/var/lib/bngbox/telemetry.db" || len(tc.Operators) != 1 || tc.Operators[0].User != "noc" {
		t.Errorf("store %q operators %+v", tc.StorePath, tc.Operators)
	}
	if b := tc.Bridge; b == nil || b.Address != "central:1883" || b.QueuePath != "/etc/bngbox/q.db" || b.QueueMax != 100000 || b.RetryInterval != 5*time.Second {
		t.Errorf("bridge = %+v", tc.Bridge)
	}
	if err := tc.Validate(); err != nil {
		t.Errorf("telemetry rejects what config accepted: %v", err)
	}

	// Off with metrics on: /metrics only, nothing listens for MQTT.
	c.Telemetry.Enabled = false
	tc = telemetryConfig(c)
	if tc.Listen != "" || tc.StorePath != "" || tc.Bridge != nil || len(tc.Operators) != 0 || tc.MetricsListen == "" {
		t.Errorf("telemetry off: %+v", tc)
	}
	if err := tc.Validate(); err != nil {
		t.Errorf("metrics-only config invalid: %v", err)
	}
}
