#!/usr/bin/env bash
# tools/vendor_web_assets.sh [DEST]
# Re-create static/vendor (the Leaflet stack folium 0.20 would otherwise load from CDNs) from the
# npm registry, so the dashboard map works with no network. The output is committed; run this only
# when folium is upgraded (then update views/offline_map.py LOCAL to the new CDN URLs too).
set -euo pipefail
cd "$(dirname "$0")/.."
DEST=${1:-static/vendor}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
# leaflet.awesome-markers 2.0.2 (folium's CDN version) is not on npm; 2.0.5 is the same plugin.
( cd "$TMP" && npm install --silent --no-audit --no-fund --ignore-scripts \
    leaflet@1.9.3 jquery@3.7.1 bootstrap@5.2.2 @fortawesome/fontawesome-free@6.2.0 \
    leaflet.awesome-markers@2.0.5 leaflet.markercluster@1.1.0 )
N=$TMP/node_modules
rm -rf "$DEST"
mkdir -p "$DEST"/{leaflet,jquery,bootstrap,fontawesome/css,awesome-markers,markercluster}
cp -r "$N"/leaflet/dist/{leaflet.js,leaflet.css,images} "$DEST/leaflet/"
cp "$N"/jquery/dist/jquery.min.js "$DEST/jquery/"
cp "$N"/bootstrap/dist/js/bootstrap.bundle.min.js "$N"/bootstrap/dist/css/bootstrap.min.css "$DEST/bootstrap/"
cp "$N"/@fortawesome/fontawesome-free/css/all.min.css "$DEST/fontawesome/css/"
cp -r "$N"/@fortawesome/fontawesome-free/webfonts "$DEST/fontawesome/"
cp -r "$N"/leaflet.awesome-markers/dist/{leaflet.awesome-markers.js,leaflet.awesome-markers.css,images} "$DEST/awesome-markers/"
cp "$N"/leaflet.markercluster/dist/{leaflet.markercluster.js,MarkerCluster.css,MarkerCluster.Default.css} "$DEST/markercluster/"
# Licence files travel with the code they cover (all MIT/BSD; Font Awesome fonts are OFL).
for pkg in leaflet jquery bootstrap leaflet.awesome-markers leaflet.markercluster; do
  found=$(find "$N/$pkg" -maxdepth 1 -iname '*LICEN[CS]E*' | head -n 1)
  [ -n "$found" ] || { echo "no licence file in npm package $pkg" >&2; exit 1; }
  cp "$found" "$DEST/${pkg#leaflet.}/"
done
cp "$N"/@fortawesome/fontawesome-free/LICENSE.txt "$DEST/fontawesome/"
for pkg in leaflet jquery bootstrap @fortawesome/fontawesome-free leaflet.awesome-markers leaflet.markercluster; do
  printf '%s %s\n' "$pkg" "$(node -p "require('$N/$pkg/package.json').version")"
done > "$DEST/VERSIONS.txt"
echo "vendored into $DEST: $(find "$DEST" -type f | wc -l) files, $(du -sh "$DEST" | cut -f1)"
