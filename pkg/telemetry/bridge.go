package telemetry

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The bridge forwards every message the publisher sends to an upstream
// broker with QoS 1, in order, through a bounded queue in a bbolt file:
//
//	publisher --enqueue/flush--> bbolt "q" (seq -> msg) --runBridge--> upstream
//
// A message leaves the file only when the upstream acknowledged it
// (PUBACK), so messages queued while the upstream is unreachable, or
// while bngbox is down, are delivered after reconnect. Up to bridgeWindow
// messages are in flight; MQTT 3.1.1 §4.6 makes the broker acknowledge
// QoS 1 messages in order. The client is our own small MQTT 3.1.1 client
// (mqttwire.go): the bridge needs CONNECT, PUBLISH QoS 1, PUBACK and
// PINGREQ only, and owning the resend logic keeps the queue the single
// source of truth.
type bridge struct {
	cfg      BridgeConfig
	clientID string
	log      *slog.Logger
	db       *bolt.DB
	tlsConf  *tls.Config

	pmu     sync.Mutex
	pending []byte // length-prefixed encoded messages not yet written; guarded by pmu
	spare   []byte // the other buffer; used by flush only

	notify chan struct{} // cap 1: the queue grew
	stop   chan struct{}
	done   chan struct{}
	once   sync.Once

	queued    atomic.Int64  // messages in the file
	dropped   atomic.Uint64 // oldest messages dropped because the queue was full
	sent      atomic.Uint64 // messages the upstream acknowledged
	connected atomic.Bool
	started   atomic.Bool
}

const (
	bridgeWindow    = 64
	bridgeKeepalive = 30 * time.Second
)

var bucketQueue = []byte("q")

