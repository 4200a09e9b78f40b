// Command localrun runs a stack file's functions on this machine behind an
// OpenFaaS-compatible gateway: `make run`. It needs nothing but Go.
//
// It reads the stack file (environment_file, secrets, annotations, ${VAR}
// substitution), builds each function with its template's own build steps,
// runs each as a supervised process on its own loopback port, serves the
// gateway routes faas-cli and the cron-connector use at OPENFAAS_URL, runs
// the cron schedules of functions annotated topic=cron-function, and
// provides Redis and S3 unless redis_url / s3_endpoint are given.
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"lockbox.dev/scripts/internal/fnbuild"
	"lockbox.dev/scripts/internal/loopback"
	"lockbox.dev/scripts/internal/mailcatcher"
	"lockbox.dev/scripts/internal/stack"
	"lockbox.dev/shared/auth"
	"lockbox.dev/shared/config"
	"lockbox.dev/shared/intake/fixtures"
	"lockbox.dev/shared/lockbox"
)

func main() {
	var o options
	flag.StringVar(&o.stackFile, "f", "stack.yml", "stack file")
	flag.StringVar(&o.dataDir, "data", ".data", "folder for build outputs and service data (git-ignored)")
	flag.StringVar(&o.secretsDir, "secrets", ".secrets", "folder of secret files, one per secret name (git-ignored)")
	flag.StringVar(&o.faasCLI, "faas-cli", "", "where the banner's faas-cli is; built in the background once the stack is up if missing")
	flag.Parse()
	o.lookup = os.LookupEnv
	o.out = os.Stdout
	o.log = slog.New(slog.NewTextHandler(os.Stderr, nil))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		o.log.Error("make run failed", "err", err)
		os.Exit(1)
	}
}

// options configure one run.
type options struct {
	stackFile, dataDir, secretsDir string
	faasCLI                        string
	buildDir                       string                      // where function binaries are cached; dataDir/build when empty (tests share one)
	lookup                         func(string) (string, bool) // the environment of make run
	out                            io.Writer
	log                            *slog.Logger
	ready                          func(r *running) // called once everything serves (tests)
}

// running describes a started stack.
type running struct {
	Gateway   string
	Password  string
	Backends  map[string]*backend
	Processes []*process
	Redis, S3 service
	Mail      service // URL empty when smtp_url is the user's
	Cron      map[string]string
	Started   time.Duration
	// PortalToken signs in to the portal as alice, an approver of the demo
	// tenant contoso ("" when the stack has no portal).
	PortalToken string
}

// adminUser is the gateway's basic-auth user, as on OpenFaaS.
const adminUser = "admin"

