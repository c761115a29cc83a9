package main

import (
	"context"
	"os"

	"github.com/urfave/cli/v3"

	bbcli "github.com/bngbox/bngbox/pkg/cli"
)

func cliCommand() *cli.Command {
	return &cli.Command{
		Name:      "cli",
		Usage:     "run one management command on the running daemon (try: bngbox cli help)",
		ArgsUsage: "<command...>",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "socket", Aliases: []string{"s"}, Value: "/run/bngbox/cli.sock", Usage: "daemon's management socket (cli.socket)"},
		},
		SkipFlagParsing: false,
		Action: func(ctx context.Context, c *cli.Command) error {
			args := c.Args().Slice()
			if len(args) == 0 {
				args = []string{"help"}
			}
			code, err := bbcli.Call(ctx, c.String("socket"), args, os.Stdout)
			if err != nil {
				return cli.Exit("cli: "+err.Error(), 1)
			}
			if code != 0 {
				return cli.Exit("", code)
			}
			return nil
		},
	}
}
