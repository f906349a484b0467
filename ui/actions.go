package ui

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/phpbuild/phpbuild/attest"
	"github.com/phpbuild/phpbuild/build"
	"github.com/phpbuild/phpbuild/release"
)

// A run is a release or rollback this page started. It goes on when the
// browser that asked for it closes; the page shows it again by its id.
type run struct {
	ID, Env, Kind, Target, User string
	Started                     time.Time

	mu      sync.Mutex
	lines   []string
	done    bool
	rec     *release.Record
	err     string
	changed chan struct{} // closed on every change, then replaced
}

func newRun(env, kind, target, user string) *run {
	b := make([]byte, 6)
	rand.Read(b)
	return &run{ID: hex.EncodeToString(b), Env: env, Kind: kind, Target: target, User: user, Started: time.Now(), changed: make(chan struct{})}
}

func (r *run) notify() {
	close(r.changed)
	r.changed = make(chan struct{})
}

func (r *run) logf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, strings.TrimRight(fmt.Sprintf(format, args...), "\n"))
	r.notify()
}

func (r *run) finish(rec *release.Record, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rec, r.done = rec, true
	if err != nil {
		r.err = err.Error()
	}
	r.notify()
}

// since is what happened from line n on, whether the run is over, and a
// channel closed at the next change.
func (r *run) since(n int) (lines []string, done bool, changed <-chan struct{}) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if n < len(r.lines) {
		lines = slices.Clone(r.lines[n:])
	}
	return lines, r.done, r.changed
}

// runView is a run as its page shows it.
type runView struct {
	*run
	Lines  []string
	Done   bool
	Record *release.Record
	Err    string
}

func (r *run) view() runView {
	r.mu.Lock()
	defer r.mu.Unlock()
	return runView{run: r, Lines: slices.Clone(r.lines), Done: r.done, Record: r.rec, Err: r.err}
}

// csrfCookie holds a random token that each form repeats (double submit);
// POSTs must also come from this page's origin.
const csrfCookie = "phpbuild_csrf"

// csrfToken is the request's token, set as a cookie when it has none.
func csrfToken(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(csrfCookie); err == nil && len(c.Value) == 32 {
		return c.Value
	}
	b := make([]byte, 16)
	rand.Read(b)
	tok := hex.EncodeToString(b)
	http.SetCookie(w, &http.Cookie{Name: csrfCookie, Value: tok, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
	return tok
}

// checkPost refuses a POST without the form's CSRF token or from another
// origin.
func checkPost(r *http.Request) error {
	c, err := r.Cookie(csrfCookie)
	if err != nil || c.Value == "" || subtle.ConstantTimeCompare([]byte(c.Value), []byte(r.PostFormValue("csrf"))) != 1 {
		return errors.New("this form has no valid CSRF token: reload the page and try again")
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		origin = r.Header.Get("Referer")
	}
	if origin == "" {
		return nil // same-site cookies already hold; old browsers send neither
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host != r.Host {
		return fmt.Errorf("a request from %s may not act on this page", origin)
	}
	return nil
}

// who acts: the basic-auth user when there is one, else the person who
// started the page.
func who(r *http.Request) string {
	if u, _, ok := r.BasicAuth(); ok && u != "" {
		return u + " (phpbuild ui)"
	}
	return ""
}

// imageTag is one tag of an environment's repo, as the deploy form lists it.
type imageTag struct {
	Tag, Version, Revision, Created, Subject string
}

// maxTags bounds the tags the deploy form reads.
const maxTags = 30

// listTags reads repo's tags with their versions and commits, newest
// first.
func listTags(ctx context.Context, env *release.Environment) ([]imageTag, error) {
	all, err := remote.List(env.Image, remote.WithContext(ctx))
	if err != nil {
		return nil, err
	}
	// sha256-HEX tags hold an image's referrers (its SBOM and provenance)
	// where the registry has no referrers API: not images to deploy.
	tags := slices.DeleteFunc(all, attest.IsReferrersTag)
	sort.Sort(sort.Reverse(sort.StringSlice(tags)))
	if len(tags) > maxTags*4 {
		tags = tags[:maxTags*4]
	}
	out := make([]imageTag, len(tags))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i, t := range tags {
		out[i].Tag = t
		wg.Add(1)
		go func(it *imageTag) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			d := describe(ctx, env, it.Tag)
			it.Version, it.Revision, it.Created, it.Subject = d.Version, d.Revision, d.Created, d.Subject
		}(&out[i])
	}
	wg.Wait()
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created > out[j].Created })
	if len(out) > maxTags {
		out = out[:maxTags]
	}
	return out, nil
}

