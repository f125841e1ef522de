#!/usr/bin/env bash
# Fetch what the Java consumer and Kafka Connect tests build with (avro-maven-plugin, Avro,
# kafka-clients, Connect, Apicurio's converter) into ~/.m2, by building both projects once in
# a temporary folder, as the tests' fixtures do. Optional: the tests fetch on their own first
# run too, inside their 900 s timeout; CI runs this as a step of its own so that time is
# counted apart from the tests.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PYTHON=${PYTHON:-python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cp -r "$here/java" "$work/java"
"$PYTHON" -m bridge schemas export --latest "$work/java/avro" >/dev/null
(cd "$work/java" && mvn -q -B compile dependency:build-classpath -Dmdep.outputFile=cp.txt)

cp "$here/connect/pom.xml" "$work/connect-pom.xml"
mvn -q -B -f "$work/connect-pom.xml" dependency:build-classpath -Dmdep.outputFile="$work/cp.txt"
echo "consumer test dependencies are in ~/.m2"
