package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	mathrand "math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"lockbox.dev/scripts/internal/k8scheck"
	"lockbox.dev/shared/redisclient"
)

// The Kubernetes kit's layout: what TestKubernetesManifests holds it to.
const (
	kubeDir           = "deploy/kubernetes"
	kubeCoreNamespace = "openfaas"    // the gateway, Redis, the cron-connector
	kubeFnNamespace   = "openfaas-fn" // the functions
	redisConfigMap    = "redis-config"
	redisPasswordKey  = "redis-password" // the Secret's name and key
	redisPort         = 6379
	cronConnectorRepo = "ghcr.io/openfaas/cron-connector"
)

// kubeFiles reads the kit's manifests, by file name.
func kubeFiles(t *testing.T) map[string][]byte {
	t.Helper()
	dir := filepath.Join(repoRoot(t), kubeDir)
	var paths []string
	for _, ext := range []string{"*.yaml", "*.yml"} {
		m, err := filepath.Glob(filepath.Join(dir, ext))
		require.NoError(t, err)
		paths = append(paths, m...)
	}
	require.NotEmpty(t, paths, "no manifest in %s", kubeDir)
	files := map[string][]byte{}
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		require.NoError(t, err)
		files[filepath.Join(kubeDir, filepath.Base(p))] = raw
	}
	return files
}