// describe reads what image's manifest says of it: version, commit,
// creation time and commit subject; what it cannot read stays empty.
func describe(ctx context.Context, env *release.Environment, image string) imageTag {
	it := imageTag{Tag: image}
	full, err := env.ImageRef(image)
	if err != nil {
		return it
	}
	ref, err := name.ParseReference(full)
	if err != nil {
		return it
	}
	d, err := remote.Get(ref, remote.WithContext(ctx))
	if err != nil {
		return it
	}
	m, err := v1.ParseManifest(bytes.NewReader(d.Manifest))
	if err != nil {
		return it
	}
	a := m.Annotations
	it.Version, it.Revision, it.Created, it.Subject = a["org.opencontainers.image.version"], a["org.opencontainers.image.revision"], a["org.opencontainers.image.created"], a[build.AnnotationSubject]
	return it
}

func (s *server) deployForm(w http.ResponseWriter, r *http.Request) {
	env := s.environment(w, r)
	if env == nil {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), readTimeout)
	defer cancel()
	tags, err := s.opts.src.Tags(ctx, env)
	tagErr := ""
	if err != nil {
		tagErr = fmt.Sprintf("Reading the tags of %s: %v", env.Image, err)
	}
	names, _ := release.EnvironmentNames(s.dir)
	others := slices.DeleteFunc(names, func(n string) bool { return n == env.Name })
	s.render(w, "deploy", map[string]any{"Title": env.Name + ": deploy", "Env": env, "Tags": tags, "TagErr": tagErr, "Others": others, "CSRF": csrfToken(w, r)})
}

// plan shows what deploying the form's image (or what another environment
// runs) would do, and asks to confirm.
func (s *server) plan(w http.ResponseWriter, r *http.Request) {
	env := s.postEnvironment(w, r)
	if env == nil {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), readTimeout)
	defer cancel()
	image, from := strings.TrimSpace(r.PostFormValue("image")), r.PostFormValue("promote")
	if from != "" {
		other, err := release.LoadEnvironment(s.dir, from)
		if err != nil {
			s.fail(w, http.StatusBadRequest, err.Error())
			return
		}
		st, err := s.opts.src.Status(ctx, other)
		if err != nil || st.Current == nil {
			s.fail(w, http.StatusBadRequest, fmt.Sprintf("%s runs nothing to promote: %v", from, err))
			return
		}
		image = st.Current.Digest
	}
	if image == "" {
		s.fail(w, http.StatusBadRequest, "Choose an image: a tag, a digest, or what another environment runs.")
		return
	}
	p, err := s.opts.src.Plan(ctx, env, release.Options{Image: image})
	if err != nil {
		s.fail(w, http.StatusBadRequest, fmt.Sprintf("Planning the release of %s to %s: %v", image, env.Name, err))
		return
	}
	d := s.opts.src.Describe(ctx, env, image)
	s.render(w, "plan", map[string]any{"Title": env.Name + ": release plan", "Env": env, "Plan": p, "Image": image,
		"Version": d.Version, "SHA": d.Revision, "Subject": d.Subject, "Promote": from, "CSRF": csrfToken(w, r)})
}

// deploy starts the release the plan page confirmed.
func (s *server) deploy(w http.ResponseWriter, r *http.Request) {
	env := s.postEnvironment(w, r)
	if env == nil {
		return
	}
	image := r.PostFormValue("image")
	if image == "" {
		s.fail(w, http.StatusBadRequest, "The form names no image.")
		return
	}
	// The log's version and commit come from the image, not from the form.
	ctx, cancel := context.WithTimeout(r.Context(), readTimeout)
	d := s.opts.src.Describe(ctx, env, image)
	cancel()
	o := release.Options{Image: image, Message: r.PostFormValue("message"), User: who(r), Version: d.Version, SHA: d.Revision}
	s.start(w, r, env, "release", image, o, func(ctx context.Context, o release.Options) (*release.Record, error) {
		return s.opts.src.Release(ctx, env, o)
	})
}

// start runs act in the background, detached from the request: closing
// the browser never stops a release. It sends the browser to the run's
// page.
func (s *server) start(w http.ResponseWriter, r *http.Request, env *release.Environment, kind, target string, o release.Options,
	act func(context.Context, release.Options) (*release.Record, error)) {
	run := newRun(env.Name, kind, target, o.User)
	o.Progress = run.logf
	s.mu.Lock()
	s.runs[run.ID] = run
	s.mu.Unlock()
	go func() {
		rec, err := act(context.WithoutCancel(r.Context()), o)
		run.finish(rec, err)
	}()
	http.Redirect(w, r, "/runs/"+run.ID, http.StatusSeeOther)
}

// activeRuns are the runs still going, of env or of all when env is "".
func (s *server) activeRuns(env string) []runView {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []runView
	for _, r := range s.runs {
		if v := r.view(); !v.Done && (env == "" || r.Env == env) {
			out = append(out, v)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Started.Before(out[j].Started) })
	return out
}

