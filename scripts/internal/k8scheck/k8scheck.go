// Package k8scheck holds Kubernetes manifests to what the deploy kit
// promises, offline, without a cluster: every document decodes strictly
// into its k8s.io/api type (the API server's own strict decoding: no unknown
// field, no field in the wrong case, no duplicate key), and every pod the
// manifests run has pinned images, resource requests and limits on every
// container, and a non-root, locked-down security context.
//
// Decode reads the manifests of one file; Check applies the rules to the
// decoded objects.
package k8scheck

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// Object is one decoded manifest document.
type Object struct {
	// Where names the document: its file and its place in the file
	// ("redis.yaml#2", from 1), with its kind and name once decoded.
	Where string
	GVK   schema.GroupVersionKind
	Obj   runtime.Object
}

// scheme knows the API groups a deploy kit uses; a kind outside them is
// refused rather than passed unchecked.
var scheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, appsv1.AddToScheme, batchv1.AddToScheme,
		networkingv1.AddToScheme, policyv1.AddToScheme, rbacv1.AddToScheme,
	} {
		if err := add(s); err != nil {
			panic(fmt.Sprintf("k8scheck: building the scheme: %v", err))
		}
	}
	return s
}()

// decoder is the API machinery's YAML serializer in strict mode: unknown
// fields, fields in another case and duplicate keys are errors.
var decoder = kjson.NewSerializerWithOptions(kjson.DefaultMetaFactory, scheme, scheme,
	kjson.SerializerOptions{Yaml: true, Strict: true})

// Decode splits a YAML file into its documents and decodes each strictly
// into its k8s.io/api type. Documents that hold only comments are skipped;
// a file without any object is an error. Every document's error is
// reported, not only the first.
func Decode(file string, data []byte) ([]Object, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var objs []Object
	var errs []error
	for i := 1; ; i++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s#%d: reading the YAML document: %w", file, i, err)
		}
		if isBlank(doc) {
			continue
		}
		where := fmt.Sprintf("%s#%d", file, i)
		obj, gvk, err := decoder.Decode(doc, nil, nil)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", where, err))
			continue
		}
		objs = append(objs, Object{Where: where + " " + describe(*gvk, obj), GVK: *gvk, Obj: obj})
	}
	if len(objs) == 0 && len(errs) == 0 {
		errs = append(errs, fmt.Errorf("%s: no Kubernetes object in the file", file))
	}
	return objs, errors.Join(errs...)
}

// isBlank says whether a YAML document holds nothing but comments and
// white space.
func isBlank(doc []byte) bool {
	for _, l := range strings.Split(string(doc), "\n") {
		l = strings.TrimSpace(l)
		if l != "" && !strings.HasPrefix(l, "#") && l != "---" {
			return false
		}
	}
	return true
}

// describe is "Kind namespace/name" for messages.
func describe(gvk schema.GroupVersionKind, obj runtime.Object) string {
	m, ok := obj.(interface {
		GetName() string
		GetNamespace() string
	})
	if !ok {
		return gvk.Kind
	}
	return fmt.Sprintf("%s %s/%s", gvk.Kind, m.GetNamespace(), m.GetName())
}

// clusterScoped are the kinds of the scheme that live outside namespaces.
var clusterScoped = map[string]bool{
	"Namespace": true, "PersistentVolume": true, "Node": true,
	"ClusterRole": true, "ClusterRoleBinding": true,
}

// Check applies the rules to decoded objects and returns every violation,
// each naming its object and container:
//   - every namespaced object names its namespace (kubectl apply would
//     otherwise put it wherever the caller's context points);
//   - no Secret is a manifest (secrets are created from files, never
//     committed);
//   - every pod (a Pod, or the template of a workload) passes CheckPod.
func Check(objs []Object) error {
	var errs []error
	for _, o := range objs {
		if m, ok := o.Obj.(interface{ GetNamespace() string }); ok && !clusterScoped[o.GVK.Kind] && m.GetNamespace() == "" {
			errs = append(errs, fmt.Errorf("%s: metadata.namespace is not set", o.Where))
		}
		if o.GVK.Kind == "Secret" {
			errs = append(errs, fmt.Errorf("%s: a Secret in a manifest: create it from a file (kubectl create secret, faas-cli secret create) so that no secret is committed", o.Where))
		}
		if spec, ok := PodSpec(o.Obj); ok {
			errs = append(errs, prefixed(o.Where, CheckPod(spec))...)
		}
	}
	return errors.Join(errs...)
}