// checkKubeKit decodes the kit's files strictly, applies k8scheck's rules
// and then Lockbox's own (checkLockboxKit); every problem is reported.
func checkKubeKit(files map[string][]byte, redisURL string) ([]k8scheck.Object, error) {
	var objs []k8scheck.Object
	var errs []error
	for _, name := range sortedKeys(files) {
		o, err := k8scheck.Decode(name, files[name])
		errs = append(errs, err)
		objs = append(objs, o...)
	}
	errs = append(errs, k8scheck.Check(objs), checkLockboxKit(objs, redisURL))
	return objs, errors.Join(errs...)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// The kit's manifests decode strictly into their k8s.io/api types, pass
// k8scheck's rules (pinned images, requests and limits, non-root locked-down
// containers), and do what docs/kubernetes.md says: Redis with AOF and
// noeviction, its password from a Secret, its data on a volume, reached at
// lockbox.env.yml's redis_url; a NetworkPolicy that admits only the
// functions' namespace to it; and the cron-connector that runs stack.yml's
// scheduled functions. Nothing here runs a cluster: what a cluster would
// add (admission, the CNI enforcing the policy, pulling the images) is not
// tested.
func TestKubernetesManifests(t *testing.T) {
	repo := repoRoot(t)
	objs, err := checkKubeKit(kubeFiles(t), lockboxEnv(t, repo)["redis_url"])
	require.NoError(t, err)
	kinds := map[string]int{}
	for _, o := range objs {
		kinds[o.GVK.Kind]++
	}
	t.Logf("%d objects: %v", len(objs), kinds)

	// stack.yml's scheduled functions are what the cron-connector runs.
	scheduled := cronFunctions(t, repo)
	assert.Contains(t, scheduled, "lockbox-audit", "stack.yml: lockbox-audit must carry topic: cron-function and a schedule")
	t.Logf("the cron-connector runs: %v", scheduled)
}

// Broken manifests are refused: the test above can fail. Each case breaks
// the kit's real files in one way.
func TestKubernetesManifestsRefuseBrokenOnes(t *testing.T) {
	repo := repoRoot(t)
	redisURL := lockboxEnv(t, repo)["redis_url"]
	files := kubeFiles(t)
	_, err := checkKubeKit(files, redisURL)
	require.NoError(t, err, "the kit itself must pass")
	redisFile := filepath.Join(kubeDir, "10-redis.yaml")
	policyFile := filepath.Join(kubeDir, "20-redis-network-policy.yaml")
	cronFile := filepath.Join(kubeDir, "30-cron-connector.yaml")

	cases := []struct {
		name, file, old, new, want string
	}{
		{"an unknown field", redisFile, "  serviceName: redis\n", "  serviceName: redis\n  servicename: redis\n", `unknown field "spec.servicename"`},
		{"an unknown container field", redisFile, "          image: redis:", "          imagePullPolicyy: Always\n          image: redis:", `unknown field "spec.template.spec.containers[0].imagePullPolicyy"`},
		{"a latest image", redisFile, "image: redis:7.4.8-alpine", "image: redis:latest", "latest moves"},
		{"an untagged image", cronFile, "image: ghcr.io/openfaas/cron-connector:0.7.0", "image: ghcr.io/openfaas/cron-connector", "no tag"},
		{"missing limits", redisFile, "            limits:\n              cpu: \"1\"\n              memory: 2Gi\n", "", "resources.limits.memory is not set"},
		{"root", cronFile, "runAsUser: 65534", "runAsUser: 0", "runAsUser is 0"},
		{"a writable root filesystem", redisFile, "readOnlyRootFilesystem: true", "readOnlyRootFilesystem: false", "readOnlyRootFilesystem is not true"},
		{"no AOF", redisFile, "    appendonly yes\n", "    appendonly no\n", "appendonly is \"no\""},
		{"an eviction policy", redisFile, "maxmemory-policy noeviction", "maxmemory-policy allkeys-lru", `maxmemory-policy is "allkeys-lru"`},
		{"a password in the config", redisFile, "    maxmemory-policy noeviction\n", "    maxmemory-policy noeviction\n    requirepass hunter2hunter2\n", "requirepass in redis.conf"},
		{"no volume for the data", redisFile, "    dir /data\n", "    dir /tmp\n", "dir /tmp is not on the persistent volume"},
		{"maxmemory beyond the fork's headroom", redisFile, "maxmemory 1gb", "maxmemory 1536mb", "more than half"},
		{"the password from elsewhere", redisFile, "secretName: redis-password", "secretName: redis-pass", "does not mount the Secret redis-password"},
		{"a Service that misses the pods", redisFile, "  selector:\n    app.kubernetes.io/name: redis\n", "  selector:\n    app.kubernetes.io/name: redis-other\n", "Service openfaas/redis does not select"},
		{"a policy for other pods", policyFile, "      app.kubernetes.io/name: redis\n      app.kubernetes.io/part-of: lockbox\n  policyTypes", "      app.kubernetes.io/name: cache\n  policyTypes", "no NetworkPolicy selects the Redis pods"},
		{"a policy open to every source", policyFile, "    - from:\n        - namespaceSelector:\n            matchLabels:\n              kubernetes.io/metadata.name: openfaas-fn\n      ports:", "    - ports:", "admits every source"},
		{"a policy open to the core namespace", policyFile, "kubernetes.io/metadata.name: openfaas-fn", "kubernetes.io/metadata.name: openfaas", "does not admit the namespace openfaas-fn"},
		{"a policy open to every namespace", policyFile, "        - namespaceSelector:\n            matchLabels:\n              kubernetes.io/metadata.name: openfaas-fn\n", "        - namespaceSelector: {}\n", "admits the namespace kube-system"},
		{"a policy open to addresses", policyFile, "        - namespaceSelector:\n", "        - ipBlock:\n            cidr: 10.0.0.0/8\n        - namespaceSelector:\n", "admits addresses"},
		{"a policy open to every port", policyFile, "      ports:\n        - protocol: TCP\n          port: 6379\n", "", "admits every port"},
		{"no egress rule", policyFile, `policyTypes: ["Ingress", "Egress"]`, `policyTypes: ["Ingress"]`, "does not restrict Egress"},
		{"two cron-connectors", cronFile, "  replicas: 1\n", "  replicas: 2\n", "1 replica"},
		{"a cron-connector without the gateway", cronFile, "value: http://gateway.openfaas:8080", "value: http://localhost:8080", "gateway_url"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			broken := maps.Clone(files)
			text := string(files[c.file])
			require.Equal(t, 1, strings.Count(text, c.old), "%s: the case must change exactly one place: %q", c.file, c.old)
			broken[c.file] = []byte(strings.Replace(text, c.old, c.new, 1))
			_, err := checkKubeKit(broken, redisURL)
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want)
		})
	}
	t.Run("a redis_url elsewhere", func(t *testing.T) {
		_, err := checkKubeKit(files, "redis://redis.other.svc.cluster.local:6379/0")
		require.Error(t, err)
		assert.Contains(t, err.Error(), "lockbox.env.yml's redis_url")
	})
}

