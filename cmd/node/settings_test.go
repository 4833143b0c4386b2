package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// parseRunIn resolves run's settings with the given environment and args.
func parseRunIn(t *testing.T, env map[string]string, args ...string) (*runOptions, error) {
	t.Helper()
	for k, v := range env {
		t.Setenv(k, v)
	}
	return parseRun(args, io.Discard, io.Discard)
}

func writeFile(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSettingsPrecedence(t *testing.T) {
	file := writeFile(t, "node.toml", "partitions = 64\nbackups = 2\nname = \"from-file\"\n")
	tests := []struct {
		name       string
		env        map[string]string
		args       []string
		partitions int
		backups    int
		nodeName   string
	}{
		{"default", nil, nil, 271, 1, ""},
		{"file", nil, []string{"--config", file}, 64, 2, "from-file"},
		{"file named by env", map[string]string{"SHARDGATE_CONFIG": file}, nil, 64, 2, "from-file"},
		{"env beats file", map[string]string{"SHARDGATE_PARTITIONS": "128"}, []string{"--config", file}, 128, 2, "from-file"},
		{"flag beats env and file", map[string]string{"SHARDGATE_PARTITIONS": "128", "SHARDGATE_NAME": "from-env"}, []string{"--config", file, "--partitions", "32"}, 32, 2, "from-env"},
		{"flag beats default", nil, []string{"--backups=0"}, 271, 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o, err := parseRunIn(t, tc.env, tc.args...)
			if err != nil {
				t.Fatal(err)
			}
			if o.cfg.Partitions != tc.partitions || o.cfg.Backups != tc.backups {
				t.Errorf("partitions, backups = %d, %d; want %d, %d", o.cfg.Partitions, o.cfg.Backups, tc.partitions, tc.backups)
			}
			if tc.nodeName != "" && o.cfg.Name != tc.nodeName {
				t.Errorf("name = %q, want %q", o.cfg.Name, tc.nodeName)
			}
		})
	}
}

func TestSettingsTypes(t *testing.T) {
	file := writeFile(t, "node.toml", `join = ["10.0.0.1", "10.0.0.2:8000"]
insecure = true
stop-timeout = "5s"
log-level = "debug"
`)
	o, err := parseRunIn(t, nil, "--config", file)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(o.cfg.Join, ","); got != "10.0.0.1:7946,10.0.0.2:8000" {
		t.Errorf("join = %s", got)
	}
	if !o.cfg.Insecure || o.stopTimeout != 5*time.Second || o.logLevel != "debug" {
		t.Errorf("insecure=%v stop-timeout=%s log-level=%s", o.cfg.Insecure, o.stopTimeout, o.logLevel)
	}
	for _, word := range []string{"yes", "on", "1", "TRUE"} {
		o, err := parseRunIn(t, map[string]string{"SHARDGATE_INSECURE": word})
		if err != nil || !o.cfg.Insecure {
			t.Errorf("SHARDGATE_INSECURE=%s: insecure=%v err=%v, want true", word, o != nil && o.cfg.Insecure, err)
		}
	}
	o, err = parseRunIn(t, map[string]string{"SHARDGATE_INSECURE": "yes"}, "--insecure=false")
	if err != nil || o.cfg.Insecure {
		t.Errorf("--insecure=false over SHARDGATE_INSECURE=yes: insecure=%v err=%v", o.cfg.Insecure, err)
	}
}