func newBridge(cfg BridgeConfig, nas string, log *slog.Logger) (*bridge, error) {
	b := &bridge{cfg: cfg, clientID: cfg.ClientID, log: log,
		notify: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	if b.clientID == "" {
		b.clientID = "bngbox-" + nas
	}
	if cfg.TLS {
		tc, err := bridgeTLS(cfg)
		if err != nil {
			return nil, err
		}
		b.tlsConf = tc
	}
	db, err := bolt.Open(cfg.QueuePath, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("telemetry: bridge queue %s: %w", cfg.QueuePath, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		q, err := tx.CreateBucketIfNotExists(bucketQueue)
		if err != nil {
			return err
		}
		b.queued.Store(int64(q.Stats().KeyN))
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("telemetry: bridge queue %s: %w", cfg.QueuePath, err)
	}
	b.db = db
	if n := b.queued.Load(); n > 0 {
		log.Info("telemetry: bridge queue holds messages from before", "queued", n)
	}
	return b, nil
}

func bridgeTLS(cfg BridgeConfig) (*tls.Config, error) {
	tc := &tls.Config{ServerName: cfg.ServerName, MinVersion: tls.VersionTLS12}
	if tc.ServerName == "" {
		host, _, err := net.SplitHostPort(cfg.Address)
		if err != nil {
			return nil, fmt.Errorf("telemetry: bridge address: %w", err)
		}
		tc.ServerName = host
	}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("telemetry: bridge ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("telemetry: bridge ca %s: no certificates", cfg.CAFile)
		}
		tc.RootCAs = pool
	}
	if cfg.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("telemetry: bridge client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// queued message encoding: flags(1: bit0 retain) | topic len(2) | topic | payload.
func encodeMsg(b []byte, topic string, payload []byte, retain bool) []byte {
	var f byte
	if retain {
		f = 1
	}
	b = append(b, f)
	b = appendString(b, topic)
	return append(b, payload...)
}

func decodeMsg(v []byte) (topic string, payload []byte, retain bool, err error) {
	if len(v) < 3 {
		return "", nil, false, errWireShort
	}
	n := int(binary.BigEndian.Uint16(v[1:3]))
	if len(v) < 3+n {
		return "", nil, false, errWireShort
	}
	return string(v[3 : 3+n]), v[3+n:], v[0]&1 != 0, nil
}

// enqueue adds one message to the pending batch (publisher goroutine).
func (b *bridge) enqueue(topic string, payload []byte, retain bool) {
	b.pmu.Lock()
	defer b.pmu.Unlock()
	start := len(b.pending)
	b.pending = binary.BigEndian.AppendUint32(b.pending, 0)
	b.pending = encodeMsg(b.pending, topic, payload, retain)
	binary.BigEndian.PutUint32(b.pending[start:], uint32(len(b.pending)-start-4))
}

// flush writes the pending batch in one transaction, dropping the oldest
// messages beyond QueueMax. One caller at a time (the persister).
func (b *bridge) flush() {
	b.pmu.Lock()
	batch := b.pending
	b.pending, b.spare = b.spare[:0], nil
	b.pmu.Unlock()
	defer func() { b.spare = batch[:0] }()
	if len(batch) == 0 {
		return
	}
	var drops int
	err := b.db.Update(func(tx *bolt.Tx) error {
		q := tx.Bucket(bucketQueue)
		n := b.queued.Load()
		for p := batch; len(p) >= 4; {
			l := binary.BigEndian.Uint32(p)
			seq, err := q.NextSequence()
			if err != nil {
				return err
			}
			if err := q.Put(binary.BigEndian.AppendUint64(nil, seq), p[4:4+l]); err != nil {
				return err
			}
			n++
			p = p[4+l:]
		}
		c := q.Cursor()
		for k, _ := c.First(); k != nil && n > int64(b.cfg.QueueMax); k, _ = c.First() {
			if err := c.Delete(); err != nil {
				return err
			}
			n--
			drops++
		}
		b.queued.Store(n)
		return nil
	})
	if err != nil {
		b.log.Error("telemetry: bridge queue write failed, messages lost", slog.Any("err", err))
		return
	}
	if drops > 0 {
		if n := b.dropped.Add(uint64(drops)); n == uint64(drops) || n/1000 != (n-uint64(drops))/1000 {
			b.log.Warn("telemetry: ALARM bridge queue full, dropping the oldest messages",
				"dropped_total", n, "queue_max", b.cfg.QueueMax)
		}
	}
	select {
	case b.notify <- struct{}{}:
	default:
	}
}

func (b *bridge) start() {
	if b.started.CompareAndSwap(false, true) {
		go b.runBridge()
	}
}

// close stops the sender (what is unacknowledged stays in the file) and
// closes the file.
func (b *bridge) close() error {
	b.once.Do(func() { close(b.stop) })
	if b.started.Load() {
		<-b.done
	}
	return b.db.Close()
}

func (b *bridge) runBridge() {
	defer close(b.done)
	failures := 0
	var maxSent uint64 // highest sequence ever written to a connection
	for {
		err := b.session(&maxSent)
		if b.connected.Swap(false) {
			failures = 0 // it worked for a while: log the next failure again
		}
		select {
		case <-b.stop:
			return
		default:
		}
		failures++
		if failures == 1 || failures%60 == 0 {
			b.log.Warn("telemetry: bridge upstream unreachable, queueing on disk",
				"address", b.cfg.Address, slog.Any("err", err), "queued", b.queued.Load(), "attempts", failures)
		}
		select {
		case <-b.stop:
			return
		case <-time.After(b.cfg.RetryInterval):
		}
	}
}

// queuedMsg is one message read back from the file.
type queuedMsg struct {
	seq uint64
	id  uint16
}

// session connects, then sends the queue in order until an error or stop.
func (b *bridge) session(maxSent *uint64) error {
	d := net.Dialer{Timeout: 10 * time.Second}
	var conn net.Conn
	var err error
	if b.tlsConf != nil {
		conn, err = tls.DialWithDialer(&d, "tcp", b.cfg.Address, b.tlsConf)
	} else {
		conn, err = d.Dial("tcp", b.cfg.Address)
	}
	if err != nil {
		return err
	}
	defer conn.Close()
	r := bufio.NewReader(conn)
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write(connectPacket(b.clientID, b.cfg.Username, b.cfg.Password, uint16(bridgeKeepalive/time.Second))); err != nil {
		return err
	}
	typ, _, body, err := readPacket(r)
	if err != nil {
		return fmt.Errorf("connack: %w", err)
	}
	if typ != pktConnack {
		return fmt.Errorf("telemetry: bridge: packet type %d before CONNACK", typ)
	}
	if rc, err := connackCode(body); err != nil || rc != 0 {
		return fmt.Errorf("telemetry: bridge: connection refused (code %d): %w", rc, err)
	}
	conn.SetDeadline(time.Time{})
	b.connected.Store(true)
	b.log.Info("telemetry: bridge connected", "address", b.cfg.Address, "queued", b.queued.Load())

	acks := make(chan uint16, bridgeWindow+2) // every PUBACK in flight, one PINGRESP, never blocks
	rerr := make(chan error, 1)
	go func() {
		for {
			typ, _, body, err := readPacket(r)
			if err != nil {
				rerr <- err
				return
			}
			switch typ {
			case pktPuback:
				id, err := packetID(body)
				if err != nil {
					rerr <- err
					return
				}
				acks <- id
			case pktPingresp:
				acks <- 0
			}
		}
	}()

	var inflight []queuedMsg
	var last uint64 // highest sequence sent on this connection
	var nextID uint16
	ping := time.NewTicker(bridgeKeepalive / 2)
	defer ping.Stop()
	pingOut := false
	for {
		if len(inflight) < bridgeWindow {
			msgs, err := b.readAfter(last, bridgeWindow-len(inflight))
			if err != nil {
				return err
			}
			for _, m := range msgs {
				nextID++
				if nextID == 0 {
					nextID = 1
				}
				conn.SetWriteDeadline(time.Now().Add(bridgeKeepalive))
				if _, err := conn.Write(publishPacket(m.topic, m.payload, m.retain, m.seq <= *maxSent, nextID)); err != nil {
					return err
				}
				inflight = append(inflight, queuedMsg{seq: m.seq, id: nextID})
				last = m.seq
				*maxSent = max(*maxSent, m.seq)
			}
		}
		select {
		case <-b.stop:
			conn.SetWriteDeadline(time.Now().Add(time.Second))
			conn.Write(disconnectPacket)
			return nil
		case err := <-rerr:
			return err
		case id := <-acks:
			done := []uint64{}
			for more := true; more; {
				if id == 0 {
					pingOut = false
				} else {
					for i, m := range inflight {
						if m.id == id {
							done = append(done, m.seq)
							inflight = append(inflight[:i], inflight[i+1:]...)
							break
						}
					}
				}
				select {
				case id = <-acks:
				default:
					more = false
				}
			}
			if err := b.remove(done); err != nil {
				return err
			}
		case <-b.notify:
		case <-ping.C:
			if pingOut {
				return errors.New("telemetry: bridge: no PINGRESP")
			}
			pingOut = true
			conn.SetWriteDeadline(time.Now().Add(bridgeKeepalive))
			if _, err := conn.Write(pingreqPacket); err != nil {
				return err
			}
		}
	}
}

type storedMsg struct {
	seq     uint64
	topic   string
	payload []byte
	retain  bool
}

// readAfter returns up to n queued messages with sequence > after.
func (b *bridge) readAfter(after uint64, n int) ([]storedMsg, error) {
	var out []storedMsg
	err := b.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketQueue).Cursor()
		for k, v := c.Seek(binary.BigEndian.AppendUint64(nil, after+1)); k != nil && len(out) < n; k, v = c.Next() {
			topic, payload, retain, err := decodeMsg(v)
			if err != nil {
				continue // corrupt entry: skip it (it is removed when acked around)
			}
			out = append(out, storedMsg{seq: binary.BigEndian.Uint64(k), topic: topic,
				payload: append([]byte(nil), payload...), retain: retain})
		}
		return nil
	})
	return out, err
}

