#!/bin/sh
# Certificates for the demo shop's HTTPS listener (docker-compose.yml, service demo-shop-tls):
# a throwaway CA (ca.pem, which shopwatch's tls probe trusts through its `ca_file`) and a server
# certificate for the names demo-shop and localhost signed by it (cert.pem, key.pem), in DIR
# (default /var/lib/demo-shop/tls). Kept while the server certificate is valid for 30 more days,
# so the running shop and the probe's ca_file always match; made anew otherwise.
# After a renewal, `docker compose restart demo-shop` makes the shop serve the new certificate.
# Needs only openssl (3.x): the shopwatch image has it.
set -eu
dir=${1:-/var/lib/demo-shop/tls}
cd "$dir"
if [ -s ca.pem ] && [ -s key.pem ] && [ -s cert.pem ] \
    && openssl x509 -in cert.pem -noout -checkend 2592000 >/dev/null 2>&1 \
    && openssl verify -CAfile ca.pem cert.pem >/dev/null 2>&1; then
  echo "demo-shop-tls: keeping the certificate in $dir ($(openssl x509 -in cert.pem -noout -enddate))"
  exit 0
fi
umask 077
new=$(mktemp -d ./.new.XXXXXX)
trap 'rm -rf "$new"' EXIT
ec="-newkey ec -pkeyopt ec_paramgen_curve:P-256 -noenc"
# shellcheck disable=SC2086 # $ec is a list of options
openssl req -x509 $ec -days 3650 -subj "/CN=shopwatch demo-shop CA" \
  -keyout "$new/ca-key.pem" -out "$new/ca.pem" 2>/dev/null
# shellcheck disable=SC2086
openssl req -x509 $ec -days 365 -subj "/CN=demo-shop" \
  -CA "$new/ca.pem" -CAkey "$new/ca-key.pem" \
  -addext "subjectAltName=DNS:demo-shop,DNS:localhost" \
  -addext "basicConstraints=critical,CA:FALSE" \
  -addext "extendedKeyUsage=serverAuth" \
  -keyout "$new/key.pem" -out "$new/cert.pem" 2>/dev/null
openssl verify -CAfile "$new/ca.pem" -purpose sslserver "$new/cert.pem" >/dev/null
chmod 644 "$new/ca.pem" "$new/cert.pem"
# The CA key is not needed again: a new certificate gets a new CA.
rm -f "$new/ca-key.pem"
for f in key.pem cert.pem ca.pem; do mv -f "$new/$f" "$f"; done
echo "demo-shop-tls: new certificate in $dir ($(openssl x509 -in cert.pem -noout -enddate))"
