package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/bngbox/bngbox/pkg/mgmt"
	"github.com/bngbox/bngbox/pkg/rate"
	"github.com/bngbox/bngbox/pkg/session"
)

// render writes a handler's result as text or JSON. Renderers know nothing
// of parsing; handlers know nothing of rendering.
func render(w io.Writer, res any, asJSON bool) error {
	if asJSON {
		return renderJSON(w, res)
	}
	return renderText(w, res)
}

// renderJSON writes res as indented JSON. Lists are always arrays (never
// null); `show sessions json` gives every field of every listed session.
func renderJSON(w io.Writer, res any) error {
	var v any = res
	switch r := res.(type) {
	case SessionTable:
		v = nonNil(r.Sessions)
	case SessionDetail:
		v = r.Info
	case []mgmt.Tunnel:
		v = nonNil(r)
	case []mgmt.Pool:
		v = nonNil(r)
	case []mgmt.RADIUSServer:
		v = nonNil(r)
	case StatResult:
		r.RADIUS = nonNil(r.RADIUS)
		v = r
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("cli: render json: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func renderText(w io.Writer, res any) error {
	var t textWriter
	switch r := res.(type) {
	case SessionTable:
		renderSessions(&t, r)
	case SessionDetail:
		renderSession(&t, r)
	case StatResult:
		renderStat(&t, r)
	case []mgmt.Tunnel:
		tb := table{head: []string{"local-id", "remote-id", "peer", "hostname", "state", "sessions"}, right: []bool{true, true, false, false, false, true}}
		for _, x := range r {
			tb.add(strconv.Itoa(int(x.LocalID)), strconv.Itoa(int(x.RemoteID)), x.Peer, x.Hostname, x.State, strconv.Itoa(x.Sessions))
		}
		tb.write(&t)
	case []mgmt.Pool:
		tb := table{head: []string{"name", "range", "size", "used", "free", "use"}, right: []bool{false, false, true, true, true, true}}
		for _, x := range r {
			pct := "-"
			if x.Size > 0 {
				pct = fmt.Sprintf("%.1f%%", 100*float64(x.Used)/float64(x.Size))
			}
			tb.add(x.Name, x.Range, strconv.Itoa(x.Size), strconv.Itoa(x.Used), strconv.Itoa(x.Size-x.Used), pct)
		}
		tb.write(&t)
	case []mgmt.RADIUSServer:
		radiusTable(r).write(&t)
	case mgmt.Version:
		t.printf("bngbox %s (commit %s, %s, dataplane %s)\n", r.Version, r.Commit, r.GoVersion, r.Dataplane)
	case okResult:
		t.printf("%s\n", r.Message)
	case countResult:
		t.printf("%s %d %s\n", r.Action, r.Sessions, plural(r.Sessions, "session", "sessions"))
	case helpResult:
		renderHelp(&t, r)
	default:
		return fmt.Errorf("cli: no text renderer for %T", res)
	}
	_, err := io.WriteString(w, t.String())
	return err
}

type textWriter struct{ strings.Builder }

func (t *textWriter) printf(format string, a ...any) { fmt.Fprintf(t, format, a...) }

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// A table renders aligned columns in accel-ppp style:
//
//	 ifname | username |       ip
//	--------+----------+---------
//	 ppp0   | alice    | 10.0.0.2
type table struct {
	head  []string
	right []bool
	rows  [][]string
}

func (tb *table) add(cells ...string) {
	for i, c := range cells {
		cells[i] = sanitize(c)
	}
	tb.rows = append(tb.rows, cells)
}

func (tb *table) write(t *textWriter) {
	width := make([]int, len(tb.head))
	for i, h := range tb.head {
		width[i] = len(h)
	}
	for _, r := range tb.rows {
		for i, c := range r {
			width[i] = max(width[i], len(c))
		}
	}
	line := func(cells []string) {
		var b strings.Builder
		for i, c := range cells {
			if i > 0 {
				b.WriteString(" |")
			}
			b.WriteByte(' ')
			pad := strings.Repeat(" ", width[i]-len(c))
			if tb.right[i] {
				b.WriteString(pad + c)
			} else {
				b.WriteString(c + pad)
			}
		}
		t.WriteString(strings.TrimRight(b.String(), " ") + "\n")
	}
	line(tb.head)
	for i, w := range width {
		if i > 0 {
			t.WriteByte('+')
		}
		t.WriteString(strings.Repeat("-", w+2))
	}
	t.WriteByte('\n')
	for _, r := range tb.rows {
		line(r)
	}
}

// sanitize keeps control characters from subscriber-supplied strings
// (usernames, circuit IDs) out of the operator's terminal.
func sanitize(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) < 0 {
		return s
	}
	q := strconv.QuoteToGraphic(s)
	return q[1 : len(q)-1]
}

func renderSessions(t *textWriter, r SessionTable) {
	cols := make([]*column, len(r.Columns))
	tb := table{head: r.Columns, right: make([]bool, len(r.Columns))}
	for i, name := range r.Columns {
		c, err := lookupColumn(name)
		if err != nil {
			c = &column{name: name, text: func(*session.Info, time.Time) string { return "?" }}
		}
		cols[i] = c
		tb.right[i] = c.right
	}
	for i := range r.Sessions {
		cells := make([]string, len(cols))
		for j, c := range cols {
			cells[j] = c.text(&r.Sessions[i], r.Now)
		}
		tb.add(cells...)
	}
	tb.write(t)
}

// kv writes "key: value" lines with the values aligned.
type kv struct {
	keys, vals []string
}

func (k *kv) add(key, val string) {
	k.keys = append(k.keys, key)
	k.vals = append(k.vals, sanitize(val))
}

func (k *kv) write(t *textWriter) {
	w := 0
	for _, key := range k.keys {
		w = max(w, len(key))
	}
	for i, key := range k.keys {
		line := fmt.Sprintf("%-*s %s", w+1, key+":", k.vals[i])
		t.WriteString(strings.TrimRight(line, " ") + "\n")
	}
}

func renderSession(t *textWriter, r SessionDetail) {
	in := &r.Info
	var k kv
	k.add("sid", in.ID)
	k.add("type", in.Type)
	k.add("state", string(in.State))
	k.add("ifname", in.Ifname)
	k.add("username", in.User)
	k.add("ip", addrText(in.IP))
	k.add("ip6", prefixText(in.IPv6))
	started := ""
	if !in.Started.IsZero() {
		started = in.Started.UTC().Format(time.RFC3339)
	}
	k.add("started", started)
	k.add("uptime", uptimeText(in.Started, r.Now))
	k.add("port", in.Port)
	vlans := make([]string, len(in.VLANs))
	for i, v := range in.VLANs {
		vlans[i] = strconv.Itoa(int(v))
	}
	k.add("vlans", strings.Join(vlans, "."))
	k.add("mac", in.MAC.String())
	k.add("calling-sid", in.CallingSID)
	k.add("called-sid", in.CalledSID)
	k.add("session-id", strconv.Itoa(int(in.SID)))
	k.add("tunnel", in.Tunnel)
	k.add("rx-bytes", strconv.FormatUint(in.Stats.RxBytes, 10))
	k.add("tx-bytes", strconv.FormatUint(in.Stats.TxBytes, 10))
	k.add("rx-pkts", strconv.FormatUint(in.Stats.RxPackets, 10))
	k.add("tx-pkts", strconv.FormatUint(in.Stats.TxPackets, 10))
	k.add("rate", ratesText(in.Rates))
	k.add("auth-rate", ratesText(in.AuthRates))
	k.write(t)
}

func ratesText(r rate.Rates) string {
	s := r.String()
	if r.DownBurst != 0 || r.UpBurst != 0 {
		s += fmt.Sprintf(" (burst %d/%d bytes)", r.DownBurst, r.UpBurst)
	}
	return s
}

func renderStat(t *textWriter, r StatResult) {
	var k kv
	k.add("uptime", durationText(r.Uptime))
	k.add("sessions", strconv.Itoa(r.Starting+r.Active+r.Finishing))
	k.add("  starting", strconv.Itoa(r.Starting))
	k.add("  active", strconv.Itoa(r.Active))
	k.add("  finishing", strconv.Itoa(r.Finishing))
	k.add("setup-rate", fmt.Sprintf("%.1f/s (10 s)", r.SetupRate))
	k.add("auth-ok", strconv.FormatUint(r.AuthOK, 10))
	k.add("auth-fail", strconv.FormatUint(r.AuthFail, 10))
	var drops uint64
	for _, n := range r.Drops {
		drops += n
	}
	k.add("drops", strconv.FormatUint(drops, 10))
	// Only the reasons that happened; json has every counter.
	for _, reason := range slices.Sorted(maps.Keys(r.Drops)) {
		if r.Drops[reason] != 0 {
			k.add("  "+reason, strconv.FormatUint(r.Drops[reason], 10))
		}
	}
	k.add("heap-inuse", bytesText(r.HeapInUse))
	k.add("rss", bytesText(r.RSS))
	k.add("goroutines", strconv.Itoa(r.Goroutines))
	k.write(t)
	if len(r.RADIUS) > 0 {
		t.WriteString("\nradius:\n")
		radiusTable(r.RADIUS).write(t)
	}
}

func radiusTable(rs []mgmt.RADIUSServer) *table {
	tb := &table{head: []string{"address", "role", "state", "requests", "timeouts", "bad-auth", "in-flight", "latency"},
		right: []bool{false, false, false, true, true, true, true, true}}
	for _, x := range rs {
		tb.add(x.Address, x.Role, x.State, strconv.FormatUint(x.Requests, 10), strconv.FormatUint(x.Timeouts, 10),
			strconv.FormatUint(x.BadAuth, 10), strconv.Itoa(x.InFlight), x.LatencyAvg.Round(100*time.Microsecond).String())
	}
	return tb
}

// durationText renders 1.02:03:04 (days.hh:mm:ss).
func durationText(d time.Duration) string {
	return uptimeText(time.Unix(0, 0), time.Unix(0, 0).Add(d))
}

func bytesText(n uint64) string {
	const mi = 1 << 20
	if n >= mi {
		return fmt.Sprintf("%.1f MiB", float64(n)/mi)
	}
	return fmt.Sprintf("%d B", n)
}

func renderHelp(t *textWriter, r helpResult) {
	w := 0
	for _, e := range r.Entries {
		w = max(w, len(e.Usage))
	}
	for _, e := range r.Entries {
		t.WriteString(strings.TrimRight(fmt.Sprintf("  %-*s  %s", w, e.Usage, e.Help), " ") + "\n")
	}
	if len(r.Entries) == 0 {
		t.WriteString("  (nothing matches)\n")
	}
	if r.Footer != "" {
		t.WriteString("\n" + r.Footer + "\n")
	}
}
