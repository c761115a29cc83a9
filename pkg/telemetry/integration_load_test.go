//go:build integration

package telemetry

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"net"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bngbox/bngbox/pkg/session"
)

// rawClient is a bare MQTT 3.1.1 subscriber for load tests (1,000
// mosquitto_sub processes would swamp a small box).
type rawClient struct {
	c net.Conn
	r *bufio.Reader
}

func dialRaw(addr, id, user, pw string) (*rawClient, error) {
	c, err := net.DialTimeout("tcp", addr, waitFor)
	if err != nil {
		return nil, err
	}
	rc := &rawClient{c: c, r: bufio.NewReader(c)}
	c.SetDeadline(time.Now().Add(waitFor))
	if _, err := c.Write(connectPacket(id, user, pw, 0)); err != nil {
		return nil, err
	}
	typ, _, body, err := readPacket(rc.r)
	if err != nil {
		return nil, err
	}
	if code, _ := connackCode(body); typ != pktConnack || code != 0 {
		return nil, fmt.Errorf("connack type %d code %d", typ, code)
	}
	return rc, nil
}

// subscribe sends SUBSCRIBE (§3.8) for one filter at QoS 1 and returns the granted code.
func (rc *rawClient) subscribe(filter string) (byte, error) {
	body := binary.BigEndian.AppendUint16(nil, 1)
	body = appendString(body, filter)
	body = append(body, 1)
	pk := appendRemLen([]byte{0x82}, len(body))
	if _, err := rc.c.Write(append(pk, body...)); err != nil {
		return 0, err
	}
	for {
		typ, _, b, err := readPacket(rc.r)
		if err != nil {
			return 0, err
		}
		if typ == 9 && len(b) >= 3 { // SUBACK
			return b[2], nil
		}
	}
}

// nextPublish returns the topic of the next PUBLISH, acknowledging QoS 1.
func (rc *rawClient) nextPublish(deadline time.Time) (string, error) {
	topic, ack, err := rc.readPublish(deadline)
	if err == nil && ack != nil {
		_, err = rc.c.Write(ack)
	}
	return topic, err
}

// readPublish returns the topic of the next PUBLISH and, for QoS 1, the
// PUBACK to send for it (not sent).
func (rc *rawClient) readPublish(deadline time.Time) (topic string, ack []byte, err error) {
	rc.c.SetDeadline(deadline)
	for {
		typ, flags, b, err := readPacket(rc.r)
		if err != nil {
			return "", nil, err
		}
		if typ != pktPublish || len(b) < 2 {
			continue
		}
		n := int(binary.BigEndian.Uint16(b))
		if len(b) < 2+n {
			return "", nil, errWireShort
		}
		if flags&0x06 != 0 && len(b) >= 4+n {
			ack = append([]byte{pktPuback << 4, 2}, b[2+n:4+n]...)
		}
		return string(b[2 : 2+n]), ack, nil
	}
}

// TestIntegrationOperatorBurst: 10,000 lines come up and go down in one
// burst (an access switch reboots) while an operator reads everything at
// QoS 1 and acknowledges only after the burst (a busy NMS). Every one of
// the 50,000 messages (state and event at start; state, event and the
// final usage at stop) reaches it:
// mochi's default of 8,192 unacknowledged messages per client dropped the
// rest ("client store quota reached"; the 10k-session bench lost stop
// events this way).
func TestIntegrationOperatorBurst(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	const nSess = 10000
	tl, err := New(Config{NAS: "nas1", Listen: "127.0.0.1:0", QueueLen: 2 * nSess,
		Operators: []Account{{User: "noc", Password: "nocpw"}}}, &users{}, discard())
	if err != nil {
		t.Fatal(err)
	}
	if err := tl.Start(); err != nil {
		t.Fatal(err)
	}
	defer tl.Close()
	rc, err := dialRaw(tl.Addr(), "noc", "noc", "nocpw")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.c.Close()
	if code, err := rc.subscribe("bngbox/#"); err != nil || code != 1 {
		t.Fatalf("subscribe: code %d, %v", code, err)
	}

	// The operator reads as fast as it can but holds its PUBACKs.
	type got struct {
		topics map[string]int
		acks   [][]byte
		err    error
	}
	const want = 5 * nSess
	res := make(chan got, 1)
	go func() {
		g := got{topics: map[string]int{}}
		for len(g.acks) < want {
			topic, ack, err := rc.readPublish(time.Now().Add(waitFor))
			if err != nil {
				g.err = fmt.Errorf("after %d messages: %w", len(g.acks), err)
				break
			}
			g.topics[topic[strings.LastIndexByte(topic, '/')+1:]]++
			g.acks = append(g.acks, ack)
		}
		res <- g
	}()
	for _, kind := range []session.EventKind{session.EventStart, session.EventStop} {
		for i := range nSess {
			in := aliceInfo()
			in.User, in.ID = fmt.Sprintf("user%d", i), fmt.Sprintf("%08x", i)
			tl.SessionEvent(session.Event{Kind: kind, Info: in})
		}
	}
	g := <-res
	if g.err != nil {
		t.Fatal(g.err)
	}
	if g.topics["state"] != 2*nSess || g.topics["event"] != 2*nSess || g.topics["usage"] != nSess || tl.overflow.Load() != 0 {
		t.Fatalf("operator got %v, want %d state, %d event and %d usage messages (publisher overflow %d)", g.topics, 2*nSess, 2*nSess, nSess, tl.overflow.Load())
	}
	for _, ack := range g.acks {
		if ack == nil {
			t.Fatal("a message arrived at QoS 0, want 1")
		}
		if _, err := rc.c.Write(ack); err != nil {
			t.Fatal(err)
		}
	}
}