func run(ctx context.Context, o options) error {
	start := time.Now()
	st, err := stack.Load(o.stackFile, o.lookup)
	if err != nil {
		return err
	}
	gw := "http://127.0.0.1:8080"
	if v, ok := o.lookup("OPENFAAS_URL"); ok && v != "" {
		gw = v
	}
	gwURL, err := url.Parse(gw)
	if err != nil || gwURL.Host == "" {
		return fmt.Errorf("OPENFAAS_URL=%q is not a URL", gw)
	}
	for _, d := range []*string{&o.dataDir, &o.secretsDir} {
		if *d, err = filepath.Abs(*d); err != nil {
			return err
		}
		if err := os.MkdirAll(*d, 0o700); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	r := &running{Gateway: gw, Backends: map[string]*backend{}}

	// Secrets: every secret a function names, and the gateway's password.
	_, externalRedis := nonEmpty(o.lookup, "redis_url")
	names := []string{"basic-auth-password"}
	for _, fn := range st.Functions {
		names = append(names, fn.Secrets...)
	}
	for _, n := range names {
		// A Redis given by the user has whatever password the user puts in
		// the file; an empty one means none.
		// The SMTP password is the user's, for the server smtp_url names.
		generate := !(externalRedis && n == "redis-password") && n != "smtp-password"
		if err := ensureSecret(o.secretsDir, n, generate); err != nil {
			return err
		}
	}
	pw, err := os.ReadFile(filepath.Join(o.secretsDir, "basic-auth-password"))
	if err != nil {
		return err
	}
	r.Password = string(pw)

	// Every child process and in-process service runs under wg, so that
	// run returns only once all of them have stopped.
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	var procs []*process
	track := func(p *process, f func()) {
		if p != nil {
			procs = append(procs, p)
		}
		wg.Go(f)
	}

	// Backing services.
	if v, ok := nonEmpty(o.lookup, "redis_url"); ok {
		r.Redis = service{URL: v, Desc: v + " (from redis_url)"}
	} else {
		redisPW, err := os.ReadFile(filepath.Join(o.secretsDir, "redis-password"))
		if err != nil {
			return err
		}
		if r.Redis, err = startRedis(ctx, o.dataDir, string(redisPW), track, o.log); err != nil {
			return err
		}
	}
	if v, ok := nonEmpty(o.lookup, "s3_endpoint"); ok {
		r.S3 = service{URL: v, Desc: v + " (from s3_endpoint)"}
	} else {
		if r.S3, err = startS3(ctx, o.dataDir, bucketOf(o.lookup), track, o.log); err != nil {
			return err
		}
	}

	// Mail: a catcher on loopback unless smtp_url names a server.
	var mailbox http.Handler
	if _, ok := nonEmpty(o.lookup, "smtp_url"); !ok {
		c, err := mailcatcher.Start(ctx, o.log)
		if err != nil {
			return err
		}
		mailbox = c.Handler()
		// The catcher takes any credentials; a password in the secret
		// needs a user name to go with it.
		user := ""
		if pw, _ := os.ReadFile(filepath.Join(o.secretsDir, "smtp-password")); len(pw) > 0 {
			user = "lockbox@"
		}
		r.Mail = service{URL: "smtp://" + user + c.SMTPAddr(), Desc: "smtp://" + c.SMTPAddr() + " (embedded: catches every mail; set smtp_url to send for real)"}
	} else {
		r.Mail = service{Desc: "from smtp_url"}
	}
	local := localEnv(gw, r, o.lookup)

	// Build every function, two at a time.
	buildDir := o.buildDir
	if buildDir == "" {
		buildDir = filepath.Join(o.dataDir, "build")
	}
	b := &fnbuild.Builder{Stack: st, Dir: buildDir}
	fns := make([]stack.Function, 0, len(st.Functions))
	for _, name := range st.Names() {
		fns = append(fns, st.Functions[name])
	}
	bins, err := b.BuildAll(fns, o.log)
	if err != nil {
		return err
	}

	// Start every function.
	for _, name := range st.Names() {
		fn := st.Functions[name]
		port, err := loopback.FreePort()
		if err != nil {
			return err
		}
		addr := "127.0.0.1:" + strconv.Itoa(port)
		secretDir, err := functionSecrets(o.secretsDir, o.dataDir, fn)
		if err != nil {
			return err
		}
		env := functionEnv(fn, o.lookup, local)
		p := &process{name: name, path: bins[name], env: envList(env, secretDir, addr), dir: o.dataDir, out: o.out, log: o.log,
			minBackoff: 500 * time.Millisecond, maxBackoff: 30 * time.Second}
		r.Backends[name] = newBackend(fn, addr, env, p.running.Load)
		track(p, func() { p.run(ctx) })
	}
	r.Processes = procs
	for _, name := range st.Names() {
		if err := waitListening(ctx, r.Backends[name].addr, 15*time.Second); err != nil {
			return fmt.Errorf("%s did not start: %w", name, err)
		}
	}

	// The gateway.
	g := &gateway{backends: r.Backends, user: adminUser, password: r.Password, log: o.log, client: &http.Client{}, mailbox: mailbox}
	l, err := net.Listen("tcp", gwURL.Host)
	if err != nil {
		return fmt.Errorf("gateway: %w (set OPENFAAS_URL to use another address)", err)
	}
	srv := &http.Server{Handler: g.routes(), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(l)

	if r.Cron, err = scheduleCron(ctx, fns, gw, o.log); err != nil {
		return err
	}
	r.Started = time.Since(start)
	// Where the services are, for tools such as auditverify.
	services := fmt.Sprintf("OPENFAAS_URL=%s\nredis_url=%s\ns3_endpoint=%s\ns3_bucket=%s\n", gw, r.Redis.URL, r.S3.URL, bucketOf(o.lookup))
	if err := os.WriteFile(filepath.Join(o.dataDir, "localrun.env"), []byte(services), 0o600); err != nil {
		return err
	}
	if _, ok := r.Backends["lockbox-portal"]; ok {
		if r.PortalToken, err = demoToken(o.secretsDir); err != nil {
			return err
		}
	}
	printBanner(o.out, r, st, relPath(o.secretsDir), o.faasCLI)
	if o.faasCLI != "" {
		if _, err := os.Stat(o.faasCLI); err != nil {
			track(nil, func() { buildFaasCLI(ctx, st.Path("scripts/tools"), o.faasCLI, o.out, o.log) })
		}
	}
	if o.ready != nil {
		o.ready(r)
	}

	<-ctx.Done()
	fmt.Fprintln(o.out, "\nstopping: waiting for the functions to finish their calls")
	shutdown, stop := context.WithTimeout(context.Background(), 5*time.Second)
	defer stop()
	if err := srv.Shutdown(shutdown); err != nil {
		o.log.Warn("gateway shutdown", "err", err)
	}
	cancel()
	wg.Wait()
	return nil
}

// bucketOf is the audit bucket: s3_bucket from the environment, or the
// default of stack.yml.
func bucketOf(lookup func(string) (string, bool)) string {
	if v, ok := nonEmpty(lookup, "s3_bucket"); ok {
		return v
	}
	return "lockbox-audit"
}

func nonEmpty(lookup func(string) (string, bool), k string) (string, bool) {
	v, ok := lookup(k)
	return v, ok && v != ""
}

// buildFaasCLI builds the pinned faas-cli from the tools module while the
// stack already serves, and says when it is ready.
func buildFaasCLI(ctx context.Context, toolsDir, bin string, out io.Writer, log *slog.Logger) {
	cmd := exec.CommandContext(ctx, "go", "-C", toolsDir, "build", "-trimpath", "-o", bin, "github.com/openfaas/faas-cli")
	cmd.Env = append(fnbuild.WithoutGOWORK(os.Environ()), "GOWORK=off", "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		if ctx.Err() == nil {
			log.Error("building faas-cli failed (make faas-cli retries)", "err", err, "output", string(b))
		}
		return
	}
	fmt.Fprintf(out, "\n%s is ready: the commands above can be pasted now.\n", relPath(bin))
}

// functionEnv is the environment a function runs with: its stack.yml
// environment, each variable overridable from the environment of make run;
// where make run is not told (or told ""), a variable the function has takes
// make run's own value from local (see localEnv).
func functionEnv(fn stack.Function, lookup func(string) (string, bool), local map[string]string) map[string]string {
	env := map[string]string{}
	for k, v := range fn.Environment {
		env[k] = v
		o, given := lookup(k)
		l, decided := local[k]
		switch {
		case given && (o != "" || !decided):
			env[k] = o
		case decided:
			env[k] = l
		}
	}
	return env
}

// localEnv is what make run decides for the functions: where the Redis, S3
// and mail server in use are (the user's own when given), that changes
// nudge lockbox-notify through this gateway and mails link to the portal
// behind it, and that tenants' webhook receivers may listen on loopback.
func localEnv(gw string, r *running, lookup func(string) (string, bool)) map[string]string {
	local := map[string]string{
		"redis_url":             r.Redis.URL,
		"s3_endpoint":           r.S3.URL,
		"notify_url":            gw + "/async-function/lockbox-notify",
		"portal_url":            gw + "/function/lockbox-portal",
		"webhook_allow_private": "true",
	}
	if _, given := nonEmpty(lookup, "s3_endpoint"); !given {
		local["s3_path_style"] = "true" // the embedded endpoint
	}
	if r.Mail.URL != "" {
		local["smtp_url"] = r.Mail.URL
	}
	return local
}

// envList is a function process's environment: env, then what the runtime
// itself decides (PATH, where its secrets are, where it listens). Those come
// last, so that they win over a stack file that names them too (exec keeps
// the last value of a duplicated variable).
func envList(env map[string]string, secretDir, addr string) []string {
	out := make([]string, 0, len(env)+3)
	for _, k := range sortedKeys(env) {
		out = append(out, k+"="+env[k])
	}
	return append(out, "PATH="+os.Getenv("PATH"), "secret_mount_path="+secretDir, "listen_addr="+addr)
}

// ensureSecret creates secrets/name when it does not exist: with 32 random
// bytes, as hex (the form of the keys, lockbox-portal-key's included), or,
// for the provider-wide webhook's signing secret, in the
// Standard Webhooks form (whsec_<base64>), and for lockbox-intake's sources
// the example configuration; with generate false it creates it empty.
func ensureSecret(dir, name string, generate bool) error {
	path := filepath.Join(dir, name)
	if _, err := os.Stat(path); err == nil {
		return nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	value := ""
	if generate {
		b := make([]byte, 32)
		rand.Read(b)
		value = hex.EncodeToString(b)
		switch name {
		case "notify-webhook-secret":
			value = "whsec_" + base64.StdEncoding.EncodeToString(b)
		case "lockbox-intake-config":
			// The example sources, whose fixtures lockboxctl send-fixture sends.
			value = string(fixtures.Config())
		}
	}
	return os.WriteFile(path, []byte(value), 0o600)
}

// functionSecrets gives a function a secret folder with only the secrets it
// names in stack.yml, as OpenFaaS mounts them.
func functionSecrets(secretsDir, dataDir string, fn stack.Function) (string, error) {
	dir, err := filepath.Abs(filepath.Join(dataDir, "secrets", fn.Name))
	if err != nil {
		return "", err
	}
	if err := os.RemoveAll(dir); err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	for _, s := range fn.Secrets {
		b, err := os.ReadFile(filepath.Join(secretsDir, s))
		if err != nil {
			return "", err
		}
		if err := os.WriteFile(filepath.Join(dir, s), b, 0o600); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// demoTokenTTL is how long the banner's portal sign-in token lasts.
const demoTokenTTL = 12 * time.Hour

// demoToken is a token of alice, approver of the demo tenant contoso, for
// the portal's sign-in form.
func demoToken(secretsDir string) (string, error) {
	keys, err := config.ReadSecretLines(secretsDir, config.SecretJWT)
	if err != nil {
		return "", err
	}
	return auth.Mint(keys[0], auth.NewClaims("alice", "contoso", []string{string(lockbox.RoleApprover)}, time.Now(), demoTokenTTL))
}
