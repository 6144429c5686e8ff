#!/usr/bin/env bash
# Makes the TLS files compose.yaml reads from GOVMARKET_TLS_DIR, with a private CA, for trying the stack out:
#
#   scripts/stack-tls.sh DIR PUBLIC_HOST [SERVING_HOST...]      (default serving hosts: serving-1 serving-2)
#
#   ca.crt                  the private CA (ca.key stays in DIR: keep it offline in real use)
#   proxy.crt / proxy.key   the reverse proxy's certificate: PUBLIC_HOST and *.apps.PUBLIC_HOST (and 127.0.0.1 for
#                           localhost). In production this one comes from a public CA that browsers trust.
#   web.crt / web.key       the web processes' client certificate on the hop to the serving hosts (mutual TLS)
#   serving-N.crt / .key    each serving host's certificate, for the name the web reaches it by
#
# Keys are readable by the containers' unprivileged user (uid 10001): mode 0644 in DIR, so keep DIR private
# (mode 0700, owned by the operator). docs/operations.md, "TLS", says how to use your own CA instead.
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 DIR PUBLIC_HOST [SERVING_HOST...]" >&2; exit 2; }
dir=$1 public=$2
shift 2
serving=("$@")
[ ${#serving[@]} -gt 0 ] || serving=(serving-1 serving-2)
mkdir -p "$dir"
chmod 700 "$dir"
cd "$dir"

openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -days 825 -subj "/CN=govmarket private CA" \
  -addext "basicConstraints=critical,CA:TRUE,pathlen:0" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -keyout ca.key -out ca.crt 2>/dev/null

issue() {  # name, extendedKeyUsage, subjectAltName (may be empty)
  local name=$1 usage=$2 san=$3 ext
  ext=$(mktemp)
  printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=%s\n' "$usage" >"$ext"
  [ -n "$san" ] && printf 'subjectAltName=%s\n' "$san" >>"$ext"
  openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -subj "/CN=$name" \
    -keyout "$name.key" -out "$name.csr" 2>/dev/null
  openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 397 -extfile "$ext" \
    -out "$name.crt" 2>/dev/null
  rm -f "$name.csr" "$ext"
  chmod 644 "$name.key"
}

proxy_san="DNS:$public,DNS:*.apps.$public"
[ "$public" = localhost ] && proxy_san="$proxy_san,IP:127.0.0.1"
issue proxy serverAuth "$proxy_san"
issue web clientAuth ""
for host in "${serving[@]}"; do
  issue "$host" serverAuth "DNS:$host"
done
rm -f ca.srl
echo "TLS files for $public and ${serving[*]} in $(pwd)"
