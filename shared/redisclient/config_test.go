package redisclient

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// env is a function environment for FromEnv.
type env map[string]string

func (e env) get(name string) string { return e[name] }

// load runs FromEnv and the option building New does.
func load(t *testing.T, e env, password, sentinelPassword string) options {
	t.Helper()
	c, err := FromEnv(e.get, password, sentinelPassword)
	require.NoError(t, err)
	o, err := c.options()
	require.NoError(t, err)
	return o
}

func TestFromEnvStandalone(t *testing.T) {
	o := load(t, env{EnvURL: "redis://user:urlpw@10.0.0.5:6380/2"}, "", "")
	require.NotNil(t, o.single, "got %+v, want a single-node client", o)
	assert.Equal(t, "10.0.0.5:6380", o.single.Addr)
	assert.Equal(t, 2, o.single.DB)
	assert.Equal(t, "user", o.single.Username)
	assert.Equal(t, "urlpw", o.single.Password, "without the secret, the URL's password")
	assert.Nil(t, o.single.TLSConfig, "redis:// must not use TLS")
	assertTuned(t, o.single.MaxRetries, o.single.DialTimeout, o.single.DialerRetries, o.single.ReadTimeout, o.single.WriteTimeout)

	o = load(t, env{EnvURL: "redis://user:urlpw@10.0.0.5:6380/2", EnvMode: "standalone"}, "secretpw", "ignored")
	assert.Equal(t, "secretpw", o.single.Password, "the redis-password secret wins over the URL")
}

func TestFromEnvCluster(t *testing.T) {
	o := load(t, env{EnvURL: "redis://:urlpw@10.0.0.1:7000/0?addr=10.0.0.2:7001&addr=10.0.0.3:7002", EnvMode: "cluster"}, "secretpw", "")
	require.NotNil(t, o.cluster, "got %+v, want a cluster client", o)
	assert.Equal(t, []string{"10.0.0.1:7000", "10.0.0.2:7001", "10.0.0.3:7002"}, o.cluster.Addrs)
	assert.Equal(t, "secretpw", o.cluster.Password)
	assert.Equal(t, ClusterRedirects, o.cluster.MaxRedirects, "cluster clients must follow MOVED/ASK")
	assertTuned(t, o.cluster.MaxRetries, o.cluster.DialTimeout, o.cluster.DialerRetries, o.cluster.ReadTimeout, o.cluster.WriteTimeout)

	o = load(t, env{EnvURL: "redis://10.0.0.1:7000", EnvMode: "cluster"}, "", "")
	assert.Equal(t, []string{"10.0.0.1:7000"}, o.cluster.Addrs, "one seed node is enough")
	assert.Empty(t, o.cluster.Password)
}

func TestFromEnvSentinel(t *testing.T) {
	o := load(t, env{
		EnvURL:  "redis://:urlsentinelpw@10.0.0.1:26379/3?master_name=mymaster&addr=10.0.0.2:26379&password=urlmasterpw",
		EnvMode: "sentinel",
	}, "", "")
	require.NotNil(t, o.failover, "got %+v, want a failover client", o)
	assert.Equal(t, "mymaster", o.failover.MasterName)
	assert.Equal(t, []string{"10.0.0.1:26379", "10.0.0.2:26379"}, o.failover.SentinelAddrs)
	assert.Equal(t, 3, o.failover.DB)
	assert.Equal(t, "urlmasterpw", o.failover.Password)
	assert.Equal(t, "urlsentinelpw", o.failover.SentinelPassword)
	assertTuned(t, o.failover.MaxRetries, o.failover.DialTimeout, o.failover.DialerRetries, o.failover.ReadTimeout, o.failover.WriteTimeout)

	o = load(t, env{EnvURL: "redis://:urlsentinelpw@10.0.0.1:26379/3?master_name=mymaster&password=urlmasterpw", EnvMode: "sentinel"},
		"secretpw", "secretsentinelpw")
	assert.Equal(t, "secretpw", o.failover.Password, "redis-password is the master's")
	assert.Equal(t, "secretsentinelpw", o.failover.SentinelPassword, "redis-sentinel-password is the sentinels'")
}

