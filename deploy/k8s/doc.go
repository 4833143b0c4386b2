// Package k8s holds the Kubernetes manifests of shardgate and a test that
// decodes each of them strictly with the Kubernetes API types. It is its
// own Go module so that k8s.io/api stays out of the server's dependencies;
// CI runs it as a separate step (cd deploy/k8s && go test ./...).
package k8s
