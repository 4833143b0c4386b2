package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
)

// A setting is one knob of a command. Its flag name is also its key in a
// --config file, and its environment variable is SHARDGATE_ followed by the
// name in upper case with dashes as underscores. Each setting is declared
// once, in a table (settings_run.go), so the three sources cannot drift.
type setting struct {
	name    string
	help    string
	arg     string // placeholder in help: "N", "ADDR", "DURATION"
	def     string // default as shown in help; "" shows none
	boolean bool   // a bare --name means true
	secret  bool   // also --name-file; values are never echoed in errors
	noFile  bool   // not accepted as a config-file key (--config itself)
	parse   func(string) error
	isZero  func() bool // whether the target holds 0 (numbers and durations)
	list    bool        // takes several values (a TOML array in a file)
}

// fileVariant is the name of the --…-file form of a secret.
func (s *setting) fileVariant() string { return s.name + "-file" }

// secretFile marks s as a secret: its value may also be read from a file
// named by --NAME-file, SHARDGATE_NAME_FILE or the config key NAME-file.
func (s *setting) secretFile() *setting { s.secret = true; return s }

// withDefault overrides the default shown in help, for defaults that are
// derived at run time ("hostname", "./data/<name>").
func (s *setting) withDefault(d string) *setting { s.def = d; return s }

// notInFile keeps s out of config files.
func (s *setting) notInFile() *setting { s.noFile = true; return s }

// notZero refuses 0 from every source, for settings the server would read
// as "the default" when 0: a value given must be the value used.
func (s *setting) notZero() *setting {
	parse := s.parse
	s.parse = func(v string) error {
		if err := parse(v); err != nil {
			return err
		}
		if s.isZero() {
			return fmt.Errorf("0 is not a usable value (leave it unset for the default, %s)", s.def)
		}
		return nil
	}
	return s
}

// settings resolves a table of settings from flags, the environment and a
// config file, in that order of precedence, over the defaults already in
// the targets.
type settings struct {
	list   []*setting
	byKey  map[string]*setting // name and name-file
	flags  map[string]string   // raw values given on the command line
	lookup func(string) (string, bool)
	// origin names where each setting's value came from, as errors show
	// it ("SHARDGATE_PARTITIONS=0", "node.toml:3: partitions: 0"), for
	// settings set by the environment or a file.
	origin map[string]string
}

func newSettings(list ...*setting) *settings {
	ss := &settings{list: list, byKey: map[string]*setting{}, flags: map[string]string{}, lookup: os.LookupEnv, origin: map[string]string{}}
	for _, s := range list {
		for _, k := range ss.keys(s) {
			if _, dup := ss.byKey[k]; dup {
				panic("setting declared twice: " + k) // a programming error in the table
			}
			ss.byKey[k] = s
		}
	}
	return ss
}

func (ss *settings) keys(s *setting) []string {
	if s.secret {
		return []string{s.name, s.fileVariant()}
	}
	return []string{s.name}
}

// rawFlag records what the command line said; parsing happens in resolve so
// that every source reports errors the same way.
type rawFlag struct {
	ss      *settings
	key     string
	boolean bool
}

func (f *rawFlag) String() string   { return "" }
func (f *rawFlag) IsBoolFlag() bool { return f.boolean }
func (f *rawFlag) Set(v string) error {
	f.ss.flags[f.key] = v
	return nil
}

// register adds every setting (and the -file form of secrets) to fs.
func (ss *settings) register(fs *flag.FlagSet) {
	for _, s := range ss.list {
		fs.Var(&rawFlag{ss: ss, key: s.name, boolean: s.boolean}, s.name, s.help)
		if s.secret {
			fs.Var(&rawFlag{ss: ss, key: s.fileVariant()}, s.fileVariant(), "file holding --"+s.name)
		}
	}
}

// source is one layer of values: key → value, with how to name each in an
// error message.
type source struct {
	values  map[string]string
	where   func(key, value string, secret bool) string
	cmdline bool // the flags: errors about them already name them
}