// TestIntegrationLoad: 10,000 sessions start and send an interim each
// (what a 60 s interim interval gives per minute) while the observer call
// stays non-blocking; 1,000 concurrent customers each receive their own
// state and nothing else. Numbers are logged (go test -v) for the docs.
func TestIntegrationLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	const nSess, nSubs = 10000, 1000
	pw := map[string]string{}
	for i := range nSubs {
		pw[fmt.Sprintf("user%d", i)] = fmt.Sprintf("pw%d", i)
	}
	tl, err := New(Config{NAS: "nas1", Listen: "127.0.0.1:0", StorePath: filepath.Join(t.TempDir(), "s.db"),
		QueueLen: 2 * nSess, FailPerAddr: nSubs}, &users{pw: pw}, discard())
	if err != nil {
		t.Fatal(err)
	}
	if err := tl.Start(); err != nil {
		t.Fatal(err)
	}
	defer tl.Close()

	// 1,000 customers connect and subscribe to their own subtree.
	clients := make([]*rawClient, nSubs)
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, nSubs)
	// At most 64 logins in flight: 1,000 simultaneous SYNs overflow the
	// listen backlog and the retransmitted SYNs make a test of the kernel.
	sem := make(chan struct{}, 64)
	for i := range nSubs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			u := fmt.Sprintf("user%d", i)
			rc, err := dialRaw(tl.Addr(), "c"+u, u, pw[u])
			if err != nil {
				errs <- fmt.Errorf("%s: %w", u, err)
				return
			}
			if code, err := rc.subscribe("bngbox/nas1/session/" + u + "/#"); err != nil || code != 1 {
				errs <- fmt.Errorf("%s: subscribe code %d: %v", u, code, err)
				return
			}
			clients[i] = rc
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	t.Logf("%d customers logged in and subscribed in %v (64 at a time)", nSubs, time.Since(start))
	defer func() {
		for _, c := range clients {
			c.c.Close()
		}
	}()

	// 10,000 starts then 10,000 interims from the "session goroutines".
	var lat []time.Duration
	start = time.Now()
	for pass := range 2 {
		for i := range nSess {
			in := aliceInfo()
			in.User, in.ID = fmt.Sprintf("user%d", i), fmt.Sprintf("%08x", i)
			kind := session.EventStart
			if pass == 1 {
				kind = session.EventInterim
			}
			t0 := time.Now()
			tl.SessionEvent(session.Event{Kind: kind, Info: in})
			lat = append(lat, time.Since(t0))
		}
	}
	enq := time.Since(start)
	if _, err := tl.Reconcile(func(string, string) bool { return true }); err != nil { // barrier
		t.Fatal(err)
	}
	all := time.Since(start)
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	t.Logf("SessionEvent x%d: total %v, p50 %v, p99 %v, max %v; all published after %v (%.0f events/s); overflow %d",
		len(lat), enq, lat[len(lat)/2], lat[len(lat)*99/100], lat[len(lat)-1], all, float64(len(lat))/all.Seconds(), tl.overflow.Load())
	if tl.overflow.Load() != 0 {
		t.Fatalf("overflow %d", tl.overflow.Load())
	}

	// Every customer got its own state, event and usage, and nothing else.
	deadline := time.Now().Add(waitFor)
	errs = make(chan error, nSubs)
	for i, rc := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			base := fmt.Sprintf("bngbox/nas1/session/user%d/", i)
			want := map[string]bool{base + "state": true, base + "event": true, base + "usage": true}
			for len(want) > 0 {
				topic, err := rc.nextPublish(deadline)
				if err != nil {
					errs <- fmt.Errorf("user%d: %w (missing %v)", i, err, want)
					return
				}
				if len(topic) < len(base) || topic[:len(base)] != base {
					errs <- fmt.Errorf("user%d received %s", i, topic)
					return
				}
				delete(want, topic)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	t.Logf("all %d customers received their own messages %v after the first event", nSubs, time.Since(start))
}