// checkLockboxKit holds the decoded kit to what Lockbox needs of it.
func checkLockboxKit(objs []k8scheck.Object, redisURL string) error {
	var errs []error
	find := func(kind, name string) (k8scheck.Object, bool) {
		for _, o := range objs {
			if m, ok := o.Obj.(metav1.Object); ok && o.GVK.Kind == kind && m.GetName() == name && m.GetNamespace() == kubeCoreNamespace {
				return o, true
			}
		}
		errs = append(errs, fmt.Errorf("the kit has no %s %s/%s", kind, kubeCoreNamespace, name))
		return k8scheck.Object{}, false
	}

	var redisPods map[string]string
	if o, ok := find("StatefulSet", "redis"); ok {
		sts := o.Obj.(*appsv1.StatefulSet)
		redisPods = sts.Spec.Template.Labels
		cm, ok := find("ConfigMap", redisConfigMap)
		if ok {
			errs = append(errs, checkRedis(sts, cm.Obj.(*corev1.ConfigMap))...)
		}
	}
	if o, ok := find("Service", "redis"); ok && redisPods != nil {
		errs = append(errs, checkRedisService(o.Obj.(*corev1.Service), redisPods, redisURL)...)
	}
	if redisPods != nil {
		errs = append(errs, checkRedisPolicies(objs, redisPods)...)
	}
	if o, ok := find("Deployment", "cron-connector"); ok {
		errs = append(errs, checkCronConnector(o.Obj.(*appsv1.Deployment))...)
	}
	return errors.Join(errs...)
}

// checkRedis: redis.conf keeps every write (appendonly yes) and never
// evicts (noeviction), holds no password, keeps its data on the
// StatefulSet's volume and leaves the fork of an AOF rewrite room under
// the memory limit; the pod mounts the ConfigMap and the Secret the start
// script reads.
func checkRedis(sts *appsv1.StatefulSet, cm *corev1.ConfigMap) []error {
	var errs []error
	where := "StatefulSet " + kubeCoreNamespace + "/redis"
	conf, ok := cm.Data["redis.conf"]
	if !ok {
		return []error{fmt.Errorf("ConfigMap %s has no redis.conf", redisConfigMap)}
	}
	if _, ok := cm.Data["start.sh"]; !ok {
		errs = append(errs, fmt.Errorf("ConfigMap %s has no start.sh", redisConfigMap))
	}
	d := redisDirectives(conf)
	if d["appendonly"] != "yes" {
		errs = append(errs, fmt.Errorf("redis.conf: appendonly is %q, not yes: writes since the last snapshot would be lost", d["appendonly"]))
	}
	if d["maxmemory-policy"] != redisclient.NoEviction {
		errs = append(errs, fmt.Errorf("redis.conf: maxmemory-policy is %q, not noeviction: Lockbox refuses to serve on it", d["maxmemory-policy"]))
	}
	if _, ok := d["requirepass"]; ok {
		errs = append(errs, errors.New("redis.conf: requirepass in redis.conf: the password comes from the Secret, never a ConfigMap"))
	}

	spec := sts.Spec.Template.Spec
	var c *corev1.Container
	for i := range spec.Containers {
		if spec.Containers[i].Name == "redis" {
			c = &spec.Containers[i]
		}
	}
	if c == nil {
		return append(errs, fmt.Errorf("%s has no container redis", where))
	}
	mounts := map[string]string{} // volume → path
	for _, m := range c.VolumeMounts {
		mounts[m.Name] = m.MountPath
	}
	claims := map[string]bool{}
	for _, pvc := range sts.Spec.VolumeClaimTemplates {
		claims[pvc.Name] = true
	}
	onVolume := false
	for name, path := range mounts {
		if claims[name] && d["dir"] == path {
			onVolume = true
		}
	}
	if !onVolume {
		errs = append(errs, fmt.Errorf("redis.conf: dir %s is not on the persistent volume (a volumeClaimTemplate mounted there)", d["dir"]))
	}

	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	var configAt, secretAt string
	for _, v := range spec.Volumes {
		switch {
		case v.ConfigMap != nil && v.ConfigMap.Name == redisConfigMap:
			configAt = mounts[v.Name]
		case v.Secret != nil && v.Secret.SecretName == redisPasswordKey:
			secretAt = mounts[v.Name]
		}
	}
	if configAt == "" || env["REDIS_CONFIG"] != configAt+"/redis.conf" {
		errs = append(errs, fmt.Errorf("%s: REDIS_CONFIG is %q, not redis.conf of the mounted ConfigMap %s", where, env["REDIS_CONFIG"], redisConfigMap))
	}
	if configAt == "" || !slices.Equal(c.Command, []string{"sh", configAt + "/start.sh"}) {
		errs = append(errs, fmt.Errorf("%s: the command %q does not run start.sh of the ConfigMap %s", where, c.Command, redisConfigMap))
	}
	if secretAt == "" || env["REDIS_PASSWORD_FILE"] != secretAt+"/"+redisPasswordKey {
		errs = append(errs, fmt.Errorf("%s does not mount the Secret %s where REDIS_PASSWORD_FILE (%q) points", where, redisPasswordKey, env["REDIS_PASSWORD_FILE"]))
	}

	maxmemory, err := redisBytes(d["maxmemory"])
	limit, hasLimit := c.Resources.Limits[corev1.ResourceMemory]
	switch {
	case err != nil:
		errs = append(errs, fmt.Errorf("redis.conf: maxmemory: %w", err))
	case maxmemory == 0:
		errs = append(errs, errors.New("redis.conf: no maxmemory: Redis would grow until the kernel kills it"))
	case hasLimit && maxmemory*2 > limit.Value():
		errs = append(errs, fmt.Errorf("redis.conf: maxmemory %s is more than half the memory limit %s: an AOF rewrite's fork needs the rest", d["maxmemory"], limit.String()))
	}
	return errs
}

