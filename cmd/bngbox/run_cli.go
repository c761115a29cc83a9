package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/crypto/ssh"

	bbcli "github.com/bngbox/bngbox/pkg/cli"
	"github.com/bngbox/bngbox/pkg/config"
)

// startCLI opens the management front-ends over d.core: the unix socket
// (always), the telnet shell (cli.telnet-listen) and the SSH shell
// (cli.ssh-listen). d.stopCLI closes them all.
func (d *daemon) startCLI() error {
	cfg := d.cfg.CLI
	if err := os.MkdirAll(filepath.Dir(cfg.Socket), 0o755); err != nil {
		return fmt.Errorf("cli.socket: %w", err)
	}
	var err error
	if d.sock, err = bbcli.ListenSocket(cfg.Socket, d.core, d.log); err != nil {
		return fmt.Errorf("cli.socket: %w", err)
	}
	host, _ := os.Hostname()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	d.cliStop = func() { cancel(); wg.Wait() }
	serve := func(key string, ln net.Listener, f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(); err != nil {
				d.log.Error("cli listener stopped", "key", key, "err", err)
			}
		}()
		d.log.Info("cli listening", "key", key, "addr", ln.Addr().String())
	}

	if cfg.TelnetListen != "" {
		ln, err := net.Listen("tcp", cfg.TelnetListen)
		if err != nil {
			return fmt.Errorf("cli.telnet-listen: %w", err)
		}
		if cfg.TelnetPassword == "" {
			d.log.Warn("telnet shell has no password (cli.telnet-password)", "addr", ln.Addr().String())
		}
		opts := bbcli.TelnetOptions{Hostname: host, Password: cfg.TelnetPassword, Log: d.log}
		serve("cli.telnet-listen", ln, func() error { return bbcli.ServeTelnet(ctx, ln, d.core, opts) })
	}

	if cfg.SSHListen != "" {
		opts, err := sshOptions(cfg, host, d)
		if err != nil {
			return err
		}
		ln, err := net.Listen("tcp", cfg.SSHListen)
		if err != nil {
			return fmt.Errorf("cli.ssh-listen: %w", err)
		}
		serve("cli.ssh-listen", ln, func() error { return bbcli.ServeSSH(ctx, ln, d.core, opts) })
	}
	return nil
}

// stopCLI closes every management front-end and waits for their shells to end.
func (d *daemon) stopCLI() {
	if d.sock != nil {
		d.sock.Close()
	}
	if d.cliStop != nil {
		d.cliStop()
	}
}

func sshOptions(cfg config.CLI, host string, d *daemon) (bbcli.SSHOptions, error) {
	hk, created, err := loadOrCreateHostKey(cfg.SSHHostKey)
	if err != nil {
		return bbcli.SSHOptions{}, fmt.Errorf("cli.ssh-host-key: %w", err)
	}
	if created {
		d.log.Info("generated SSH host key", "file", cfg.SSHHostKey, "fingerprint", ssh.FingerprintSHA256(hk.PublicKey()))
	}
	b, err := os.ReadFile(cfg.SSHAuthorizedKeys)
	if err != nil {
		return bbcli.SSHOptions{}, fmt.Errorf("cli.ssh-authorized-keys: %w", err)
	}
	keys, err := bbcli.ParseAuthorizedKeys(b)
	if err != nil {
		return bbcli.SSHOptions{}, fmt.Errorf("cli.ssh-authorized-keys: %s: %w", cfg.SSHAuthorizedKeys, err)
	}
	if len(keys) == 0 {
		d.log.Warn("no authorized SSH keys: nobody can log in", "file", cfg.SSHAuthorizedKeys)
	}
	return bbcli.SSHOptions{Hostname: host, HostKey: hk, AuthorizedKeys: keys, Log: d.log}, nil
}

// loadOrCreateHostKey reads the SSH host key at path, or generates an
// ed25519 key there (mode 0600, directory 0700 if it has to be created)
// when the file does not exist. Like sshd it refuses a key that group or
// others can read.
func loadOrCreateHostKey(path string) (signer ssh.Signer, created bool, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return createHostKey(path)
	}
	if err != nil {
		return nil, false, err
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		return nil, false, fmt.Errorf("%s: mode %#o is too open; want 0600", path, fi.Mode().Perm())
	}
	signer, err = ssh.ParsePrivateKey(b)
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", path, err)
	}
	return signer, false, nil
}

func createHostKey(path string) (ssh.Signer, bool, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, false, err
	}
	block, err := ssh.MarshalPrivateKey(priv, "bngbox host key")
	if err != nil {
		return nil, false, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, false, err
	}
	// O_EXCL: never overwrite a key another process wrote meanwhile.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, false, err
	}
	if _, err := f.Write(pem.EncodeToMemory(block)); err != nil {
		f.Close()
		os.Remove(path)
		return nil, false, err
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return nil, false, err
	}
	signer, err := ssh.NewSignerFromKey(priv)
	return signer, true, err
}
