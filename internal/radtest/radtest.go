// Package radtest writes the configuration of the FreeRADIUS 3 server that
// bngbox's tests and benchmarks run against. There is one template,
// radiusd.conf next to this file; the bench scripts render the same file
// with sed (bench/lib.sh).
package radtest

import (
	_ "embed"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

//go:embed radiusd.conf
var template string

// Config is what differs between the servers the tests run.
type Config struct {
	Dir      string // confdir; gets radiusd.conf, users, acct/, run/, log/
	Secret   string // shared secret of the client 127.0.0.1
	AuthPort int    // on 127.0.0.1
	AcctPort int
	LogAuth  bool   // log every authentication (Login OK / Login incorrect)
	Users    string // the files module's users file
}

// Render returns radiusd.conf for c.
func Render(c Config) string {
	logAuth := "no"
	if c.LogAuth {
		logAuth = "yes"
	}
	return strings.NewReplacer("@DIR@", c.Dir, "@SECRET@", c.Secret, "@AUTH_PORT@", strconv.Itoa(c.AuthPort),
		"@ACCT_PORT@", strconv.Itoa(c.AcctPort), "@LOG_AUTH@", logAuth).Replace(template)
}

// Write creates c.Dir's radiusd.conf, users file and directories;
// `freeradius -f -d <Dir>` then serves.
func Write(c Config) error {
	for _, d := range []string{"acct", "run", "log"} {
		if err := os.MkdirAll(filepath.Join(c.Dir, d), 0o755); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(c.Dir, "radiusd.conf"), []byte(Render(c)), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(c.Dir, "users"), []byte(c.Users), 0o644)
}