// checkRedisService: the Service selects the Redis pods on 6379 and is the
// host of lockbox.env.yml's redis_url.
func checkRedisService(svc *corev1.Service, pods map[string]string, redisURL string) []error {
	var errs []error
	where := "Service " + kubeCoreNamespace + "/" + svc.Name
	if len(svc.Spec.Selector) == 0 || !labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(pods)) {
		errs = append(errs, fmt.Errorf("%s does not select the Redis pods (%v)", where, pods))
	}
	if !slices.ContainsFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool { return p.Port == redisPort }) {
		errs = append(errs, fmt.Errorf("%s has no port %d", where, redisPort))
	}
	want := fmt.Sprintf("%s.%s.svc.cluster.local:%d", svc.Name, kubeCoreNamespace, redisPort)
	if u, err := url.Parse(redisURL); err != nil || u.Host != want {
		errs = append(errs, fmt.Errorf("lockbox.env.yml's redis_url %q does not name %s", redisURL, want))
	}
	return errs
}

// checkRedisPolicies: some NetworkPolicy selects the Redis pods and every
// one that does restricts both directions and admits, on 6379 alone, only
// pods of the functions' namespace. Policies add up, so one open policy
// would open Redis: each is checked.
func checkRedisPolicies(objs []k8scheck.Object, pods map[string]string) []error {
	var errs []error
	selected := 0
	namespaces := []string{kubeFnNamespace, kubeCoreNamespace, "default", "kube-system"}
	for _, o := range objs {
		np, ok := o.Obj.(*networkingv1.NetworkPolicy)
		if !ok || np.Namespace != kubeCoreNamespace {
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: podSelector: %w", o.Where, err))
			continue
		}
		if !sel.Matches(labels.Set(pods)) {
			continue
		}
		selected++
		for _, typ := range []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress} {
			if !slices.Contains(np.Spec.PolicyTypes, typ) {
				errs = append(errs, fmt.Errorf("%s does not restrict %s (policyTypes)", o.Where, typ))
			}
		}
		if len(np.Spec.Egress) > 0 {
			errs = append(errs, fmt.Errorf("%s lets Redis open connections (egress rules): it needs none", o.Where))
		}
		for i, rule := range np.Spec.Ingress {
			where := fmt.Sprintf("%s: ingress rule %d", o.Where, i+1)
			if len(rule.Ports) == 0 {
				errs = append(errs, fmt.Errorf("%s admits every port", where))
			}
			for _, p := range rule.Ports {
				if p.Port == nil || p.Port.IntValue() != redisPort || p.EndPort != nil {
					errs = append(errs, fmt.Errorf("%s admits a port other than %d", where, redisPort))
				}
			}
			if len(rule.From) == 0 {
				errs = append(errs, fmt.Errorf("%s admits every source (no from)", where))
			}
			for _, peer := range rule.From {
				errs = append(errs, checkPeer(where, peer, namespaces)...)
			}
		}
	}
	if selected == 0 {
		errs = append(errs, fmt.Errorf("no NetworkPolicy selects the Redis pods (%v): any pod of the cluster could reach Redis", pods))
	}
	return errs
}

