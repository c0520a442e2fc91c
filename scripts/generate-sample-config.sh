#!/bin/sh
# Writes Sources/EstuaryConfig/SampleConfiguration.swift from examples/estuary.toml, so the
# sample `estuary sample-config` prints is the file's text, byte for byte (a test checks it).
set -eu
cd "$(dirname "$0")/.."
out=Sources/EstuaryConfig/SampleConfiguration.swift
if grep -q '"""#' examples/estuary.toml; then
  echo 'examples/estuary.toml must not contain """# (it ends the Swift raw string)' >&2; exit 1
fi
{
  printf '%s\n' '// Generated from examples/estuary.toml by scripts/generate-sample-config.sh; do not edit.'
  printf '%s\n' '// EstuaryConfigTests checks that the two are byte-identical.'
  printf '\n'
  printf '%s\n' 'extension EstuaryConfiguration {'
  printf '%s\n' '    /// The fully commented sample configuration (examples/estuary.toml), printed by'
  printf '%s\n' '    /// `estuary sample-config`. It parses, and its settings are a working local setup.'
  printf '%s\n' '    public static let sample: String = #"""'
  cat examples/estuary.toml
  printf '\n%s\n' '"""#'
  printf '%s\n' '}'
} > "$out"
echo "wrote $out"
