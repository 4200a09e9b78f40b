// Package localrun is make run's runtime: it runs a stack file's functions
// on this machine behind an OpenFaaS-compatible gateway, needing nothing
// but Go. The command is scripts/cmd/localrun; the end-to-end tests
// (scripts/e2e) start the stack through Run as make run does.
//
// It reads the stack file (environment_file, secrets, annotations, ${VAR}
// substitution), builds each function with its template's own build steps,
// runs each as a supervised process on its own loopback port, serves the
// gateway routes faas-cli and the cron-connector use at OPENFAAS_URL, runs
// the cron schedules of functions annotated topic=cron-function, and
// provides Redis and S3 unless redis_url / s3_endpoint are given.
package localrun

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"lockbox.dev/scripts/internal/fnbuild"
	"lockbox.dev/scripts/internal/loopback"
	"lockbox.dev/scripts/internal/mailcatcher"
	"lockbox.dev/scripts/internal/stack"
	"lockbox.dev/shared/auth"
	"lockbox.dev/shared/config"
	"lockbox.dev/shared/intake/fixtures"
	"lockbox.dev/shared/lockbox"
	"lockbox.dev/shared/sshca"
)

// Options configure one run.
type Options struct {
	StackFile  string // the stack file (stack.yml)
	DataDir    string // build outputs and service data (.data, git-ignored)
	SecretsDir string // one file per secret name (.secrets, git-ignored)
	// FaasCLI is where the banner's faas-cli is; when missing, it is built
	// in the background once the stack is up ("" for neither).
	FaasCLI string
	// BuildDir is where function binaries are cached; DataDir/build when
	// empty (the tests share one).
	BuildDir string
	Lookup   func(string) (string, bool) // the environment of make run
	Out      io.Writer                   // the banner and the functions' output
	Log      *slog.Logger
	Ready    func(r *Running) // called once everything serves (tests)
}

// Running describes a started stack.
type Running struct {
	Gateway   string
	Password  string // the gateway's basic-auth password (user AdminUser)
	Redis, S3 Service
	Mail      Service // URL empty when smtp_url is the user's
	Cron      map[string]string
	Started   time.Duration
	// PortalToken signs in to the portal as alice, an approver of the demo
	// tenant contoso ("" when the stack has no portal).
	PortalToken string

	backends  map[string]*backend
	processes []*process
}

// Invocations is how many calls the gateway has passed to the function
// name.
func (r *Running) Invocations(name string) int64 {
	if b, ok := r.backends[name]; ok {
		return b.invocations.Load()
	}
	return 0
}

// StillRunning names the function processes that are running.
func (r *Running) StillRunning() []string {
	var names []string
	for _, p := range r.processes {
		if p.running.Load() {
			names = append(names, p.name)
		}
	}
	return names
}

// AdminUser is the gateway's basic-auth user, as on OpenFaaS.
const AdminUser = "admin"