// checkPeer: a peer admits pods of the functions' namespace and of no
// other namespace the test knows, and no address block.
func checkPeer(where string, peer networkingv1.NetworkPolicyPeer, namespaces []string) []error {
	if peer.IPBlock != nil {
		return []error{fmt.Errorf("%s admits addresses (ipBlock %s)", where, peer.IPBlock.CIDR)}
	}
	if peer.NamespaceSelector == nil {
		// A podSelector alone admits pods of the policy's own namespace.
		return []error{fmt.Errorf("%s admits pods of the namespace %s (no namespaceSelector)", where, kubeCoreNamespace)}
	}
	sel, err := metav1.LabelSelectorAsSelector(peer.NamespaceSelector)
	if err != nil {
		return []error{fmt.Errorf("%s: namespaceSelector: %w", where, err)}
	}
	var errs []error
	for _, ns := range namespaces {
		// The label Kubernetes sets on every namespace.
		admitted := sel.Matches(labels.Set{"kubernetes.io/metadata.name": ns})
		if ns == kubeFnNamespace && !admitted {
			errs = append(errs, fmt.Errorf("%s does not admit the namespace %s", where, ns))
		}
		if ns != kubeFnNamespace && admitted {
			errs = append(errs, fmt.Errorf("%s admits the namespace %s", where, ns))
		}
	}
	return errs
}

// checkCronConnector: one replica of OpenFaaS's cron-connector, never two
// at once (each would invoke the functions), pointed at the gateway and
// signed in with OpenFaaS's basic-auth Secret.
func checkCronConnector(d *appsv1.Deployment) []error {
	var errs []error
	where := "Deployment " + kubeCoreNamespace + "/" + d.Name
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 1 {
		errs = append(errs, fmt.Errorf("%s must run exactly 1 replica: two would invoke every scheduled function twice", where))
	}
	if d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		errs = append(errs, fmt.Errorf("%s must be replaced with Recreate, not run two during a rollout", where))
	}
	spec := d.Spec.Template.Spec
	if len(spec.Containers) != 1 || !strings.HasPrefix(spec.Containers[0].Image, cronConnectorRepo+":") {
		return append(errs, fmt.Errorf("%s must run one container of %s", where, cronConnectorRepo))
	}
	c := spec.Containers[0]
	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	if env["gateway_url"] != "http://gateway."+kubeCoreNamespace+":8080" {
		errs = append(errs, fmt.Errorf("%s: gateway_url %q is not the OpenFaaS gateway", where, env["gateway_url"]))
	}
	authAt := ""
	for _, v := range spec.Volumes {
		if v.Secret != nil && v.Secret.SecretName == "basic-auth" {
			for _, m := range c.VolumeMounts {
				if m.Name == v.Name {
					authAt = m.MountPath
				}
			}
		}
	}
	if env["basic_auth"] != "true" || authAt == "" || env["secret_mount_path"] != authAt {
		errs = append(errs, fmt.Errorf("%s does not sign in with the basic-auth Secret (basic_auth, secret_mount_path)", where))
	}
	return errs
}

// redisDirectives reads a redis.conf: each directive's value, the last
// occurrence winning as in Redis, quotes removed.
func redisDirectives(conf string) map[string]string {
	out := map[string]string{}
	for _, l := range strings.Split(conf, "\n") {
		f := strings.Fields(l)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		out[strings.ToLower(f[0])] = strings.Trim(strings.Join(f[1:], " "), `"`)
	}
	return out
}

