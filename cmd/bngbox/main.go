// Command bngbox is a software BNG/LNS: PPPoE access concentrator and L2TPv2
// LNS with RADIUS, shaping, telemetry and a management CLI in one binary.
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"github.com/urfave/cli/v3"
)

// version is set by the linker (see Makefile).
var version = "dev"

func main() {
	root := &cli.Command{
		Name:  "bngbox",
		Usage: "software BNG/LNS: PPPoE AC and L2TP LNS with RADIUS, shaping and telemetry",
		Commands: []*cli.Command{
			runCommand(),
			cliCommand(),
			configCommand(),
			loadgenCommand(),
			versionCommand(),
		},
		HideHelpCommand: true,
		// Errors are printed once, below, with the exit code they carry.
		ExitErrHandler: func(context.Context, *cli.Command, error) {},
	}
	args := os.Args
	// Invoked as bngctl: behave like `bngbox cli`.
	if filepath.Base(args[0]) == "bngctl" {
		args = append([]string{"bngbox", "cli"}, args[1:]...)
	}
	if err := root.Run(context.Background(), args); err != nil {
		fmt.Fprintln(os.Stderr, "bngbox:", err)
		code := 1
		if ec, ok := err.(cli.ExitCoder); ok {
			code = ec.ExitCode()
		}
		os.Exit(code)
	}
}

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print the version",
		Action: func(context.Context, *cli.Command) error {
			fmt.Printf("bngbox %s %s %s/%s\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return nil
		},
	}
}
