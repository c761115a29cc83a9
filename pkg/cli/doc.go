// Package cli is the operator command line of bngbox: one explicit command
// tree (tree.go) over mgmt.API, a parser with unambiguous prefixes, "?" help
// and completion (parse.go), renderers kept apart from the handlers (an
// accel-ppp style aligned table, and JSON when a command ends in "json";
// render.go), and the transports: Exec for in-process use, a unix socket
// for `bngbox cli` (ListenSocket, Call; socket.go), an interactive telnet
// shell built on golang.org/x/term (ServeTelnet; telnet.go, telnetproto.go)
// and the same shell over SSH with public keys (ServeSSH; ssh.go).
//
// Handlers return typed values (SessionTable, SessionDetail, StatResult,
// mgmt.Version, ...); they never format text.
//
// docs/cli.md is the command reference.
package cli
