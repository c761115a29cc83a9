package telemetry

import (
	"bufio"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
)

// SourceStats are the daemon-wide numbers the owner supplies to /metrics.
type SourceStats struct {
	// Sessions counts sessions by state ("starting", "active", "finishing").
	Sessions map[string]int
	// SessionSetups counts sessions that reached the network phase.
	SessionSetups uint64
	// AuthAccept and AuthReject count subscriber authentications.
	AuthAccept, AuthReject uint64
	// Drops counts dropped frames or requests by reason.
	Drops map[string]uint64
	// RADIUSRequests and RADIUSLatencySeconds (the sum over those
	// requests) give the mean RADIUS round trip.
	RADIUSRequests       uint64
	RADIUSLatencySeconds float64
}

// A MetricsSource returns the owner's current numbers. It is called on every
// scrape and must be safe for concurrent use.
type MetricsSource func() SourceStats

// SetMetricsSource sets (or, with nil, clears) the source of the
// daemon-wide numbers; it may be called at any time.
func (t *Telemetry) SetMetricsSource(src MetricsSource) {
	if src == nil {
		t.source.Store(nil)
		return
	}
	t.source.Store(&src)
}

// MetricsHandler serves the Prometheus text exposition format (version 0.0.4).
func (t *Telemetry) MetricsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		bw := bufio.NewWriter(w)
		t.writeMetrics(bw)
		bw.Flush()
	})
}

// promWriter writes metric families; each family's HELP and TYPE once.
type promWriter struct{ w *bufio.Writer }

func (p promWriter) family(name, typ, help string) {
	fmt.Fprintf(p.w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
}

func (p promWriter) sample(name string, v float64, labels ...string) {
	p.w.WriteString(name)
	if len(labels) > 0 {
		p.w.WriteByte('{')
		for i := 0; i+1 < len(labels); i += 2 {
			if i > 0 {
				p.w.WriteByte(',')
			}
			p.w.WriteString(labels[i])
			p.w.WriteString(`="`)
			p.w.WriteString(escapeLabel(labels[i+1]))
			p.w.WriteByte('"')
		}
		p.w.WriteByte('}')
	}
	p.w.WriteByte(' ')
	p.w.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
	p.w.WriteByte('\n')
}

func (p promWriter) one(name, typ, help string, v float64) {
	p.family(name, typ, help)
	p.sample(name, v)
}

var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

func escapeLabel(s string) string { return labelEscaper.Replace(s) }

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func (t *Telemetry) writeMetrics(w *bufio.Writer) {
	p := promWriter{w}
	if src := t.source.Load(); src != nil {
		s := (*src)()
		p.family("bngbox_sessions", "gauge", "Sessions by state.")
		for _, k := range sortedKeys(s.Sessions) {
			p.sample("bngbox_sessions", float64(s.Sessions[k]), "state", k)
		}
		p.one("bngbox_session_setups_total", "counter", "Sessions that reached the network phase.", float64(s.SessionSetups))
		p.family("bngbox_session_auth_total", "counter", "Subscriber authentications by result.")
		p.sample("bngbox_session_auth_total", float64(s.AuthAccept), "result", "accept")
		p.sample("bngbox_session_auth_total", float64(s.AuthReject), "result", "reject")
		p.family("bngbox_drops_total", "counter", "Dropped frames or requests by reason.")
		for _, k := range sortedKeys(s.Drops) {
			p.sample("bngbox_drops_total", float64(s.Drops[k]), "reason", k)
		}
		p.family("bngbox_radius_latency_seconds", "summary", "RADIUS request round trip.")
		p.sample("bngbox_radius_latency_seconds_sum", s.RADIUSLatencySeconds)
		p.sample("bngbox_radius_latency_seconds_count", float64(s.RADIUSRequests))
	}
	info := t.srv.Info
	p.one("bngbox_mqtt_clients", "gauge", "MQTT clients connected to the embedded broker.",
		float64(atomic.LoadInt64(&info.ClientsConnected)))
	p.one("bngbox_mqtt_retained", "gauge", "Retained messages in the embedded broker.",
		float64(atomic.LoadInt64(&info.Retained)))
	p.one("bngbox_mqtt_messages_sent_total", "counter", "Messages the broker delivered to clients.",
		float64(atomic.LoadInt64(&info.MessagesSent)))
	p.one("bngbox_mqtt_messages_dropped_total", "counter", "Messages the broker dropped (slow clients).",
		float64(atomic.LoadInt64(&info.MessagesDropped)))
	p.one("bngbox_mqtt_inflight_dropped_total", "counter", "QoS 1 messages dropped: the client had 65535 unacknowledged.",
		float64(atomic.LoadInt64(&info.InflightDropped)))
	p.one("bngbox_telemetry_published_total", "counter", "Telemetry messages published.", float64(t.published.Load()))
	p.one("bngbox_telemetry_queue_length", "gauge", "Session events waiting to be published.", float64(len(t.queue)))
	p.one("bngbox_telemetry_queue_overflow_total", "counter", "Session events dropped because the queue was full.",
		float64(t.overflow.Load()))
	p.one("bngbox_telemetry_store_errors_total", "counter", "Failed writes of the retained state store.",
		float64(t.storeErrs.Load()))
	a := t.access
	p.family("bngbox_mqtt_logins_total", "counter", "MQTT logins by kind and result.")
	for r := LoginOK; r <= LoginError; r++ {
		p.sample("bngbox_mqtt_logins_total", float64(a.results[r].Load()), "kind", "customer", "result", r.String())
	}
	p.sample("bngbox_mqtt_logins_total", float64(a.operatorOK.Load()), "kind", "operator", "result", "ok")
	p.sample("bngbox_mqtt_logins_total", float64(a.operatorBad.Load()), "kind", "operator", "result", "reject")
	p.sample("bngbox_mqtt_logins_total", float64(a.anonRefused.Load()), "kind", "anonymous", "result", "reject")
	p.sample("bngbox_mqtt_logins_total", float64(a.takeovers.Load()), "kind", "any", "result", "client_id_taken")
	if t.bridge != nil {
		t.bridge.writeMetrics(p)
	}
}
