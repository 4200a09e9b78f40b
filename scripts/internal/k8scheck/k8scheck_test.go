package k8scheck

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// good is a Deployment that passes every rule; the cases below each break
// one thing in it.
const good = `# a comment-only document is skipped
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
  namespace: openfaas
spec:
  replicas: 1
  selector:
    matchLabels: {app: app}
  template:
    metadata:
      labels: {app: app}
    spec:
      automountServiceAccountToken: false
      securityContext:
        runAsNonRoot: true
        runAsUser: 10001
        seccompProfile: {type: RuntimeDefault}
      containers:
        - name: app
          image: ghcr.io/example/app:1.2.3
          resources:
            requests: {cpu: 10m, memory: 16Mi}
            limits: {cpu: 100m, memory: 64Mi}
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities: {drop: [ALL]}
---
apiVersion: v1
kind: Service
metadata:
  name: app
  namespace: openfaas
spec:
  selector: {app: app}
  ports:
    - port: 80
`

func decodeAndCheck(t *testing.T, text string) error {
	t.Helper()
	objs, err := Decode("test.yaml", []byte(text))
	if err != nil {
		return err
	}
	return Check(objs)
}

func TestGoodManifestPasses(t *testing.T) {
	objs, err := Decode("test.yaml", []byte(good))
	require.NoError(t, err)
	require.Len(t, objs, 2)
	assert.Equal(t, "Deployment", objs[0].GVK.Kind)
	assert.Equal(t, "test.yaml#2 Deployment openfaas/app", objs[0].Where)
	require.NoError(t, Check(objs))
}

// Each broken manifest is refused, and the error says why.
func TestCheckRefuses(t *testing.T) {
	cases := []struct {
		name      string
		old, new  string
		wantError string
	}{
		{"unknown field", "  replicas: 1\n", "  replicas: 1\n  replica: 2\n", `unknown field "spec.replica"`},
		{"unknown container field", "          image: ghcr.io/example/app:1.2.3\n", "          image: ghcr.io/example/app:1.2.3\n          imagePullPolice: Always\n", `unknown field "spec.template.spec.containers[0].imagePullPolice"`},
		{"field in the wrong case", "          image: ghcr.io/", "          Image: ghcr.io/", `unknown field "spec.template.spec.containers[0].Image"`},
		{"duplicate key", "  replicas: 1\n", "  replicas: 1\n  replicas: 2\n", `"replicas" already set`},
		{"unknown kind", "kind: Service\n", "kind: Servise\n", `no kind "Servise"`},
		{"latest image", "app:1.2.3", "app:latest", "latest moves"},
		{"untagged image", "app:1.2.3", "app", "no tag"},
		{"moving tag", "app:1.2.3", "app:1.2-alpine", "not an exact version"},
		{"missing limits", "            limits: {cpu: 100m, memory: 64Mi}\n", "", "resources.limits.cpu is not set"},
		{"missing memory limit", "limits: {cpu: 100m, memory: 64Mi}", "limits: {cpu: 100m}", "resources.limits.memory is not set"},
		{"missing requests", "            requests: {cpu: 10m, memory: 16Mi}\n", "", "resources.requests.memory is not set"},
		{"request above limit", "requests: {cpu: 10m, memory: 16Mi}", "requests: {cpu: 10m, memory: 128Mi}", "resources.requests.memory 128Mi is above its limit 64Mi"},
		{"root allowed", "        runAsNonRoot: true\n", "", "runAsNonRoot is not true"},
		{"root user", "runAsUser: 10001", "runAsUser: 0", "runAsUser is 0"},
		{"no user", "        runAsUser: 10001\n", "", "runAsUser is not set"},
		{"privilege escalation", "allowPrivilegeEscalation: false", "allowPrivilegeEscalation: true", "allowPrivilegeEscalation is not false"},
		{"privilege escalation unset", "            allowPrivilegeEscalation: false\n", "", "allowPrivilegeEscalation is not false"},
		{"writable root", "readOnlyRootFilesystem: true", "readOnlyRootFilesystem: false", "readOnlyRootFilesystem is not true"},
		{"capabilities kept", "capabilities: {drop: [ALL]}", "capabilities: {drop: [NET_RAW]}", "capabilities.drop does not list ALL"},
		{"capability added", "capabilities: {drop: [ALL]}", "capabilities: {drop: [ALL], add: [NET_ADMIN]}", "capabilities.add grants [NET_ADMIN]"},
		{"privileged", "            readOnlyRootFilesystem: true\n", "            readOnlyRootFilesystem: true\n            privileged: true\n", "privileged is true"},
		{"no seccomp", "        seccompProfile: {type: RuntimeDefault}\n", "", "no seccomp profile"},
		{"API token mounted", "      automountServiceAccountToken: false\n", "", "automountServiceAccountToken is not false"},
		{"host network", "      automountServiceAccountToken: false\n", "      automountServiceAccountToken: false\n      hostNetwork: true\n", "shares a host namespace"},
		{"host path", "      automountServiceAccountToken: false\n", "      automountServiceAccountToken: false\n      volumes:\n        - name: root\n          hostPath: {path: /}\n", "volume root mounts the node's / (hostPath)"},
		{"host port", "          image: ghcr.io/example/app:1.2.3\n", "          image: ghcr.io/example/app:1.2.3\n          ports: [{containerPort: 80, hostPort: 80}]\n", "port 80 is bound on the node"},
		{"no namespace", "  name: app\n  namespace: openfaas\nspec:\n  selector: {app: app}", "  name: app\nspec:\n  selector: {app: app}", "Service /app: metadata.namespace is not set"},
		{"container override", "            capabilities: {drop: [ALL]}\n", "            capabilities: {drop: [ALL]}\n            runAsNonRoot: false\n", "runAsNonRoot is not true"},
	}
	require.NoError(t, decodeAndCheck(t, good))
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			require.Equal(t, 1, strings.Count(good, c.old), "the case must change exactly one place: %q", c.old)
			err := decodeAndCheck(t, strings.Replace(good, c.old, c.new, 1))
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.wantError)
		})
	}
}

