#!/bin/sh
# Fills quic-lb.conf.template (beside this script) and prints the nginx.conf of a cluster's
# balancer: the same text `deno task cluster` writes (lib/cluster/nginx_config.ts).
#
#   render.sh LISTEN SOURCE RUN_DIR NODE...
#   render.sh 198.18.0.10:443 198.18.0.10 /run/quic-lb 198.18.0.11:9443 198.18.0.12:9443 \
#     > /etc/nginx/quic-lb.conf
#
# LISTEN   the balancer's public ip:port (UDP and TCP; IPv6 as [ip]:port)
# SOURCE   the IP it forwards from (proxy_bind): an address of the balancer's machine, given
#          to every node as QUIC_BALANCER_SOURCE
# RUN_DIR  where nginx keeps its pid file and error log (systemd: RuntimeDirectory=quic-lb)
# NODE     each node's ip:port, the address it binds and advertises as its preferred address
set -eu
if [ "$#" -lt 4 ]; then
  echo "usage: $0 LISTEN SOURCE RUN_DIR NODE..." >&2
  exit 2
fi
listen=$1 source=$2 run_dir=$3
shift 3
template="$(dirname "$0")/quic-lb.conf.template"
awk -v listen="$listen" -v source="$source" -v run_dir="$run_dir" -v nodes="$*" '
  /\{\{NODE\}\}/ {
    n = split(nodes, list, " ")
    for (i = 1; i <= n; i++) { line = $0; sub(/\{\{NODE\}\}/, list[i], line); print line }
    next
  }
  { gsub(/\{\{LISTEN\}\}/, listen); gsub(/\{\{SOURCE\}\}/, source); gsub(/\{\{RUN_DIR\}\}/, run_dir); print }
' "$template"
