package main

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Constructors of settings by type. Each takes the target, whose current
// value is the default, and parses text from any source into it.

func stringSetting(p *string, name, arg, help string) *setting {
	return &setting{name: name, arg: arg, help: help, def: *p, parse: func(v string) error {
		*p = v
		return nil
	}}
}

func intSetting(p *int, name, help string) *setting {
	return &setting{name: name, arg: "N", help: help, def: strconv.Itoa(*p), isZero: func() bool { return *p == 0 }, parse: func(v string) error {
		n, err := parseInt(v)
		if err != nil {
			return err
		}
		*p = n
		return nil
	}}
}

func floatSetting(p *float64, name, help string) *setting {
	return &setting{name: name, arg: "X", help: help, def: strconv.FormatFloat(*p, 'g', -1, 64), isZero: func() bool { return *p == 0 }, parse: func(v string) error {
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return errors.New("not a number")
		}
		*p = f
		return nil
	}}
}

func boolSetting(p *bool, name, help string) *setting {
	return &setting{name: name, help: help, boolean: true, def: strconv.FormatBool(*p), parse: func(v string) error {
		b, err := parseBool(v)
		if err != nil {
			return err
		}
		*p = b
		return nil
	}}
}

func durationSetting(p *time.Duration, name, help string) *setting {
	return &setting{name: name, arg: "DURATION", help: help, def: p.String(), isZero: func() bool { return *p == 0 }, parse: func(v string) error {
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil {
			return errors.New("not a duration such as 500ms, 30s, 5m or 24h")
		}
		*p = d
		return nil
	}}
}

// sizeSetting takes a byte count: 65536, 64KiB, 16MiB, 1GiB (KB/MB/GB are
// powers of 1000).
func sizeSetting(p *int64, name, help string) *setting {
	return &setting{name: name, arg: "BYTES", help: help, def: formatSize(*p), isZero: func() bool { return *p == 0 }, parse: func(v string) error {
		n, err := parseSize(v)
		if err != nil {
			return err
		}
		*p = n
		return nil
	}}
}

// listSetting takes comma-separated values (or a list in a config file);
// each is passed through each, which may rewrite or refuse it.
func listSetting(p *[]string, name, arg, help string, each func(string) (string, error)) *setting {
	return &setting{name: name, arg: arg, help: help, def: strings.Join(*p, ","), list: true, parse: func(v string) error {
		var out []string
		for _, item := range strings.Split(v, ",") {
			if item = strings.TrimSpace(item); item == "" {
				continue
			}
			if each != nil {
				var err error
				if item, err = each(item); err != nil {
					return fmt.Errorf("%q: %w", item, err)
				}
			}
			out = append(out, item)
		}
		*p = out
		return nil
	}}
}

// oneOf is a string setting limited to the given words.
func oneOf(p *string, name, help string, words ...string) *setting {
	s := stringSetting(p, name, strings.Join(words, "|"), help)
	s.parse = func(v string) error {
		for _, w := range words {
			if v == w {
				*p = v
				return nil
			}
		}
		return fmt.Errorf("not one of %s", strings.Join(words, ", "))
	}
	return s
}

func parseInt(v string) (int, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 0)
	if errors.Is(err, strconv.ErrRange) {
		return 0, errors.New("out of range")
	}
	if err != nil {
		return 0, errors.New("not a number")
	}
	return int(n), nil
}

// parseBool accepts the words people write in environment files; anything
// else is an error rather than a silent false.
func parseBool(v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "1", "t", "true", "yes", "y", "on":
		return true, nil
	case "0", "f", "false", "no", "n", "off":
		return false, nil
	}
	return false, errors.New("not a boolean (true/false, yes/no, on/off, 1/0)")
}

var sizeUnits = []struct {
	suffix string
	mult   int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
	{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1},
}

func parseSize(v string) (int64, error) {
	v = strings.TrimSpace(v)
	mult := int64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(v, u.suffix) {
			v, mult = strings.TrimSpace(strings.TrimSuffix(v, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, errors.New("not a size such as 65536, 64KiB, 16MiB or 1GiB")
	}
	if n > math.MaxInt64/mult {
		return 0, errors.New("out of range")
	}
	return n * mult, nil
}

func formatSize(n int64) string {
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.mult && n%u.mult == 0 {
			return strconv.FormatInt(n/u.mult, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}
