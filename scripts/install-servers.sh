#!/usr/bin/env bash
# Installs the real web servers and tools the end-to-end tests and benchmarks drive, from Debian's packages.
# Needs root (CI runs as root). Without root it says what to run and exits non-zero.
set -euo pipefail
# busybox: busybox httpd, a third CGI server for the e2e tests. fcgiwrap: the peer of `tsgi fastcgi --cgi-bin` (bench/scripts); python3: the Python CGI program of its e2e test.
PACKAGES=(nginx apache2 libapache2-mod-fcgid lighttpd libfcgi-bin spawn-fcgi php-fpm wrk hyperfine curl fcgiwrap python3 busybox)
if [ "$(id -u)" != 0 ]; then
  echo "install-servers: not root; run: sudo apt-get update && sudo apt-get install -y ${PACKAGES[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null
# The packages start their daemons on the default ports; the tests start their own instances on free ports.
for svc in nginx apache2 lighttpd; do
  service "$svc" stop >/dev/null 2>&1 || true
done
for fpm in /etc/init.d/php*-fpm; do [ -e "$fpm" ] && "$fpm" stop >/dev/null 2>&1 || true; done
echo "install-servers: ok"
