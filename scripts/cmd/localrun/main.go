// Command localrun runs a stack file's functions on this machine behind an
// OpenFaaS-compatible gateway: `make run`. It needs nothing but Go; the
// runtime itself is scripts/internal/localrun.
package main

import (
	"context"
	"flag"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"lockbox.dev/scripts/internal/localrun"
)

func main() {
	var o localrun.Options
	flag.StringVar(&o.StackFile, "f", "stack.yml", "stack file")
	flag.StringVar(&o.DataDir, "data", ".data", "folder for build outputs and service data (git-ignored)")
	flag.StringVar(&o.SecretsDir, "secrets", ".secrets", "folder of secret files, one per secret name (git-ignored)")
	flag.StringVar(&o.FaasCLI, "faas-cli", "", "where the banner's faas-cli is; built in the background once the stack is up if missing")
	flag.Parse()
	o.Lookup = os.LookupEnv
	o.Out = os.Stdout
	o.Log = slog.New(slog.NewTextHandler(os.Stderr, nil))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := localrun.Run(ctx, o); err != nil {
		o.Log.Error("make run failed", "err", err)
		os.Exit(1)
	}
}
