#!/usr/bin/env bash
# The demo: a runtime, then the plain sample app built into an image, run
# read-only, changed, and rebuilt (only its app layer). Everything goes to
# the test bed's registry and dockerd; run through `make demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
set -a; . "${PHPBUILD_TESTBED_DIR:-/var/lib/phpbuild-testbed}/env"; set +a
reg="${PHPBUILD_TEST_REGISTRY:-127.0.0.1:5000}"
export PHPBUILD_RUNTIME_REPO="$reg/demo/runtimes"
image="$reg/demo/plain"
step() { printf '\n==> %s\n' "$*"; }

step "bin/phpbuild runtime build --php 8.4 --repo $PHPBUILD_RUNTIME_REPO   (minutes the first time, then instant)"
bin/phpbuild runtime build --php 8.4 --launcher bin/launcher --progress plain

work="$(mktemp -d)"
cleanup() {
  /usr/bin/docker rm -f phpbuild-demo >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
cp -a testdata/apps/plain "$work/app"
cd "$work/app"
git init -q -b main
git add -A
git -c user.name=demo -c user.email=demo@example.com commit -qm "the plain sample app"
git tag v1.0.0
cd - >/dev/null

step "bin/phpbuild build $work/app --image $image"
bin/phpbuild build "$work/app" --image "$image" --progress plain

step "docker run --read-only (tmpfs only for var/cache), then GET /"
port=18080
/usr/bin/docker rm -f phpbuild-demo >/dev/null 2>&1 || true
/usr/bin/docker pull -q "$image:1.0.0" >/dev/null
/usr/bin/docker run -d --name phpbuild-demo --read-only --tmpfs /app/var/cache:uid=1000,gid=1000 \
  -e GREETING_NAME=demo -p "127.0.0.1:$port:8080" "$image:1.0.0" >/dev/null
for _ in $(seq 50); do curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break; sleep 0.2; done
curl -sS "http://127.0.0.1:$port/"; echo
printf 'GET /.env → %s, GET /composer.json → %s\n' \
  "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/.env")" \
  "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/composer.json")"

step "a one-line code change, committed, then the same build command: only the app layer is built"
sed -i 's/<h1>/<h1 class="v2">/' "$work/app/src/Page.php"
git -C "$work/app" -c user.name=demo -c user.email=demo@example.com commit -qam "v2 heading"
bin/phpbuild build "$work/app" --image "$image" --progress plain

step "the same commit again: nothing to build"
bin/phpbuild build "$work/app" --image "$image" --progress plain

step "release to a local staging environment (front proxy on 127.0.0.1:18081)"
/usr/bin/docker rm -f phpbuild-demo >/dev/null 2>&1 || true
# A fresh environment each demo run: its containers, network and host state.
/usr/bin/docker rm -f $(/usr/bin/docker ps -aq --filter label=dev.phpbuild.app=demo) >/dev/null 2>&1 || true
/usr/bin/docker network rm phpbuild-demo-staging >/dev/null 2>&1 || true
rm -rf /var/lib/phpbuild/demo
mkdir -p "$work/app/deploy"
cat >> "$work/app/project.toml" <<TOML

[environments.staging]
app = "demo"
port = 18081
image = "$image"
env_files = ["deploy/staging.env"]
secrets = ["DEMO_DB_PASSWORD"]
drain_timeout = "5s"
TOML
printf 'GREETING_NAME=staging\n' > "$work/app/deploy/staging.env"
export DEMO_DB_PASSWORD=not-a-real-secret
bin/phpbuild release "$work/app" --env staging
curl -sS http://127.0.0.1:18081/; echo

step "change only an env value (GREETING_NAME), plan it, release it under load: no request fails"
printf 'GREETING_NAME=staging, second release\n' > "$work/app/deploy/staging.env"
bin/phpbuild release "$work/app" --env staging --plan
( ok=0; fail=0; end=$((SECONDS + 12))
  while [ $SECONDS -lt $end ]; do
    if curl -fsS -o /dev/null http://127.0.0.1:18081/; then ok=$((ok + 1)); else fail=$((fail + 1)); fi
  done
  echo "load during the release: $ok ok, $fail failed" ) &
loader=$!
sleep 1
bin/phpbuild release "$work/app" --env staging
wait $loader
curl -sS http://127.0.0.1:18081/; echo
bin/phpbuild releases "$work/app" --env staging
/usr/bin/docker rm -f $(/usr/bin/docker ps -aq --filter label=dev.phpbuild.app=demo) >/dev/null 2>&1 || true
/usr/bin/docker network rm phpbuild-demo-staging >/dev/null 2>&1 || true
