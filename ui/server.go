package ui

import (
	"context"
	"crypto/subtle"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/phpbuild/phpbuild/badinput"
	"github.com/phpbuild/phpbuild/release"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// DefaultListen is where the page listens unless told otherwise: this
// machine only.
const DefaultListen = "127.0.0.1:8090"

// readTimeout bounds what one page waits for each environment's docker
// host.
const readTimeout = 10 * time.Second

// source is where the page reads environments from; the release package
// outside tests.
type source interface {
	Status(ctx context.Context, env *release.Environment) (*release.Status, error)
	History(ctx context.Context, env *release.Environment) ([]release.Record, error)
	Plan(ctx context.Context, env *release.Environment, o release.Options) (*release.Plan, error)
	Release(ctx context.Context, env *release.Environment, o release.Options) (*release.Record, error)
	Rollback(ctx context.Context, env *release.Environment, id string, o release.Options) (*release.Record, error)
	Unlock(ctx context.Context, env *release.Environment, o release.Options) (*release.Lock, error)
	// Describe is what an image of env's repo says of itself: its
	// version, commit and commit subject.
	Describe(ctx context.Context, env *release.Environment, image string) imageTag
	Tags(ctx context.Context, env *release.Environment) ([]imageTag, error)
	EnvChanges(ctx context.Context, env *release.Environment, pairs [][2]string) ([][]string, error)
}

type engine struct{}

func (engine) Status(ctx context.Context, env *release.Environment) (*release.Status, error) {
	return release.GetStatus(ctx, env)
}

func (engine) History(ctx context.Context, env *release.Environment) ([]release.Record, error) {
	return release.History(ctx, env)
}

func (engine) Plan(ctx context.Context, env *release.Environment, o release.Options) (*release.Plan, error) {
	return release.PlanRelease(ctx, env, o)
}

func (engine) Release(ctx context.Context, env *release.Environment, o release.Options) (*release.Record, error) {
	return release.Release(ctx, env, o)
}

func (engine) Rollback(ctx context.Context, env *release.Environment, id string, o release.Options) (*release.Record, error) {
	return release.Rollback(ctx, env, id, o)
}

func (engine) Unlock(ctx context.Context, env *release.Environment, o release.Options) (*release.Lock, error) {
	return release.Unlock(ctx, env, o)
}

func (engine) EnvChanges(ctx context.Context, env *release.Environment, pairs [][2]string) ([][]string, error) {
	return release.EnvChanges(ctx, env, pairs)
}

func (engine) Tags(ctx context.Context, env *release.Environment) ([]imageTag, error) {
	return listTags(ctx, env)
}

func (engine) Describe(ctx context.Context, env *release.Environment, image string) imageTag {
	return describe(ctx, env, image)
}

// Option configures the page.
type Option func(*options) error

type options struct {
	token string
	src   source
}

// WithToken makes every request authenticate with token: HTTP basic
// auth with it as the password (the user name is who acts), or
// "Authorization: Bearer TOKEN".
func WithToken(token string) Option {
	return func(o *options) error {
		if len(token) < 16 {
			return &badinput.Error{Field: "PHPBUILD_UI_TOKEN", Err: errors.New("a token must have at least 16 characters")}
		}
		o.token = token
		return nil
	}
}

// withSource reads environments from src instead of the release engine.
func withSource(src source) Option {
	return func(o *options) error { o.src = src; return nil }
}

// server is the page of one project dir.
type server struct {
	dir   string
	opts  options
	pages map[string]*template.Template

	mu   sync.Mutex
	runs map[string]*run
}

// New returns the page for the environments of dir's project.toml. It
// reads project.toml on every request, so an edit shows without a restart.
func New(dir string, opts ...Option) (http.Handler, error) {
	o := options{src: engine{}}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return nil, &badinput.Error{File: dir, Err: errors.New("not a directory: phpbuild ui serves the environments of a project dir's project.toml")}
	}
	if _, err := release.EnvironmentNames(dir); err != nil {
		return nil, err
	}
	s := &server{dir: dir, opts: o, pages: map[string]*template.Template{}, runs: map[string]*run{}}
	for _, p := range []string{"overview", "history", "error", "deploy", "plan", "confirm", "run"} {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+p+".html")
		if err != nil {
			return nil, err
		}
		s.pages[p] = t
	}
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.overview)
	mux.HandleFunc("GET /env/{name}/history", s.history)
	mux.HandleFunc("GET /env/{name}/deploy", s.deployForm)
	mux.HandleFunc("POST /env/{name}/plan", s.plan)
	mux.HandleFunc("POST /env/{name}/deploy", s.deploy)
	mux.HandleFunc("GET /env/{name}/rollback", s.rollbackForm)
	mux.HandleFunc("POST /env/{name}/rollback", s.rollback)
	mux.HandleFunc("GET /env/{name}/unlock", s.unlockForm)
	mux.HandleFunc("POST /env/{name}/unlock", s.unlock)
	mux.HandleFunc("GET /runs/{id}", s.runPage)
	mux.HandleFunc("GET /runs/{id}/events", s.runEvents)
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	return s.guard(mux), nil
}

