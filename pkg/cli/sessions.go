package cli

import (
	"cmp"
	"context"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bngbox/bngbox/pkg/mgmt"
	"github.com/bngbox/bngbox/pkg/rate"
	"github.com/bngbox/bngbox/pkg/session"
)

// A column is one field of `show sessions`.
type column struct {
	name  string
	title string
	right bool // right-align (numbers)
	text  func(in *session.Info, now time.Time) string
	// less orders two sessions; nil orders by text.
	cmp func(a, b *session.Info) int
}

// columns lists every `show sessions` column in display order.
var columns = []column{
	{name: "ifname", title: "ifname", text: func(in *session.Info, _ time.Time) string { return in.Ifname },
		cmp: func(a, b *session.Info) int { return cmpIfname(a.Ifname, b.Ifname) }},
	{name: "username", title: "username", text: func(in *session.Info, _ time.Time) string { return in.User }},
	{name: "ip", title: "ip", text: func(in *session.Info, _ time.Time) string { return addrText(in.IP) },
		cmp: func(a, b *session.Info) int { return a.IP.Compare(b.IP) }},
	{name: "ip6", title: "ip6", text: func(in *session.Info, _ time.Time) string { return prefixText(in.IPv6) },
		cmp: func(a, b *session.Info) int {
			return cmp.Or(a.IPv6.Addr().Compare(b.IPv6.Addr()), cmp.Compare(a.IPv6.Bits(), b.IPv6.Bits()))
		}},
	{name: "type", title: "type", text: func(in *session.Info, _ time.Time) string { return in.Type }},
	{name: "state", title: "state", text: func(in *session.Info, _ time.Time) string { return string(in.State) }},
	{name: "uptime", title: "uptime", right: true,
		text: func(in *session.Info, now time.Time) string { return uptimeText(in.Started, now) },
		// Ascending uptime: the latest start first.
		cmp: func(a, b *session.Info) int { return b.Started.Compare(a.Started) }},
	{name: "calling-sid", title: "calling-sid", text: func(in *session.Info, _ time.Time) string { return in.CallingSID }},
	{name: "called-sid", title: "called-sid", text: func(in *session.Info, _ time.Time) string { return in.CalledSID }},
	{name: "sid", title: "sid", right: true, text: func(in *session.Info, _ time.Time) string { return strconv.Itoa(int(in.SID)) },
		cmp: func(a, b *session.Info) int { return cmp.Compare(a.SID, b.SID) }},
	numColumn("rx-bytes", func(in *session.Info) uint64 { return in.Stats.RxBytes }),
	numColumn("tx-bytes", func(in *session.Info) uint64 { return in.Stats.TxBytes }),
	numColumn("rx-pkts", func(in *session.Info) uint64 { return in.Stats.RxPackets }),
	numColumn("tx-pkts", func(in *session.Info) uint64 { return in.Stats.TxPackets }),
	rateColumn("rate-down", func(in *session.Info) uint64 { return in.Rates.Down }),
	rateColumn("rate-up", func(in *session.Info) uint64 { return in.Rates.Up }),
	{name: "tunnel", title: "tunnel", text: func(in *session.Info, _ time.Time) string { return in.Tunnel }},
}

// defaultColumns is what `show sessions` shows without `columns`.
var defaultColumns = []string{"ifname", "username", "ip", "ip6", "type", "state", "uptime", "calling-sid", "rate-down", "rate-up"}

func numColumn(name string, f func(*session.Info) uint64) column {
	return column{name: name, title: name, right: true,
		text: func(in *session.Info, _ time.Time) string { return strconv.FormatUint(f(in), 10) },
		cmp:  func(a, b *session.Info) int { return cmp.Compare(f(a), f(b)) }}
}

func rateColumn(name string, f func(*session.Info) uint64) column {
	return column{name: name, title: name, right: true,
		text: func(in *session.Info, _ time.Time) string { return rate.Format(f(in)) },
		cmp:  func(a, b *session.Info) int { return cmp.Compare(f(a), f(b)) }}
}

func columnNames() []string {
	out := make([]string, len(columns))
	for i, c := range columns {
		out[i] = c.name
	}
	return out
}

// lookupColumn finds a column by exact name or unique prefix.
func lookupColumn(name string) (*column, error) {
	var found []*column
	for i := range columns {
		if columns[i].name == name {
			return &columns[i], nil
		}
		if strings.HasPrefix(columns[i].name, name) {
			found = append(found, &columns[i])
		}
	}
	switch len(found) {
	case 0:
		return nil, &UsageError{Msg: fmt.Sprintf("unknown field %q", name),
			Hint: "fields: " + strings.Join(columnNames(), ", ")}
	case 1:
		return found[0], nil
	}
	names := make([]string, len(found))
	for i, c := range found {
		names[i] = c.name
	}
	return nil, &UsageError{Msg: fmt.Sprintf("ambiguous field %q: %s", name, strings.Join(names, ", "))}
}

