package config

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

const base = `pppoe: {interfaces: [{name: eth0}]}
pools: [{name: a, range: 10.0.0.0/24}]
auth: {users-file: u}
`

func TestTelemetrySampleIsDefault(t *testing.T) {
	c, err := Load("../../etc/bngbox.yaml")
	if err != nil {
		t.Fatal(err)
	}
	d := Default()
	d.resolveTelemetryPaths(filepath.Dir(c.File))
	if len(c.Telemetry.Operators) == 0 {
		c.Telemetry.Operators = nil // the sample writes [] to show the key
	}
	if !reflect.DeepEqual(c.Telemetry, d.Telemetry) {
		t.Errorf("sample telemetry section differs from the defaults:\n got %+v\nwant %+v", c.Telemetry, d.Telemetry)
	}
	if c.Metrics != d.Metrics {
		t.Errorf("sample metrics = %+v, want %+v", c.Metrics, d.Metrics)
	}
	if c.Telemetry.Enabled || c.Metrics.Listen != "" {
		t.Error("telemetry or metrics on by default")
	}
}

func TestTelemetryParse(t *testing.T) {
	c, err := Parse("/etc/bb/x.yaml", []byte(base+`nas: {identifier: bng-1}
telemetry:
  enabled: true
  prefix: isp/bng
  listen: 127.0.0.1:0
  tls-listen: ":8883"
  tls-cert: tls/cert.pem
  tls-key: /abs/key.pem
  ws-listen: ":8080"
  operators:
    - {user: noc, password: "$2y$05$abcdefghijklmnopqrstuu"}
    - {user: ops, password: clear}
  store: state/telemetry.db
  auth-cache-ttl: 0s
  fail-per-user: 3
  bridge:
    address: central.example:8883
    tls: true
    ca-file: ca.pem
    queue: q.db
metrics: {listen: "127.0.0.1:9469"}
`))
	if err != nil {
		t.Fatal(err)
	}
	tl := c.Telemetry
	if !tl.Enabled || tl.Prefix != "isp/bng" || tl.Listen != "127.0.0.1:0" || tl.WSListen != ":8080" {
		t.Errorf("telemetry = %+v", tl)
	}
	if tl.TLSCert != "/etc/bb/tls/cert.pem" || tl.TLSKey != "/abs/key.pem" || tl.Store != "/etc/bb/state/telemetry.db" {
		t.Errorf("paths not resolved against the config dir: %q %q %q", tl.TLSCert, tl.TLSKey, tl.Store)
	}
	if tl.Bridge.CAFile != "/etc/bb/ca.pem" || tl.Bridge.Queue != "/etc/bb/q.db" || tl.Bridge.QueueMax != 100000 {
		t.Errorf("bridge = %+v", tl.Bridge)
	}
	if len(tl.Operators) != 2 || tl.Operators[1] != (TelemetryOperator{User: "ops", Password: "clear"}) {
		t.Errorf("operators = %+v", tl.Operators)
	}
	if tl.AuthCacheTTL != 0 || tl.FailPerUser != 3 || tl.FailPerAddr != 20 || tl.FailWindow != time.Minute {
		t.Errorf("limits = %+v", tl)
	}
	if c.Metrics.Listen != "127.0.0.1:9469" {
		t.Errorf("metrics = %+v", c.Metrics)
	}
}

func TestTelemetryValidateWithLines(t *testing.T) {
	src := base + `nas: {identifier: a/b}
telemetry:
  enabled: true
  prefix: "isp/+"
  listen: "1883"
  tls-listen: ":8883"
  operators:
    - {user: noc, password: x}
    - {user: noc}
  auth-cache-ttl: -1s
  fail-per-addr: 0
  queue-length: 0
  bridge:
    address: central
    ca-file: ca.pem
    key-file: k.pem
    queue: ""
metrics: {listen: "localhost:http"}
`
	_, err := Parse("t.yaml", []byte(src))
	if err == nil {
		t.Fatal("no error")
	}
	want := []string{
		"t.yaml:7: telemetry.prefix",
		"t.yaml:4: nas.identifier",
		"t.yaml:8: telemetry.listen",
		"t.yaml:5: telemetry.tls-cert: required",
		"t.yaml:5: telemetry.tls-key: required",
		"t.yaml:12: telemetry.operators.1.user: operator \"noc\" listed twice",
		"t.yaml:12: telemetry.operators.1.password",
		"t.yaml:13: telemetry.auth-cache-ttl",
		"t.yaml:14: telemetry.fail-per-addr",
		"t.yaml:15: telemetry.queue-length",
		"t.yaml:17: telemetry.bridge.address",
		"t.yaml:20: telemetry.bridge.queue: required",
		"t.yaml:16: telemetry.bridge.cert-file",
		"t.yaml:16: telemetry.bridge.tls",
		"t.yaml:21: metrics.listen",
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

func TestTelemetryOffStillChecksSyntax(t *testing.T) {
	// nas.identifier only matters as a topic level when telemetry is on.
	if _, err := Parse("t.yaml", []byte(base+"nas: {identifier: a/b}\n")); err != nil {
		t.Errorf("telemetry off: %v", err)
	}
	_, err := Parse("t.yaml", []byte(base+"telemetry: {listen: nonsense}\n"))
	if err == nil || !strings.Contains(err.Error(), "t.yaml:4: telemetry.listen") {
		t.Errorf("bad listen with telemetry off: %v", err)
	}
	_, err = Parse("t.yaml", []byte(base+"telemetry: {enabled: true, bogus: 1}\n"))
	if err == nil || !strings.Contains(err.Error(), `unknown key "bogus" (in telemetry)`) {
		t.Errorf("unknown key: %v", err)
	}
}