// CheckListen refuses an address beyond loopback without a token: the
// page deploys to production.
func CheckListen(addr string, token bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return &badinput.Error{Field: "--listen", Err: fmt.Errorf("%q is not HOST:PORT: %w", addr, err)}
	}
	if token {
		return nil
	}
	if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
		return nil
	}
	return &badinput.Error{Field: "--listen", Err: fmt.Errorf("listening on %s, beyond this machine, needs authentication: set PHPBUILD_UI_TOKEN", addr)}
}

// guard adds the security headers and, with a token, authentication.
func (s *server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		if s.opts.token != "" && !s.authenticated(r) {
			h.Set("WWW-Authenticate", `Basic realm="phpbuild", charset="UTF-8"`)
			s.fail(w, http.StatusUnauthorized, "This page needs the token phpbuild ui was started with (PHPBUILD_UI_TOKEN), as the password.")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *server) authenticated(r *http.Request) bool {
	got := ""
	if _, pw, ok := r.BasicAuth(); ok {
		got = pw
	} else if b, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		got = b
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(s.opts.token)) == 1
}

// envView is one environment as the overview shows it.
type envView struct {
	Name   string
	Env    *release.Environment
	Status *release.Status
	// Err is why the status could not be read; Never is set when the
	// environment has never been released.
	Err   string
	Never bool
	// Subject is the current release's commit subject, from its image.
	Subject string
}

func (s *server) overview(w http.ResponseWriter, r *http.Request) {
	names, err := release.EnvironmentNames(s.dir)
	if err != nil {
		s.fail(w, http.StatusInternalServerError, err.Error())
		return
	}
	views := make([]envView, len(names))
	var wg sync.WaitGroup
	for i, n := range names {
		views[i].Name = n
		env, err := release.LoadEnvironment(s.dir, n)
		if err != nil {
			views[i].Err = err.Error()
			continue
		}
		views[i].Env = env
		wg.Add(1)
		go func(v *envView) {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(r.Context(), readTimeout)
			defer cancel()
			st, err := s.opts.src.Status(ctx, v.Env)
			switch {
			case errors.Is(err, release.ErrNeverReleased):
				v.Never = true
			case err != nil:
				v.Err = err.Error()
			default:
				v.Status = st
				if st.Current != nil && st.Current.Digest != "" {
					v.Subject = s.opts.src.Describe(ctx, v.Env, st.Current.Digest).Subject
				}
			}
		}(&views[i])
	}
	wg.Wait()
	s.render(w, "overview", map[string]any{"Title": "Environments", "Envs": views, "Runs": s.activeRuns(""), "CSRF": csrfToken(w, r)})
}

