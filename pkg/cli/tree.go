package cli

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/bngbox/bngbox/pkg/mgmt"
	"github.com/bngbox/bngbox/pkg/rate"
)

// A node is one word of the command tree. Inner nodes have children; leaves
// have params and a handler.
type node struct {
	name string
	help string
	// prefer resolves an ambiguous prefix of two or more letters to this
	// node: "sh" is show (not shaper), "sess" is sessions (not session).
	prefer bool
	// audit marks commands that change state; front-ends log them at Info.
	audit    bool
	children []*node
	params   []*param
	run      func(ctx context.Context, c *call) (any, error)
}

// paramKind says how a param is written on the command line.
type paramKind int

const (
	paramPositional paramKind = iota // a value in order: <selector>
	paramFlag                        // a bare keyword: hard
	paramOption                      // a keyword followed by values: order <field>
)

// A param is one typed argument of a leaf command.
type param struct {
	kind paramKind
	// name is the keyword (flag, option) or the placeholder (positional).
	name string
	// values names the option's values, in order ("field", "regex").
	values []string
	help   string
	// optional is only meaningful for positionals; flags and options are
	// always optional.
	optional bool
	// check validates one value (index i for options) and returns a
	// user-facing error; nil accepts anything.
	check func(i int, v string) error
	// complete offers candidates for value i (i is always 0 for positionals).
	complete func(ctx context.Context, api mgmt.API, i int) []string
}

// A call is one parsed invocation handed to a handler.
type call struct {
	api    mgmt.API
	env    *env
	pos    map[string]string   // positional values by placeholder name
	flags  map[string]bool     // flags present
	opts   map[string][]string // option values by keyword
	asJSON bool
}

// jsonKeyword, valid at the end of any leaf command, selects the JSON
// renderer.
const jsonKeyword = "json"

// exitResult is returned by exit/quit; the shell closes the connection and
// one-shot callers ignore it.
type exitResult struct{}

// okResult is a short confirmation ("reloaded").
type okResult struct {
	Message string `json:"message"`
}

// countResult reports how many sessions a command acted on.
type countResult struct {
	Action   string `json:"action"`
	Sessions int    `json:"sessions"`
}

// helpResult lists commands (or candidates at a position) with their help.
type helpResult struct {
	Entries []helpEntry `json:"commands"`
	Footer  string      `json:"-"`
}

type helpEntry struct {
	Usage string `json:"usage"`
	Help  string `json:"help"`
}

// selectorParam is the <ifname|user|sid|ip> argument, completed from the
// live session table.
func selectorParam(withAll bool) *param {
	name := "ifname|user|sid|ip"
	if withAll {
		name += "|all"
	}
	return &param{
		kind: paramPositional,
		name: name,
		help: "session selector; kind=value forces the kind (ifname=, username=, sid=, ip=)",
		check: func(_ int, v string) error {
			sel, err := mgmt.ParseSelector(v)
			if err != nil {
				return err
			}
			if sel.Kind == mgmt.ByAll && !withAll {
				return fmt.Errorf("%q selects every session; name one session", v)
			}
			return nil
		},
		complete: func(ctx context.Context, api mgmt.API, _ int) []string {
			return sessionNames(ctx, api, withAll)
		},
	}
}

