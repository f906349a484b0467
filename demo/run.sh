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
trap 'docker rm -f phpbuild-demo >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
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
