//go:build integration

package telemetry

import (
	"strings"
	"testing"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
)

// readGate allows every login and every subscription filter but denies the
// delivery of topics under "private/", and reports those denials.
type readGate struct {
	mqtt.HookBase
	denied chan string
}

func (h *readGate) ID() string { return "read-gate" }
func (h *readGate) Provides(b byte) bool {
	return b == mqtt.OnConnectAuthenticate || b == mqtt.OnACLCheck
}
func (h *readGate) OnConnectAuthenticate(*mqtt.Client, packets.Packet) bool { return true }
func (h *readGate) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	if strings.HasPrefix(topic, "private/") {
		h.denied <- topic
		return false
	}
	return true
}

// TestIntegrationRetainedDeliveryACL checks the mochi behaviour our ACL
// relies on for defence in depth: the ACL is asked again when a retained
// message is delivered, so a subscription filter that is allowed ("#")
// still does not deliver a retained message whose topic is denied.
func TestIntegrationRetainedDeliveryACL(t *testing.T) {
	srv := mqtt.New(&mqtt.Options{InlineClient: true, Logger: discard()})
	gate := &readGate{denied: make(chan string, 10)}
	if err := srv.AddHook(gate, nil); err != nil {
		t.Fatal(err)
	}
	tcp := listeners.NewTCP(listeners.Config{ID: "t", Address: "127.0.0.1:0"})
	if err := srv.AddListener(tcp); err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve(); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	for _, m := range []struct{ topic, payload string }{{"private/x", "secret"}, {"public/y", "hello"}} {
		if err := srv.Publish(m.topic, []byte(m.payload), true, 1); err != nil {
			t.Fatal(err)
		}
	}
	p, _ := sub(t, tcp.Address(), "anyone", "x", false, "#")
	p.message("public/y")
	select {
	case topic := <-gate.denied:
		if topic != "private/x" {
			t.Fatalf("denied %q", topic)
		}
	case <-time.After(waitFor):
		t.Fatal("the ACL was not consulted for the retained private/x")
	}
	if err := srv.Publish("public/end", []byte("end"), false, 1); err != nil {
		t.Fatal(err)
	}
	p.message("public/end")
	if p.received("private/") {
		t.Fatalf("retained private message delivered:\n%s", p.output())
	}
}