// TestSettingsErrors: a bad value from any source is one line naming the
// source, never silently replaced by a default.
func TestSettingsErrors(t *testing.T) {
	secret := writeFile(t, "secret", "s3cret\n")
	empty := writeFile(t, "empty", "")
	badFile := writeFile(t, "bad.toml", "partitions = \"abc\"\n")
	typo := writeFile(t, "typo.toml", "partitons = 12\n")
	nested := writeFile(t, "nested.toml", "[limits]\nframe = 1\n")
	syntax := writeFile(t, "syntax.toml", "partitions = = 3\n")
	noFile := filepath.Join(t.TempDir(), "missing.toml")
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"env not a number", map[string]string{"SHARDGATE_PARTITIONS": "abc"}, nil, "SHARDGATE_PARTITIONS=abc: not a number"},
		{"env bad bool", map[string]string{"SHARDGATE_INSECURE": "maybe"}, nil, "SHARDGATE_INSECURE=maybe: not a boolean"},
		{"bad env overridden by flag still reported", map[string]string{"SHARDGATE_BACKUPS": "x"}, []string{"--backups", "1"}, "SHARDGATE_BACKUPS=x: not a number"},
		{"flag not a number", nil, []string{"--partitions", "abc"}, "--partitions=abc: not a number"},
		{"flag bad duration", nil, []string{"--stop-timeout", "5"}, "--stop-timeout=5: not a duration"},
		{"flag bad word", nil, []string{"--log-format", "xml"}, "--log-format=xml: not one of text, json"},
		{"file not a number", nil, []string{"--config", badFile}, badFile + ": partitions: abc: not a number"},
		{"file unknown key", nil, []string{"--config", typo}, typo + `: unknown key "partitons"`},
		{"file nested table", nil, []string{"--config", nested}, nested + ": limits: is a table"},
		{"file list for a word", nil, []string{"--config", writeFile(t, "list2.toml", "name = [\"n1\"]\n")}, ": name: is a list; name takes one value"},
		{"file one-item list for a number", nil, []string{"--config", writeFile(t, "list.toml", "partitions = [1]\n")}, ": partitions: is a list; partitions takes one value"},
		{"file syntax", nil, []string{"--config", syntax}, syntax + ":1:"},
		{"file missing", nil, []string{"--config", noFile}, "--config " + noFile + ": no such file or directory"},
		{"config key in file", nil, []string{"--config", writeFile(t, "c.toml", "config = \"x\"\n")}, `unknown key "config"`},
		{"secret and its file", nil, []string{"--admin-token", "a", "--admin-token-file", secret}, "--admin-token=… and --admin-token-file=" + secret + " are both set"},
		{"secret file missing", map[string]string{"SHARDGATE_AUTH_SECRET_FILE": noFile}, nil, "SHARDGATE_AUTH_SECRET_FILE=" + noFile + ": no such file or directory"},
		{"secret file empty", nil, []string{"--cluster-key-file", empty}, "--cluster-key-file=" + empty + ": the file is empty"},
		{"secret never echoed", nil, []string{"--cluster-key", "not-base64!"}, "--cluster-key is not valid base64"},
		{"stop timeout", nil, []string{"--stop-timeout", "-1s"}, "--stop-timeout must be positive"},
		{"env out of range", map[string]string{"SHARDGATE_PARTITIONS": "0"}, []string{"--insecure"}, "SHARDGATE_PARTITIONS=0: --partitions must be between 1 and 65536"},
		{"file out of range", nil, []string{"--insecure", "--config", writeFile(t, "range.toml", "\nbackups = 9\n")}, "range.toml: backups: 9: --backups must be between 0 and 5"},
		{"env bad duration value", map[string]string{"SHARDGATE_STOP_TIMEOUT": "-2s"}, nil, "SHARDGATE_STOP_TIMEOUT=-2s: --stop-timeout must be positive"},
		{"flag out of range named as given", map[string]string{"SHARDGATE_PARTITIONS": "0"}, []string{"--insecure", "--partitions", "70000"}, "--partitions must be between 1 and 65536, got 70000"},
		{"secret from env not echoed", map[string]string{"SHARDGATE_CLUSTER_KEY": "not-base64!"}, []string{"--insecure"}, "SHARDGATE_CLUSTER_KEY=…: --cluster-key is not valid base64"},
		{"secret file from env named", map[string]string{"SHARDGATE_CLUSTER_KEY_FILE": writeFile(t, "badkey", "not-base64!")}, []string{"--insecure"}, "SHARDGATE_CLUSTER_KEY_FILE="},
		// 0 would silently take the default: it is refused where it was given.
		{"zero depth", nil, []string{"--insecure", "--max-json-depth", "0"}, "--max-json-depth=0: 0 is not a usable value"},
		{"zero rate from env", map[string]string{"SHARDGATE_CONN_RATE": "0"}, []string{"--insecure"}, "SHARDGATE_CONN_RATE=0: 0 is not a usable value"},
		{"zero timeout in file", nil, []string{"--insecure", "--config", writeFile(t, "zero.toml", "write-timeout = \"0s\"\n")}, "zero.toml: write-timeout: 0s: 0 is not a usable value (leave it unset for the default, 900ms)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o, err := parseRunIn(t, tc.env, tc.args...)
			if err == nil && o != nil {
				if verr := o.cfg.Validate(); verr != nil {
					err = o.blame(verr) // what app.New checks first, as runNode reports it
				}
			}
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want it to contain %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans several lines: %q", err)
			}
			if strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), "not-base64!") {
				t.Errorf("error echoes a secret: %q", err)
			}
		})
	}
}

func TestSecretFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, v string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	key := write("key", "MDEyMzQ1Njc4OWFiY2RlZg==\n") // 16 bytes
	tok := write("tok", "admin-secret\r\n")
	auth := write("auth", "jwt-secret")
	file := writeFile(t, "node.toml", "auth-secret-file = \""+auth+"\"\n")
	o, err := parseRunIn(t, map[string]string{"SHARDGATE_ADMIN_TOKEN_FILE": tok}, "--cluster-key-file", key, "--config", file)
	if err != nil {
		t.Fatal(err)
	}
	if o.cfg.ClusterKey != "MDEyMzQ1Njc4OWFiY2RlZg==" || o.cfg.AdminToken != "admin-secret" || o.cfg.AuthSecret != "jwt-secret" {
		t.Errorf("cluster key %q, admin token %q, auth secret %q", o.cfg.ClusterKey, o.cfg.AdminToken, o.cfg.AuthSecret)
	}
	t.Run("file form in a higher layer wins", func(t *testing.T) {
		t.Setenv("SHARDGATE_ADMIN_TOKEN_FILE", "")
		os.Unsetenv("SHARDGATE_ADMIN_TOKEN_FILE")
		o, err := parseRunIn(t, map[string]string{"SHARDGATE_ADMIN_TOKEN": "from-env"}, "--admin-token-file", tok)
		if err != nil {
			t.Fatal(err)
		}
		if o.cfg.AdminToken != "admin-secret" {
			t.Errorf("admin token %q, want the file's", o.cfg.AdminToken)
		}
	})
}