// Run runs the stack until ctx ends (make run: Ctrl-C), then stops every
// process it started and returns.
func Run(ctx context.Context, o Options) error {
	start := time.Now()
	st, err := stack.Load(o.StackFile, o.Lookup)
	if err != nil {
		return err
	}
	gw := "http://127.0.0.1:8080"
	if v, ok := o.Lookup("OPENFAAS_URL"); ok && v != "" {
		gw = v
	}
	gwURL, err := url.Parse(gw)
	if err != nil || gwURL.Host == "" {
		return fmt.Errorf("OPENFAAS_URL=%q is not a URL", gw)
	}
	// The gateway's address first: when it is taken, say so before
	// building and starting anything.
	l, err := net.Listen("tcp", gwURL.Host)
	if err != nil {
		return fmt.Errorf("gateway: %w (is another make run still running? set OPENFAAS_URL to use another address)", err)
	}
	defer l.Close()
	for _, d := range []*string{&o.DataDir, &o.SecretsDir} {
		if *d, err = filepath.Abs(*d); err != nil {
			return err
		}
		if err := os.MkdirAll(*d, 0o700); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	r := &Running{Gateway: gw, backends: map[string]*backend{}}

	// Secrets: every secret a function names, and the gateway's password.
	_, externalRedis := nonEmpty(o.Lookup, "redis_url")
	names := []string{"basic-auth-password"}
	for _, fn := range st.Functions {
		names = append(names, fn.Secrets...)
	}
	for _, n := range names {
		// A Redis given by the user has whatever password the user puts in
		// the file; an empty one means none.
		// The SMTP password is the user's, for the server smtp_url names;
		// the provider's policy is the provider's (none unless written).
		generate := !(externalRedis && n == "redis-password") && n != "smtp-password" && n != "lockbox-provider-policy"
		if err := ensureSecret(o.SecretsDir, n, generate); err != nil {
			return err
		}
	}
	pw, err := os.ReadFile(filepath.Join(o.SecretsDir, "basic-auth-password"))
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
	if v, ok := nonEmpty(o.Lookup, "redis_url"); ok {
		r.Redis = Service{URL: v, Desc: v + " (from redis_url)"}
	} else {
		redisPW, err := os.ReadFile(filepath.Join(o.SecretsDir, "redis-password"))
		if err != nil {
			return err
		}
		if r.Redis, err = startRedis(ctx, o.DataDir, string(redisPW), track, o.Log); err != nil {
			return err
		}
	}
	if v, ok := nonEmpty(o.Lookup, "s3_endpoint"); ok {
		r.S3 = Service{URL: v, Desc: v + " (from s3_endpoint)"}
	} else {
		if r.S3, err = startS3(ctx, o.DataDir, bucketOf(o.Lookup), track, o.Log); err != nil {
			return err
		}
	}

	// Mail: a catcher on loopback unless smtp_url names a server.
	var mailbox http.Handler
	if _, ok := nonEmpty(o.Lookup, "smtp_url"); !ok {
		c, err := mailcatcher.Start(ctx, o.Log)
		if err != nil {
			return err
		}
		mailbox = c.Handler()
		// The catcher takes any credentials; a password in the secret
		// needs a user name to go with it.
		user := ""
		if pw, _ := os.ReadFile(filepath.Join(o.SecretsDir, "smtp-password")); len(pw) > 0 {
			user = "lockbox@"
		}
		r.Mail = Service{URL: "smtp://" + user + c.SMTPAddr(), Desc: "smtp://" + c.SMTPAddr() + " (embedded: catches every mail; set smtp_url to send for real)"}
	} else {
		r.Mail = Service{Desc: "from smtp_url"}
	}
	local := localEnv(gw, r, o.Lookup)

	// Build every function, two at a time.
	buildDir := o.BuildDir
	if buildDir == "" {
		buildDir = filepath.Join(o.DataDir, "build")
	}
	b := &fnbuild.Builder{Stack: st, Dir: buildDir}
	fns := make([]stack.Function, 0, len(st.Functions))
	for _, name := range st.Names() {
		fns = append(fns, st.Functions[name])
	}
	cached := b.Cached(fns)
	if cached < len(fns) {
		fmt.Fprintf(o.Out, "building %d of %d functions with the template's build steps (the first run compiles them all: about 2 minutes on 2 cores; later runs rebuild only what changed)\n",
			len(fns)-cached, len(fns))
	}
	built := time.Now()
	bins, err := b.BuildAll(fns, o.Log)
	if err != nil {
		return err
	}
	if cached < len(fns) {
		fmt.Fprintf(o.Out, "built in %.0fs; starting them\n", time.Since(built).Seconds())
	}

	// Start every function.
	for _, name := range st.Names() {
		fn := st.Functions[name]
		port, err := loopback.FreePort()
		if err != nil {
			return err
		}
		addr := "127.0.0.1:" + strconv.Itoa(port)
		secretDir, err := functionSecrets(o.SecretsDir, o.DataDir, fn)
		if err != nil {
			return err
		}
		env := functionEnv(fn, o.Lookup, local)
		p := &process{name: name, path: bins[name], env: envList(env, secretDir, addr), dir: o.DataDir, out: o.Out, log: o.Log,
			minBackoff: 500 * time.Millisecond, maxBackoff: 30 * time.Second}
		r.backends[name] = newBackend(fn, addr, env, p.running.Load)
		track(p, func() { p.run(ctx) })
	}
	r.processes = procs
	for _, name := range st.Names() {
		if err := waitListening(ctx, r.backends[name].addr, 15*time.Second); err != nil {
			return fmt.Errorf("%s did not start: %w", name, err)
		}
	}

	// The gateway, on the address taken at the start.
	g := &gateway{backends: r.backends, user: AdminUser, password: r.Password, log: o.Log, client: &http.Client{}, mailbox: mailbox}
	srv := &http.Server{Handler: g.routes(), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(l)

	if r.Cron, err = scheduleCron(ctx, fns, gw, o.Log); err != nil {
		return err
	}
	r.Started = time.Since(start)
	// Where the services are, for tools such as auditverify.
	services := fmt.Sprintf("OPENFAAS_URL=%s\nredis_url=%s\ns3_endpoint=%s\ns3_bucket=%s\n", gw, r.Redis.URL, r.S3.URL, bucketOf(o.Lookup))
	if err := os.WriteFile(filepath.Join(o.DataDir, "localrun.env"), []byte(services), 0o600); err != nil {
		return err
	}
	if _, ok := r.backends["lockbox-portal"]; ok {
		if r.PortalToken, err = demoToken(o.SecretsDir); err != nil {
			return err
		}
	}
	printBanner(o.Out, r, st, relPath(o.SecretsDir), o.FaasCLI)
	if o.FaasCLI != "" {
		if _, err := os.Stat(o.FaasCLI); err != nil {
			track(nil, func() { buildFaasCLI(ctx, st.Path("scripts/tools"), o.FaasCLI, o.Out, o.Log) })
		}
	}
	if o.Ready != nil {
		o.Ready(r)
	}

	<-ctx.Done()
	fmt.Fprintln(o.Out, "\nstopping: waiting for the functions to finish their calls")
	shutdown, stop := context.WithTimeout(context.Background(), 5*time.Second)
	defer stop()
	if err := srv.Shutdown(shutdown); err != nil {
		o.Log.Warn("gateway shutdown", "err", err)
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
func localEnv(gw string, r *Running, lookup func(string) (string, bool)) map[string]string {
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
// the example configuration, and for lockbox-credential's CA an OpenSSH
// Ed25519 private key; with generate false it creates it empty.
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
		case "lockbox-ssh-ca-key":
			// lockbox-credential's CA: an OpenSSH Ed25519 private key.
			key, err := sshca.NewKey("lockbox make run CA")
			if err != nil {
				return err
			}
			value = string(key)
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