// redisBytes reads a redis.conf memory size (1gb, 512mb, 100000): k, m, g
// are powers of 1000, kb, mb, gb of 1024.
func redisBytes(s string) (int64, error) {
	s = strings.ToLower(s)
	if s == "" {
		return 0, nil
	}
	units := []struct {
		suffix string
		mul    int64
	}{{"kb", 1 << 10}, {"mb", 1 << 20}, {"gb", 1 << 30}, {"k", 1e3}, {"m", 1e6}, {"g", 1e9}}
	for _, u := range units {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			v, err := strconv.ParseInt(n, 10, 64)
			return v * u.mul, err
		}
	}
	return strconv.ParseInt(s, 10, 64)
}

// cronFunctions are stack.yml's functions that the cron-connector invokes:
// topic cron-function and a schedule.
func cronFunctions(t *testing.T, repo string) []string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repo, "stack.yml"))
	require.NoError(t, err)
	var f struct {
		Functions map[string]struct {
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"functions"`
	}
	require.NoError(t, yaml.Unmarshal(raw, &f), "stack.yml")
	var out []string
	for _, name := range sortedKeys(f.Functions) {
		a := f.Functions[name].Annotations
		if a["topic"] == "cron-function" && a["schedule"] != "" {
			out = append(out, name)
		}
	}
	return out
}

// The kit's Redis as it starts in its pod: start.sh and redis.conf from the
// ConfigMap, run with a real redis-server (only the port, address and data
// folder changed for this machine), serve AOF and noeviction behind the
// Secret's password, and Lockbox's own client (redisclient, as the
// functions configure it from redis_url and the redis-password secret)
// accepts it. A password start.sh cannot hand to redis.conf safely is
// refused before Redis starts.
func TestKubernetesRedisStarts(t *testing.T) {
	redisServerPath := requireBinary(t, "redis-server", "apt-get install -y redis-server")
	requireBinary(t, "sh", "a POSIX shell")
	var cm *corev1.ConfigMap
	objs, err := k8scheck.Decode("10-redis.yaml", kubeFiles(t)[filepath.Join(kubeDir, "10-redis.yaml")])
	require.NoError(t, err)
	for _, o := range objs {
		if c, ok := o.Obj.(*corev1.ConfigMap); ok && c.Name == redisConfigMap {
			cm = c
		}
	}
	require.NotNil(t, cm, "10-redis.yaml has no ConfigMap %s", redisConfigMap)

	t.Run("refuses a password it cannot quote", func(t *testing.T) {
		for _, pw := range []string{"", `pass"word-with-quote`, `back\slash-password`, "two words"} {
			dir := t.TempDir()
			script := writeFile(t, dir, "start.sh", cm.Data["start.sh"])
			conf := writeFile(t, dir, "redis.conf", replaceDirectives(t, cm.Data["redis.conf"],
				map[string]string{"port": "0", "bind": "127.0.0.1", "dir": dir}))
			pwFile := writeFile(t, dir, redisPasswordKey, pw+"\n")
			cmd := exec.Command("sh", script)
			cmd.Env = append(os.Environ(), "REDIS_CONFIG="+conf, "REDIS_PASSWORD_FILE="+pwFile)
			out, err := cmd.CombinedOutput()
			require.Error(t, err, "password %q: start.sh started Redis:\n%s", pw, out)
			assert.Contains(t, string(out), "must be a non-empty password", "password %q", pw)
		}
	})

	password := "k8s-" + strconv.FormatUint(mathrand.Uint64(), 16) + "+/="
	srv, dataDir := startKitRedis(t, redisServerPath, cm, password)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	anonymous := redis.NewClient(&redis.Options{Addr: srv, MaxRetries: -1})
	defer anonymous.Close()
	err = anonymous.Ping(ctx).Err()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "NOAUTH", "Redis must refuse a client without the password")

	cfg, err := redisclient.FromEnv(func(k string) string {
		if k == redisclient.EnvURL {
			return "redis://" + srv + "/0"
		}
		return ""
	}, password, "")
	require.NoError(t, err)
	rdb, err := redisclient.New(cfg)
	require.NoError(t, err)
	defer rdb.Close()
	require.NoError(t, redisclient.CheckNoEviction(ctx, rdb), "Lockbox's client must accept the kit's Redis")
	for param, want := range map[string]string{"appendonly": "yes", "maxmemory-policy": "noeviction", "maxmemory": "1073741824", "appendfsync": "everysec"} {
		got, err := rdb.ConfigGet(ctx, param).Result()
		require.NoError(t, err)
		assert.Equal(t, want, got[param], param)
	}
	require.NoError(t, rdb.Set(ctx, "lockbox:k8s-kit-test", "kept", 0).Err())
	aof, err := filepath.Glob(filepath.Join(dataDir, "appendonlydir", "*.aof"))
	require.NoError(t, err)
	require.NotEmpty(t, aof, "no AOF in the data folder")
	require.Eventually(t, func() bool {
		var all []byte
		for _, f := range aof {
			b, _ := os.ReadFile(f)
			all = append(all, b...)
		}
		return bytes.Contains(all, []byte("lockbox:k8s-kit-test"))
	}, 5*time.Second, 50*time.Millisecond, "the write never reached the AOF")
	t.Logf("redis-server from the kit's ConfigMap on %s: password required, AOF %v, noeviction", srv, aof)
}