func TestFromEnvTLS(t *testing.T) {
	o := load(t, env{EnvURL: "rediss://cache.example.com:6380/0"}, "", "")
	require.NotNil(t, o.single.TLSConfig, "rediss:// must use TLS")
	assert.Equal(t, "cache.example.com", o.single.TLSConfig.ServerName)
	assert.Equal(t, uint16(tls.VersionTLS12), o.single.TLSConfig.MinVersion)
	assert.Nil(t, o.single.TLSConfig.RootCAs, "without redis_ca_file, the system roots")

	ca := writeFile(t, "ca.pem", testCAPEM(t))
	for _, tc := range []struct {
		mode, url string
		tlsOf     func(options) *tls.Config
	}{
		{"standalone", "rediss://cache.example.com:6380", func(o options) *tls.Config { return o.single.TLSConfig }},
		{"cluster", "rediss://cache.example.com:6380", func(o options) *tls.Config { return o.cluster.TLSConfig }},
		{"sentinel", "rediss://cache.example.com:26379?master_name=m", func(o options) *tls.Config { return o.failover.TLSConfig }},
	} {
		cfg := tc.tlsOf(load(t, env{EnvURL: tc.url, EnvMode: tc.mode, EnvCAFile: ca}, "", ""))
		require.NotNil(t, cfg, "%s: rediss:// must use TLS", tc.mode)
		assert.NotNil(t, cfg.RootCAs, "%s: got the system roots, want redis_ca_file's CA", tc.mode)
		assert.Equal(t, uint16(tls.VersionTLS12), cfg.MinVersion, "%s: minimum TLS version", tc.mode)
	}
}

func TestFromEnvErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "absent.pem")
	notPEM := writeFile(t, "not.pem", []byte("not a certificate\n"))
	for _, tc := range []struct {
		name string
		env  env
		want []string
	}{
		{"no url", env{}, []string{"redis_url is not set"}},
		{"unknown mode", env{EnvURL: "redis://h:6379", EnvMode: "replica"},
			[]string{`redis_mode="replica" must be standalone, cluster or sentinel`}},
		{"other scheme", env{EnvURL: "http://h:6379"}, []string{`redis_url must start with redis:// or rediss:// (TLS), not "http:"`}},
		{"unix socket", env{EnvURL: "unix:///run/redis.sock"}, []string{"redis_url must start with redis://"}},
		{"bad syntax", env{EnvURL: "redis://:hunter2@h:port"}, []string{"redis_url is not a valid URL"}},
		{"fixed option", env{EnvURL: "redis://h:6379?max_retries=3&read_timeout=10s"},
			[]string{"redis_url: remove max_retries=", "redis_url: remove read_timeout="}},
		{"skip verify", env{EnvURL: "rediss://h:6379?skip_verify=true"},
			[]string{"redis_url: remove skip_verify=: give the CA of the server certificate in redis_ca_file instead"}},
		{"replica reads", env{EnvURL: "redis://h:6379?read_only=true", EnvMode: "cluster"},
			[]string{"redis_url: remove read_only=: reads must go to the master"}},
		{"sentinel route randomly", env{EnvURL: "redis://h:26379?master_name=m&route_randomly=true", EnvMode: "sentinel"},
			[]string{"redis_url: remove route_randomly="}},
		{"addr without cluster", env{EnvURL: "redis://h:6379?addr=h2:6379"},
			[]string{"redis_url: addr= lists more nodes, which only redis_mode=cluster or redis_mode=sentinel use"}},
		{"master name without sentinel", env{EnvURL: "redis://h:6379?master_name=m", EnvMode: "cluster"},
			[]string{"redis_url: master_name= is only used with redis_mode=sentinel"}},
		{"cluster database", env{EnvURL: "redis://h:7000/1", EnvMode: "cluster"},
			[]string{`redis_url: Redis Cluster has only database 0, not "1"`}},
		{"cluster db option", env{EnvURL: "redis://h:7000?db=2", EnvMode: "cluster"},
			[]string{"redis_url: Redis Cluster has only database 0: remove db="}},
		{"cluster bad addr", env{EnvURL: "redis://h:7000?addr=nohostport", EnvMode: "cluster"},
			[]string{"redis_url: redis: unable to parse addr param: nohostport"}},
		{"sentinel without master", env{EnvURL: "redis://h:26379", EnvMode: "sentinel"},
			[]string{"redis_url: sentinel mode needs the master's name: add ?master_name=<name>"}},
		{"unknown option", env{EnvURL: "redis://h:6379?colour=blue"}, []string{"redis_url: redis: unexpected option: colour"}},
		{"bad database", env{EnvURL: "redis://h:6379/first"}, []string{`redis_url: redis: invalid database number: "first"`}},
		{"missing ca file", env{EnvURL: "rediss://h:6379", EnvCAFile: missing},
			[]string{"redis_ca_file: open " + missing + ": no such file or directory"}},
		{"ca file not pem", env{EnvURL: "rediss://h:6379", EnvCAFile: notPEM},
			[]string{"redis_ca_file: " + notPEM + " holds no PEM certificate"}},
		{"ca file without tls", env{EnvURL: "redis://h:6379", EnvCAFile: writeFile(t, "ca.pem", testCAPEM(t))},
			[]string{"redis_ca_file is set but redis_url is not rediss://"}},
		{"every problem at once", env{EnvURL: "redis://h:6379?dial_timeout=1", EnvMode: "replica", EnvCAFile: missing},
			[]string{"redis_mode=", "remove dial_timeout=", "redis_ca_file: open", "redis_ca_file is set but redis_url is not rediss://"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := FromEnv(tc.env.get, "hunter2", "")
			require.Error(t, err, "got %+v, want an error", c)
			for _, want := range tc.want {
				assert.Contains(t, err.Error(), want)
			}
			assert.NotContains(t, err.Error(), "hunter2", "an error must not repeat a password")
			_, err = New(Config{URL: tc.env[EnvURL], Mode: Mode(tc.env[EnvMode]), CAFile: tc.env[EnvCAFile]})
			assert.Error(t, err, "New must refuse what FromEnv refuses")
		})
	}
}

func TestConfigStringHidesPasswords(t *testing.T) {
	c := Config{URL: "redis://:urlsecret@h:26379/0?master_name=m&password=urlmastersecret", Mode: ModeSentinel,
		Password: "secret1", SentinelPassword: "secret2"}
	got := c.String()
	for _, secret := range []string{"urlsecret", "urlmastersecret", "secret1", "secret2"} {
		assert.NotContains(t, got, secret)
	}
	assert.Contains(t, got, "redis_mode=sentinel")
	assert.Contains(t, got, "h:26379")
	assert.Equal(t, "redis_mode=standalone", strings.Fields(Config{URL: "redis://h"}.String())[0], "an empty mode is standalone")
}

// assertTuned checks the settings of Tune, as each options type holds them.
func assertTuned(t *testing.T, maxRetries int, dial, dialAttempts, read, write any) {
	t.Helper()
	assert.Equal(t, -1, maxRetries, "MaxRetries: no automatic retries")
	assert.Equal(t, DialTimeout, dial, "DialTimeout")
	assert.Equal(t, DialAttempts, dialAttempts, "DialerRetries")
	assert.Equal(t, ReadTimeout, read, "ReadTimeout")
	assert.Equal(t, WriteTimeout, write, "WriteTimeout")
}

// writeFile writes body to a new file named name in a temporary directory.
func writeFile(t *testing.T, name string, body []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, body, 0o600))
	return path
}
