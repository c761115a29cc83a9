// Package cli is the operator command line of bngbox: one explicit command
// tree (tree.go) over mgmt.API, a parser with unambiguous prefixes, "?" help
// and completion (parse.go), renderers kept apart from the handlers (an
// accel-ppp style aligned table, and JSON when a command ends in "json";
// render.go), and three transports: Exec for in-process use, a unix socket
// for `bngbox cli` (socket.go), and an interactive telnet shell built on
// golang.org/x/term (telnet.go).
//
// docs/cli.md is the command reference.
package cli