// PodSpec returns the pod an object runs: a Pod's spec or a workload's
// template.
func PodSpec(obj runtime.Object) (*corev1.PodSpec, bool) {
	switch o := obj.(type) {
	case *corev1.Pod:
		return &o.Spec, true
	case *corev1.ReplicationController:
		if o.Spec.Template == nil {
			return &corev1.PodSpec{}, true
		}
		return &o.Spec.Template.Spec, true
	case *appsv1.Deployment:
		return &o.Spec.Template.Spec, true
	case *appsv1.StatefulSet:
		return &o.Spec.Template.Spec, true
	case *appsv1.DaemonSet:
		return &o.Spec.Template.Spec, true
	case *appsv1.ReplicaSet:
		return &o.Spec.Template.Spec, true
	case *batchv1.Job:
		return &o.Spec.Template.Spec, true
	case *batchv1.CronJob:
		return &o.Spec.JobTemplate.Spec.Template.Spec, true
	}
	return nil, false
}

// CheckPod holds a pod to the rules:
//   - no host network, PID or IPC namespace, no hostPath volume, no
//     hostPort; no Kubernetes API token mounted
//     (automountServiceAccountToken: false), since nothing in the kit
//     calls the API;
//   - a seccomp profile (RuntimeDefault or Localhost) for the pod or each
//     container;
//   - every container and init container passes the container rules:
//     image pinned (ImagePinned), cpu and memory requests and limits with
//     requests at most the limits, runAsNonRoot with a numeric non-zero
//     runAsUser (a named USER cannot be verified by the kubelet),
//     allowPrivilegeEscalation false, readOnlyRootFilesystem true, not
//     privileged, capabilities: drop ALL and add none.
func CheckPod(spec *corev1.PodSpec) error {
	var errs []error
	if spec.HostNetwork || spec.HostPID || spec.HostIPC {
		errs = append(errs, errors.New("the pod shares a host namespace (hostNetwork, hostPID or hostIPC)"))
	}
	if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
		errs = append(errs, errors.New("automountServiceAccountToken is not false: the pod would carry a Kubernetes API token it does not use"))
	}
	for _, v := range spec.Volumes {
		if v.HostPath != nil {
			errs = append(errs, fmt.Errorf("volume %s mounts the node's %s (hostPath)", v.Name, v.HostPath.Path))
		}
	}
	pod := spec.SecurityContext
	if pod == nil {
		pod = &corev1.PodSecurityContext{}
	}
	containers := append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...)
	if len(spec.Containers) == 0 {
		errs = append(errs, errors.New("the pod has no container"))
	}
	for _, c := range containers {
		errs = append(errs, prefixed("container "+c.Name, checkContainer(c, pod))...)
	}
	return errors.Join(errs...)
}

// prefixed splits a joined error into its errors, each prefixed, so that
// every line of a report names its object and container.
func prefixed(prefix string, err error) []error {
	if err == nil {
		return nil
	}
	var out []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			out = append(out, prefixed(prefix, e)...)
		}
		return out
	}
	return []error{fmt.Errorf("%s: %w", prefix, err)}
}

