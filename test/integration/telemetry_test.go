//go:build integration

package integration

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bngbox/bngbox/internal/netnstest"
)

// Telemetry lab: the standard topology, with the broker listening on all
// of bng's addresses and the MQTT clients (Debian mosquitto-clients) in
// inet, reaching it over the network as customers would:
//
//	sub ──(sub0 ↔ acc0)── bng ──(up0 ↔ inet0)── inet
//	loadgen               bngbox :1883 (MQTT)     mosquitto_sub / mosquitto_pub
//	                      127.0.0.1:9469 (/metrics, read with curl inside bng)
const (
	telNAS     = "lab-bng"
	telPrefix  = "bngbox/" + telNAS + "/session/"
	telMetrics = "127.0.0.1:9469"
)

func newTelemetryLab(t *testing.T, users int) *Lab {
	t.Helper()
	return newLab(t, LabOptions{Users: users, AAA: "auth: {backend: local, users-file: users.yaml}\naccounting: {file: acct.jsonl, interim-interval: 10s}",
		Config: `nas: {identifier: ` + telNAS + `}
telemetry:
  enabled: true
  listen: ":1883"
  store: telemetry.db
  operators: [{user: noc, password: nocpw}]
metrics: {listen: "` + telMetrics + `"}
`})
}

// mqttArgs are mosquitto_sub/mosquitto_pub arguments to reach the broker
// from inet as user (MQTT 5, so SUBACK and PUBACK carry reason codes).
func mqttArgs(cmd, user, password string, args ...string) []string {
	return append([]string{cmd, "-h", bngUpAddr, "-p", "1883", "-V", "mqttv5", "-u", user, "-P", password}, args...)
}

// MQTTSub starts mosquitto_sub -v in inet and returns the process.
func (l *Lab) MQTTSub(user, password string, topics ...string) *netnstest.Proc {
	args := []string{"-v"}
	for _, tp := range topics {
		args = append(args, "-t", tp)
	}
	return l.Start(l.Inet, mqttArgs("mosquitto_sub", user, password, args...)...)
}

// mqttMsg is one line of mosquitto_sub -v output: topic and JSON payload.
type mqttMsg struct {
	Topic string
	Body  map[string]any
	Raw   string
}

func (m mqttMsg) str(k string) string { s, _ := m.Body[k].(string); return s }

// mqttMessages parses mosquitto_sub -v output; other lines are skipped.
func mqttMessages(out string) []mqttMsg {
	var msgs []mqttMsg
	for _, line := range strings.Split(out, "\n") {
		topic, payload, ok := strings.Cut(line, " ")
		if !ok || !strings.HasPrefix(topic, "bngbox/") {
			continue
		}
		m := mqttMsg{Topic: topic, Raw: payload}
		json.Unmarshal([]byte(payload), &m.Body)
		msgs = append(msgs, m)
	}
	return msgs
}

// find returns the messages on topic whose field k is v (v "" = any).
func find(msgs []mqttMsg, topic, k, v string) []mqttMsg {
	var out []mqttMsg
	for _, m := range msgs {
		if m.Topic == topic && (v == "" || m.str(k) == v) {
			out = append(out, m)
		}
	}
	return out
}

// Metrics returns the daemon's /metrics page (curl inside bng).
func (l *Lab) Metrics(addr string) string {
	l.t.Helper()
	out, err := l.Try(l.BNG, "curl", "-sSf", "--max-time", "5", "http://"+addr+"/metrics")
	if err != nil {
		l.t.Fatalf("GET /metrics: %v\n%s", err, out)
	}
	return out
}