// startKitRedis runs the ConfigMap's start.sh with its redis.conf on a free
// loopback port, data in a fresh folder, and returns host:port and the
// folder. The server is killed when the test ends.
func startKitRedis(t *testing.T, redisServerPath string, cm *corev1.ConfigMap, password string) (string, string) {
	t.Helper()
	var errs []error
	for range 8 {
		dir := t.TempDir()
		data := filepath.Join(dir, "data")
		require.NoError(t, os.Mkdir(data, 0o700))
		port := 26000 + mathrand.IntN(3000)
		script := writeFile(t, dir, "start.sh", cm.Data["start.sh"])
		// Only what this machine needs differs from the pod.
		conf := writeFile(t, dir, "redis.conf", replaceDirectives(t, cm.Data["redis.conf"],
			map[string]string{"port": strconv.Itoa(port), "bind": "127.0.0.1", "dir": data}))
		pwFile := writeFile(t, dir, redisPasswordKey, password+"\n")
		var out syncBuffer
		cmd := exec.Command("sh", script)
		cmd.Env = append(os.Environ(), "REDIS_CONFIG="+conf, "REDIS_PASSWORD_FILE="+pwFile,
			"PATH="+filepath.Dir(redisServerPath)+string(os.PathListSeparator)+os.Getenv("PATH"))
		cmd.Stdout, cmd.Stderr = &out, &out
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		require.NoError(t, cmd.Start())
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		kill := func() { _ = cmd.Process.Kill(); <-exited }

		addr := fmt.Sprintf("127.0.0.1:%d", port)
		c := redis.NewClient(&redis.Options{Addr: addr, Password: password, MaxRetries: -1})
		up, err := waitForPID(c, cmd.Process.Pid, exited)
		_ = c.Close()
		if up {
			t.Cleanup(kill)
			return addr, data
		}
		kill()
		errs = append(errs, fmt.Errorf("port %d: %w\n%s", port, err, out.String()))
	}
	t.Fatalf("the kit's redis did not start: %v", errors.Join(errs...))
	return "", ""
}

// waitForPID waits until the server on c's address is the process pid
// (start.sh execs redis-server, which keeps the shell's pid): a port
// someone else holds makes ours exit instead.
func waitForPID(c *redis.Client, pid int, exited <-chan struct{}) (bool, error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case <-exited:
			return false, errors.New("redis-server exited")
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		info, err := c.Info(ctx, "server").Result()
		cancel()
		if err == nil && strings.Contains(info, "process_id:"+strconv.Itoa(pid)+"\r\n") {
			return true, nil
		}
		if time.Now().After(deadline) {
			return false, fmt.Errorf("not serving after 10s (last error: %v)", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// replaceDirectives returns a redis.conf with the values of some directives
// replaced where they stand (dir takes effect as it is read, so it cannot be
// overridden by a later line); each must be there.
func replaceDirectives(t *testing.T, conf string, values map[string]string) string {
	t.Helper()
	lines := strings.Split(conf, "\n")
	for name, v := range values {
		found := false
		for i, l := range lines {
			if f := strings.Fields(l); len(f) > 0 && strings.EqualFold(f[0], name) {
				lines[i], found = name+" "+v, true
			}
		}
		require.True(t, found, "redis.conf has no %s directive", name)
	}
	return strings.Join(lines, "\n")
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
	return p
}
