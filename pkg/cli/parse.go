package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/bngbox/bngbox/pkg/mgmt"
)

// A UsageError is a command-line mistake: unknown or ambiguous command, bad
// or missing argument. Msg is one line; Hint, if set, says what would work.
type UsageError struct {
	Msg  string
	Hint string
}

func (e *UsageError) Error() string { return e.Msg }

// ExitCode maps an Exec error to a process exit status: 0 for nil, 2 for a
// usage error, 1 for anything else.
func ExitCode(err error) int {
	var ue *UsageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		return 2
	}
	return 1
}

// FormatError renders an Exec error for a human: "error: ..." and, for a
// usage error with a hint, a second line "hint: ...". It never includes a
// stack trace.
func FormatError(err error) string {
	var ue *UsageError
	if errors.As(err, &ue) && ue.Hint != "" {
		return "error: " + ue.Msg + "\nhint: " + ue.Hint + "\n"
	}
	return "error: " + oneLine(err.Error()) + "\n"
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", "; ") }

// env is what handlers need besides the API; tests swap the clock.
type env struct {
	now func() time.Time
}

var defaultEnv = &env{now: time.Now}

// commands is the command tree, built once by newTree.
var commands = newTree()

// Exec runs one command given as words (for example "show", "sessions",
// "json") and renders its result to w: an aligned table by default, JSON
// when the last word is "json". It returns a *UsageError for command-line
// mistakes and the API's error otherwise; it does not print errors (see
// FormatError and ExitCode).
func Exec(ctx context.Context, api mgmt.API, args []string, w io.Writer) error {
	_, err := defaultEnv.exec(ctx, api, args, w)
	return err
}

// audited reports whether args name a command that changes state.
func audited(args []string) bool {
	p, err := parse(commands, args)
	return err == nil && p.leaf != nil && p.leaf.audit
}

// exec runs args and reports whether the command asked to close the shell.
func (e *env) exec(ctx context.Context, api mgmt.API, args []string, w io.Writer) (exit bool, err error) {
	res, asJSON, err := e.run(ctx, api, args)
	if err != nil {
		return false, err
	}
	if _, ok := res.(exitResult); ok {
		return true, nil
	}
	return false, render(w, res, asJSON)
}

// run parses args and calls the handler.
func (e *env) run(ctx context.Context, api mgmt.API, args []string) (res any, asJSON bool, err error) {
	p, err := parse(commands, args)
	if err != nil {
		return nil, false, err
	}
	if p.help != nil {
		return *p.help, false, nil
	}
	p.call.api, p.call.env = api, e
	res, err = p.leaf.run(ctx, p.call)
	return res, p.call.asJSON, err
}

// parsed is the outcome of parse: a leaf and its call, or help for a "?".
type parsed struct {
	path []string
	leaf *node
	call *call
	help *helpResult
}

// parse walks the tree with args.
func parse(root *node, args []string) (*parsed, error) {
	n, path := root, []string(nil)
	i := 0
	for n.children != nil {
		if i == len(args) {
			if n == root {
				return nil, &UsageError{Msg: "empty command", Hint: `type "help" or "?"`}
			}
			return nil, &UsageError{Msg: fmt.Sprintf("incomplete command %q", strings.Join(path, " ")),
				Hint: strings.Join(path, " ") + " " + childList(n)}
		}
		tok := args[i]
		if h, ok := strings.CutSuffix(tok, "?"); ok {
			return &parsed{help: childHelp(n, h)}, nil
		}
		c, err := lookupChild(n, tok)
		if err != nil {
			if len(path) > 0 {
				err.Hint = strings.Join(path, " ") + " " + childList(n)
			}
			return nil, err
		}
		n, path = c, append(path, c.name)
		i++
	}
	lp := newLeafParser(n, path)
	for ; i < len(args); i++ {
		if args[i] == "?" || (lp.pending == nil && len(args[i]) > 1 && strings.HasSuffix(args[i], "?")) {
			h := lp.expect(strings.TrimSuffix(args[i], "?"))
			return &parsed{help: &h}, nil
		}
		if err := lp.feed(args[i]); err != nil {
			return nil, err
		}
	}
	if err := lp.finish(); err != nil {
		return nil, err
	}
	return &parsed{path: path, leaf: n, call: lp.c}, nil
}

// lookupChild resolves tok among n's children: an exact name, a unique
// prefix, or (two letters or more) the one preferred candidate.
func lookupChild(n *node, tok string) (*node, *UsageError) {
	var found []*node
	for _, c := range n.children {
		if c.name == tok {
			return c, nil
		}
		if strings.HasPrefix(c.name, tok) {
			found = append(found, c)
		}
	}
	if len(found) == 1 {
		return found[0], nil
	}
	if len(found) == 0 {
		return nil, &UsageError{Msg: fmt.Sprintf("unknown command %q", tok), Hint: `type "help" or "?"`}
	}
	if len(tok) >= 2 {
		if p := preferred(found); p != nil {
			return p, nil
		}
	}
	names := make([]string, len(found))
	for i, c := range found {
		names[i] = c.name
	}
	return nil, &UsageError{Msg: fmt.Sprintf("ambiguous command %q: %s", tok, strings.Join(names, ", ")),
		Hint: "type more letters"}
}

func preferred(ns []*node) *node {
	var p *node
	for _, c := range ns {
		if c.prefer {
			if p != nil {
				return nil
			}
			p = c
		}
	}
	return p
}

func childList(n *node) string {
	names := make([]string, len(n.children))
	for i, c := range n.children {
		names[i] = c.name
	}
	return "<" + strings.Join(names, "|") + ">"
}

// childHelp lists n's children starting with prefix.
func childHelp(n *node, prefix string) *helpResult {
	var h helpResult
	for _, c := range n.children {
		if strings.HasPrefix(c.name, prefix) {
			h.Entries = append(h.Entries, helpEntry{Usage: c.name, Help: c.help})
		}
	}
	return &h
}

// leafParser consumes a leaf's argument words one at a time; the parser,
// "?" help and completion share it.
type leafParser struct {
	n    *node
	path string
	c    *call
	// pos is the index of the next positional to fill.
	pos int
	// pending is an option still waiting for values.
	pending  *param
	pendVals []string
}

func newLeafParser(n *node, path []string) *leafParser {
	return &leafParser{n: n, path: strings.Join(path, " "), c: &call{
		pos: map[string]string{}, flags: map[string]bool{}, opts: map[string][]string{},
	}}
}

func (lp *leafParser) usageErr(format string, a ...any) *UsageError {
	return &UsageError{Msg: fmt.Sprintf(format, a...), Hint: "usage: " + usage(lp.path, lp.n)}
}

// nextPositional returns the next unfilled positional, or nil.
func (lp *leafParser) nextPositional() *param {
	i := 0
	for _, p := range lp.n.params {
		if p.kind != paramPositional {
			continue
		}
		if i == lp.pos {
			return p
		}
		i++
	}
	return nil
}

// keywords returns the flags and options not used yet, plus json.
func (lp *leafParser) keywords() []*param {
	var out []*param
	for _, p := range lp.n.params {
		switch p.kind {
		case paramFlag:
			if !lp.c.flags[p.name] {
				out = append(out, p)
			}
		case paramOption:
			if _, ok := lp.c.opts[p.name]; !ok {
				out = append(out, p)
			}
		}
	}
	if !lp.c.asJSON && lp.n.name != "exit" && lp.n.name != "quit" && lp.n.name != "help" {
		out = append(out, &param{kind: paramFlag, name: jsonKeyword, help: "render as JSON"})
	}
	return out
}

func (lp *leafParser) feed(tok string) error {
	if p := lp.pending; p != nil {
		i := len(lp.pendVals)
		if p.check != nil {
			if err := p.check(i, tok); err != nil {
				return lp.wrap(err)
			}
		}
		lp.pendVals = append(lp.pendVals, tok)
		if len(lp.pendVals) == len(p.values) {
			lp.c.opts[p.name] = lp.pendVals
			lp.pending, lp.pendVals = nil, nil
		}
		return nil
	}
	next := lp.nextPositional()
	if next != nil && !next.optional {
		return lp.fillPositional(next, tok)
	}
	kw, err := lp.matchKeyword(tok)
	if err != nil {
		return err
	}
	if kw == nil {
		if next != nil {
			return lp.fillPositional(next, tok)
		}
		return lp.usageErr("unexpected argument %q", tok)
	}
	switch {
	case kw.name == jsonKeyword && kw.kind == paramFlag:
		lp.c.asJSON = true
	case kw.kind == paramFlag:
		lp.c.flags[kw.name] = true
	default:
		lp.pending = kw
	}
	return nil
}

func (lp *leafParser) fillPositional(p *param, tok string) error {
	if p.check != nil {
		if err := p.check(0, tok); err != nil {
			return lp.wrap(err)
		}
	}
	lp.c.pos[p.name] = tok
	lp.pos++
	return nil
}

// wrap turns a check error into a usage error with the usage as hint.
func (lp *leafParser) wrap(err error) error {
	var ue *UsageError
	if errors.As(err, &ue) {
		if ue.Hint == "" {
			ue.Hint = "usage: " + usage(lp.path, lp.n)
		}
		return ue
	}
	return lp.usageErr("%s", oneLine(err.Error()))
}

// matchKeyword finds tok among the remaining keywords by exact name or
// unique prefix; nil, nil if none matches.
func (lp *leafParser) matchKeyword(tok string) (*param, error) {
	var found []*param
	for _, p := range lp.keywords() {
		if p.name == tok {
			return p, nil
		}
		if strings.HasPrefix(p.name, tok) {
			found = append(found, p)
		}
	}
	switch len(found) {
	case 0:
		return nil, nil
	case 1:
		return found[0], nil
	}
	names := make([]string, len(found))
	for i, p := range found {
		names[i] = p.name
	}
	return nil, lp.usageErr("ambiguous argument %q: %s", tok, strings.Join(names, ", "))
}

func (lp *leafParser) finish() error {
	if p := lp.pending; p != nil {
		return lp.usageErr("%s needs <%s>", p.name, strings.Join(p.values[len(lp.pendVals):], "> <"))
	}
	if p := lp.nextPositional(); p != nil && !p.optional {
		return lp.usageErr("missing <%s>", p.name)
	}
	return nil
}

// expect describes what may come next; keywords are filtered by prefix.
func (lp *leafParser) expect(prefix string) helpResult {
	var h helpResult
	add := func(usage, help string) {
		h.Entries = append(h.Entries, helpEntry{Usage: usage, Help: help})
	}
	if p := lp.pending; p != nil {
		add("<"+p.values[len(lp.pendVals)]+">", p.help)
		return h
	}
	next := lp.nextPositional()
	if next != nil && !next.optional {
		add("<"+next.name+">", next.help)
		return h
	}
	if next != nil {
		add("[<"+next.name+">]", next.help)
	}
	for _, p := range lp.keywords() {
		if !strings.HasPrefix(p.name, prefix) {
			continue
		}
		u := p.name
		for _, v := range p.values {
			u += " <" + v + ">"
		}
		add(u, p.help)
	}
	if prefix == "" {
		add("<cr>", "run the command")
	}
	return h
}

// completions returns the words that may replace partial after the
// complete words prior.
func completions(ctx context.Context, api mgmt.API, prior []string, partial string) []string {
	n := commands
	i := 0
	for n.children != nil {
		if i == len(prior) {
			var out []string
			for _, c := range n.children {
				if strings.HasPrefix(c.name, partial) {
					out = append(out, c.name)
				}
			}
			if len(out) > 1 && len(partial) >= 2 {
				if c, err := lookupChild(n, partial); err == nil {
					return []string{c.name}
				}
			}
			return out
		}
		c, err := lookupChild(n, prior[i])
		if err != nil {
			return nil
		}
		n = c
		i++
	}
	lp := newLeafParser(n, nil)
	for ; i < len(prior); i++ {
		if lp.feed(prior[i]) != nil {
			return nil
		}
	}
	var cands []string
	switch {
	case lp.pending != nil:
		if lp.pending.complete != nil {
			cands = lp.pending.complete(ctx, api, len(lp.pendVals))
		}
		if lp.pending.name == "columns" {
			// complete the last element of a comma-separated list
			head := partial[:strings.LastIndexByte(partial, ',')+1]
			for j := range cands {
				cands[j] = head + cands[j]
			}
		}
	default:
		next := lp.nextPositional()
		if next != nil && next.complete != nil {
			cands = next.complete(ctx, api, 0)
		}
		if next == nil || next.optional {
			for _, p := range lp.keywords() {
				cands = append(cands, p.name)
			}
		}
	}
	return slices.DeleteFunc(cands, func(s string) bool { return !strings.HasPrefix(s, partial) })
}
