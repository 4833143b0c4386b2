package link

import (
	"crypto"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"os"
	"time"
)

// ServerName is the TLS server name (SNI) of every node link. The public
// listener tells a peer's link handshake from a client's by it, and both
// sides of a link verify the other's certificate for it.
const ServerName = "link.shardgate.internal"

// TLS is the pair of TLS configs of the node links: Server for the
// listener that accepts them, Client for dialing. Both are TLS 1.3 only and
// require the other side's certificate to chain to the cluster CA.
type TLS struct {
	Server *tls.Config
	Client *tls.Config
}

// ClusterTLS derives the link TLS of a cluster from its cluster key alone,
// so that a node needs no certificate files: the cluster CA's Ed25519 key
// is expanded from the cluster key with HKDF, so every node holding the key
// builds the same CA (same key, same name, same validity), and each node
// signs itself a leaf certificate under it at start. Whoever holds the
// cluster key can therefore join the links, exactly as they can join the
// gossip: the key is the cluster's one root of trust.
func ClusterTLS(clusterKey []byte, node string) (*TLS, error) {
	if len(clusterKey) < 16 {
		return nil, errors.New("link TLS: the cluster key must be at least 16 bytes")
	}
	seed, err := hkdf.Key(sha256.New, clusterKey, []byte("shardgate link tls v1"), "cluster ca ed25519 seed", ed25519.SeedSize)
	if err != nil {
		return nil, fmt.Errorf("link TLS: derive CA key: %w", err)
	}
	caKey := ed25519.NewKeyFromSeed(seed)
	caPub := caKey.Public().(ed25519.PublicKey)
	ski := sha256.Sum256(caPub)
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "shardgate cluster CA", Organization: []string{"shardgate"}},
		NotBefore:             time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:              time.Date(2124, 1, 1, 0, 0, 0, 0, time.UTC),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
		SubjectKeyId:          ski[:20],
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caPub, caKey)
	if err != nil {
		return nil, fmt.Errorf("link TLS: build CA: %w", err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, fmt.Errorf("link TLS: parse CA: %w", err)
	}
	leaf, err := newLeaf(ca, caKey, node)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return newTLS(leaf, pool), nil
}

// newLeaf signs a fresh key for this node, usable as TLS server and client.
func newLeaf(ca *x509.Certificate, caKey crypto.Signer, node string) (tls.Certificate, error) {
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("link TLS: node key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("link TLS: serial: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: node, Organization: []string{"shardgate"}},
		DNSNames:     []string{ServerName},
		NotBefore:    now.Add(-time.Hour), // peers' clocks may be a little behind
		NotAfter:     now.AddDate(10, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, pub, caKey)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("link TLS: sign node certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

// FileTLS builds the link TLS from PEM files instead: this node's
// certificate and key (valid for ServerName, with both server and client
// use) and the CA that signs every node's certificate.
func FileTLS(certFile, keyFile, caFile string) (*TLS, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("link TLS certificate %s / key %s: %w", certFile, keyFile, err)
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("link TLS CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("link TLS CA %s holds no PEM certificate", caFile)
	}
	return newTLS(cert, pool), nil
}

func newTLS(cert tls.Certificate, pool *x509.CertPool) *TLS {
	return &TLS{
		Server: &tls.Config{
			MinVersion:   tls.VersionTLS13,
			Certificates: []tls.Certificate{cert},
			ClientAuth:   tls.RequireAndVerifyClientCert,
			ClientCAs:    pool,
			NextProtos:   []string{"http/1.1"},
		},
		Client: &tls.Config{
			MinVersion:   tls.VersionTLS13,
			Certificates: []tls.Certificate{cert},
			RootCAs:      pool,
			ServerName:   ServerName,
			NextProtos:   []string{"http/1.1"},
		},
	}
}
