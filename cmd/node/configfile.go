package main

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// configFile is a --config file flattened to text values, so that every
// source goes through the same parsers.
type configFile struct {
	values map[string]string
	arrays map[string]bool   // keys given as TOML arrays
	pos    map[string]string // key → "FILE: key" for error messages
	order  []string          // keys, sorted, for deterministic errors
}

// loadConfigFile reads a TOML file whose top-level keys are flag names:
//
//	name = "n1"
//	partitions = 271
//	insecure = false
//	join = ["10.0.0.1:7946", "10.0.0.2:7946"]
//	stop-timeout = "60s"
func loadConfigFile(path string) (*configFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--config %s: %w", path, unwrapPath(err))
	}
	var raw map[string]any
	if _, err := toml.Decode(string(b), &raw); err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("%s:%d: %s (config files are TOML: key = value, one per line)", path, pe.Position.Line, pe.Message)
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	f := &configFile{values: map[string]string{}, pos: map[string]string{}, arrays: map[string]bool{}}
	for k, v := range raw {
		_, f.arrays[k] = v.([]any)
		f.order = append(f.order, k)
		f.pos[k] = path
		s, err := configText(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", path, k, err)
		}
		f.values[k] = s
	}
	sort.Strings(f.order)
	return f, nil
}

// configText turns a TOML value into the text a flag would carry.
func configText(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64), nil
	case bool:
		return strconv.FormatBool(x), nil
	case []any:
		parts := make([]string, 0, len(x))
		for _, item := range x {
			s, err := configText(item)
			if err != nil {
				return "", err
			}
			if strings.Contains(s, ",") {
				return "", fmt.Errorf("list item %q contains a comma", s)
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, ","), nil
	case map[string]any:
		return "", errors.New("is a table; settings are top-level keys")
	}
	return "", fmt.Errorf("has an unsupported type %T", v)
}