func checkContainer(c corev1.Container, pod *corev1.PodSecurityContext) error {
	var errs []error
	if err := ImagePinned(c.Image); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, checkResources(c.Resources)...)
	for _, p := range c.Ports {
		if p.HostPort != 0 {
			errs = append(errs, fmt.Errorf("port %d is bound on the node (hostPort %d)", p.ContainerPort, p.HostPort))
		}
	}

	sc := c.SecurityContext
	if sc == nil {
		sc = &corev1.SecurityContext{}
	}
	// A container's settings override the pod's.
	nonRoot, user := pod.RunAsNonRoot, pod.RunAsUser
	if sc.RunAsNonRoot != nil {
		nonRoot = sc.RunAsNonRoot
	}
	if sc.RunAsUser != nil {
		user = sc.RunAsUser
	}
	if nonRoot == nil || !*nonRoot {
		errs = append(errs, errors.New("runAsNonRoot is not true"))
	}
	if user == nil {
		errs = append(errs, errors.New("runAsUser is not set: the kubelet cannot verify that an image's named USER is not root"))
	} else if *user == 0 {
		errs = append(errs, errors.New("runAsUser is 0 (root)"))
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		errs = append(errs, errors.New("allowPrivilegeEscalation is not false"))
	}
	if sc.Privileged != nil && *sc.Privileged {
		errs = append(errs, errors.New("privileged is true"))
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		errs = append(errs, errors.New("readOnlyRootFilesystem is not true (mount an emptyDir where the program writes)"))
	}
	if sc.Capabilities == nil || !dropsAll(sc.Capabilities.Drop) {
		errs = append(errs, errors.New("capabilities.drop does not list ALL"))
	}
	if sc.Capabilities != nil && len(sc.Capabilities.Add) > 0 {
		errs = append(errs, fmt.Errorf("capabilities.add grants %v", sc.Capabilities.Add))
	}
	seccomp := pod.SeccompProfile
	if sc.SeccompProfile != nil {
		seccomp = sc.SeccompProfile
	}
	if seccomp == nil || seccomp.Type == corev1.SeccompProfileTypeUnconfined {
		errs = append(errs, errors.New("no seccomp profile (seccompProfile.type RuntimeDefault, for the pod or the container)"))
	}
	return errors.Join(errs...)
}

func dropsAll(caps []corev1.Capability) bool {
	for _, c := range caps {
		if c == "ALL" {
			return true
		}
	}
	return false
}

// checkResources requires cpu and memory requests and limits, each request
// at most its limit (what the API server would refuse, checked here since
// none runs).
func checkResources(r corev1.ResourceRequirements) []error {
	var errs []error
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, hasReq := r.Requests[name]
		lim, hasLim := r.Limits[name]
		if !hasReq {
			errs = append(errs, fmt.Errorf("resources.requests.%s is not set", name))
		}
		if !hasLim {
			errs = append(errs, fmt.Errorf("resources.limits.%s is not set", name))
		}
		if hasReq && hasLim && req.Cmp(lim) > 0 {
			errs = append(errs, fmt.Errorf("resources.requests.%s %s is above its limit %s", name, req.String(), lim.String()))
		}
	}
	return errs
}

var (
	// digestRef is an image reference ending in a sha256 digest.
	digestRef = regexp.MustCompile(`@sha256:[0-9a-f]{64}$`)
	// versionTag is an exact release: major.minor.patch with an optional
	// leading v and suffix (7.4.8-alpine, v3.11.1, 0.7.0).
	versionTag = regexp.MustCompile(`^v?\d+\.\d+\.\d+([-+._][0-9A-Za-z][0-9A-Za-z._-]*)?$`)
)

// ImagePinned accepts an image that names one build: a sha256 digest (with
// or without a tag), or an exact version tag (major.minor.patch, optional
// suffix). Untagged images, latest and moving tags (7, 7.4-alpine, stable)
// are refused.
func ImagePinned(image string) error {
	switch {
	case image == "":
		return errors.New("no image")
	case digestRef.MatchString(image):
		return nil
	case strings.Contains(image, "@"):
		return fmt.Errorf("image %s: a digest must be sha256: and 64 lower-case hex digits", image)
	}
	// The tag follows the last colon after the last slash (a registry's
	// port is before a slash).
	name := image[strings.LastIndex(image, "/")+1:]
	i := strings.LastIndex(name, ":")
	if i < 0 {
		return fmt.Errorf("image %s is not pinned: no tag (it means latest); name an exact version or a digest", image)
	}
	tag := name[i+1:]
	if tag == "latest" {
		return fmt.Errorf("image %s is not pinned: latest moves; name an exact version or a digest", image)
	}
	if !versionTag.MatchString(tag) {
		return fmt.Errorf("image %s is not pinned: the tag %q is not an exact version (major.minor.patch); name one or a digest", image, tag)
	}
	return nil
}
