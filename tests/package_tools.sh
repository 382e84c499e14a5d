# Sourced by the package tests: fail() and the check that cpack and dpkg-deb
# are there. Missing: exit 77 (skipped), a failure with CI=true.
#   source tests/package_tools.sh NAME   (NAME prefixes the messages)
package_tool_user=$1
fail() { echo "$package_tool_user: FAIL: $*" >&2; exit 1; }
for tool in cpack dpkg-deb; do
  if ! command -v "$tool" >/dev/null; then
    if [[ "${CI:-}" == true ]]; then fail "$tool is required (deploy/setup.sh installs it)"; fi
    echo "$package_tool_user: $tool not installed, skipped" >&2
    exit 77
  fi
done
