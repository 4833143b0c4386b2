package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/shardgate/shardgate/conn"
)

func runToken(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("shardgate token", flag.ContinueOnError)
	fs.SetOutput(stdout) // only -h prints through it
	secret := fs.String("secret", envDefault("SHARDGATE_AUTH_SECRET", ""), "HS256 secret (the nodes' --auth-secret; visible in ps: prefer --secret-file)")
	secretFile := fs.String("secret-file", envDefault("SHARDGATE_AUTH_SECRET_FILE", ""), "file holding the secret")
	aud := fs.String("audience", "", "aud claim (the nodes' --jwt-audience)")
	iss := fs.String("issuer", "", "iss claim (the nodes' --jwt-issuer)")
	user := fs.String("user", "", "the key the token names (sub)")
	ttl := fs.Duration("ttl", time.Hour, "lifetime")
	send := fs.String("send", "", "comma-separated glob patterns of recipients (empty: any)")
	sub := fs.String("subscribe", "", "comma-separated topic globs the holder may subscribe to")
	pub := fs.String("publish", "", "comma-separated topic globs the holder may publish to")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *secretFile != "" {
		if isSet(fs, "secret") {
			return fmt.Errorf("token: --secret and --secret-file are both set; give one (see 'shardgate token -h')")
		}
		b, err := os.ReadFile(*secretFile)
		if err != nil {
			return fmt.Errorf("token: --secret-file: %w", err)
		}
		*secret = strings.TrimSuffix(string(b), "\n")
	}
	if *secret == "" || *user == "" {
		return fmt.Errorf("token needs --secret (or --secret-file) and --user (see 'shardgate token -h')")
	}
	if *ttl <= 0 {
		return fmt.Errorf("--ttl must be positive, got %v (see 'shardgate token -h')", *ttl)
	}
	tok, err := conn.Mint([]byte(*secret), conn.TokenSpec{Key: *user, TTL: *ttl,
		Send: split(*send), Subscribe: split(*sub), Publish: split(*pub), Audience: *aud, Issuer: *iss})
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, tok)
	return nil
}

func isSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

func split(s string) []string {
	if s == "" {
		return nil
	}
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