// parseColumns parses a comma-separated column list.
func parseColumns(list string) ([]*column, error) {
	var out []*column
	for f := range strings.SplitSeq(list, ",") {
		if f == "" {
			continue
		}
		c, err := lookupColumn(f)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, &UsageError{Msg: "empty column list", Hint: "fields: " + strings.Join(columnNames(), ", ")}
	}
	return out, nil
}

// SessionTable is the typed result of `show sessions`: the chosen columns
// and the matching sessions in display order.
type SessionTable struct {
	Columns  []string
	Sessions []session.Info
	Now      time.Time
}

// SessionDetail is the typed result of `show session`.
type SessionDetail struct {
	Info session.Info
	Now  time.Time
}

func runShowSessions(ctx context.Context, c *call) (any, error) {
	cols := defaultColumns
	if v, ok := c.opts["columns"]; ok {
		cs, err := parseColumns(v[0])
		if err != nil {
			return nil, err
		}
		cols = cols[:0:0]
		for _, col := range cs {
			cols = append(cols, col.name)
		}
	}
	ss, err := c.api.Sessions(ctx)
	if err != nil {
		return nil, err
	}
	now := c.env.now()
	if m, ok := c.opts["match"]; ok {
		col, err := lookupColumn(m[0])
		if err != nil {
			return nil, err
		}
		re, err := regexp.Compile(m[1])
		if err != nil {
			return nil, &UsageError{Msg: fmt.Sprintf("bad regex %q: %s", m[1], regexErr(err))}
		}
		ss = slices.DeleteFunc(ss, func(in session.Info) bool { return !re.MatchString(col.text(&in, now)) })
	}
	order := &columns[0] // ifname
	if o, ok := c.opts["order"]; ok {
		if order, err = lookupColumn(o[0]); err != nil {
			return nil, err
		}
	}
	slices.SortStableFunc(ss, func(a, b session.Info) int {
		if order.cmp != nil {
			return order.cmp(&a, &b)
		}
		return strings.Compare(order.text(&a, now), order.text(&b, now))
	})
	return SessionTable{Columns: cols, Sessions: ss, Now: now}, nil
}

func runShowSession(ctx context.Context, c *call) (any, error) {
	sel, err := mgmt.ParseSelector(c.pos["ifname|user|sid|ip"])
	if err != nil {
		return nil, err
	}
	ss, err := c.api.Sessions(ctx)
	if err != nil {
		return nil, err
	}
	var found []session.Info
	for i := range ss {
		if sel.Match(&ss[i]) {
			found = append(found, ss[i])
		}
	}
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("%w: %s %s", mgmt.ErrNotFound, sel.Kind, sel.Value)
	case 1:
		return SessionDetail{Info: found[0], Now: c.env.now()}, nil
	}
	names := make([]string, len(found))
	for i := range found {
		names[i] = found[i].Ifname
	}
	return nil, &UsageError{Msg: fmt.Sprintf("%d sessions match %s %s: %s", len(found), sel.Kind, sel.Value, strings.Join(names, ", ")),
		Hint: "name one by ifname, e.g. show session " + names[0]}
}

// cmpIfname orders ppp2 before ppp10.
func cmpIfname(a, b string) int {
	ai, bi := strings.IndexFunc(a, isDigit), strings.IndexFunc(b, isDigit)
	if ai > 0 && bi > 0 && a[:ai] == b[:bi] {
		an, aerr := strconv.Atoi(a[ai:])
		bn, berr := strconv.Atoi(b[bi:])
		if aerr == nil && berr == nil {
			return cmp.Compare(an, bn)
		}
	}
	return strings.Compare(a, b)
}

func isDigit(r rune) bool { return r >= '0' && r <= '9' }

func addrText(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

func prefixText(p netip.Prefix) string {
	if !p.IsValid() {
		return ""
	}
	return p.String()
}

// uptimeText renders accel-ppp style: 00:12:34, or 3.04:05:06 past a day.
func uptimeText(started, now time.Time) string {
	if started.IsZero() {
		return ""
	}
	d := now.Sub(started)
	if d < 0 {
		d = 0
	}
	s := int64(d / time.Second)
	days, h, m, sec := s/86400, s/3600%24, s/60%60, s%60
	if days > 0 {
		return fmt.Sprintf("%d.%02d:%02d:%02d", days, h, m, sec)
	}
	return fmt.Sprintf("%02d:%02d:%02d", h, m, sec)
}
