//go:build integration

package integration

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestIntegrationTelemetryRADIUSLogin: with auth.backend radius, a customer's
// MQTT login is an Access-Request to the real FreeRADIUS, not a lookup in
// the local users file. pap0001 exists only in FreeRADIUS: with its password
// it logs in and sees its own line come online (with the address FreeRADIUS
// gave it); with a wrong password, and rejectme0001 with the right one
// (Auth-Type := Reject in FreeRADIUS), the CONNECT is refused; user0003,
// which exists only in the local users file, is refused too.
func TestIntegrationTelemetryRADIUSLogin(t *testing.T) {
	requireRADIUSTools(t)
	l := newLab(t, LabOptions{Users: 3, AAA: radiusAAA("radius", "10s"), Config: radiusConfig(t) + `telemetry:
  enabled: true
  listen: ":1883"
  store: ""
  auth-cache-ttl: 0s
`})
	fr := newFreeRADIUS(t)
	fr.start(l)
	l.StartDaemon()
	const own = "bngbox/bngbox-test/session/pap0001/"

	refused := regexp.MustCompile(`(?i)not authori[sz]ed|bad user name or password`)
	for _, c := range []struct{ user, password string }{
		{"pap0001", "wrong"},
		{"rejectme0001", "secret"},
		{"user0003", "secret"}, // local users file only
	} {
		out, err := l.Try(l.Inet, mqttArgs("mosquitto_sub", c.user, c.password, "-t", "bngbox/bngbox-test/session/"+c.user+"/#", "-W", "5")...)
		if err == nil || !refused.MatchString(out) {
			t.Errorf("MQTT login %s/%s: err=%v, want the CONNECT refused:\n%s", c.user, c.password, err, out)
		}
	}

	cust := l.MQTTSub("pap0001", "secret", own+"#")
	lg := l.StartLoadgen("-n", "1", "--auth", "pap", "--user", "pap%04d", "--mac-base", "67", "--hold", "-1s")
	l.WaitFor("pap0001's online state through MQTT", 30*time.Second, func() bool {
		return len(find(mqttMessages(cust.Out.String()), own+"state", "state", "online")) == 1
	})
	online := find(mqttMessages(cust.Out.String()), own+"state", "state", "online")[0]
	if got := online.str("ip"); got != "100.64.200.3" {
		t.Errorf("pap0001's state ip %q, want FreeRADIUS's Framed-IP-Address 100.64.200.3: %s", got, online.Raw)
	}
	lg.Stop(10 * time.Second)
	cust.Stop(5 * time.Second)
	for _, m := range mqttMessages(cust.Out.String()) {
		if !strings.HasPrefix(m.Topic, own) {
			t.Errorf("pap0001 received another line's message: %s %s", m.Topic, m.Raw)
		}
	}
}
