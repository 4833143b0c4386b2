package k8s

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"
)

// manifests holds every object of deploy/k8s, decoded strictly.
type manifests struct {
	statefulSets []appsv1.StatefulSet
	services     []corev1.Service
	configMaps   []corev1.ConfigMap
	secrets      []corev1.Secret
	pdbs         []policyv1.PodDisruptionBudget
	files        map[string][]string // file → kinds in it
}

// kustomization is the part of kustomize's file this directory uses.
type kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Resources  []string `json:"resources"`
}

// documents splits a YAML stream at its "---" lines and drops documents
// that hold only comments.
func documents(b []byte) [][]byte {
	var out [][]byte
	for _, d := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(b), -1) {
		empty := true
		for _, line := range strings.Split(d, "\n") {
			if t := strings.TrimSpace(line); t != "" && !strings.HasPrefix(t, "#") {
				empty = false
			}
		}
		if !empty {
			out = append(out, []byte(d))
		}
	}
	return out
}

// decodeStrict refuses unknown fields and duplicate keys: a misspelt field
// (readinesProbe) is an error here instead of a setting the cluster
// silently ignores.
func decodeStrict(t *testing.T, where string, doc []byte, into any) {
	t.Helper()
	if err := yaml.UnmarshalStrict(doc, into); err != nil {
		t.Fatalf("%s: %v", where, err)
	}
}

func load(t *testing.T) *manifests {
	t.Helper()
	paths, err := filepath.Glob("*.yaml")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no manifests: %v", err)
	}
	m := &manifests{files: map[string][]string{}}
	for _, path := range paths {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range documents(b) {
			where := fmt.Sprintf("%s document %d", path, i+1)
			var tm metav1.TypeMeta
			if err := yaml.Unmarshal(doc, &tm); err != nil {
				t.Fatalf("%s: %v", where, err)
			}
			m.files[path] = append(m.files[path], tm.Kind)
			switch tm.APIVersion + " " + tm.Kind {
			case "apps/v1 StatefulSet":
				var o appsv1.StatefulSet
				decodeStrict(t, where, doc, &o)
				m.statefulSets = append(m.statefulSets, o)
			case "v1 Service":
				var o corev1.Service
				decodeStrict(t, where, doc, &o)
				m.services = append(m.services, o)
			case "v1 ConfigMap":
				var o corev1.ConfigMap
				decodeStrict(t, where, doc, &o)
				m.configMaps = append(m.configMaps, o)
			case "v1 Secret":
				var o corev1.Secret
				decodeStrict(t, where, doc, &o)
				m.secrets = append(m.secrets, o)
			case "policy/v1 PodDisruptionBudget":
				var o policyv1.PodDisruptionBudget
				decodeStrict(t, where, doc, &o)
				m.pdbs = append(m.pdbs, o)
			case "kustomize.config.k8s.io/v1beta1 Kustomization":
				var o kustomization
				decodeStrict(t, where, doc, &o)
			default:
				t.Fatalf("%s: unexpected %s %s (add it to this test)", where, tm.APIVersion, tm.Kind)
			}
		}
	}
	return m
}

