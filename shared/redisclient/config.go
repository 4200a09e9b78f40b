// Package redisclient is how every Lockbox function connects to Redis, in
// every deployment mode, and the start-up check that Redis will never evict
// Lockbox's keys.
//
// A function is configured from its environment (OpenFaaS lower_snake
// variables, set in stack.yml or lockbox.env.yml) and two optional secrets:
//
//	redis_url      required. redis://[user[:password]@]host[:port][/db]
//	               (rediss:// for TLS). Query options are go-redis's
//	               (ParseURL, ParseClusterURL, ParseFailoverURL), except those
//	               Lockbox fixes itself (see Tune).
//	redis_mode     standalone (default): one Redis server (or a managed
//	               endpoint that proxies one).
//	               cluster: Redis Cluster. The URL's host is the first seed
//	               node, each ?addr=host:port adds another; only database 0.
//	               sentinel: Redis Sentinel. The URL's host and each
//	               ?addr=host:port are sentinels, ?master_name= names the
//	               monitored master (required); the path selects the database.
//	redis_ca_file  optional, rediss:// only: a PEM bundle of the CAs that sign
//	               the server certificates (for example a mounted secret
//	               file). Without it the system roots are used. TLS 1.2 or
//	               newer is required in every mode.
//
//	secret redis-password           the password of the Redis servers (for
//	                                sentinel: of the master and replicas).
//	                                Empty or absent: the URL's password, if
//	                                any, else none.
//	secret redis-sentinel-password  sentinel only: the sentinels' own
//	                                password. Empty or absent: the URL's
//	                                password, if any, else none.
//
// FromEnv reads and checks all of it, New builds the client, and
// CheckNoEviction refuses a Redis whose maxmemory-policy could evict keys.
package redisclient

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Environment variables and secrets the configuration is read from.
const (
	EnvURL                 = "redis_url"
	EnvMode                = "redis_mode"
	EnvCAFile              = "redis_ca_file"
	SecretPassword         = "redis-password"          // #nosec G101 -- a file name
	SecretSentinelPassword = "redis-sentinel-password" // #nosec G101 -- a file name
)

// Mode says how Redis is deployed (redis_mode).
type Mode string

// The deployment modes.
const (
	ModeStandalone Mode = "standalone"
	ModeCluster    Mode = "cluster"
	ModeSentinel   Mode = "sentinel"
)

// Config is how a function reaches Redis. Its zero Mode means
// ModeStandalone. Config holds passwords: its String method hides them.
type Config struct {
	URL    string // redis_url
	Mode   Mode   // redis_mode
	CAFile string // redis_ca_file

	// Password (secret redis-password) replaces the URL's password when
	// set. In sentinel mode it is the master's (the URL's ?password=).
	Password string
	// SentinelPassword (secret redis-sentinel-password) replaces the
	// password of the URL's user info in sentinel mode; unused otherwise.
	SentinelPassword string
}

