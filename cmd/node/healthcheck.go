package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"net/http"
	"time"
)

// runHealthcheck probes a node's /healthz: container images built FROM
// scratch have no shell or curl, so the binary checks itself.
func runHealthcheck(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("shardgate healthcheck", flag.ContinueOnError)
	fs.SetOutput(stdout) // only -h prints through it
	scheme := "http"
	if envDefault("SHARDGATE_TLS_CERT", "") != "" {
		scheme = "https" // the node's listeners serve TLS only
	}
	url := fs.String("url", scheme+"://"+envDefault("SHARDGATE_ADMIN_ADDR", "127.0.0.1:9090")+"/readyz", "URL to probe")
	if err := parse(fs, args); err != nil {
		return err
	}
	c := http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{
		// The probe runs next to the node and sends nothing secret; the
		// node's certificate names its public host, not the address probed.
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec
	}}
	resp, err := c.Get(*url)
	if err != nil {
		return fmt.Errorf("health check: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("health check: %s answered %s", *url, resp.Status)
	}
	return nil
}
