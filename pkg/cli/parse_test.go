package cli

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name     string
		line     string
		wantPath string // resolved command, for successes
		wantErr  string // the one-line error, for failures
		wantHint string // substring of the hint
	}{
		{name: "full", line: "show sessions", wantPath: "show sessions"},
		{name: "prefixes", line: "sh sess", wantPath: "show sessions"},
		{name: "preferred session(s)", line: "sh se", wantPath: "show sessions"},
		{name: "exact beats prefix", line: "show session alice", wantPath: "show session"},
		{name: "unique prefix", line: "sho st", wantPath: "show stat"},
		{name: "shaper prefix", line: "sha re alice", wantPath: "shaper restore"},
		{name: "terminate hard", line: "ter alice ha", wantPath: "terminate"},
		{name: "options any order", line: "sh sess ord ip mat user ^a col ifname,ip json", wantPath: "show sessions"},
		{name: "log level", line: "log lev debug", wantPath: "log level"},
		{name: "exit", line: "q", wantPath: "quit"},

		{name: "empty", line: "", wantErr: "empty command", wantHint: "help"},
		{name: "ambiguous root", line: "s", wantErr: `ambiguous command "s": show, shaper`},
		{name: "ambiguous under show", line: "show s", wantErr: `ambiguous command "s": sessions, session, stat`},
		{name: "unknown", line: "frobnicate", wantErr: `unknown command "frobnicate"`, wantHint: `"help"`},
		{name: "unknown sub", line: "show foo", wantErr: `unknown command "foo"`, wantHint: "show <sessions|session|stat|tunnels|pools|radius>"},
		{name: "incomplete", line: "shaper", wantErr: `incomplete command "shaper"`, wantHint: "shaper <set|restore>"},
		{name: "missing selector", line: "terminate", wantErr: "missing <ifname|user|sid|ip|all>", wantHint: "usage: terminate <ifname|user|sid|ip|all> [hard]"},
		{name: "extra argument", line: "terminate alice soft", wantErr: `unexpected argument "soft"`, wantHint: "usage: terminate"},
		{name: "bad rate", line: "shaper set alice 10Q/5M", wantErr: `bad rate "10Q": want a number with an optional k/M/G suffix`, wantHint: "usage: shaper set"},
		{name: "rate without slash", line: "shaper set alice 10M", wantErr: `bad rates "10M": want down/up, for example 10M/5M`},
		{name: "bad selector kind", line: "terminate mac=x", wantErr: `unknown selector kind "mac" (want ifname, username, sid or ip)`},
		{name: "all not allowed", line: "show session all", wantErr: `"all" selects every session; name one session`},
		{name: "bad log level", line: "log level verbose", wantErr: `unknown log level "verbose"`, wantHint: "log level <debug|info|warn|error>"},
		{name: "unknown column", line: "sh sess columns ifname,mtu", wantErr: `unknown field "mtu"`, wantHint: "fields: ifname, username"},
		{name: "ambiguous column", line: "sh sess order rx", wantErr: `ambiguous field "rx": rx-bytes, rx-pkts`},
		{name: "bad regex", line: "sh sess match user a(", wantErr: "bad regex \"a(\": missing closing ): `a(`"},
		{name: "option without value", line: "sh sess match user", wantErr: "match needs <regex>"},
		{name: "option twice", line: "sh sess order ip order ip", wantErr: `unexpected argument "order"`},
		{name: "keyword prefix", line: "sh sess columns ifname o ip", wantPath: "show sessions"}, // only order starts with o
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := parse(commands, strings.Fields(tt.line))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("parse(%q): %v", tt.line, err)
				}
				if got := strings.Join(p.path, " "); got != tt.wantPath {
					t.Errorf("parse(%q) = %q, want %q", tt.line, got, tt.wantPath)
				}
				return
			}
			var ue *UsageError
			if !errors.As(err, &ue) {
				t.Fatalf("parse(%q) err = %v (%T), want a *UsageError", tt.line, err, err)
			}
			if ue.Msg != tt.wantErr {
				t.Errorf("parse(%q) error\n got %q\nwant %q", tt.line, ue.Msg, tt.wantErr)
			}
			if !strings.Contains(ue.Hint, tt.wantHint) {
				t.Errorf("parse(%q) hint %q does not contain %q", tt.line, ue.Hint, tt.wantHint)
			}
			if msg := FormatError(err); strings.Count(msg, "\n") > 2 || strings.Contains(msg, "goroutine") {
				t.Errorf("error text is more than error + hint:\n%s", msg)
			}
			if ExitCode(err) != 2 {
				t.Errorf("ExitCode = %d, want 2", ExitCode(err))
			}
		})
	}
}

func TestParseValues(t *testing.T) {
	p, err := parse(commands, strings.Fields("ter username=bob@isp h js"))
	if err != nil {
		t.Fatal(err)
	}
	if p.call.pos["ifname|user|sid|ip|all"] != "username=bob@isp" || !p.call.flags["hard"] || !p.call.asJSON {
		t.Errorf("call = %+v", p.call)
	}
	p, err = parse(commands, strings.Fields("sh sess m state act or up"))
	if err != nil {
		t.Fatal(err)
	}
	if got := p.call.opts["match"]; !slices.Equal(got, []string{"state", "act"}) {
		t.Errorf("match = %q", got)
	}
	if got := p.call.opts["order"]; !slices.Equal(got, []string{"up"}) {
		t.Errorf("order = %q", got)
	}
}

