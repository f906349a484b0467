package release

import (
	"context"
	"fmt"
	"strings"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/swarm"
)

// The swarm target hands each env snapshot to its tasks as a Swarm secret,
// one per snapshot (secrets cannot change), removed with the releases that
// used them.

// secret names the Swarm secret holding the snapshot envDigest. Secrets
// cannot change, so each snapshot has its own.
func (h *host) secret(envDigest string) string {
	hex := strings.TrimPrefix(envDigest, "sha256:")
	return h.prefix() + "-env-" + hex[:min(12, len(hex))]
}

// ensureSecret makes the secret holding the snapshot envDigest; data is
// nil when only an existing secret will do (a rollback whose state dir
// copy is gone).
func (h *host) ensureSecret(ctx context.Context, envDigest string, data []byte) (*swarm.SecretReference, error) {
	name := h.secret(envDigest)
	ref := func(id string) *swarm.SecretReference {
		return &swarm.SecretReference{SecretID: id, SecretName: name,
			File: &swarm.SecretReferenceFileTarget{Name: envTarget, UID: "1000", GID: "1000", Mode: 0o400}}
	}
	find := func() (*swarm.Secret, error) {
		list, err := h.cli.SecretList(ctx, swarm.SecretListOptions{Filters: filters.NewArgs(filters.Arg("name", name))})
		if err != nil {
			return nil, fmt.Errorf("listing secrets: %w", err)
		}
		for i := range list {
			if list[i].Spec.Name == name {
				return &list[i], nil
			}
		}
		return nil, nil
	}
	s, err := find()
	if err != nil {
		return nil, err
	}
	if s == nil && data != nil {
		labels := h.labels("env", "")
		labels[labelSnapshot] = envDigest
		resp, err := h.cli.SecretCreate(ctx, swarm.SecretSpec{Annotations: swarm.Annotations{Name: name, Labels: labels}, Data: data})
		if err == nil {
			return ref(resp.ID), nil
		}
		if s, _ = find(); s == nil { // not made meanwhile by another release
			return nil, fmt.Errorf("creating secret %s: %w", name, err)
		}
	}
	if s == nil {
		return nil, fmt.Errorf("the env snapshot %s of that release is gone from the host (no secret %s, no copy in the state dir)", envDigest, name)
	}
	if d := s.Spec.Labels[labelSnapshot]; d != envDigest {
		return nil, fmt.Errorf("secret %s holds env snapshot %q, not %s; remove it (`docker secret rm %s`) and release again", name, d, envDigest, name)
	}
	return ref(s.ID), nil
}

// retainSecrets removes the environment's snapshot secrets that none of
// the last keep successful releases uses; Swarm refuses to remove one a
// service still refers to (its spec or previous spec).
func (h *host) retainSecrets(ctx context.Context) {
	hist, err := h.history(ctx)
	if err != nil {
		return
	}
	ok := okReleases(hist)
	keep := map[string]bool{}
	for _, r := range ok[max(0, len(ok)-h.env.Keep):] {
		keep[h.secret(r.Env)] = true
	}
	list, err := h.cli.SecretList(ctx, swarm.SecretListOptions{Filters: filters.NewArgs(
		filters.Arg("label", labelApp+"="+h.env.App), filters.Arg("label", labelEnv+"="+h.env.Name))})
	if err != nil {
		return
	}
	for _, s := range list {
		if !keep[s.Spec.Name] {
			h.cli.SecretRemove(ctx, s.ID)
		}
	}
}
