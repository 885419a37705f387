#!/usr/bin/env bash
# Smoke test: nginx + a tsgi FastCGI listener + examples/hello.ts, one request checked end to end.
#   scripts/smoke.sh            (needs nginx and node; builds dist/ if it is missing)
# The listener is the `tsgi build` file of the example started with --listen, and nginx runs the project's own
# recipe (scripts/recipes/nginx-fastcgi-tcp.conf) on free ports in a temp dir. Exit 0 and "smoke: ok" on success.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
node=${NODE:-node}
command -v nginx >/dev/null || { echo "smoke: nginx is not installed (scripts/install-servers.sh)" >&2; exit 2; }

tmp=$(mktemp -d /tmp/tsgi-smoke.XXXXXX)
chmod 755 "$tmp"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

free_port() { "$node" -e 's=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
wait_port() {
  for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done
  echo "smoke: nothing listens on port $1" >&2; return 1
}

[ -f "$root/dist/cli/main.js" ] || "$node" "$root/scripts/build.mjs" --js-only
"$node" "$root/bin/tsgi.js" build "$root/examples/hello.ts" -o "$tmp/hello.fcgi" >/dev/null

fastcgi_port=$(free_port)
nginx_port=$(free_port)
TSGI_CACHE_DIR=off "$node" "$tmp/hello.fcgi" --listen "127.0.0.1:$fastcgi_port" 2>"$tmp/listener.log" &
pids+=($!)
wait_port "$fastcgi_port"

mkdir -p "$tmp/conf.d"
sed -e "s|{{LISTEN}}|127.0.0.1:$nginx_port|; s|{{SERVER_NAME}}|smoke.test|; s|{{MOUNT}}|/app|g" \
    -e "s|{{FASTCGI_HOST}}|127.0.0.1|g; s|{{FASTCGI_PORT}}|$fastcgi_port|g" \
    "$root/scripts/recipes/nginx-fastcgi-tcp.conf" > "$tmp/conf.d/tsgi.conf"
if grep -q '{{' "$tmp/conf.d/tsgi.conf"; then echo "smoke: recipe has an unfilled placeholder" >&2; exit 1; fi
user_line=""
[ "$(id -u)" = 0 ] && user_line="user www-data;"
cat > "$tmp/nginx.conf" <<CONF
$user_line
daemon off;
worker_processes 1;
pid $tmp/nginx.pid;
error_log $tmp/nginx-error.log warn;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path $tmp/client_body;
    fastcgi_temp_path $tmp/fastcgi_temp;
    proxy_temp_path $tmp/proxy_temp;
    uwsgi_temp_path $tmp/uwsgi_temp;
    scgi_temp_path $tmp/scgi_temp;
    include $tmp/conf.d/*.conf;
}
CONF
nginx -t -q -c "$tmp/nginx.conf" -p "$tmp"
nginx -c "$tmp/nginx.conf" -p "$tmp" &
pids+=($!)
wait_port "$nginx_port"

body=$(curl -fsS "http://127.0.0.1:$nginx_port/app/smoke?x=1")
expected="Hello from tsgi! You asked for /app/smoke"
if [ "$body" != "$expected" ]; then
  echo "smoke: FAIL: got '$body', expected '$expected'" >&2
  cat "$tmp/listener.log" "$tmp/nginx-error.log" >&2 || true
  exit 1
fi
echo "smoke: ok (nginx :$nginx_port -> tsgi FastCGI :$fastcgi_port -> examples/hello.ts)"
