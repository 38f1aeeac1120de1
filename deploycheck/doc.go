// Package deploycheck holds the tests that render every Kubernetes manifest
// of the project (kustomize bases and overlays, Helm charts) and check them
// strictly against the Kubernetes API types and against the services' own
// flags. It has no code of its own.
package deploycheck