func (m *manifests) service(t *testing.T, name string) corev1.Service {
	t.Helper()
	for _, s := range m.services {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no Service %q", name)
	return corev1.Service{}
}

func envOf(c corev1.Container) map[string]string {
	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	return env
}

func TestManifestsDecodeStrictly(t *testing.T) {
	m := load(t)
	if len(m.statefulSets) != 1 || len(m.pdbs) != 1 || len(m.configMaps) != 1 || len(m.secrets) != 1 || len(m.services) != 3 {
		t.Fatalf("objects: %v", m.files)
	}
}

func TestKustomizationListsEveryManifest(t *testing.T) {
	b, err := os.ReadFile("kustomization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var k kustomization
	decodeStrict(t, "kustomization.yaml", b, &k)
	m := load(t)
	for file := range m.files {
		listed := slices.Contains(k.Resources, file)
		if skip := file == "kustomization.yaml" || file == "secret.example.yaml"; skip == listed {
			t.Errorf("%s: listed in kustomization.yaml = %v", file, listed)
		}
	}
	for _, r := range k.Resources {
		if _, ok := m.files[r]; !ok {
			t.Errorf("kustomization.yaml lists %s, which is not here", r)
		}
	}
}

func TestStatefulSet(t *testing.T) {
	m := load(t)
	ss := m.statefulSets[0]
	pod := ss.Spec.Template
	labels := pod.Labels
	matches := func(what string, sel map[string]string) {
		t.Helper()
		if len(sel) == 0 {
			t.Errorf("%s has an empty selector", what)
		}
		for k, v := range sel {
			if labels[k] != v {
				t.Errorf("%s selects %s=%s, which the pods do not carry", what, k, v)
			}
		}
	}
	matches("the StatefulSet", ss.Spec.Selector.MatchLabels)
	matches("the PodDisruptionBudget", m.pdbs[0].Spec.Selector.MatchLabels)
	for _, s := range m.services {
		matches("Service "+s.Name, s.Spec.Selector)
	}
	if mu := m.pdbs[0].Spec.MaxUnavailable; mu == nil || *mu != intstr.FromInt32(1) {
		t.Errorf("the PodDisruptionBudget allows %v unavailable, want 1", mu)
	}

	// Gossip: the headless Service is the StatefulSet's and publishes pods
	// before they are ready.
	gossip := m.service(t, ss.Spec.ServiceName)
	if gossip.Spec.ClusterIP != corev1.ClusterIPNone || !gossip.Spec.PublishNotReadyAddresses {
		t.Errorf("Service %s: clusterIP %q, publishNotReadyAddresses %v; want None and true", gossip.Name, gossip.Spec.ClusterIP, gossip.Spec.PublishNotReadyAddresses)
	}

	if len(pod.Spec.Containers) != 1 {
		t.Fatalf("%d containers", len(pod.Spec.Containers))
	}
	c := pod.Spec.Containers[0]
	env := envOf(c)
	ports := map[string]corev1.ContainerPort{}
	for _, p := range c.Ports {
		ports[p.Name] = p
	}
	for _, s := range m.services {
		for _, p := range s.Spec.Ports {
			if _, ok := ports[p.TargetPort.StrVal]; !ok {
				t.Errorf("Service %s port %s targets %q, not a container port name", s.Name, p.Name, p.TargetPort.String())
			}
		}
	}
	if env["SHARDGATE_JOIN"] != gossip.Name {
		t.Errorf("SHARDGATE_JOIN = %q, want the headless Service %s", env["SHARDGATE_JOIN"], gossip.Name)
	}
	if ports["gossip-udp"].Protocol != corev1.ProtocolUDP || ports["gossip-tcp"].ContainerPort != 7946 {
		t.Errorf("gossip needs 7946 over TCP and UDP: %v", c.Ports)
	}

	// Probes.
	probe := func(what string, p *corev1.Probe, path string) {
		t.Helper()
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != path || p.HTTPGet.Port.StrVal != "admin" {
			t.Errorf("%s probe: %+v, want GET %s on the admin port", what, p, path)
		}
	}
	probe("readiness", c.ReadinessProbe, "/readyz")
	probe("liveness", c.LivenessProbe, "/healthz")

	// One volume per node, mounted where the data dir is.
	if len(ss.Spec.VolumeClaimTemplates) != 1 {
		t.Fatalf("%d volume claim templates, want 1", len(ss.Spec.VolumeClaimTemplates))
	}
	claim := ss.Spec.VolumeClaimTemplates[0].Name
	mounted := ""
	for _, vm := range c.VolumeMounts {
		if vm.Name == claim {
			mounted = vm.MountPath
		}
	}
	if mounted == "" || mounted != env["SHARDGATE_DATA_DIR"] {
		t.Errorf("volume %s mounted at %q, SHARDGATE_DATA_DIR = %q", claim, mounted, env["SHARDGATE_DATA_DIR"])
	}

	// SIGTERM drains within the grace period.
	stop := stopTimeout(t, m.configMaps[0])
	grace := time.Duration(*pod.Spec.TerminationGracePeriodSeconds) * time.Second
	if grace < stop+15*time.Second {
		t.Errorf("terminationGracePeriodSeconds %s leaves less than 15 s beyond stop-timeout %s", grace, stop)
	}
}

// stopTimeout reads stop-timeout from the ConfigMap's TOML.
func stopTimeout(t *testing.T, cm corev1.ConfigMap) time.Duration {
	t.Helper()
	match := regexp.MustCompile(`(?m)^stop-timeout\s*=\s*"([^"]+)"`).FindStringSubmatch(cm.Data["shardgate.toml"])
	if match == nil {
		t.Fatal("the ConfigMap sets no stop-timeout")
	}
	d, err := time.ParseDuration(match[1])
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestSecretsFromFiles: every secret is read from a file of the mounted
// Secret, under a key the example Secret defines.
func TestSecretsFromFiles(t *testing.T) {
	m := load(t)
	pod := m.statefulSets[0].Spec.Template.Spec
	c := pod.Containers[0]
	secretMount := ""
	for _, v := range pod.Volumes {
		if v.Secret == nil {
			continue
		}
		if v.Secret.SecretName != m.secrets[0].Name {
			t.Errorf("volume %s mounts Secret %s, the example is %s", v.Name, v.Secret.SecretName, m.secrets[0].Name)
		}
		for _, vm := range c.VolumeMounts {
			if vm.Name == v.Name {
				secretMount = vm.MountPath
			}
		}
	}
	if secretMount == "" {
		t.Fatal("no Secret is mounted")
	}
	for _, name := range []string{"AUTH_SECRET", "ADMIN_TOKEN", "CLUSTER_KEY"} {
		env := envOf(c)
		path := env["SHARDGATE_"+name+"_FILE"]
		if env["SHARDGATE_"+name] != "" {
			t.Errorf("SHARDGATE_%s is set in plain text", name)
		}
		key, ok := strings.CutPrefix(path, secretMount+"/")
		if !ok {
			t.Errorf("SHARDGATE_%s_FILE = %q is not in the Secret mounted at %s", name, path, secretMount)
			continue
		}
		if _, ok := m.secrets[0].StringData[key]; !ok {
			t.Errorf("SHARDGATE_%s_FILE reads key %q, which the example Secret lacks", name, key)
		}
	}
}

// TestSettingsAreReal: every SHARDGATE_ variable and config key the
// manifests use is a setting of `shardgate run` (docs/configuration.md
// lists them all; a test of the server keeps that list complete).
func TestSettingsAreReal(t *testing.T) {
	docs, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	m := load(t)
	for _, e := range m.statefulSets[0].Spec.Template.Spec.Containers[0].Env {
		if strings.HasPrefix(e.Name, "SHARDGATE_") && !bytes.Contains(docs, []byte("`"+e.Name+"`")) {
			t.Errorf("env %s is not a setting in docs/configuration.md", e.Name)
		}
	}
	for _, line := range strings.Split(m.configMaps[0].Data["shardgate.toml"], "\n") {
		key, _, ok := strings.Cut(line, "=")
		key = strings.TrimSpace(key)
		if !ok || strings.HasPrefix(key, "#") {
			continue
		}
		if !bytes.Contains(docs, []byte("`--"+key+"`")) {
			t.Errorf("config key %s is not a setting in docs/configuration.md", key)
		}
	}
}