func TestHelp(t *testing.T) {
	tests := []struct {
		line string
		want []string // usages listed, in order
	}{
		{"?", []string{"show", "terminate", "shaper", "reload", "log", "version", "help", "exit", "quit"}},
		{"sh?", []string{"show", "shaper"}},
		{"show ?", []string{"sessions", "session", "stat", "tunnels", "pools", "radius"}},
		{"show se?", []string{"sessions", "session"}},
		{"terminate ?", []string{"<ifname|user|sid|ip|all>"}},
		{"terminate alice ?", []string{"hard", "json", "<cr>"}},
		{"sh sess ?", []string{"columns <list>", "match <field> <regex>", "order <field>", "json", "<cr>"}},
		{"sh sess order ip ?", []string{"columns <list>", "match <field> <regex>", "json", "<cr>"}},
		{"sh sess match ?", []string{"<field>"}},
		{"sh sess match user ?", []string{"<regex>"}},
		{"shaper set alice ?", []string{"<down/up>"}},
		{"sh sess c?", []string{"columns <list>"}},
	}
	for _, tt := range tests {
		p, err := parse(commands, strings.Fields(tt.line))
		if err != nil {
			t.Errorf("parse(%q): %v", tt.line, err)
			continue
		}
		if p.help == nil {
			t.Errorf("parse(%q): no help", tt.line)
			continue
		}
		var got []string
		for _, e := range p.help.Entries {
			got = append(got, e.Usage)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("help for %q\n got %q\nwant %q", tt.line, got, tt.want)
		}
	}
	// "?" through Exec renders and succeeds.
	out, err := run(t, newFakeAPI(), "show ?")
	if err != nil || !strings.Contains(out, "sessions  list sessions as a table") {
		t.Errorf("Exec show ?: %v\n%s", err, out)
	}
}

func TestCompletions(t *testing.T) {
	tests := []struct {
		line string // the last word is completed; a trailing space means a new word
		want []string
	}{
		{"", []string{"show", "terminate", "shaper", "reload", "log", "version", "help", "exit", "quit"}},
		{"sh", []string{"show"}},
		{"s", []string{"show", "shaper"}},
		{"show s", []string{"sessions", "session", "stat"}},
		{"show ses", []string{"sessions"}},
		{"sh sess ", []string{"columns", "match", "order", "json"}},
		{"sh sess o", []string{"order"}},
		{"sh sess order rx", []string{"rx-bytes", "rx-pkts"}},
		{"sh sess col ifname,us", []string{"ifname,username"}},
		{"terminate ", []string{"alice", "all", "bob@isp", "carol", "ppp0", "ppp10", "ppp2"}},
		{"terminate pp", []string{"ppp0", "ppp10", "ppp2"}},
		{"terminate al", []string{"alice", "all"}},
		{"show session b", []string{"bob@isp"}},
		{"terminate alice ", []string{"hard", "json"}},
		{"log level ", []string{"debug", "info", "warn", "error"}},
		{"frob ", nil},
	}
	api := newFakeAPI()
	for _, tt := range tests {
		words := strings.Fields(tt.line)
		partial := ""
		if len(words) > 0 && !strings.HasSuffix(tt.line, " ") {
			partial, words = words[len(words)-1], words[:len(words)-1]
		}
		got := completions(context.Background(), api, words, partial)
		if !slices.Equal(got, tt.want) {
			t.Errorf("completions(%q)\n got %q\nwant %q", tt.line, got, tt.want)
		}
	}
}

func TestExecCallsAPI(t *testing.T) {
	tests := []struct {
		line string
		want string // recorded call
	}{
		{"terminate alice", "terminate username=alice"},
		{"terminate ppp10 hard", "terminate ifname=ppp10 hard"},
		{"terminate 100.64.0.3", "terminate ip=100.64.0.3"},
		{"terminate 0000000000000001", "terminate sid=0000000000000001"},
		{"terminate all", "terminate all="},
		{"shaper set bob@isp 1.5M/512k", "setrates username=bob@isp 1500k/512k cli"},
		{"shaper restore ppp0", "restore ifname=ppp0 cli"},
		{"reload", "reload"},
		{"log level warn", "loglevel warn"},
	}
	for _, tt := range tests {
		api := newFakeAPI()
		if _, err := run(t, api, tt.line); err != nil {
			t.Errorf("%s: %v", tt.line, err)
			continue
		}
		if got := api.Calls(); !slices.Equal(got, []string{tt.want}) {
			t.Errorf("%s: calls %q, want %q", tt.line, got, tt.want)
		}
	}
}

func TestExecErrors(t *testing.T) {
	api := newFakeAPI()
	out, err := run(t, api, "terminate nobody")
	if ExitCode(err) != 1 || out != "error: no session matches\n" {
		t.Errorf("terminate nobody: exit %d, out %q", ExitCode(err), out)
	}
	out, err = run(t, api, "show session pppoe") // username "pppoe" does not exist
	if ExitCode(err) != 1 || !strings.Contains(out, "no session matches: username pppoe") {
		t.Errorf("show session pppoe: exit %d, out %q", ExitCode(err), out)
	}
	if len(api.Calls()) != 0 {
		t.Errorf("unexpected calls %q", api.Calls())
	}
	// exit is not an error and prints nothing.
	out, err = run(t, api, "exit")
	if err != nil || out != "" {
		t.Errorf("exit: %v %q", err, out)
	}
	if ExitCode(nil) != 0 {
		t.Error("ExitCode(nil) != 0")
	}
}
