#!/usr/bin/env bash
# SWUpdate 2022.12 (Debian 12) as a benchmark peer of SystemOTA.
#
#   swupdate.sh prepare IMAGE WORKDIR   build a throwaway CA + signer and a
#                                       signed .swu holding IMAGE (silent)
#   swupdate.sh install WORKDIR SLOT    install it into SLOT (block device or
#                                       plain file) with `swupdate -i`
#
# Settings (see SWUpdate's doc/source/sw-description.rst and signed_images.rst):
# - Debian builds SWUpdate with CONFIG_SIGNED_IMAGES (CMS): `swupdate` refuses
#   to run without `-k` ("SWUpdate is built for signed images, provide a public
#   key file"), so the .swu is signed: sw-description.sig is a CMS signature
#   by a signer certified by a throwaway CA, the CA being what `-k` trusts;
#   every image then carries its sha256 in the signed sw-description.
# - The image is compressed with zstd (`compressed = "zstd"`, supported by the
#   Debian build, level 19 as SystemOTA's bundles; SWUPDATE_ZSTD_LEVEL
#   overrides it) and `installed-directly = true`, so the raw handler streams
#   it from the .swu, decompressing on the fly, with no temporary copy.
# - A/B through a software collection: `bench.slot-a` / `bench.slot-b`, each
#   with its own raw `device`; `install` selects `-e bench,slot-b`. The device
#   of slot-b is WORKDIR/slot-b, a symlink to SLOT made by `install` (the docs
#   allow "a devicenode ... or a symlink to it"), so nothing signed changes.
# - The hardware revision (Debian enables CONFIG_HW_COMPATIBILITY) is given
#   with -H instead of /etc/hwrevision, and TMPDIR points into WORKDIR, where
#   SWUpdate puts its IPC sockets and scratch files.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh" # die, need_packages

prepare() {
	local image=$1 w=$2 sum level=${SWUPDATE_ZSTD_LEVEL:-19}
	[ -f "$image" ] || die "no image $image"
	need_packages swupdate openssl zstd cpio
	mkdir -p "$w"
	w=$(cd "$w" && pwd)
	rm -rf "${w:?}/swu" "${w:?}/run" "${w:?}/update.swu"
	mkdir -p "$w/swu" "$w/run"

	# Throwaway PKI: a CA (what the device trusts, -k) and a signer it certifies.
	openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 \
		-keyout "$w/ca.key" -out "$w/ca.pem" -subj "/CN=bench SWUpdate CA" \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
	openssl req -newkey rsa:2048 -nodes -sha256 -keyout "$w/signer.key" \
		-out "$w/signer.csr" -subj "/CN=bench SWUpdate signer" 2>/dev/null
	printf '%s\n' "basicConstraints=critical,CA:FALSE" \
		"keyUsage=critical,digitalSignature" "extendedKeyUsage=emailProtection" \
		"subjectKeyIdentifier=hash" "authorityKeyIdentifier=keyid" >"$w/signer.ext"
	openssl x509 -req -sha256 -days 3650 -in "$w/signer.csr" -CA "$w/ca.pem" \
		-CAkey "$w/ca.key" -CAcreateserial -extfile "$w/signer.ext" \
		-out "$w/signer.pem" 2>/dev/null

	zstd -q -T0 "-$level" -f "$image" -o "$w/swu/rootfs.ext4.zst"
	sum=$(sha256sum "$w/swu/rootfs.ext4.zst")
	sum=${sum%% *}

	local slot entries=''
	for slot in slot-a slot-b; do
		entries+="
		$slot = {
			images: ( {
				filename = \"rootfs.ext4.zst\";
				type = \"raw\";
				device = \"$w/$slot\";
				compressed = \"zstd\";
				installed-directly = true;
				sha256 = \"$sum\";
			} );
		};"
	done
	cat >"$w/swu/sw-description" <<-EOF
		software =
		{
			version = "2.0.0";
			description = "SystemOTA benchmark peer";
			hardware-compatibility = [ "1.0" ];
			bench = {$entries
			};
		}
	EOF
	openssl cms -sign -in "$w/swu/sw-description" -out "$w/swu/sw-description.sig" \
		-signer "$w/signer.pem" -inkey "$w/signer.key" -outform DER -nosmimecap -binary
	# sw-description first, its signature second, then the images (cpio "crc").
	(cd "$w/swu" && printf '%s\n' sw-description sw-description.sig rootfs.ext4.zst |
		cpio -o -H crc --quiet >"$w/update.swu")
	rm -rf "${w:?}/swu"

	# An empty configuration, so that no /etc/swupdate.cfg of the host applies.
	printf 'globals :\n{\n};\n' >"$w/swupdate.cfg"
	: >"$w/slot-a"
}

install_swu() {
	local w=$1 slot=$2 rc=0
	if [ ! -f "$w/update.swu" ] || [ ! -f "$w/ca.pem" ]; then die "$w is not prepared"; fi
	[ -e "$slot" ] || die "no slot $slot"
	w=$(cd "$w" && pwd)
	case $slot in /*) ;; *) slot=$PWD/$slot ;; esac
	ln -sfn "$slot" "$w/slot-b"
	rm -rf "${w:?}/run"
	mkdir -p "$w/run"
	TMPDIR="$w/run" swupdate -f "$w/swupdate.cfg" -k "$w/ca.pem" -H bench:1.0 \
		-e bench,slot-b -i "$w/update.swu" >"$w/install.log" 2>&1 || rc=$?
	if [ "$rc" -ne 0 ] || ! grep -q 'SWUPDATE successful' "$w/install.log"; then
		cat "$w/install.log" >&2
		die "swupdate -i failed ($rc)"
	fi
}

case ${1:-} in
prepare) [ $# -eq 3 ] || die "usage: $0 prepare IMAGE WORKDIR"; prepare "$2" "$3" ;;
install) [ $# -eq 3 ] || die "usage: $0 install WORKDIR SLOT"; install_swu "$2" "$3" ;;
*) die "usage: $0 prepare IMAGE WORKDIR | install WORKDIR SLOT" ;;
esac
