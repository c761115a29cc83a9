package main

import (
	"context"
	"fmt"
	"os"

	"github.com/urfave/cli/v3"
	"go.yaml.in/yaml/v3"

	"github.com/bngbox/bngbox/pkg/config"
)

func configCommand() *cli.Command {
	return &cli.Command{
		Name:  "config",
		Usage: "check or print the configuration",
		Commands: []*cli.Command{
			{
				Name:  "check",
				Usage: "decode and validate a config file; print every problem with file:line",
				Flags: []cli.Flag{configFlag},
				Action: func(_ context.Context, c *cli.Command) error {
					if _, err := config.Load(c.String("config")); err != nil {
						return cli.Exit(err.Error(), 2)
					}
					fmt.Println(c.String("config") + ": ok")
					return nil
				},
			},
			{
				Name:  "dump",
				Usage: "print the effective configuration (defaults filled in)",
				Flags: []cli.Flag{configFlag},
				Action: func(_ context.Context, c *cli.Command) error {
					cfg, err := config.Load(c.String("config"))
					if err != nil {
						return cli.Exit(err.Error(), 2)
					}
					enc := yaml.NewEncoder(os.Stdout)
					enc.SetIndent(2)
					return enc.Encode(cfg)
				},
			},
		},
	}
}