// resolve applies the config file, then the environment, then the flags,
// each over the one before. A bad value from any layer is an error naming
// that layer, even when a higher layer would override it.
func (ss *settings) resolve(configPath string) error {
	var layers []source
	if configPath != "" {
		file, err := loadConfigFile(configPath)
		if err != nil {
			return err
		}
		for _, k := range file.order {
			s, ok := ss.byKey[k]
			if !ok || s.noFile {
				return fmt.Errorf("%s: unknown key %q (keys are the flag names of 'shardgate run -h')", file.pos[k], k)
			}
			// A one-item array would otherwise read as its item: partitions
			// = [1] set a cluster's partition count, fixed for its life, to 1.
			if file.arrays[k] && !s.list {
				return fmt.Errorf("%s: %s: is a list; %s takes one value", file.pos[k], k, k)
			}
		}
		layers = append(layers, source{values: file.values, where: func(k, v string, secret bool) string {
			return fmt.Sprintf("%s: %s: %s", file.pos[k], k, shown(v, secret))
		}})
	}
	env := map[string]string{}
	for _, s := range ss.list {
		for _, k := range ss.keys(s) {
			if v, ok := ss.lookup(envName(k)); ok {
				env[k] = v
			}
		}
	}
	layers = append(layers,
		source{values: env, where: func(k, v string, secret bool) string { return envName(k) + "=" + shown(v, secret) }},
		source{values: ss.flags, cmdline: true, where: func(k, v string, secret bool) string { return "--" + k + "=" + shown(v, secret) }})
	for _, layer := range layers {
		for _, s := range ss.list {
			if err := ss.apply(s, layer); err != nil {
				return err
			}
		}
	}
	return nil
}

// apply sets s from one layer, reading the -file form of a secret.
func (ss *settings) apply(s *setting, layer source) error {
	v, direct := layer.values[s.name]
	path, viaFile := "", false
	if s.secret {
		path, viaFile = layer.values[s.fileVariant()]
	}
	where := layer.where(s.name, v, s.secret)
	switch {
	case direct && viaFile:
		return fmt.Errorf("%s and %s are both set: use one", layer.where(s.name, v, true), layer.where(s.fileVariant(), path, false))
	case viaFile:
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("%s: %w", layer.where(s.fileVariant(), path, false), unwrapPath(err))
		}
		v = strings.TrimRight(string(b), "\r\n")
		if v == "" {
			return fmt.Errorf("%s: the file is empty", layer.where(s.fileVariant(), path, false))
		}
		where = layer.where(s.fileVariant(), path, false)
	case !direct:
		return nil
	}
	if err := s.parse(v); err != nil {
		return fmt.Errorf("%s: %w", layer.where(s.name, v, s.secret), err)
	}
	if layer.cmdline {
		delete(ss.origin, s.name)
	} else {
		ss.origin[s.name] = where
	}
	return nil
}

// blame prefixes a check's error about a setting ("--partitions must be
// between …") with where that setting's value came from when it was not
// the command line, so that a bad value from the environment or a config
// file is reported as such. The setting is the first --name in err.
func (ss *settings) blame(err error) error {
	msg := err.Error()
	for i := strings.Index(msg, "--"); i >= 0; {
		rest := msg[i+2:]
		end := strings.IndexFunc(rest, func(r rune) bool { return !(r == '-' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9') })
		if end < 0 {
			end = len(rest)
		}
		if _, known := ss.byKey[rest[:end]]; known {
			if where, ok := ss.origin[rest[:end]]; ok {
				return fmt.Errorf("%s: %w", where, err)
			}
			return err
		}
		j := strings.Index(rest, "--")
		if j < 0 {
			break
		}
		i += 2 + j
	}
	return err
}

// misspelledEnv finds the SHARDGATE_ variables of environ that are no
// setting but within two edits of one, each with the setting it likely
// means: a misspelt variable is otherwise ignored without a word, and the
// node starts with the default. Variables far from every setting belong to
// other tools (the bench, the tests) and are left alone; so are extra
// names a command reads itself.
func (ss *settings) misspelledEnv(environ []string, extra ...string) (found [][2]string) {
	known := map[string]bool{}
	for k := range ss.byKey {
		known[envName(k)] = true
	}
	for _, e := range extra {
		known[e] = true
	}
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, "SHARDGATE_") || known[name] {
			continue
		}
		best, bestD := "", 3
		for k := range known {
			if d := editDistance(name, k); d < bestD || d == bestD && k < best {
				best, bestD = k, d
			}
		}
		if best != "" {
			found = append(found, [2]string{name, best})
		}
	}
	sort.Slice(found, func(i, j int) bool { return found[i][0] < found[j][0] })
	return found
}

// editDistance is the Levenshtein distance of two short ASCII names.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func envName(key string) string {
	return "SHARDGATE_" + strings.ToUpper(strings.ReplaceAll(key, "-", "_"))
}

func shown(v string, secret bool) string {
	if secret {
		return "…"
	}
	return v
}

// unwrapPath drops the path an *os.PathError repeats.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