// remove deletes acknowledged messages.
func (b *bridge) remove(seqs []uint64) error {
	if len(seqs) == 0 {
		return nil
	}
	return b.db.Update(func(tx *bolt.Tx) error {
		q := tx.Bucket(bucketQueue)
		var n int64
		for _, s := range seqs {
			k := binary.BigEndian.AppendUint64(nil, s)
			if q.Get(k) == nil {
				continue // dropped as the oldest while in flight
			}
			if err := q.Delete(k); err != nil {
				return err
			}
			n++
		}
		b.sent.Add(uint64(len(seqs)))
		b.queued.Add(-n)
		return nil
	})
}

func (b *bridge) writeMetrics(p promWriter) {
	conn := 0.0
	if b.connected.Load() {
		conn = 1
	}
	p.one("bngbox_mqtt_bridge_connected", "gauge", "1 when the bridge is connected upstream.", conn)
	p.one("bngbox_mqtt_bridge_queue_length", "gauge", "Messages queued on disk for the upstream broker.", float64(b.queued.Load()))
	p.one("bngbox_mqtt_bridge_queue_max", "gauge", "Bound of the bridge queue.", float64(b.cfg.QueueMax))
	p.one("bngbox_mqtt_bridge_dropped_total", "counter", "Oldest messages dropped because the bridge queue was full (alarm).", float64(b.dropped.Load()))
	p.one("bngbox_mqtt_bridge_sent_total", "counter", "Messages the upstream broker acknowledged.", float64(b.sent.Load()))
}
