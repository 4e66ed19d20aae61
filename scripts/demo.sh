#!/usr/bin/env bash
# The main job: nginx, built offline from Debian packages, served by minid on 127.0.0.1:8080.
set -euo pipefail
cd "$(dirname "$0")/.."
minid=./bin/minid
$minid rm -f demo-nginx >/dev/null 2>&1 || true
echo "+ minid run -d --name demo-nginx -p 8080:80 nginx"
$minid run -d --name demo-nginx -p 8080:80 nginx
for _ in $(seq 1 50); do
  curl -fsS http://127.0.0.1:8080/ >/dev/null 2>&1 && break
  sleep 0.1
done
echo "+ curl http://127.0.0.1:8080/"
curl -fsS http://127.0.0.1:8080/ | grep -E 'Welcome to nginx|served by minid'
echo
echo "nginx is serving on http://127.0.0.1:8080 — see the steps with: minid network inspect bridge --diagram"
echo "stop it with: minid rm -f demo-nginx"
