package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"net/url"
	"os"
	"os/user"
	"time"

	"github.com/shardgate/shardgate"
	"github.com/shardgate/shardgate/ctl"
)

// ctlSettings are the connection settings of `shardgate ctl`, from flags
// (before or after the command) and the environment.
func ctlSettings(c *ctl.Conn) *settings {
	return newSettings(
		adminURLSetting(&c.URL),
		stringSetting(&c.Token, "admin-token", "TOKEN", "bearer token of the admin API (the nodes' --admin-token)").secretFile(),
		durationSetting(&c.Timeout, "request-timeout", "time limit of one request (not of events --follow)"),
		stringSetting(&c.Actor, "actor", "WHO", "who acts, as the event log records it (with your address)").withDefault("$USER@hostname"),
	)
}

// adminURLSetting is --admin-url, checked where it is read so that a bad
// value names its source (the flag or SHARDGATE_ADMIN_URL).
func adminURLSetting(p *string) *setting {
	s := stringSetting(p, "admin-url", "URL", "a node's admin listener; any node answers for the cluster")
	s.parse = func(v string) error {
		if u, err := url.Parse(v); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return errors.New("must be http://HOST:PORT or https://HOST:PORT, a node's admin listener")
		}
		*p = v
		return nil
	}
	return s
}

// defaultActor is user@host, the operator as the event log names them.
func defaultActor() string {
	who := os.Getenv("USER")
	if u, err := user.Current(); err == nil && u.Username != "" {
		who = u.Username
	}
	host, _ := os.Hostname()
	if who != "" {
		host = who + "@" + host
	}
	// The server refuses an actor over 256 bytes; a default must never
	// make every action fail.
	return shardgate.CutUTF8(host, 256)
}

func runCtl(ctx context.Context, args []string, stdout io.Writer) error {
	conn := ctl.Conn{URL: "http://127.0.0.1:9090", Timeout: 30 * time.Second, Actor: defaultActor()}
	ss := ctlSettings(&conn)
	env := ctl.Env{
		Stdout:   stdout,
		Register: func(fs *flag.FlagSet) { ss.register(fs) },
		Resolve: func() (ctl.Conn, error) {
			if err := ss.resolve(""); err != nil {
				return ctl.Conn{}, err
			}
			if conn.Timeout <= 0 {
				return ctl.Conn{}, errors.New("--request-timeout must be positive")
			}
			return conn, nil
		},
		ConnHelp: func(w io.Writer) { printSettings(w, ss) },
	}
	err := ctl.Run(ctx, env, args)
	if errors.Is(err, ctl.ErrHelp) {
		return errHelp
	}
	return err
}
