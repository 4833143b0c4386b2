package k8s

import (
	"os"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

// ruleFile is the Prometheus rule file format (rule_files:), with the
// fields deploy/observability/alerts.yaml uses.
type ruleFile struct {
	Groups []struct {
		Name  string `json:"name"`
		Rules []struct {
			Alert       string            `json:"alert"`
			Expr        string            `json:"expr"`
			For         string            `json:"for,omitempty"`
			Labels      map[string]string `json:"labels"`
			Annotations map[string]string `json:"annotations"`
		} `json:"rules"`
	} `json:"groups"`
}

// TestAlertRulesDecodeStrictly: the alert rules are a well-formed rule
// file (the metric names they read are checked against a live node's
// /metrics by deploy/observability's test in the main module).
func TestAlertRulesDecodeStrictly(t *testing.T) {
	b, err := os.ReadFile("../observability/alerts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var f ruleFile
	if err := yaml.UnmarshalStrict(b, &f); err != nil {
		t.Fatalf("alerts.yaml: %v", err)
	}
	if len(f.Groups) == 0 {
		t.Fatal("alerts.yaml has no groups")
	}
	seen := map[string]bool{}
	for _, g := range f.Groups {
		if g.Name == "" || len(g.Rules) == 0 {
			t.Errorf("group %q is unnamed or empty", g.Name)
		}
		for _, r := range g.Rules {
			if r.Alert == "" || r.Expr == "" || seen[r.Alert] {
				t.Errorf("group %s: rule %q has no expr or repeats a name", g.Name, r.Alert)
			}
			seen[r.Alert] = true
			if r.For != "" {
				if _, err := time.ParseDuration(r.For); err != nil {
					t.Errorf("%s: for %q: %v", r.Alert, r.For, err)
				}
			}
			if r.Labels["severity"] == "" || r.Annotations["summary"] == "" {
				t.Errorf("%s: needs a severity label and a summary", r.Alert)
			}
		}
	}
}
