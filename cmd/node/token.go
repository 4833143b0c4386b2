package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/shardgate/shardgate/conn"
)

func runToken(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("shardgate token", flag.ContinueOnError)
	fs.SetOutput(stdout) // only -h prints through it
	secret := fs.String("secret", envDefault("SHARDGATE_AUTH_SECRET", ""), "HS256 secret (the nodes' --auth-secret)")
	user := fs.String("user", "", "the key the token names (sub)")
	ttl := fs.Duration("ttl", time.Hour, "lifetime")
	send := fs.String("send", "", "comma-separated glob patterns of recipients (empty: any)")
	sub := fs.String("subscribe", "", "comma-separated topic globs the holder may subscribe to")
	pub := fs.String("publish", "", "comma-separated topic globs the holder may publish to")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *secret == "" || *user == "" {
		return fmt.Errorf("token needs --secret and --user")
	}
	if *ttl <= 0 {
		return fmt.Errorf("--ttl must be positive")
	}
	tok, err := conn.MintToken([]byte(*secret), *user, *ttl, split(*send), split(*sub), split(*pub))
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, tok)
	return nil
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