func TestSecretManifestRefused(t *testing.T) {
	err := decodeAndCheck(t, "apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: openfaas}\nstringData: {k: v}\n")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "a Secret in a manifest")
}

func TestEmptyFileRefused(t *testing.T) {
	_, err := Decode("empty.yaml", []byte("# nothing\n---\n"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no Kubernetes object")
}

// Init containers are held to the same rules as containers.
func TestInitContainerChecked(t *testing.T) {
	text := strings.Replace(good, "      containers:\n", `      initContainers:
        - name: init
          image: busybox
      containers:
`, 1)
	err := decodeAndCheck(t, text)
	require.Error(t, err)
	for _, want := range []string{"container init: image busybox is not pinned", "container init: resources.limits.cpu is not set", "container init: allowPrivilegeEscalation is not false"} {
		assert.Contains(t, err.Error(), want)
	}
}

func TestImagePinned(t *testing.T) {
	digest := "@sha256:" + strings.Repeat("ab", 32)
	for _, image := range []string{
		"redis:7.4.8-alpine", "ghcr.io/openfaas/cron-connector:0.7.0", "registry.example:5000/team/app:v1.2.3",
		"redis" + digest, "redis:7.4.8-alpine" + digest, "registry.example:5000/app:latest" + digest,
	} {
		assert.NoError(t, ImagePinned(image), image)
	}
	for _, image := range []string{
		"", "redis", "redis:latest", "registry.example:5000/app", "redis:7", "redis:7.4", "redis:7.4-alpine",
		"redis:alpine", "redis:stable", "redis@sha256:abc", "redis:7.4.8@sha512:" + strings.Repeat("ab", 64),
	} {
		assert.Error(t, ImagePinned(image), image)
	}
}
