package localrun

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/robfig/cron/v3"

	"lockbox.dev/scripts/internal/stack"
)

// scheduleCron does the cron-connector's job: every function annotated
// topic=cron-function is invoked through the gateway on its schedule
// (robfig/cron v3 standard parser, as the connector) with an empty POST and
// the connector's headers. It returns the schedules it accepted.
func scheduleCron(ctx context.Context, fns []stack.Function, gatewayURL string, log *slog.Logger) (map[string]string, error) {
	c := cron.New()
	client := &http.Client{Timeout: 5 * time.Minute}
	scheduled := map[string]string{}
	for _, fn := range fns {
		spec, ok := fn.Cron()
		if !ok {
			continue
		}
		name := fn.Name
		_, err := c.AddFunc(spec, func() {
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, gatewayURL+"/function/"+name+"."+Namespace, nil)
			req.Header.Set("X-Topic", "cron-function")
			req.Header.Set("X-Connector", "cron-connector")
			resp, err := client.Do(req)
			if err != nil {
				if ctx.Err() == nil {
					log.Error("cron invocation failed", "function", name, "err", err)
				}
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			log.Info("cron invoked", "function", name, "status", resp.StatusCode)
		})
		if err != nil {
			return nil, err
		}
		scheduled[name] = spec
	}
	c.Start()
	go func() {
		<-ctx.Done()
		<-c.Stop().Done()
	}()
	return scheduled, nil
}
