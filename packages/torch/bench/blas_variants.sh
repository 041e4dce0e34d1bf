#!/usr/bin/env bash
# Which Debian OpenBLAS build and kernels libtorch should use: times PyTorch 1.13.1 (Debian,
# /usr/bin/python3, same libtorch as @adaseg/torch) through bench/ops_peer.py under each
# variant, kernel family and thread count, then prints one markdown table.
#
#   sudo bash packages/torch/bench/blas_variants.sh            # ITERS=30 WARMUP=5 by default
#
# Needs root (update-alternatives) and both libopenblas0-pthread and libopenblas0-openmp.
# libtorch_cpu needs libblas.so.3 and liblapack.so.3; both are thin interface libraries that load
# the OpenBLAS core through a third link group, libopenblas.so.0. A variant is therefore switched
# in all three groups; "mixed" switches libblas.so.3 only (OpenMP interface over the pthread
# core), which is what switching the libblas.so.3 alternative alone gives.
# On exit (also on error or Ctrl-C) libblas.so.3 is set to the pthread build as setup.sh does,
# and liblapack.so.3 and libopenblas.so.0 go back to automatic mode (the pthread build).
#
# CAUTION: the alternatives are system-wide. Every process that starts while this runs (tests,
# other benchmarks) loads whichever variant is under test at that moment, and their timings are
# then wrong too. The script refuses to start while another process has libblas loaded
# (FORCE=1 overrides); start nothing else until it has finished.
set -euo pipefail
cd "$(dirname "$0")"

ITERS=${ITERS:-30}
# As the engine runs libgomp (src/native.ts) unless the caller says otherwise.
export GOMP_SPINCOUNT=${GOMP_SPINCOUNT:-0}
WARMUP=${WARMUP:-5}
PY=/usr/bin/python3
LIB=/usr/lib/x86_64-linux-gnu
GROUPS_ALL=(libblas.so.3 liblapack.so.3 libopenblas.so.0)

for v in pthread openmp; do
  [ -e "$LIB/openblas-$v/libblas.so.3" ] || { echo "blas_variants: libopenblas0-$v is not installed" >&2; exit 1; }
done
[ "$(id -u)" -eq 0 ] || { echo "blas_variants: run as root (update-alternatives)" >&2; exit 1; }
users=$(grep -l 'libblas\.so\.3\|libopenblas' /proc/[0-9]*/maps 2>/dev/null | cut -d/ -f3 | grep -vx "$$" || true)
if [ -n "$users" ] && [ "${FORCE:-0}" != 1 ]; then
  echo "blas_variants: these processes have the BLAS loaded; switching it now would change what later ones load:" >&2
  for p in $users; do echo "  $p $(tr '\0' ' ' </proc/"$p"/cmdline 2>/dev/null | cut -c1-100)" >&2; done
  echo "blas_variants: run it when nothing else is running (or FORCE=1)" >&2
  exit 1
fi

restore() {
  update-alternatives --quiet --set libblas.so.3-x86_64-linux-gnu "$LIB/openblas-pthread/libblas.so.3"
  update-alternatives --quiet --auto liblapack.so.3-x86_64-linux-gnu
  update-alternatives --quiet --auto libopenblas.so.0-x86_64-linux-gnu
  echo "blas_variants: restored: libblas.so.3 -> $(readlink -f /etc/alternatives/libblas.so.3-x86_64-linux-gnu)," \
    "libopenblas.so.0 -> $(readlink -f /etc/alternatives/libopenblas.so.0-x86_64-linux-gnu)" >&2
}
trap restore EXIT

# use <variant for libblas.so.3> <variant for liblapack.so.3 and libopenblas.so.0>
use() {
  update-alternatives --quiet --set libblas.so.3-x86_64-linux-gnu "$LIB/openblas-$1/libblas.so.3"
  update-alternatives --quiet --set liblapack.so.3-x86_64-linux-gnu "$LIB/openblas-$2/liblapack.so.3"
  update-alternatives --quiet --set libopenblas.so.0-x86_64-linux-gnu "$LIB/openblas-$2/libopenblas.so.0"
}

