#!/bin/sh
# SPDX-License-Identifier: MIT
# install-config.sh SRC DEST - meson install script: installs SRC as DEST
# (absolute, DESTDIR is prepended) only when DEST does not exist, so that
# `meson install` never overwrites an admin's configuration.
set -eu
src=$1
dest=${DESTDIR:-}$2
if [ -e "$dest" ]; then
	echo "install-config: keeping the existing $dest"
	exit 0
fi
mkdir -p "$(dirname "$dest")"
cp "$src" "$dest"
chmod 0644 "$dest"
echo "install-config: installed $dest"