// sessionNames returns the ifnames and usernames of live sessions for
// completion.
func sessionNames(ctx context.Context, api mgmt.API, withAll bool) []string {
	var out []string
	if withAll {
		out = append(out, "all")
	}
	ss, err := api.Sessions(ctx)
	if err != nil {
		return out
	}
	for i := range ss {
		if ss[i].Ifname != "" {
			out = append(out, ss[i].Ifname)
		}
		if ss[i].User != "" {
			out = append(out, ss[i].User)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func fieldNames(_ context.Context, _ mgmt.API, _ int) []string {
	out := make([]string, len(columns))
	for i, c := range columns {
		out[i] = c.name
	}
	return out
}

// newTree builds the whole command tree. It is the one place commands are
// declared.
func newTree() *node {
	root := &node{name: ""}
	root.children = []*node{
		{name: "show", help: "show state", prefer: true, children: []*node{
			{name: "sessions", help: "list sessions as a table", prefer: true, params: []*param{
				{kind: paramOption, name: "columns", values: []string{"list"},
					help:  "comma-separated columns (" + strings.Join(columnNames(), ",") + ")",
					check: func(_ int, v string) error { _, err := parseColumns(v); return err },
					complete: func(ctx context.Context, api mgmt.API, i int) []string {
						return fieldNames(ctx, api, i)
					}},
				{kind: paramOption, name: "match", values: []string{"field", "regex"},
					help: "only sessions whose field matches the regular expression",
					check: func(i int, v string) error {
						if i == 0 {
							_, err := lookupColumn(v)
							return err
						}
						if _, err := regexp.Compile(v); err != nil {
							return fmt.Errorf("bad regex %q: %s", v, regexErr(err))
						}
						return nil
					},
					complete: func(ctx context.Context, api mgmt.API, i int) []string {
						if i == 0 {
							return fieldNames(ctx, api, i)
						}
						return nil
					}},
				{kind: paramOption, name: "order", values: []string{"field"},
					help:     "sort by field",
					check:    func(_ int, v string) error { _, err := lookupColumn(v); return err },
					complete: fieldNames},
			}, run: runShowSessions},
			{name: "session", help: "show one session, all fields", params: []*param{selectorParam(false)},
				run: runShowSession},
			{name: "stat", help: "daemon statistics", run: runShowStat},
			{name: "tunnels", help: "L2TP tunnels", run: func(ctx context.Context, c *call) (any, error) {
				t, err := c.api.Tunnels(ctx)
				return t, err
			}},
			{name: "pools", help: "address pool usage", run: func(ctx context.Context, c *call) (any, error) {
				p, err := c.api.Pools(ctx)
				return p, err
			}},
			{name: "radius", help: "RADIUS server state", run: func(ctx context.Context, c *call) (any, error) {
				r, err := c.api.RADIUSServers(ctx)
				return r, err
			}},
		}},
		{name: "terminate", audit: true, help: "end sessions (PADT/CDN, Acct-Stop Admin-Reset)", params: []*param{
			selectorParam(true),
			{kind: paramFlag, name: "hard", help: "skip the LCP Terminate exchange"},
		}, run: runTerminate},
		{name: "shaper", help: "change session rates live", children: []*node{
			{name: "set", audit: true, help: "set rates down/up, e.g. 10M/5M", params: []*param{
				selectorParam(true),
				{kind: paramPositional, name: "down/up", help: "rates in bit/s with k/M/G suffix, e.g. 10M/5M",
					check: func(_ int, v string) error { _, err := rate.Parse(v); return err }},
			}, run: runShaperSet},
			{name: "restore", audit: true, help: "restore authorized rates", params: []*param{selectorParam(true)},
				run: runShaperRestore},
		}},
		{name: "reload", audit: true, help: "reload the configuration", run: func(ctx context.Context, c *call) (any, error) {
			if err := c.api.Reload(ctx); err != nil {
				return nil, err
			}
			return okResult{Message: "configuration reloaded"}, nil
		}},
		{name: "log", help: "logging", children: []*node{
			{name: "level", audit: true, help: "set the log level", params: []*param{
				{kind: paramPositional, name: "debug|info|warn|error", help: "log level",
					check: func(_ int, v string) error {
						if !slices.Contains(logLevels, v) {
							return fmt.Errorf("unknown log level %q", v)
						}
						return nil
					},
					complete: func(context.Context, mgmt.API, int) []string { return logLevels }},
			}, run: func(_ context.Context, c *call) (any, error) {
				lvl := c.pos["debug|info|warn|error"]
				if err := c.api.SetLogLevel(lvl); err != nil {
					return nil, err
				}
				return okResult{Message: "log level " + lvl}, nil
			}},
		}},
		{name: "version", help: "show the version", run: func(_ context.Context, c *call) (any, error) {
			return c.api.Version(), nil
		}},
		{name: "help", help: "list commands", run: func(context.Context, *call) (any, error) {
			return helpFor(root), nil
		}},
		{name: "exit", help: "close the shell", run: runExit},
		{name: "quit", help: "close the shell", run: runExit},
	}
	return root
}

var logLevels = []string{"debug", "info", "warn", "error"}

func runExit(context.Context, *call) (any, error) { return exitResult{}, nil }

// StatResult is the typed result of `show stat`: the daemon statistics and,
// when the API has them, the RADIUS servers.
type StatResult struct {
	mgmt.Stats
	RADIUS []mgmt.RADIUSServer `json:"radius"`
}

func runShowStat(ctx context.Context, c *call) (any, error) {
	st, err := c.api.Stats(ctx)
	if err != nil {
		return nil, err
	}
	rs, err := c.api.RADIUSServers(ctx)
	if err != nil && !errors.Is(err, mgmt.ErrNotImplemented) {
		return nil, err
	}
	return StatResult{Stats: st, RADIUS: rs}, nil
}

func runTerminate(ctx context.Context, c *call) (any, error) {
	sel, err := mgmt.ParseSelector(c.pos["ifname|user|sid|ip|all"])
	if err != nil {
		return nil, err
	}
	n, err := c.api.Terminate(ctx, sel, c.flags["hard"])
	if err != nil {
		return nil, err
	}
	return countResult{Action: "terminated", Sessions: n}, nil
}

func runShaperSet(ctx context.Context, c *call) (any, error) {
	sel, err := mgmt.ParseSelector(c.pos["ifname|user|sid|ip|all"])
	if err != nil {
		return nil, err
	}
	r, err := rate.Parse(c.pos["down/up"])
	if err != nil {
		return nil, err
	}
	n, err := c.api.SetRates(ctx, sel, r, "cli")
	if err != nil {
		return nil, err
	}
	return countResult{Action: "set rates " + r.String() + " on", Sessions: n}, nil
}

func runShaperRestore(ctx context.Context, c *call) (any, error) {
	sel, err := mgmt.ParseSelector(c.pos["ifname|user|sid|ip|all"])
	if err != nil {
		return nil, err
	}
	n, err := c.api.RestoreRates(ctx, sel, "cli")
	if err != nil {
		return nil, err
	}
	return countResult{Action: "restored rates on", Sessions: n}, nil
}

// usage renders the synopsis of a leaf: "terminate <ifname|...> [hard]".
func usage(path string, n *node) string {
	var b strings.Builder
	b.WriteString(path)
	for _, p := range n.params {
		b.WriteByte(' ')
		switch p.kind {
		case paramPositional:
			if p.optional {
				fmt.Fprintf(&b, "[<%s>]", p.name)
			} else {
				fmt.Fprintf(&b, "<%s>", p.name)
			}
		case paramFlag:
			fmt.Fprintf(&b, "[%s]", p.name)
		case paramOption:
			fmt.Fprintf(&b, "[%s", p.name)
			for _, v := range p.values {
				fmt.Fprintf(&b, " <%s>", v)
			}
			b.WriteByte(']')
		}
	}
	return b.String()
}

// helpFor lists every leaf below n with its usage.
func helpFor(n *node) helpResult {
	var r helpResult
	var walk func(prefix string, n *node)
	walk = func(prefix string, n *node) {
		path := strings.TrimSpace(prefix + " " + n.name)
		if n.run != nil {
			r.Entries = append(r.Entries, helpEntry{Usage: usage(path, n), Help: n.help})
		}
		for _, c := range n.children {
			walk(path, c)
		}
	}
	walk("", n)
	r.Footer = `Words may be shortened while unambiguous ("sh sess"). End a command with "json" for JSON output; "?" lists what may come next.`
	return r
}

// regexErr returns the useful part of a regexp error.
func regexErr(err error) string {
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 && strings.HasPrefix(s, "error parsing regexp") {
		return strings.TrimPrefix(s, "error parsing regexp: ")
	}
	return s
}