// recordView is one release log line with what changed since the one
// before it.
type recordView struct {
	release.Record
	EnvChanged   bool
	ImageChanged bool
	// EnvChanges name the variables added, changed or removed since the
	// release before ("+ NAME", "~ NAME", "- NAME"), never their values.
	EnvChanges []string
	Steps      []step
	// envFrom is the snapshot EnvChanges compare with.
	envFrom string
}

type step struct{ Name, Took string }

// stepOrder is the order a release runs its steps in.
var stepOrder = []string{"pull", "start", "health", "smoke", "switch", "drain", "hooks"}

// environment is the request's {name}; nil, with the error page sent,
// when project.toml has no such environment.
func (s *server) environment(w http.ResponseWriter, r *http.Request) *release.Environment {
	name := r.PathValue("name")
	names, err := release.EnvironmentNames(s.dir)
	if err != nil {
		s.fail(w, http.StatusInternalServerError, err.Error())
		return nil
	}
	if !slices.Contains(names, name) {
		s.fail(w, http.StatusNotFound, fmt.Sprintf("project.toml has no environment %q.", name))
		return nil
	}
	env, err := release.LoadEnvironment(s.dir, name)
	if err != nil {
		s.fail(w, http.StatusInternalServerError, err.Error())
		return nil
	}
	return env
}

func (s *server) history(w http.ResponseWriter, r *http.Request) {
	env := s.environment(w, r)
	if env == nil {
		return
	}
	name := env.Name
	ctx, cancel := context.WithTimeout(r.Context(), readTimeout)
	defer cancel()
	recs, err := s.opts.src.History(ctx, env)
	if err != nil && !errors.Is(err, release.ErrNeverReleased) {
		s.fail(w, http.StatusBadGateway, fmt.Sprintf("Reading %s's release log: %v", name, err))
		return
	}
	views := historyViews(recs)
	var pairs [][2]string
	var changed []*recordView
	for i := range views {
		if views[i].EnvChanged {
			pairs = append(pairs, [2]string{views[i].envFrom, views[i].Env})
			changed = append(changed, &views[i])
		}
	}
	if len(pairs) > 0 {
		if diffs, err := s.opts.src.EnvChanges(ctx, env, pairs); err == nil {
			for i, d := range diffs {
				changed[i].EnvChanges = d
			}
		}
	}
	s.render(w, "history", map[string]any{"Title": name + ": history", "Env": env, "Records": views, "CSRF": csrfToken(w, r)})
}

// historyViews are recs newest first, each compared with the release that
// served before it.
func historyViews(recs []release.Record) []recordView {
	out := make([]recordView, 0, len(recs))
	var prev *release.Record
	for i := range recs {
		rec := recs[i]
		v := recordView{Record: rec}
		deploy := rec.Kind == "release" || rec.Kind == "rollback"
		if prev != nil && deploy {
			v.EnvChanged = rec.Env != prev.Env
			v.envFrom = prev.Env
			v.ImageChanged = rec.Digest != prev.Digest
		}
		for _, n := range stepOrder {
			if d, ok := rec.Steps[n]; ok {
				v.Steps = append(v.Steps, step{n, d})
			}
		}
		out = append(out, v)
		if deploy && rec.Result == "ok" {
			prev = &recs[i]
		}
	}
	slices.Reverse(out)
	return out
}

func (s *server) render(w http.ResponseWriter, page string, data map[string]any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := s.pages[page].Execute(w, data); err != nil {
		// The headers are gone; the page ends where it failed.
		fmt.Fprintf(w, "<p class=error>rendering this page failed: %s</p>", template.HTMLEscapeString(err.Error()))
	}
}

func (s *server) fail(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	s.pages["error"].Execute(w, map[string]any{"Title": http.StatusText(code), "Code": code, "Message": msg})
}

var funcs = template.FuncMap{
	// short is a digest or SHA cut to what people compare.
	"short": func(s string) string {
		if i := strings.LastIndex(s, "sha256:"); i >= 0 && len(s) >= i+7+12 {
			return s[i+7 : i+7+12]
		}
		if len(s) > 12 {
			return s[:12]
		}
		return s
	},
}