# Other work on this 2-core machine distorts the figures badly: before each measurement, wait (up
# to QUIET_WAIT seconds) for a 2-second window in which the machine is less than 5% busy.
QUIET_WAIT=${QUIET_WAIT:-180}
busy_ticks() { awk '/^cpu /{t=0; for(i=2;i<=9;i++) t+=$i; print t-$5-$6, t}' /proc/stat; }
wait_quiet() {
  local deadline=$(( $(date +%s) + QUIET_WAIT )) b0 t0 b1 t1
  while [ "$(date +%s)" -lt "$deadline" ]; do
    read -r b0 t0 < <(busy_ticks); sleep 2; read -r b1 t1 < <(busy_ticks)
    [ $(( 100 * (b1 - b0) )) -lt $(( 5 * (t1 - t0) )) ] && return 0
  done
  echo "blas_variants: the machine did not become quiet; measuring anyway" >&2
}

results=$(mktemp)
trap 'rm -f "$results"; restore' EXIT

echo "blas_variants: $(date -u +%FT%TZ), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores," \
  "load average $(cut -d' ' -f1-3 /proc/loadavg); $ITERS timed calls after $WARMUP warm-up calls; GOMP_SPINCOUNT=$GOMP_SPINCOUNT" >&2
for variant in pthread openmp mixed; do
  case $variant in
    pthread) use pthread pthread ;;
    openmp) use openmp openmp ;;
    mixed) use openmp pthread ;;
  esac
  for core in SkylakeX Haswell detect; do
    for threads in 1 2; do
      # Measure again (up to 3 times) when other processes took more than 5% of the CPU.
      best="" best_others=101
      for attempt in 1 2 3; do
        wait_quiet
        echo "  $variant $core $threads thread(s), attempt $attempt ..." >&2
        if [ "$core" = detect ]; then
          out=$(env -u OPENBLAS_CORETYPE "$PY" ops_peer.py --iters "$ITERS" --warmup "$WARMUP" --threads "$threads")
        else
          out=$(OPENBLAS_CORETYPE=$core "$PY" ops_peer.py --iters "$ITERS" --warmup "$WARMUP" --threads "$threads")
        fi
        others=$("$PY" -c 'import json,sys; print(round(100*max(r["otherCpuShare"] for r in json.load(sys.stdin)["results"].values())))' <<<"$out")
        if [ "$others" -lt "$best_others" ]; then best=$out best_others=$others; fi
        [ "$others" -le 5 ] && break
      done
      out=$best
      printf '%s\t%s\t%s\t%s\n' "$variant" "$core" "$threads" "$out" >>"$results"
    done
  done
done
echo "blas_variants: done, load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2

"$PY" - "$results" <<'EOF'
import json, sys
rows = {}
for line in open(sys.argv[1]):
    variant, core, threads, out = line.rstrip("\n").split("\t", 3)
    d = json.loads(out)
    rows.setdefault((variant, core), {})[int(threads)] = d
names = {
    "pthread": "pthread (libopenblas0-pthread)",
    "openmp": "OpenMP (libopenblas0-openmp)",
    "mixed": "mixed: OpenMP libblas.so.3 over pthread core",
}
ops = ["matmul 1024x1024", "conv2d fwd+bwd (contiguous)", "conv2d fwd+bwd (channels_last)"]
print("| OpenBLAS build | kernels (core in use) | " + " | ".join(f"{op} 1 / 2 threads" for op in ops) + " | others' CPU, max |")
print("|---|---|" + "---:|" * (len(ops) + 1))
for (variant, core), by in rows.items():
    used = by[1]["openblas"].get("corename", "?")
    par = by[1]["openblas"].get("parallel", "?")
    cells = [f"{by[1]['results'][op]['medianMs']:.1f} / {by[2]['results'][op]['medianMs']:.1f}" for op in ops]
    label = "OpenBLAS's detection" if core == "detect" else f"OPENBLAS_CORETYPE={core}"
    others = max(r["otherCpuShare"] for t in (1, 2) for r in by[t]["results"].values())
    print(f"| {names[variant]} | {label} ({used}, {par}) | " + " | ".join(cells) + f" | {others * 100:.0f}% |")
print()
print("median ms at 1 / 2 torch threads; PyTorch", next(iter(rows.values()))[1]["torchVersion"],
      "; others' CPU: the largest share of the machine's CPU that other processes used while an op was timed.")
print("Libraries loaded per variant:")
for (variant, core), by in rows.items():
    if core == "SkylakeX":
        print(f"  {variant}: " + ", ".join(by[1]["openblas"].get("loaded", [])))
EOF
