#!/bin/sh
# Generates a production signing key pair for SystemOTA bundles.
#   usage: gen-production-key.sh BASENAME   -> BASENAME.key (private), BASENAME.pem (public)
# Run it on the machine that will sign releases, not on a device.
set -eu
if [ $# -ne 1 ]; then
	echo "usage: $0 BASENAME" >&2
	exit 2
fi
base=$1
systemota=${SYSTEMOTA:-$(dirname "$0")/../build/systemota}
[ -x "$systemota" ] || systemota=systemota
umask 077
"$systemota" key generate "$base.key" "$base.pem"
chmod 0644 "$base.pem"
echo "key id: $("$systemota" key id "$base.pem")"
echo "Keep $base.key secret and offline. Install $base.pem in the image's /etc/systemota/keys/."