// TestEverySecretHasFileForm keeps the rule for settings added later.
func TestEverySecretHasFileForm(t *testing.T) {
	ss := runSettings(defaultRunOptions())
	for _, s := range ss.list {
		looksSecret := strings.Contains(s.name, "secret") || strings.Contains(s.name, "token") || strings.HasSuffix(s.name, "-key") && !strings.HasSuffix(s.name, "tls-key") && !strings.HasSuffix(s.name, "-per-key") // tls keys are paths already; "per key" is a count
		if looksSecret && !s.secret {
			t.Errorf("--%s looks like a secret but has no --%s-file form (call .secretFile())", s.name, s.name)
		}
	}
}

func TestRunHelpListsEveryFlagAndEnv(t *testing.T) {
	var out bytes.Buffer
	if code := run([]string{"run", "-h"}, &out, io.Discard); code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, s := range runSettings(defaultRunOptions()).list {
		for _, want := range []string{"--" + s.name, "$" + envName(s.name)} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("run -h lacks %s", want)
			}
		}
		if s.secret && !strings.Contains(out.String(), "$"+envName(s.fileVariant())) {
			t.Errorf("run -h lacks the file form of --%s", s.name)
		}
	}
}

// TestDocsListEverySetting: docs/configuration.md documents each setting.
func TestDocsListEverySetting(t *testing.T) {
	b, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range runSettings(defaultRunOptions()).list {
		for _, want := range []string{"`--" + s.name + "`", "`" + envName(s.name) + "`"} {
			if !bytes.Contains(b, []byte(want)) {
				t.Errorf("docs/configuration.md lacks %s", want)
			}
		}
	}
}

// TestZeroNeverSilentlyDefault: every setting that the server would read
// as "use the default" when 0 refuses 0 instead; the ones where 0 means
// "none" or "no limit" take it.
func TestZeroNeverSilentlyDefault(t *testing.T) {
	for _, name := range []string{"max-json-depth", "max-frame-bytes", "conn-rate", "send-queue", "max-connections-per-key",
		"writer-queue", "writer-queue-bytes", "push-queue", "push-queue-bytes", "link-queue", "link-queue-bytes",
		"write-timeout", "replicate-timeout"} {
		if _, err := parseRunIn(t, nil, "--"+name, "0"); err == nil || !strings.Contains(err.Error(), "--"+name+"=0: 0 is not a usable value") {
			t.Errorf("--%s 0: %v, want a refusal", name, err)
		}
	}
	for _, name := range []string{"max-connections", "max-connections-per-addr", "retention-messages", "retention-age",
		"max-storage-bytes", "node-in-flight", "node-in-flight-bytes", "jwt-max-ttl", "idle-timeout", "write-delay"} {
		if _, err := parseRunIn(t, nil, "--"+name, "0"); err != nil {
			t.Errorf("--%s 0 refused: %v", name, err)
		}
	}
}

// A misspelt SHARDGATE_ variable would leave its setting at the default
// without a word; run warns of it, naming the setting it likely means.
// Variables of other tools are far from every setting and pass quietly.
func TestMisspeltEnvIsWarnedOf(t *testing.T) {
	t.Setenv("SHARDGATE_BACKUP", "2")           // one letter short
	t.Setenv("SHARDGATE_PARTITONS", "64")       // one letter dropped
	t.Setenv("SHARDGATE_AUTH_SECRET_FIEL", "x") // the file form, two letters swapped
	t.Setenv("SHARDGATE_BENCH_IN_FLIGHT", "8")  // the bench's
	t.Setenv("SHARDGATE_PARTITIONS", "128")     // right
	var logs bytes.Buffer
	o, err := parseRun(nil, io.Discard, &logs)
	if err != nil {
		t.Fatal(err)
	}
	if o.cfg.Partitions != 128 {
		t.Errorf("partitions = %d", o.cfg.Partitions)
	}
	out := logs.String()
	for _, want := range []string{
		"var=SHARDGATE_BACKUP did_you_mean=SHARDGATE_BACKUPS",
		"var=SHARDGATE_PARTITONS did_you_mean=SHARDGATE_PARTITIONS",
		"var=SHARDGATE_AUTH_SECRET_FIEL did_you_mean=SHARDGATE_AUTH_SECRET_FILE",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no warning %q in:\n%s", want, out)
		}
	}
	for _, quiet := range []string{"SHARDGATE_BENCH_IN_FLIGHT", "var=SHARDGATE_PARTITIONS "} {
		if strings.Contains(out, quiet) {
			t.Errorf("warned of %s:\n%s", quiet, out)
		}
	}
}