func (s *server) rollbackForm(w http.ResponseWriter, r *http.Request) {
	env := s.environment(w, r)
	if env == nil {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), readTimeout)
	defer cancel()
	recs, err := s.opts.src.History(ctx, env)
	if err != nil {
		s.fail(w, http.StatusBadGateway, err.Error())
		return
	}
	id := r.URL.Query().Get("id")
	i := slices.IndexFunc(recs, func(rec release.Record) bool { return rec.ID == id })
	if i < 0 {
		s.fail(w, http.StatusNotFound, fmt.Sprintf("%s's release log has no release %q.", env.Name, id))
		return
	}
	s.render(w, "confirm", map[string]any{"Title": env.Name + ": roll back", "Env": env, "Action": "rollback", "Record": recs[i], "CSRF": csrfToken(w, r)})
}

func (s *server) rollback(w http.ResponseWriter, r *http.Request) {
	env := s.postEnvironment(w, r)
	if env == nil {
		return
	}
	id := r.PostFormValue("id")
	if id == "" {
		s.fail(w, http.StatusBadRequest, "The form names no release to roll back to.")
		return
	}
	o := release.Options{Message: r.PostFormValue("message"), User: who(r)}
	s.start(w, r, env, "rollback", id, o, func(ctx context.Context, o release.Options) (*release.Record, error) {
		return s.opts.src.Rollback(ctx, env, id, o)
	})
}

func (s *server) unlockForm(w http.ResponseWriter, r *http.Request) {
	env := s.environment(w, r)
	if env == nil {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), readTimeout)
	defer cancel()
	st, err := s.opts.src.Status(ctx, env)
	if err != nil {
		s.fail(w, http.StatusBadGateway, err.Error())
		return
	}
	if st.Lock == nil {
		s.fail(w, http.StatusConflict, env.Name+" is not locked.")
		return
	}
	s.render(w, "confirm", map[string]any{"Title": env.Name + ": unlock", "Env": env, "Action": "unlock", "Lock": st.Lock, "CSRF": csrfToken(w, r)})
}

func (s *server) unlock(w http.ResponseWriter, r *http.Request) {
	env := s.postEnvironment(w, r)
	if env == nil {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), readTimeout)
	defer cancel()
	if _, err := s.opts.src.Unlock(ctx, env, release.Options{User: who(r), Message: "from phpbuild ui"}); err != nil {
		s.fail(w, http.StatusBadGateway, fmt.Sprintf("Unlocking %s: %v", env.Name, err))
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (s *server) lookupRun(w http.ResponseWriter, r *http.Request) *run {
	s.mu.Lock()
	run := s.runs[r.PathValue("id")]
	s.mu.Unlock()
	if run == nil {
		s.fail(w, http.StatusNotFound, "No such release: this page lost it if phpbuild ui restarted; the environment's history has it.")
	}
	return run
}

func (s *server) runPage(w http.ResponseWriter, r *http.Request) {
	if run := s.lookupRun(w, r); run != nil {
		v := run.view()
		s.render(w, "run", map[string]any{"Title": fmt.Sprintf("%s: %s of %s", run.Env, run.Kind, run.Target), "Run": v})
	}
}

// runEvents streams a run's progress as Server-Sent Events: a "line" event
// per step line, then one "done" event with the result.
func (s *server) runEvents(w http.ResponseWriter, r *http.Request) {
	run := s.lookupRun(w, r)
	if run == nil {
		return
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		s.fail(w, http.StatusInternalServerError, "streaming is not supported")
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no") // nginx in front streams it as it comes
	sent := 0
	for {
		lines, done, changed := run.since(sent)
		for _, l := range lines {
			fmt.Fprintf(w, "event: line\ndata: %s\n\n", strings.ReplaceAll(l, "\n", " "))
		}
		sent += len(lines)
		if done {
			v := run.view()
			result := "ok"
			if v.Record != nil && v.Record.Result != "" {
				result = v.Record.Result
			}
			if v.Err != "" {
				result = "failed: " + strings.ReplaceAll(v.Err, "\n", " ")
			}
			fmt.Fprintf(w, "event: done\ndata: %s\n\n", result)
			flusher.Flush()
			return
		}
		flusher.Flush()
		select {
		case <-changed:
		case <-r.Context().Done():
			return
		}
	}
}

// postEnvironment is s.environment for a form's POST, which must pass
// checkPost first.
func (s *server) postEnvironment(w http.ResponseWriter, r *http.Request) *release.Environment {
	if err := checkPost(r); err != nil {
		s.fail(w, http.StatusForbidden, err.Error())
		return nil
	}
	return s.environment(w, r)
}