// FromEnv reads the configuration through getenv (os.Getenv in a function),
// with the secrets already read by the caller ("" when absent), and checks
// it the way New will, so that a misconfiguration shows at start. It reports
// every problem at once.
func FromEnv(getenv func(string) string, password, sentinelPassword string) (Config, error) {
	c := Config{
		URL:              getenv(EnvURL),
		Mode:             Mode(getenv(EnvMode)),
		CAFile:           getenv(EnvCAFile),
		Password:         password,
		SentinelPassword: sentinelPassword,
	}
	if c.Mode == "" {
		c.Mode = ModeStandalone
	}
	if _, err := c.options(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// String describes c without its passwords, for logs.
func (c Config) String() string {
	return fmt.Sprintf("%s=%s %s=%s %s=%q %s: %s, %s: %s", EnvMode, c.mode(), EnvURL, redactURL(c.URL), EnvCAFile, c.CAFile,
		SecretPassword, given(c.Password), SecretSentinelPassword, given(c.SentinelPassword))
}

// given says whether a secret is set, without showing it.
func given(secret string) string {
	if secret == "" {
		return "none"
	}
	return "set"
}

func (c Config) mode() Mode {
	if c.Mode == "" {
		return ModeStandalone
	}
	return c.Mode
}

// options is a checked Config turned into go-redis options: exactly one of
// the fields is set, and it is tuned.
type options struct {
	single   *redis.Options
	cluster  *redis.ClusterOptions
	failover *redis.FailoverOptions
}

// options checks every setting of c and builds the client options. Problems
// in independent settings are all reported.
func (c Config) options() (options, error) {
	var errs []error
	mode := c.mode()
	switch mode {
	case ModeStandalone, ModeCluster, ModeSentinel:
	default:
		errs = append(errs, fmt.Errorf("%s=%q must be %s, %s or %s", EnvMode, c.Mode, ModeStandalone, ModeCluster, ModeSentinel))
		mode = "" // the URL's mode-dependent parts cannot be judged
	}
	u, err := checkURL(c.URL, mode)
	if err != nil {
		errs = append(errs, err)
	}
	roots, err := loadCAFile(c.CAFile)
	if err != nil {
		errs = append(errs, err)
	}
	if u != nil && c.CAFile != "" && u.Scheme != "rediss" {
		errs = append(errs, fmt.Errorf("%s is set but %s is not rediss://: the CA file is only used with TLS", EnvCAFile, EnvURL))
	}
	if len(errs) > 0 {
		return options{}, errors.Join(errs...)
	}
	o, err := c.parse(mode)
	if err != nil {
		return options{}, fmt.Errorf("%s: %w", EnvURL, err)
	}
	o.secure(roots)
	return o, nil
}

// parse hands the URL to go-redis's parser for mode, then applies the
// passwords and Lockbox's client settings.
func (c Config) parse(mode Mode) (options, error) {
	switch mode {
	case ModeCluster:
		opt, err := redis.ParseClusterURL(c.URL)
		if err != nil {
			return options{}, err
		}
		if c.Password != "" {
			opt.Password = c.Password
		}
		tuneCluster(opt)
		return options{cluster: opt}, nil
	case ModeSentinel:
		opt, err := redis.ParseFailoverURL(c.URL)
		if err != nil {
			return options{}, err
		}
		if opt.MasterName == "" {
			return options{}, errors.New("sentinel mode needs the master's name: add ?master_name=<name>")
		}
		if c.Password != "" {
			opt.Password = c.Password
		}
		if c.SentinelPassword != "" {
			opt.SentinelPassword = c.SentinelPassword
		}
		tuneFailover(opt)
		return options{failover: opt}, nil
	default:
		opt, err := redis.ParseURL(c.URL)
		if err != nil {
			return options{}, err
		}
		if c.Password != "" {
			opt.Password = c.Password
		}
		Tune(opt)
		return options{single: opt}, nil
	}
}

// secure sets the TLS settings Lockbox requires on a rediss:// client: TLS
// 1.2 or newer and, when given, the CAs of redis_ca_file. go-redis has
// already set the server name to the URL's host.
func (o options) secure(roots *x509.CertPool) {
	var cfg *tls.Config
	switch {
	case o.single != nil:
		cfg = o.single.TLSConfig
	case o.cluster != nil:
		cfg = o.cluster.TLSConfig
	case o.failover != nil:
		cfg = o.failover.TLSConfig
	}
	if cfg == nil {
		return
	}
	cfg.MinVersion = tls.VersionTLS12
	cfg.RootCAs = roots
}

// fixedOptions are the go-redis URL options Tune sets: accepting them in
// the URL would let the URL silently disagree with what the client does.
var fixedOptions = []string{"max_retries", "max_redirects", "dial_timeout", "dialer_retries", "read_timeout", "write_timeout"}

// replicaOptions would route reads to replicas, which may lag behind the
// master: Lockbox reads its own writes.
var replicaOptions = []string{"read_only", "route_by_latency", "route_randomly", "replica_only"}

// checkURL checks what go-redis's parsers accept but Lockbox does not, and
// returns the parsed URL when its syntax and scheme are usable.
func checkURL(raw string, mode Mode) (*url.URL, error) {
	if raw == "" {
		return nil, fmt.Errorf("%s is not set", EnvURL)
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error repeats the URL, password included: keep only the cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("%s is not a valid URL: %w", EnvURL, err)
	}
	if u.Scheme != "redis" && u.Scheme != "rediss" {
		return nil, fmt.Errorf("%s must start with redis:// or rediss:// (TLS), not %q", EnvURL, u.Scheme+":")
	}
	var errs []error
	q := u.Query()
	for _, name := range fixedOptions {
		if q.Has(name) {
			errs = append(errs, fmt.Errorf("%s: remove %s=: Lockbox sets it (no automatic retries, short timeouts)", EnvURL, name))
		}
	}
	for _, name := range replicaOptions {
		if q.Has(name) {
			errs = append(errs, fmt.Errorf("%s: remove %s=: reads must go to the master (replicas may lag behind it)", EnvURL, name))
		}
	}
	if q.Has("skip_verify") {
		errs = append(errs, fmt.Errorf("%s: remove skip_verify=: give the CA of the server certificate in %s instead", EnvURL, EnvCAFile))
	}
	errs = append(errs, checkModeOptions(u, mode)...)
	return u, errors.Join(errs...)
}

// checkModeOptions checks the parts of the URL whose meaning depends on the
// mode, with messages that say which mode would use them. An empty mode (not
// a valid one) checks nothing.
func checkModeOptions(u *url.URL, mode Mode) []error {
	if mode == "" {
		return nil
	}
	var errs []error
	q := u.Query()
	if mode == ModeStandalone && q.Has("addr") {
		errs = append(errs, fmt.Errorf("%s: addr= lists more nodes, which only %s=%s or %s=%s use", EnvURL, EnvMode, ModeCluster, EnvMode, ModeSentinel))
	}
	if mode != ModeSentinel && q.Has("master_name") {
		errs = append(errs, fmt.Errorf("%s: master_name= is only used with %s=%s", EnvURL, EnvMode, ModeSentinel))
	}
	if mode == ModeCluster {
		if db := strings.Trim(u.Path, "/"); db != "" && db != "0" {
			errs = append(errs, fmt.Errorf("%s: Redis Cluster has only database 0, not %q: remove the path", EnvURL, db))
		}
		if q.Has("db") {
			errs = append(errs, fmt.Errorf("%s: Redis Cluster has only database 0: remove db=", EnvURL))
		}
	}
	return errs
}

// loadCAFile reads a PEM bundle of CA certificates; no file means the
// system roots (nil).
func loadCAFile(path string) (*x509.CertPool, error) {
	if path == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(path) // #nosec G304 -- an operator-given path
	if err != nil {
		return nil, fmt.Errorf("%s: %w", EnvCAFile, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: %s holds no PEM certificate", EnvCAFile, path)
	}
	return pool, nil
}

// redactURL hides the passwords a Redis URL may carry: in its user info and,
// for sentinel mode, in ?password=.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable)"
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}