// metric reads one sample ("name{labels}") from a /metrics page; -1 when absent.
func metric(page, sample string) float64 {
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(sample) + ` (\S+)$`)
	m := re.FindStringSubmatch(page)
	if m == nil {
		return -1
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

// TestIntegrationTelemetrySessionLife: two subscribers' sessions come up,
// send an interim and hang up, while mosquitto_sub clients watch:
// user0001 sees its own state online, start, usage, stop with cause and
// duration and the retained offline state, and nothing of user0002 (its
// subscriptions to '#' and to user0002 are refused in the SUBACK); a late
// subscriber gets the retained offline state; a wrong password and a
// customer's PUBLISH are refused; the operator reads both users; /metrics
// counts the sessions while they are held.
func TestIntegrationTelemetrySessionLife(t *testing.T) {
	const n = 2
	l := newTelemetryLab(t, n)
	l.StartDaemon()
	own := telPrefix + "user0001/"
	cust := l.MQTTSub("user0001", "secret", own+"#", "#", telPrefix+"user0002/#", telPrefix+"+/state")
	noc := l.MQTTSub("noc", "nocpw", "bngbox/#")
	l.WaitFor("2 MQTT clients", 10*time.Second, func() bool { return metric(l.Metrics(telMetrics), "bngbox_mqtt_clients") == 2 })

	// A customer's subscriptions to others' topics alone: all refused.
	// -d shows the SUBACK's reason codes: 135 = not authorized (MQTT 5).
	out, err := l.Try(l.Inet, mqttArgs("mosquitto_sub", "user0001", "secret", "-d", "-t", "#", "-t", telPrefix+"user0002/#", "-W", "5")...)
	if !strings.Contains(out, "Subscribed (mid: 1): 135, 135") || !strings.Contains(out, "All subscription requests were denied") || strings.Contains(out, "PUBLISH") {
		t.Errorf("user0001 subscribing to # and user0002/#: err=%v, want refused in SUBACK:\n%s", err, out)
	}
	// A wrong password is refused at CONNECT.
	out, err = l.Try(l.Inet, mqttArgs("mosquitto_sub", "user0001", "wrong", "-t", own+"#", "-W", "5")...)
	if err == nil || !regexp.MustCompile(`(?i)not authori[sz]ed|bad user name or password`).MatchString(out) {
		t.Errorf("wrong password: err=%v, want connection refused:\n%s", err, out)
	}

	lg := l.StartLoadgen("-n", strconv.Itoa(n), "--hold", "13s")
	l.WaitFor("2 active sessions", 30*time.Second, func() bool { return len(l.Sessions()) == n })
	l.WaitFor("/metrics: 2 sessions active", 10*time.Second, func() bool {
		return metric(l.Metrics(telMetrics), `bngbox_sessions{state="active"}`) == n
	})
	page := l.Metrics(telMetrics)
	if v := metric(page, "bngbox_session_setups_total"); v != n {
		t.Errorf("bngbox_session_setups_total = %v, want %d", v, n)
	}
	if v := metric(page, `bngbox_session_auth_total{result="accept"}`); v != n {
		t.Errorf(`bngbox_session_auth_total{result="accept"} = %v, want %d`, v, n)
	}

	// A customer may not publish, not even on its own topics.
	out, _ = l.Try(l.Inet, mqttArgs("mosquitto_pub", "user0001", "secret", "-t", own+"state", "-m", "forged", "-q", "1", "-r")...)
	if !strings.Contains(strings.ToLower(out), "not authorized") {
		t.Errorf("mosquitto_pub as customer: want PUBACK not authorized:\n%s", out)
	}

	select {
	case <-lg.Exited():
	case <-time.After(60 * time.Second):
		t.Fatal("loadgen did not finish")
	}
	if lg.ExitCode() != 0 || !strings.Contains(lg.Out.String(), fmt.Sprintf("sessions up: %d/%d", n, n)) {
		t.Fatalf("loadgen exit %d:\n%s", lg.ExitCode(), lg.Out.String())
	}
	l.WaitFor("sessions gone", 15*time.Second, func() bool { return len(l.Sessions()) == 0 })
	l.WaitFor("user0001's stop event and offline state", 10*time.Second, func() bool {
		msgs := mqttMessages(cust.Out.String())
		return len(find(msgs, own+"event", "event", "stop")) == 1 && len(find(msgs, own+"state", "state", "offline")) == 1
	})
	time.Sleep(500 * time.Millisecond) // anything stray would arrive now
	cust.Stop(5 * time.Second)
	noc.Stop(5 * time.Second)

	msgs := mqttMessages(cust.Out.String())
	for _, m := range msgs {
		if !strings.HasPrefix(m.Topic, own) {
			t.Errorf("user0001 received another user's message: %s %s", m.Topic, m.Raw)
		}
		if m.Raw == "forged" {
			t.Errorf("a customer's PUBLISH was delivered: %s", m.Topic)
		}
	}
	online := find(msgs, own+"state", "state", "online")
	start := find(msgs, own+"event", "event", "start")
	stop := find(msgs, own+"event", "event", "stop")
	offline := find(msgs, own+"state", "state", "offline")
	if len(online) != 1 || len(start) != 1 || len(stop) != 1 || len(offline) != 1 {
		t.Fatalf("user0001 got %d online, %d start, %d stop, %d offline; want 1 each:\n%s", len(online), len(start), len(stop), len(offline), cust.Out.String())
	}
	if online[0].str("user") != "user0001" || !strings.HasPrefix(online[0].str("ip"), "100.64.") || online[0].str("session_id") == "" {
		t.Errorf("online state: %s", online[0].Raw)
	}
	if start[0].str("session_id") != online[0].str("session_id") {
		t.Errorf("start event %s does not match state %s", start[0].Raw, online[0].Raw)
	}
	if d, _ := stop[0].Body["duration"].(float64); stop[0].str("cause") != "User-Request" || d < 12 || d > 20 {
		t.Errorf("stop event: %s, want cause User-Request and duration ≈13", stop[0].Raw)
	}
	if _, err := time.Parse(time.RFC3339, offline[0].str("since")); err != nil || offline[0].str("cause") != "User-Request" {
		t.Errorf("offline state: %s", offline[0].Raw)
	}
	// Usage: one interim (within the first 10 s of the 13 s hold) and the final counters.
	usage := find(msgs, own+"usage", "", "")
	if len(usage) < 2 {
		t.Errorf("user0001 got %d usage messages, want 2 or more (interims, stop):\n%s", len(usage), cust.Out.String())
	} else if st, _ := usage[0].Body["session_time"].(float64); st < 1 || st > 12 { // the first interim is jittered
		t.Errorf("interim usage: %s", usage[0].Raw)
	}

	// The operator read both users: state online+offline, start, stop, interim and final usage.
	ops := mqttMessages(noc.Out.String())
	for _, u := range []string{"user0001", "user0002"} {
		p := telPrefix + u + "/"
		if a, b, c := len(find(ops, p+"state", "", "")), len(find(ops, p+"event", "", "")), len(find(ops, p+"usage", "", "")); a != 2 || b != 2 || c < 2 {
			t.Errorf("operator got %d state, %d event, %d usage messages for %s; want 2, 2, 2 or more:\n%s", a, b, c, u, noc.Out.String())
		}
	}
	for _, m := range ops {
		if m.Raw == "forged" {
			t.Errorf("a customer's PUBLISH reached the operator: %s", m.Topic)
		}
	}

	// A late subscriber still learns when and why the line went down.
	out, err = l.Try(l.Inet, mqttArgs("mosquitto_sub", "user0001", "secret", "-v", "-t", own+"state", "-C", "1", "-W", "5")...)
	late := mqttMessages(out)
	if err != nil || len(late) != 1 || late[0].str("state") != "offline" || late[0].str("since") != offline[0].str("since") {
		t.Errorf("late subscriber: err=%v, want the retained offline state %s:\n%s", err, offline[0].Raw, out)
	}
}

// TestIntegrationTelemetryRestart: the retained state lives in the store
// across a restart; a line that was online when bngbox died (SIGKILL: no
// stop event) is corrected to offline with "reconciled" at start-up; after
// a graceful stop (SIGTERM) the stored state is the real Admin-Reboot stop.
func TestIntegrationTelemetryRestart(t *testing.T) {
	l := newTelemetryLab(t, 1)
	d := l.StartDaemon()
	own := telPrefix + "user0001/"
	lg := l.StartLoadgen("-n", "1", "--hold", "-1s")
	l.WaitFor("session up", 30*time.Second, func() bool { return len(l.Sessions()) == 1 })
	out, err := l.Try(l.Inet, mqttArgs("mosquitto_sub", "user0001", "secret", "-v", "-t", own+"state", "-C", "1", "-W", "5")...)
	if msgs := mqttMessages(out); err != nil || len(msgs) != 1 || msgs[0].str("state") != "online" {
		t.Fatalf("state before the crash: err=%v\n%s", err, out)
	}
	time.Sleep(time.Second) // the store writes behind the publisher
	d.Cmd.Process.Kill()
	<-d.Exited()
	lg.Stop(5 * time.Second)

	l.StartDaemon()
	out, err = l.Try(l.Inet, mqttArgs("mosquitto_sub", "user0001", "secret", "-v", "-t", own+"state", "-C", "1", "-W", "5")...)
	msgs := mqttMessages(out)
	if err != nil || len(msgs) != 1 || msgs[0].str("state") != "offline" || msgs[0].Body["reconciled"] != true {
		t.Fatalf("state after restart: err=%v, want offline and reconciled:\n%s", err, out)
	}
	if !strings.Contains(l.Daemon.Out.String(), "marked offline") {
		t.Errorf("daemon did not log the reconcile")
	}

	// SIGTERM: the sessions end before the broker closes, so the
	// Admin-Reboot offline state is published and stored, not reconciled.
	lg = l.StartLoadgen("-n", "1", "--hold", "-1s")
	l.WaitFor("session active again", 30*time.Second, func() bool {
		ss := l.Sessions()
		return len(ss) == 1 && ss[0]["state"] == "active"
	})
	l.Daemon.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-l.Daemon.Exited():
	case <-time.After(15 * time.Second):
		t.Fatal("daemon did not exit on SIGTERM")
	}
	lg.Stop(5 * time.Second)
	l.StartDaemon()
	out, err = l.Try(l.Inet, mqttArgs("mosquitto_sub", "user0001", "secret", "-v", "-t", own+"state", "-C", "1", "-W", "5")...)
	msgs = mqttMessages(out)
	if err != nil || len(msgs) != 1 || msgs[0].str("state") != "offline" || msgs[0].str("cause") != "Admin-Reboot" || msgs[0].Body["reconciled"] != nil {
		t.Errorf("state after a graceful stop: err=%v, want offline with cause Admin-Reboot:\n%s", err, out)
	}
}
